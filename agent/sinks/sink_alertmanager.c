/* The Alertmanager sink (API v2, POST /api/v2/alerts).
 *
 * Alertmanager resolves an alert by itself when it has not heard of it for
 * resolve_timeout (5 min by default), so the sink keeps the incidents that
 * are firing and re-posts them every `repost` interval. An alert is its label
 * set: a level change (escalated) resolves the old set and fires the new one.
 * Every URL gets every post, since the instances of an HA cluster do not
 * share alerts; a batch is delivered when every instance accepted it, and a
 * retry of the same batch goes only to the instances that did not. */
#include "agent/sinks/sink.h"
#include "base/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "probes/http/transfer.h"


#define SEC ((tl_usec)1000000)
#define AM_TIMEOUT (10 * SEC)
#define AM_RESP_MAX (64 * 1024)
#define AM_ID_MAX 128

struct am_alert {
    char incident[AM_ID_MAX];
    cJSON *alert;                 /* labels, annotations, startsAt: ready to post */
    struct am_alert *next;
};

struct am_impl;

struct am_call {
    struct am_impl *s;            /* NULL once the sink is freed: orphaned */
    size_t url;                   /* index into urls */
    bool repost;
    struct am_call *prev, *next;
};

struct am_impl {
    struct sink base;
    uv_timer_t timer;             /* the re-post clock; the struct goes in its close callback */
    struct transfer_session *session;
    size_t n_urls;
    char **urls;
    tl_usec every;
    char *agent, *region;
    struct am_alert *firing;
    struct am_call *calls;        /* every post in flight */
    unsigned long reposts;
    size_t reposts_in_flight;
    bool deferred;                /* a batch waits for a re-post to land first */
    /* The batch being delivered, kept as posted so a retry resends the same bytes. */
    char key[3 * AM_ID_MAX];
    char *body;
    bool *accepted;               /* per URL, for this batch */
    size_t pending;               /* posts of this batch still in flight */
    sink_done_cb cb;
    void *arg;
    struct sink_result res;
};

static const char *get_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* Adds name=value unless value is empty: an empty label is an absent one. */
static int put(cJSON *o, const char *name, const char *value)
{
    if (!value || !value[0])
        return 0;
    return cJSON_AddStringToObject(o, name, value) ? 0 : TL_ENOMEM;
}

/* The postable alert of one event: labels and annotations, no times yet. */
static cJSON *alert_of(struct am_impl *s, const cJSON *ev)
{
    cJSON *a = cJSON_CreateObject();
    cJSON *labels = cJSON_AddObjectToObject(a, "labels");
    cJSON *ann = cJSON_AddObjectToObject(a, "annotations");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ev, "message");
    const cJSON *links = cJSON_GetObjectItemCaseSensitive(ev, "links");
    const char *region = get_str(ev, "region"), *agent = get_str(ev, "agent");
    int rc = 0;

    if (!a || !labels || !ann) {
        cJSON_Delete(a);
        return NULL;
    }
    rc |= put(labels, "alertname", "TriplineProbeFailing");
    rc |= put(labels, "probe", get_str(ev, "probe"));
    rc |= put(labels, "region", region ? region : s->region);
    rc |= put(labels, "bucket", get_str(ev, "bucket"));
    rc |= put(labels, "level", get_str(ev, "level"));
    rc |= put(labels, "severity", get_str(ev, "severity"));
    rc |= put(labels, "agent", agent ? agent : s->agent);
    rc |= put(ann, "summary", get_str(msg, "title"));
    rc |= put(ann, "description", get_str(msg, "detail"));
    rc |= put(ann, "runbook_url", get_str(links, "documentation"));
    rc |= put(ann, "incident_id", get_str(ev, "incidentId"));
    rc |= put(ann, "correlation_id", get_str(ev, "correlationId"));
    rc |= put(ann, "event_id", get_str(ev, "eventId"));
    if (rc) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

