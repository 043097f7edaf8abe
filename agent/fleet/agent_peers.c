/* Peers in a running agent: the peers module (agent/fleet/peers.h) set up with
 * the agent's key, engine and spool, and POST /peer/run, which runs one of
 * this agent's probes once now for a peer and answers when the run ends.
 * A peer run takes a slot from the scheduler's limiter like a scheduled run,
 * so a burst of peer requests cannot pass limits.concurrency / per_host. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/daemon/agent_int.h"
#include "agent/daemon/events.h"
#include "agent/endpoint/metrics.h"
#include "agent/fleet/peers.h"
#include "agent/fleet/vantage.h"

struct peer_run {
    struct limiter_waiter waiter; /* first: a grant's waiter is its peer_run */
    struct agent *a;
    struct http_request *req;
    struct lfile *lf;            /* keeps the probe alive across a reload */
    const struct probe *probe;
    struct journey_env env;
    char nonce[64];              /* the request's, signed into the answer */
    struct peer_run *prev, *next; /* in the agent's list of waiting runs */
};

#define EV_STR(o, k) cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive((o), (k)))

/* A second opinion's follow-up leaves: it says whether its incident is
 * still open now, since it may have resolved while the peers ran. */
static void emit(void *arg, cJSON *ev)
{
    struct agent *a = arg;
    bool open = agent_incident_open(a, EV_STR(ev, "probe"), EV_STR(ev, "region"), EV_STR(ev, "incidentId"));
    cJSON_ReplaceItemInObjectCaseSensitive(ev, "active", cJSON_CreateBool(open));
    events_spool(a->events, ev);
}

