/* The escalation-service sink: POST of the batch document of docs/events.md,
 * with a bearer token, an HMAC-SHA256 signature of the exact body and an
 * idempotency key. The token and the key are read at start and on reload and
 * never reach a log line or an error message. */
#include "agent/sinks/sink.h"
#include "base/secret.h"
#include "base/time.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "probes/http/transfer.h"
#include "probes/redact/redact.h"


#define RESP_BODY_MAX (64 * 1024)
#define BODY_MAX (64 * 1024 * 1024)

struct service_call;

struct sink_service_impl {
    struct sink base;
    struct transfer_session *session;
    char *url;
    char *token_file;
    char *key_file;
    tl_usec timeout;
    char *prefix;                 /* {"agent":...,"region":..., */
    struct secret token;          /* data NULL when no token_file */
    struct secret key;            /* data NULL when no hmac_key_file */
    struct service_call *call;    /* the batch in flight */
};

struct service_call {
    struct sink_service_impl *s;  /* NULL once the sink is freed: the call is orphaned */
    sink_done_cb cb;
    void *arg;
};

/* Reads both secrets; only when both succeed do they replace the old ones. */
static int load_secrets(struct sink_service_impl *s)
{
    struct secret token = {0}, key = {0};
    int rc = 0;

    if (s->token_file)
        rc = secret_read(s->token_file, SECRET_TOKEN, &token, s->base.err, sizeof(s->base.err));
    if (rc == 0 && s->key_file)
        rc = secret_read(s->key_file, SECRET_KEY, &key, s->base.err, sizeof(s->base.err));
    /* known process-wide, so no log line or dead letter can carry them */
    if (rc == 0 && token.data)
        rc = redact_global_add_bytes(token.data, token.len);
    if (rc == 0 && key.data)
        rc = redact_global_add_bytes(key.data, key.len);
    if (rc) {
        secret_free(&token);
        secret_free(&key);
        return rc == TL_ENOMEM ? TL_ENOMEM : TL_EIO;
    }
    secret_free(&s->token);
    secret_free(&s->key);
    s->token = token;
    s->key = key;
    return 0;
}

static void classify(const struct response *r, struct sink_result *res)
{
    long st = r->status;

    memset(res, 0, sizeof(*res));
    res->retry_after = -1;
    res->status = st;
    res->outcome = sink_http_outcome(st);
    if (st == 401 || st == 403) {
        /* A token rotated on one side only: fixed by a reload or on the
         * service, so the events wait in the spool rather than die. */
        res->outcome = SINK_RETRY;
        snprintf(res->reason, sizeof(res->reason), "HTTP %ld: credentials refused", st);
    } else if (sink_http_misdirected(st)) {
        sink_misdirected_reason(res->reason, sizeof(res->reason), "", st, response_header(r, "Location"));
    } else if (st == 0) {
        /* No answer at all: refused, reset, timed out. The server may come back. */
        snprintf(res->reason, sizeof(res->reason), "no response: %.200s",
                 r->error[0] ? r->error : transfer_fail_str(r->fail));
    } else if (res->outcome == SINK_DELIVERED) {
        snprintf(res->reason, sizeof(res->reason), "HTTP %ld", st);
    } else if (res->outcome == SINK_RETRY) {
        res->retry_after =
            sink_parse_retry_after(response_header(r, "Retry-After"), (long long)time(NULL));
        snprintf(res->reason, sizeof(res->reason), "HTTP %ld", st);
    } else {
        /* redacted before the cut, so a cut cannot leave part of a secret */
        char *body = redact_body_text(NULL, r->body.data ? r->body.data : "");
        snprintf(res->reason, sizeof(res->reason), "HTTP %ld: %.200s", st, body ? body : "(body withheld)");
        free(body);
    }
}

static void service_done(struct response *resp, void *arg)
{
    struct service_call *c = arg;
    struct sink_result res;

    classify(resp, &res);
    response_free(resp);
    free(resp);
    if (c->s) {
        c->s->call = NULL;
        c->cb(&res, c->arg);
    }
    free(c);
}

/* The eventId of an event, copied into out ("" when it has none). */
static void event_id_of(const char *ev, size_t len, char *out, size_t cap)
{
    cJSON *doc = cJSON_ParseWithLength(ev, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "eventId");

    out[0] = '\0';
    if (cJSON_IsString(id) && strlen(id->valuestring) < cap && !strpbrk(id->valuestring, "\r\n"))
        snprintf(out, cap, "%s", id->valuestring);
    cJSON_Delete(doc);
}

static int build_body(struct sink_service_impl *s, const char *const *events, const size_t *lens,
                      size_t n, struct buf *body)
{
    char sent_at[TL_ISO8601_LEN];
    size_t i;
    int rc;

    tl_iso8601_now(false, sent_at);
    rc = buf_printf(body, "%s\"sentAt\":\"%s\",\"issues\":[", s->prefix, sent_at);
    for (i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            rc = buf_append(body, ",", 1);
        if (rc == 0)
            rc = buf_append(body, events[i], lens[i]);
    }
    if (rc == 0)
        rc = buf_puts(body, "]}");
    return rc;
}