static bool same_labels(const cJSON *a, const cJSON *b)
{
    return cJSON_Compare(cJSON_GetObjectItemCaseSensitive(a, "labels"),
                         cJSON_GetObjectItemCaseSensitive(b, "labels"), true);
}

static struct am_alert **find(struct am_impl *s, const char *incident)
{
    struct am_alert **p = &s->firing;

    while (*p && strcmp((*p)->incident, incident) != 0)
        p = &(*p)->next;
    return p;
}

/* Appends a copy of alert to out, with endsAt when ends is given. */
static int emit(cJSON *out, const cJSON *alert, const char *ends)
{
    cJSON *copy = cJSON_Duplicate(alert, true);

    if (!copy)
        return TL_ENOMEM;
    if (ends && !cJSON_AddStringToObject(copy, "endsAt", ends)) {
        cJSON_Delete(copy);
        return TL_ENOMEM;
    }
    cJSON_AddItemToArray(out, copy);
    return 0;
}

/* Applies one event to the firing set and appends what to post to out. */
static int apply(struct am_impl *s, const cJSON *ev, const char *now, cJSON *out)
{
    const char *incident = get_str(ev, "incidentId");
    const char *transition = get_str(ev, "transition");
    const cJSON *active = cJSON_GetObjectItemCaseSensitive(ev, "active");
    const char *at = get_str(ev, "dateTime");
    bool resolved = (transition && strcmp(transition, "resolved") == 0) || cJSON_IsFalse(active);
    struct am_alert **slot, *cur;
    cJSON *alert;
    int rc = 0;

    if (!incident || strlen(incident) >= AM_ID_MAX)
        return TL_EINVAL;
    alert = alert_of(s, ev);
    if (!alert)
        return TL_ENOMEM;
    slot = find(s, incident);
    cur = *slot;
    /* A resolution of an incident fired before a restart: it started when
     * its failures did, not when it resolved (after endsAt: a 400). */
    if (resolved && !cur) {
        const char *since = get_str(cJSON_GetObjectItemCaseSensitive(ev, "impact"), "since");
        if (since)
            at = since;
    }
    /* The label set the incident fired with, if it changed, is resolved. */
    if (cur && !same_labels(cur->alert, alert)) {
        rc = emit(out, cur->alert, now);
        if (rc)
            goto out;
    }
    if (cur && same_labels(cur->alert, alert)) {
        const char *starts = get_str(cur->alert, "startsAt");
        if (starts && !cJSON_AddStringToObject(alert, "startsAt", starts))
            rc = TL_ENOMEM;
    } else if (at && !cJSON_AddStringToObject(alert, "startsAt", at)) {
        rc = TL_ENOMEM;
    }
    if (rc)
        goto out;
    if (resolved) {
        rc = emit(out, alert, now);
        if (rc == 0 && cur) {
            *slot = cur->next;
            cJSON_Delete(cur->alert);
            free(cur);
        }
        goto out;
    }
    rc = emit(out, alert, NULL);
    if (rc)
        goto out;
    if (!cur) {
        cur = calloc(1, sizeof(*cur));
        if (!cur) {
            rc = TL_ENOMEM;
            goto out;
        }
        snprintf(cur->incident, sizeof(cur->incident), "%s", incident);
        cur->next = s->firing;
        s->firing = cur;
    }
    cJSON_Delete(cur->alert);
    cur->alert = alert;
    alert = NULL;
out:
    cJSON_Delete(alert);
    return rc;
}

static void batch_key(const char *const *events, const size_t *lens, size_t n, char *out,
                      size_t cap)
{
    cJSON *first = cJSON_ParseWithLength(events[0], lens[0]);
    cJSON *last = cJSON_ParseWithLength(events[n - 1], lens[n - 1]);
    const char *a = get_str(first, "eventId"), *b = get_str(last, "eventId");

    snprintf(out, cap, "%zu:%.100s:%.100s", n, a ? a : "", b ? b : "");
    cJSON_Delete(first);
    cJSON_Delete(last);
}