static void answer(struct http_request *req, int status, const char *text)
{
    http_respond(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void unlink_waiting(struct peer_run *pr)
{
    struct agent *a = pr->a;
    if (pr->prev)
        pr->prev->next = pr->next;
    else if (a->peer_waiting == pr)
        a->peer_waiting = pr->next;
    if (pr->next)
        pr->next->prev = pr->prev;
    pr->prev = pr->next = NULL;
}

/* Gives back the slot (if held) and the references; the answer is sent. */
static void peer_run_free(struct peer_run *pr)
{
    struct agent *a = pr->a;
    if (pr->waiter.state == LIMITER_W_HELD && a->sched)
        limiter_release(scheduler_limiter(a->sched), &pr->waiter);
    lfile_unref(pr->lf);
    peers_release(a->peers);
    free(pr);
}

static void on_peer_run_done(struct run_result *r, void *arg)
{
    struct peer_run *pr = arg;
    struct agent *a = pr->a;
    char *body = peers_answer_json(r, pr->env.region, a->cfg.name, pr->nonce);
    char sig[72];
    if (body && peers_sign(a->peers, body, strlen(body), sig) == 0 &&
        http_respond_header(pr->req, PEERS_SIGNATURE_HEADER, sig) == 0)
        http_respond(pr->req, 200, "application/json", body, strlen(body));
    else
        answer(pr->req, 500, "out of memory\n");
    log_kv(a->log, LOG_INFO,
           LOG_FIELDS(LOG_STR("probe", r->probe_id), LOG_STR("region", pr->env.region), LOG_BOOL("ok", r->ok)),
           "ran a probe for a peer");
    free(body);
    run_result_free(r);
    peer_run_free(pr);
}

/* The run has its slot: start it, unless the agent began draining meanwhile. */
static void peer_run_start(struct peer_run *pr)
{
    if (pr->a->draining) {
        answer(pr->req, 503, "draining\n");
        peer_run_free(pr);
        return;
    }
    if (journey_start(&pr->env, pr->probe, on_peer_run_done, pr)) {
        answer(pr->req, 500, "cannot start a run\n");
        peer_run_free(pr);
    }
}

static void on_peer_grant(struct limiter_waiter *w)
{
    struct peer_run *pr = (struct peer_run *)w;
    unlink_waiting(pr);
    peer_run_start(pr);
}

/* Waits for a slot like a scheduled run against the same host. */
static void peer_run_queue(struct agent *a, struct http_request *req, struct probe_state *ps, const char *nonce)
{
    struct peer_run *pr = calloc(1, sizeof(*pr));
    if (!pr) {
        answer(req, 500, "out of memory\n");
        return;
    }
    pr->a = a;
    pr->req = req;
    pr->probe = ps->probe;
    snprintf(pr->nonce, sizeof(pr->nonce), "%s", nonce);
    pr->lf = lfile_ref(ps->lf);
    peers_hold(a->peers);
    vantage_env(&pr->env, &a->env, ps->vantage);
    pr->waiter.grant = on_peer_grant;
    int rc = limiter_acquire(scheduler_limiter(a->sched), ps->host, &pr->waiter);
    if (rc == 0) {
        peer_run_start(pr);
    } else if (rc == LIMITER_QUEUED) {
        pr->next = a->peer_waiting;
        if (pr->next)
            pr->next->prev = pr;
        a->peer_waiting = pr;
    } else {
        answer(req, 500, "cannot start a run\n");
        peer_run_free(pr);
    }
}

/* tripline_peer_refused_total{reason}: every refusal, logged or not */
static void refusal_count(struct agent *a, const char *reason)
{
    static const char *const labels[] = {"reason"};
    struct metric_family *f = metrics_counter(a->metrics, "tripline_peer_refused_total",
                                              "Peer requests refused, by reason", labels, 1);
    const char *v[] = {reason ? reason : "other"};
    struct metric *m = f ? metrics_series(f, v) : NULL;
    if (m)
        metric_add(m, 1);
}

static void peer_run_serve(void *arg, struct http_request *req, const char *body, size_t len)
{
    struct agent *a = arg;
    char probe[256], nonce[64], why[300];
    int status = peers_check(a->peers, http_request_header(req, PEERS_SIGNATURE_HEADER), body, len,
                             (int64_t)time(NULL), probe, sizeof(probe), nonce, sizeof(nonce), why, sizeof(why));
    if (status != 200) {
        refusal_count(a, peers_refusal(a->peers));
        char counts[256];
        if (peers_refusal_log(a->peers, (int64_t)time(NULL), counts, sizeof(counts)))
            log_warn(a->log, "peer requests refused (%s; at most one line a minute); last: %d %s", counts, status,
                     why);
        char text[320];
        snprintf(text, sizeof(text), "%s\n", why);
        answer(req, status, text);
        return;
    }
    if (a->draining) {
        answer(req, 503, "draining\n");
        return;
    }
    struct probe_state *ps = probe_table_find(a->probes, probe, a->cfg.region);
    if (!ps) {
        answer(req, 404, "probe not scheduled here\n");
        return;
    }
    peer_run_queue(a, req, ps, nonce);
}

void agent_peers_drain(struct agent *a)
{
    while (a->peer_waiting) {
        struct peer_run *pr = a->peer_waiting;
        unlink_waiting(pr);
        if (a->sched)
            limiter_cancel(scheduler_limiter(a->sched), &pr->waiter);
        answer(pr->req, 503, "draining\n");
        peer_run_free(pr);
    }
}

/* Bare URLs are accepted for compatibility, but said once: any agent with
 * the key would take requests sent to them. */
static void log_unbound(struct agent *a)
{
    char urls[512];
    size_t off = 0, n = 0;
    urls[0] = '\0';
    for (size_t i = 0; i < a->cfg.peers.n_urls; i++) {
        if (a->cfg.peers.agents && a->cfg.peers.agents[i])
            continue;
        if (off < sizeof(urls)) {
            int w = snprintf(urls + off, sizeof(urls) - off, "%s%s", n ? ", " : "", a->cfg.peers.urls[i]);
            off += w > 0 ? (size_t)w : 0;
        }
        n++;
    }
    if (n)
        log_warn(a->log,
                 "peers: %zu URL%s without an agent name, so requests to them are not bound to one agent "
                 "(write {url: ..., agent: NAME}): %s",
                 n, n == 1 ? "" : "s", urls);
}

/* peers.listen: /peer/run alone on a server of its own, so the peers'
 * port can be opened to other regions without /status and /metrics. */
static int peer_route(struct agent *a)
{
    struct http *h = a->http;
    if (a->cfg.peers.listen) {
        struct http_opts ho = {.listen = a->cfg.peers.listen, .log = a->log};
        int rc = http_new(a->loop, &ho, &a->peer_http);
        if (rc) {
            log_error(a->log, "peers: cannot listen on %s (%s)", a->cfg.peers.listen, tl_strerror(rc));
            return -1;
        }
        h = a->peer_http;
    }
    if (http_route_post(h, PEERS_PATH, peer_run_serve, a)) {
        log_error(a->log, "peers: cannot add the %s route", PEERS_PATH);
        return -1;
    }
    return 0;
}

int agent_peers_init(struct agent *a)
{
    if (!a->cfg.has_peers)
        return 0;
    struct peers_opts o = {
        .cfg = &a->cfg.peers,
        .region = a->cfg.region,
        .agent = a->cfg.name,
        .engine = a->engine,
        .emit = emit,
        .emit_arg = a,
    };
    char err[512];
    if (peers_new(&a->peers, &o, err, sizeof(err))) {
        log_error(a->log, "%s", err);
        return -1;
    }
    if (peer_route(a))
        return -1;
    log_unbound(a);
    const char *listen = a->cfg.peers.listen ? a->cfg.peers.listen : a->cfg.listen;
    uint16_t port = http_port(a->peer_http ? a->peer_http : a->http);
    log_kv(a->log, LOG_INFO,
           LOG_FIELDS(LOG_INT("peers", a->cfg.peers.n_urls), LOG_STR("peer_listen", listen), LOG_INT("peer_port", port)),
           "peers: second opinions on");
    return 0;
}