static int service_send(struct sink *base, const char *const *events, const size_t *lens, size_t n,
                        sink_done_cb cb, void *arg)
{
    struct sink_service_impl *s = sink_impl(base, struct sink_service_impl);
    struct service_call *c = NULL;
    struct http_header h[4];
    struct transfer_req req;
    struct buf body, auth;
    char sig[72], idem[128];
    size_t nh = 0;
    int rc;

    if (s->call)
        return TL_EBUSY;
    buf_init(&body, BODY_MAX);
    buf_init(&auth, secret_max(SECRET_TOKEN) + 16);
    rc = build_body(s, events, lens, n, &body);
    if (rc) {
        rc = rc == TL_ETOOBIG ? TL_EINVAL : TL_ENOMEM;
        goto out;
    }
    h[nh].name = "Content-Type";
    h[nh++].value = "application/json";
    if (s->token.data) {
        rc = buf_printf(&auth, "Bearer %s", (const char *)s->token.data);
        if (rc) {
            rc = TL_ENOMEM;
            goto out;
        }
        h[nh].name = "Authorization";
        h[nh++].value = auth.data;
    }
    if (s->key.data) {
        rc = sink_signature(s->key.data, s->key.len, body.data, body.len, sig);
        if (rc)
            goto out;
        h[nh].name = "X-Tripline-Signature";
        h[nh++].value = sig;
    }
    if (n > 0) {
        event_id_of(events[0], lens[0], idem, sizeof(idem));
        if (idem[0]) {
            h[nh].name = "Idempotency-Key";
            h[nh++].value = idem;
        }
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        rc = TL_ENOMEM;
        goto out;
    }
    c->s = s;
    c->cb = cb;
    c->arg = arg;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = s->url;
    req.headers = h;
    req.n_headers = nh;
    req.body = body.data;
    req.body_len = body.len;
    req.timeout = s->timeout;
    req.body_max = RESP_BODY_MAX;
    if (transfer_start(s->session, &req, service_done, c) != 0) {
        rc = TL_ENOMEM;
        goto out;
    }
    s->call = c;
    c = NULL;
    rc = 0;
out:
    free(c);
    buf_free(&body);
    /* The header line held the token: wipe it before the memory goes back. */
    if (auth.data)
        OPENSSL_cleanse(auth.data, auth.len);
    buf_free(&auth);
    return rc;
}

static int service_reload(struct sink *base)
{
    struct sink_service_impl *s = sink_impl(base, struct sink_service_impl);
    return load_secrets(s);
}

static void service_free(struct sink *base)
{
    struct sink_service_impl *s = sink_impl(base, struct sink_service_impl);

    /* The batch in flight goes with the sink: its events are still in the
     * spool, unacked, and whoever sends next sends them again. */
    transfer_session_cancel(s->session);
    free(s->call);
    transfer_session_free(s->session);
    free(s->url);
    free(s->token_file);
    free(s->key_file);
    free(s->prefix);
    secret_free(&s->token);
    secret_free(&s->key);
    free(s);
}

static const struct sink_ops service_ops = {
    .kind = "service",
    .send = service_send,
    .reload = service_reload,
    .free = service_free,
};

static char *dup_opt(const char *p, bool *fail)
{
    char *d;

    if (!p)
        return NULL;
    d = strdup(p);
    if (!d)
        *fail = true;
    return d;
}

/* {"agent":"...","region":"...", with both strings escaped by cJSON. */
static char *make_prefix(const struct sink_identity *id)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL, *prefix = NULL;
    size_t len;

    if (o && cJSON_AddStringToObject(o, "agent", id && id->agent ? id->agent : "") &&
        cJSON_AddStringToObject(o, "region", id && id->region ? id->region : ""))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return NULL;
    len = strlen(text);
    /* Replace the closing brace with a comma: the rest of the document follows. */
    if (len > 0 && text[len - 1] == '}') {
        prefix = malloc(len + 1);
        if (prefix) {
            memcpy(prefix, text, len - 1);
            prefix[len - 1] = ',';
            prefix[len] = '\0';
        }
    }
    cJSON_free(text);
    return prefix;
}

int sink_service_new(struct sink **out, struct transfer_engine *e, const struct sink_service *cfg,
                     const struct sink_identity *id, char *err, size_t errlen)
{
    struct sink_service_impl *s = NULL;
    bool fail = false;
    int rc = TL_EINVAL;

    *out = NULL;
    if (!e || !cfg || !cfg->url || !cfg->url[0]) {
        if (err)
            snprintf(err, errlen, "sinks.service: url is required");
        goto out;
    }
    rc = TL_ENOMEM;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->base.ops = &service_ops;
    s->url = dup_opt(cfg->url, &fail);
    s->token_file = dup_opt(cfg->token_file, &fail);
    s->key_file = dup_opt(cfg->hmac_key_file, &fail);
    s->timeout = cfg->timeout > 0 ? cfg->timeout : 10 * (tl_usec)1000000;
    s->prefix = make_prefix(id);
    if (fail || !s->prefix)
        goto out;
    if (transfer_session_new(&s->session, e) != 0)
        goto out;
    rc = load_secrets(s);
    if (rc) {
        if (err)
            snprintf(err, errlen, "sinks.service: %s", s->base.err);
        goto out;
    }
    *out = &s->base;
    s = NULL;
    rc = 0;
out:
    if (s)
        service_free(&s->base);
    return rc;
}