static void call_unlink(struct am_call *c)
{
    if (!c->s)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->s->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void batch_finish(struct am_impl *s)
{
    sink_done_cb cb = s->cb;
    struct sink_result res = s->res;

    s->cb = NULL;
    for (size_t i = 0; res.outcome == SINK_RETRY && i < s->n_urls; i++)
        if (s->accepted[i])
            res.partial = true;
    if (res.outcome == SINK_DELIVERED) {
        free(s->body);
        s->body = NULL;
        s->key[0] = '\0';
    }
    cb(&res, s->arg);
}

/* Merges one instance's answer into the batch result: retry beats reject
 * beats delivered, and the longest Retry-After wins. */
static void merge(struct am_impl *s, size_t url, const struct response *r)
{
    struct sink_result *res = &s->res;
    long st = r->status;
    enum sink_outcome o = sink_http_outcome(st);
    tl_usec ra;

    if (o == SINK_DELIVERED) {
        s->accepted[url] = true;
        return;
    }
    if (o == SINK_RETRY) {
        /* a redirect's Retry-After does not make a wrong URL right sooner */
        ra = sink_http_misdirected(st) ? -1 : sink_parse_retry_after(response_header(r, "Retry-After"), (long long)time(NULL));
        if (res->outcome != SINK_RETRY || ra > res->retry_after)
            res->retry_after = ra;
        res->outcome = SINK_RETRY;
    } else if (res->outcome == SINK_DELIVERED) {
        res->outcome = SINK_REJECTED;
    }
    res->status = st;
    if (sink_http_misdirected(st)) {
        char who[96];
        snprintf(who, sizeof(who), "%.80s", s->urls[url]);
        sink_misdirected_reason(res->reason, sizeof(res->reason), who, st, response_header(r, "Location"));
    } else if (st == 0)
        snprintf(res->reason, sizeof(res->reason), "%.80s: no response: %.150s", s->urls[url],
                 r->error[0] ? r->error : transfer_fail_str(r->fail));
    else
        snprintf(res->reason, sizeof(res->reason), "%.80s: HTTP %ld: %.120s", s->urls[url], st,
                 r->body.data ? r->body.data : "");
}

static int post_batch(struct am_impl *s);

static void post_done(struct response *resp, void *arg)
{
    struct am_call *c = arg;
    struct am_impl *s = c->s;

    if (s) {
        call_unlink(c);
        if (!c->repost) {
            merge(s, c->url, resp);
            if (--s->pending == 0)
                batch_finish(s);
        } else if (--s->reposts_in_flight == 0 && s->deferred) {
            s->deferred = false;
            if (post_batch(s) != 0) {
                s->res.outcome = SINK_RETRY;
                batch_finish(s);
            }
        }
    }
    response_free(resp);
    free(resp);
    free(c);
}

static int post(struct am_impl *s, size_t url, const char *body, bool repost)
{
    struct http_header h = {.name = "Content-Type", .value = "application/json"};
    struct transfer_req req;
    struct am_call *c = calloc(1, sizeof(*c));

    if (!c)
        return TL_ENOMEM;
    c->s = s;
    c->url = url;
    c->repost = repost;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = s->urls[url];
    req.headers = &h;
    req.n_headers = 1;
    req.body = body;
    req.body_len = strlen(body);
    req.timeout = AM_TIMEOUT;
    req.body_max = AM_RESP_MAX;
    if (transfer_start(s->session, &req, post_done, c) != 0) {
        free(c);
        return TL_ENOMEM;
    }
    c->next = s->calls;
    if (s->calls)
        s->calls->prev = c;
    s->calls = c;
    return 0;
}

/* Posts the kept body to every instance that has not accepted it yet. */
static int post_batch(struct am_impl *s)
{
    size_t i, started = 0;
    int rc = 0;

    memset(&s->res, 0, sizeof(s->res));
    s->res.outcome = SINK_DELIVERED;
    s->res.retry_after = -1;
    s->pending = 0;
    for (i = 0; i < s->n_urls; i++)
        if (!s->accepted[i])
            s->pending++;
    /* Held up by one so that a post failing to start cannot finish the batch early. */
    s->pending++;
    for (i = 0; i < s->n_urls; i++) {
        if (s->accepted[i])
            continue;
        if (post(s, i, s->body, false) != 0) {
            s->pending--;
            s->res.outcome = SINK_RETRY;
            snprintf(s->res.reason, sizeof(s->res.reason), "%.80s: cannot start a post",
                     s->urls[i]);
            rc = TL_ENOMEM;
        } else {
            started++;
        }
    }
    if (started == 0 && rc) {
        s->pending = 0;
        return rc;
    }
    if (--s->pending == 0)
        batch_finish(s);
    return 0;
}

static int am_send(struct sink *base, const char *const *events, const size_t *lens, size_t n,
                   sink_done_cb cb, void *arg)
{
    struct am_impl *s = sink_impl(base, struct am_impl);
    char key[sizeof(s->key)], now[32];
    cJSON *out = NULL, *ev;
    size_t i;
    int rc = 0;

    if (s->cb)
        return TL_EBUSY;
    if (n == 0)
        return TL_EINVAL;
    batch_key(events, lens, n, key, sizeof(key));
    if (!s->body || strcmp(key, s->key) != 0) {
        /* A new batch: apply it to the firing set and build what to post. */
        out = cJSON_CreateArray();
        if (!out)
            return TL_ENOMEM;
        /* to the millisecond, as startsAt: an incident resolved within the
         * second it opened must not end before it started */
        tl_iso8601_now(true, now);
        for (i = 0; i < n && rc == 0; i++) {
            ev = cJSON_ParseWithLength(events[i], lens[i]);
            rc = ev ? apply(s, ev, now, out) : TL_EINVAL;
            cJSON_Delete(ev);
        }
        if (rc) {
            cJSON_Delete(out);
            return rc;
        }
        free(s->body);
        s->body = cJSON_PrintUnformatted(out);
        cJSON_Delete(out);
        if (!s->body)
            return TL_ENOMEM;
        snprintf(s->key, sizeof(s->key), "%s", key);
        memset(s->accepted, 0, s->n_urls * sizeof(*s->accepted));
    }
    s->cb = cb;
    s->arg = arg;
    /* A re-post still on its way could land after this batch and fire again
     * what the batch resolves: the batch goes once it has landed. */
    if (s->reposts_in_flight > 0) {
        s->deferred = true;
        return 0;
    }
    rc = post_batch(s);
    if (rc)
        s->cb = NULL;
    return rc;
}

/* Every `repost`: the firing alerts again, to every instance. A failed
 * re-post is not retried: the next tick sends the same alerts. */
static void repost_tick(uv_timer_t *t)
{
    struct am_impl *s = t->data;
    struct am_alert *a;
    cJSON *out;
    char *body = NULL;
    size_t i;

    /* Never overlap a batch: its resolution must not be overtaken. */
    if (!s->firing || s->cb || s->reposts_in_flight > 0)
        return;
    out = cJSON_CreateArray();
    for (a = s->firing; a && out; a = a->next)
        if (emit(out, a->alert, NULL) != 0)
            break;
    if (out && !a)
        body = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    if (!body) {
        snprintf(s->base.err, sizeof(s->base.err), "re-post: out of memory");
        return;
    }
    for (i = 0; i < s->n_urls; i++) {
        if (post(s, i, body, true) != 0)
            snprintf(s->base.err, sizeof(s->base.err), "re-post to %.200s failed to start",
                     s->urls[i]);
        else
            s->reposts_in_flight++;
    }
    s->reposts++;
    cJSON_free(body);
}

static void am_closed(uv_handle_t *h)
{
    struct am_impl *s = h->data;
    struct am_alert *a;
    size_t i;

    while (s->firing) {
        a = s->firing;
        s->firing = a->next;
        cJSON_Delete(a->alert);
        free(a);
    }
    for (i = 0; i < s->n_urls; i++)
        free(s->urls[i]);
    free(s->urls);
    free(s->accepted);
    free(s->agent);
    free(s->region);
    free(s->body);
    free(s);
}

static void am_free(struct sink *base)
{
    struct am_impl *s = sink_impl(base, struct am_impl);
    struct am_call *c;

    /* The posts in flight go with the sink: the batch is unacked in the
     * spool, and whoever sends next sends it again. */
    transfer_session_cancel(s->session);
    for (c = s->calls; c;) {
        struct am_call *next = c->next;
        free(c);
        c = next;
    }
    s->calls = NULL;
    transfer_session_free(s->session);
    s->session = NULL;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, am_closed);
}

