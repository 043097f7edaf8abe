/* Peers in a running agent: the peers module (agent/fleet/peers.h) set up with
 * the agent's key, engine and spool, and POST /peer/run, which runs one of
 * this agent's probes once now for a peer and answers when the run ends. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/daemon/agent_int.h"
#include "agent/fleet/peers.h"
#include "agent/fleet/vantage.h"

struct peer_run {
    struct agent *a;
    struct http_request *req;
    struct lfile *lf;            /* keeps the probe alive across a reload */
    struct journey_env env;
};

static void emit(void *arg, cJSON *ev)
{
    agent_event_spool(arg, ev);
}

static void answer(struct http_request *req, int status, const char *text)
{
    http_respond(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void on_peer_run_done(struct run_result *r, void *arg)
{
    struct peer_run *pr = arg;
    struct agent *a = pr->a;
    char *body = peers_answer_json(r, pr->env.region, a->cfg.name);
    if (body)
        http_respond(pr->req, 200, "application/json", body, strlen(body));
    else
        answer(pr->req, 500, "out of memory\n");
    log_kv(a->log, LOG_INFO,
           LOG_FIELDS(LOG_STR("probe", r->probe_id), LOG_STR("region", pr->env.region), LOG_BOOL("ok", r->ok)),
           "ran a probe for a peer");
    free(body);
    run_result_free(r);
    agent_lfile_unref(pr->lf);
    peers_release(a->peers);
    free(pr);
}

/* The probe's state in this agent's own region, else through its first vantage. */
static struct probe_state *peer_state(struct agent *a, const char *id)
{
    struct probe_state *any = NULL;
    for (size_t i = 0; i < a->n_states; i++) {
        struct probe_state *ps = a->states[i];
        if (strcmp(ps->probe->id, id) != 0)
            continue;
        if (!ps->vantage || strcmp(ps->region, a->cfg.region) == 0)
            return ps;
        if (!any)
            any = ps;
    }
    return any;
}

static void peer_run_serve(void *arg, struct http_request *req, const char *body, size_t len)
{
    struct agent *a = arg;
    char probe[256], why[300];
    int status = peers_check(a->peers, http_request_header(req, PEERS_SIGNATURE_HEADER), body, len,
                             (int64_t)time(NULL), probe, sizeof(probe), why, sizeof(why));
    if (status != 200) {
        log_warn(a->log, "peer request refused (%d): %s", status, why);
        char text[320];
        snprintf(text, sizeof(text), "%s\n", why);
        answer(req, status, text);
        return;
    }
    if (a->draining) {
        answer(req, 503, "draining\n");
        return;
    }
    struct probe_state *ps = peer_state(a, probe);
    if (!ps) {
        answer(req, 404, "probe not scheduled here\n");
        return;
    }
    struct peer_run *pr = calloc(1, sizeof(*pr));
    if (!pr) {
        answer(req, 500, "out of memory\n");
        return;
    }
    pr->a = a;
    pr->req = req;
    /* Take the references first: a run that cannot form its request ends
     * inside journey_start(), and its callback releases them. */
    pr->lf = ps->lf;
    pr->lf->refs++;
    peers_hold(a->peers);
    vantage_env(&pr->env, &a->env, ps->vantage);
    if (journey_start(&pr->env, ps->probe, on_peer_run_done, pr)) {
        agent_lfile_unref(pr->lf);
        peers_release(a->peers);
        free(pr);
        answer(req, 500, "cannot start a run\n");
        return;
    }
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
    if (http_route_post(a->http, PEERS_PATH, peer_run_serve, a)) {
        log_error(a->log, "peers: cannot add the %s route", PEERS_PATH);
        return -1;
    }
    log_kv(a->log, LOG_INFO, LOG_FIELDS(LOG_INT("peers", a->cfg.peers.n_urls)), "peers: second opinions on");
    return 0;
}