static const struct sink_ops am_ops = {
    .kind = "alertmanager",
    .send = am_send,
    .reload = NULL,
    .free = am_free,
};

/* base URL -> base/api/v2/alerts (a URL already ending so is kept). */
static char *alerts_url(const char *base)
{
    const char *suffix = "/api/v2/alerts";
    size_t len = strlen(base), sl = strlen(suffix);
    struct buf b;

    while (len > 0 && base[len - 1] == '/')
        len--;
    buf_init(&b, len + sl + 1);
    if (len >= sl && strncmp(base + len - sl, suffix, sl) == 0)
        sl = 0;
    if (buf_append(&b, base, len) != 0 || buf_append(&b, suffix, sl) != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

int sink_alertmanager_new(struct sink **out, uv_loop_t *loop, struct transfer_engine *e,
                          const struct sink_alertmanager *cfg, const struct sink_identity *id,
                          char *err, size_t errlen)
{
    struct am_impl *s = NULL;
    uint64_t ms;
    size_t i;
    int rc = TL_EINVAL;

    *out = NULL;
    if (!loop || !e || !cfg || cfg->n_urls == 0) {
        if (err)
            snprintf(err, errlen, "sinks.alertmanager: at least one url is required");
        goto out;
    }
    rc = TL_ENOMEM;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->base.ops = &am_ops;
    s->every = cfg->repost > 0 ? cfg->repost : 60 * SEC;
    s->urls = calloc(cfg->n_urls, sizeof(*s->urls));
    s->accepted = calloc(cfg->n_urls, sizeof(*s->accepted));
    s->agent = strdup(id && id->agent ? id->agent : "");
    s->region = strdup(id && id->region ? id->region : "");
    if (!s->urls || !s->accepted || !s->agent || !s->region)
        goto out;
    for (i = 0; i < cfg->n_urls; i++) {
        s->urls[i] = alerts_url(cfg->urls[i]);
        if (!s->urls[i])
            goto out;
        s->n_urls++;
    }
    if (transfer_session_new(&s->session, e) != 0)
        goto out;
    if (uv_timer_init(loop, &s->timer) != 0)
        goto out;
    s->timer.data = s;
    ms = (uint64_t)((s->every + 999) / 1000);
    uv_timer_start(&s->timer, repost_tick, ms, ms);
    *out = &s->base;
    s = NULL;
    rc = 0;
out:
    if (s) {
        /* The timer was never started: free as its close callback would. */
        transfer_session_free(s->session);
        s->session = NULL;
        am_closed((uv_handle_t *)&(uv_timer_t){.data = s});
    }
    return rc;
}

size_t sink_alertmanager_firing(const struct sink *base)
{
    const struct am_impl *s;
    const struct am_alert *a;
    size_t n = 0;

    if (!base || base->ops != &am_ops)
        return 0;
    s = sink_impl(base, const struct am_impl);
    for (a = s->firing; a; a = a->next)
        n++;
    return n;
}

unsigned long sink_alertmanager_reposts(const struct sink *base)
{
    if (!base || base->ops != &am_ops)
        return 0;
    return sink_impl(base, const struct am_impl)->reposts;
}
