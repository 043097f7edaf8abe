#include "agent/fleet/peers.h"
#include "base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "agent/fleet/replay.h"
#include "agent/sinks/sink.h"
#include "base/uuid.h"
#include "probes/redact/redact.h"

#define ANSWER_MAX 4096    /* a peer's answer is a few fields */

struct peers_call {
    struct pending *pe;
    const char *url;       /* borrowed from cfg */
    const char *agent;     /* the agent behind url (cfg), or NULL: unbound */
    char nonce[UUID_STR_LEN]; /* the answer must carry it, signed */
    char *body;
    bool done;
};

/* One submitted event, waiting for answers or for those before it. */
struct pending {
    struct peers *p;
    struct pending *next;
    cJSON *ev;
    bool ask;
    size_t waiting;        /* calls not answered yet */
    size_t n_calls;
    struct peers_call *calls;
    cJSON *failing, *ok, *no_answer;
};

struct peers {
    struct peers_opts o;
    struct secret key;
    struct pending *head, *tail;
    size_t serving;
    struct replay *seen; /* accepted signatures, until they would be stale */
    const char *refusal;  /* the last peers_check's reason */
    unsigned long refused[PEERS_REFUSAL_N]; /* since the last refusal log line */
    int64_t refusal_logged_s;
};

const char *const peers_refusal_names[PEERS_REFUSAL_N] = {"signature", "malformed", "stale", "other_agent", "replay",
                                                               "busy"};

static void refuse(struct peers *p, enum peers_refusal why)
{
    p->refusal = peers_refusal_names[why];
    p->refused[why]++;
}

const char *peers_refusal(const struct peers *p)
{
    return p->refusal;
}

bool peers_refusal_log(struct peers *p, int64_t now_s, char *line, size_t len)
{
    if (p->refusal_logged_s && now_s - p->refusal_logged_s < PEERS_REFUSAL_LOG_S)
        return false;
    unsigned long total = 0;
    size_t off = 0;
    line[0] = '\0';
    for (int i = 0; i < PEERS_REFUSAL_N; i++) {
        total += p->refused[i];
        if (p->refused[i] && off < len) {
            int n = snprintf(line + off, len - off, "%s%s %lu", off ? ", " : "", peers_refusal_names[i], p->refused[i]);
            off += n > 0 ? (size_t)n : 0;
        }
        p->refused[i] = 0;
    }
    p->refusal_logged_s = now_s;
    return total > 0;
}

int peers_new(struct peers **out, const struct peers_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    struct peers *p = calloc(1, sizeof(*p));
    if (!p)
        return TL_ENOMEM;
    p->o = *o;
    int rc = replay_new(&p->seen);
    if (rc) {
        snprintf(err, errlen, "out of memory");
        free(p);
        return rc;
    }
    rc = secret_read(o->cfg->key_file, SECRET_KEY, &p->key, err, errlen);
    if (!rc && p->key.data)
        rc = redact_global_add_bytes(p->key.data, p->key.len);
    if (rc) {
        secret_free(&p->key);
        replay_free(p->seen);
        free(p);
        return rc == TL_ENOMEM ? TL_ENOMEM : TL_EKEY;
    }
    *out = p;
    return 0;
}

void peers_summary(size_t failing, size_t ok, size_t no_answer, char *out, size_t outlen)
{
    size_t total = failing + ok;
    int n = snprintf(out, outlen, "failing in %zu of %zu region%s", failing, total, total == 1 ? "" : "s");
    if (no_answer && n > 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, "; no answer from %zu peer%s", no_answer, no_answer == 1 ? "" : "s");
}

/* Adds secondOpinion to the event and the summary to message.detail. */
static void pending_finish(struct pending *pe)
{
    if (!pe->ask || !pe->ev)
        return;
    char summary[160];
    peers_summary((size_t)cJSON_GetArraySize(pe->failing), (size_t)cJSON_GetArraySize(pe->ok),
                  (size_t)cJSON_GetArraySize(pe->no_answer), summary, sizeof(summary));
    cJSON *so = cJSON_CreateObject();
    if (!so)
        return;
    cJSON_AddItemToObject(so, "failingRegions", pe->failing);
    cJSON_AddItemToObject(so, "okRegions", pe->ok);
    cJSON_AddItemToObject(so, "noAnswer", pe->no_answer);
    pe->failing = pe->ok = pe->no_answer = NULL;
    cJSON_AddStringToObject(so, "summary", summary);
    cJSON_AddItemToObject(pe->ev, "secondOpinion", so);
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(pe->ev, "message");
    cJSON *detail = cJSON_GetObjectItemCaseSensitive(msg, "detail");
    if (cJSON_IsString(detail)) {
        size_t len = strlen(detail->valuestring) + strlen(summary) + 3;
        char *d = malloc(len);
        if (d) {
            snprintf(d, len, "%s%s%s", detail->valuestring, detail->valuestring[0] ? "; " : "", summary);
            cJSON_ReplaceItemInObjectCaseSensitive(msg, "detail", cJSON_CreateString(d));
            free(d);
        }
    }
}

static void pending_free(struct pending *pe)
{
    for (size_t i = 0; i < pe->n_calls; i++)
        free(pe->calls[i].body);
    free(pe->calls);
    cJSON_Delete(pe->failing);
    cJSON_Delete(pe->ok);
    cJSON_Delete(pe->no_answer);
    cJSON_Delete(pe->ev);
    free(pe);
}

/* Events leave in submission order: the head goes when it has all its answers. */
static void flush(struct peers *p)
{
    while (p->head && p->head->waiting == 0) {
        struct pending *pe = p->head;
        p->head = pe->next;
        if (!p->head)
            p->tail = NULL;
        pending_finish(pe);
        cJSON *ev = pe->ev;
        pe->ev = NULL;
        pending_free(pe);
        if (ev)
            p->o.emit(p->o.emit_arg, ev);
    }
}

static void no_answer(struct pending *pe, const char *url, const char *why)
{
    char line[600];
    snprintf(line, sizeof(line), "%s (%s)", url, why);
    cJSON_AddItemToArray(pe->no_answer, cJSON_CreateString(line));
}

static bool hex_sig_equal(const char *a, const char *b);

/* The answer's signature header is the key's HMAC of its body, and the body
 * names the nonce this call sent (and the agent, when bound): neither a
 * tampered answer nor one replayed from another request passes. */
static bool answer_signed(const struct peers *p, const struct peers_call *call, const struct response *resp)
{
    char want[72];
    const char *got = response_header(resp, PEERS_SIGNATURE_HEADER);
    const char *body = resp->body.data ? resp->body.data : "";
    if (!got || !call->nonce[0] || peers_sign(p, body, resp->body.len, want) || !hex_sig_equal(got, want))
        return false;
    cJSON *doc = cJSON_ParseWithLength(body, resp->body.len);
    const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "nonce"));
    const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "agent"));
    bool same = n && strcmp(n, call->nonce) == 0;
    /* a bound call also wants its answer from the agent it named */
    if (call->agent && (!from || strcmp(from, call->agent) != 0))
        same = false;
    cJSON_Delete(doc);
    return same;
}

static void on_answer(struct response *resp, void *arg)
{
    struct peers_call *call = arg;
    struct pending *pe = call->pe;
    char why[300];
    cJSON *doc = NULL;
    if (resp->fail != TRANSFER_OK || resp->curl_code) {
        if (resp->curl_code == CURLE_OPERATION_TIMEDOUT)
            snprintf(why, sizeof(why), "timeout");
        else if (resp->curl_code == CURLE_COULDNT_CONNECT)
            snprintf(why, sizeof(why), "connection refused");
        else
            snprintf(why, sizeof(why), "%s", resp->error[0] ? resp->error : transfer_fail_str(resp->fail));
        no_answer(pe, call->url, why);
    } else if (resp->status != 200) {
        snprintf(why, sizeof(why), "HTTP %ld%s", resp->status,
                 resp->status == 404   ? ": probe not known there"
                 : resp->status == 421 ? ": another agent answers at this URL"
                                       : "");
        no_answer(pe, call->url, why);
    } else if (!answer_signed(pe->p, call, resp)) {
        no_answer(pe, call->url, "answer not signed with the peers' key, or not for this request");
    } else {
        doc = cJSON_ParseWithLength(resp->body.data ? resp->body.data : "", resp->body.len);
        cJSON *region = cJSON_GetObjectItemCaseSensitive(doc, "region");
        cJSON *ok = cJSON_GetObjectItemCaseSensitive(doc, "ok");
        if (!cJSON_IsString(region) || !cJSON_IsBool(ok))
            no_answer(pe, call->url, "not an answer");
        else
            cJSON_AddItemToArray(cJSON_IsTrue(ok) ? pe->ok : pe->failing, cJSON_CreateString(region->valuestring));
    }
    cJSON_Delete(doc);
    response_free(resp);
    free(resp);
    call->done = true;
    pe->waiting--;
    if (pe->waiting == 0)
        flush(pe->p);
}

char *peers_request_json(const char *probe_id, int64_t now_s, const char *nonce, const char *region,
                         const char *agent, const char *to)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "probe", probe_id);
    cJSON_AddNumberToObject(o, "ts", (double)now_s);
    cJSON_AddStringToObject(o, "nonce", nonce);
    cJSON_AddStringToObject(o, "region", region);
    cJSON_AddStringToObject(o, "agent", agent);
    if (to)
        cJSON_AddStringToObject(o, "to", to);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* A bare http://host:port gets PEERS_PATH; a URL with a path is the whole
 * endpoint (a peer behind a reverse proxy). */
static char *endpoint(const char *url)
{
    const char *host = strstr(url, "://");
    const char *path = host ? strchr(host + 3, '/') : NULL;
    bool bare = !path || strcmp(path, "/") == 0;
    size_t len = strlen(url) + sizeof(PEERS_PATH) + 1;
    char *out = malloc(len);
    if (!out)
        return NULL;
    if (bare)
        snprintf(out, len, "%.*s%s", (int)(path ? (size_t)(path - url) : strlen(url)), url, PEERS_PATH);
    else
        snprintf(out, len, "%s", url);
    return out;
}

static void ask_one(struct peers *p, struct pending *pe, struct transfer_session *s, struct peers_call *call,
                    const char *probe_id, const char *region)
{
    char sig[72], hdr[100];
    char *url = endpoint(call->url);
    if (uuid_v4(call->nonce))
        call->nonce[0] = '\0';
    call->body = peers_request_json(probe_id, (int64_t)time(NULL), call->nonce, region, p->o.agent, call->agent);
    int rc = url && call->body ? 0 : TL_ENOMEM;
    if (rc == 0)
        rc = sink_signature(p->key.data, p->key.len, call->body, strlen(call->body), sig);
    if (rc == 0) {
        snprintf(hdr, sizeof(hdr), "%s", sig);
        struct http_header headers[] = {
            {.name = "Content-Type", .value = "application/json"},
            {.name = PEERS_SIGNATURE_HEADER, .value = hdr},
        };
        struct transfer_req req = {
            .method = "POST",
            .url = url,
            .n_headers = 2,
            .headers = headers,
            .body = call->body,
            .body_len = strlen(call->body),
            .timeout = p->o.cfg->timeout,
            .body_max = ANSWER_MAX,
        };
        rc = transfer_start(s, &req, on_answer, call);
    }
    free(url);
    if (rc) {
        no_answer(pe, call->url, "cannot send the request");
        call->done = true;
        pe->waiting--;
    }
}

void peers_submit(struct peers *p, cJSON *ev, const char *probe_id, const char *region, bool ask)
{
    struct pending *pe = calloc(1, sizeof(*pe));
    if (pe && ask) {
        pe->calls = calloc(p->o.cfg->n_urls, sizeof(*pe->calls));
        pe->failing = cJSON_CreateArray();
        pe->ok = cJSON_CreateArray();
        pe->no_answer = cJSON_CreateArray();
    }
    if (!pe || (ask && (!pe->calls || !pe->failing || !pe->ok || !pe->no_answer))) {
        /* out of memory: the event still goes, without a second opinion */
        if (pe) {
            pe->ev = NULL;
            pending_free(pe);
        }
        pe = NULL;
    }
    if (!pe) {
        p->o.emit(p->o.emit_arg, ev); /* late is better than lost, even out of order */
        return;
    }
    pe->p = p;
    pe->ev = ev;
    pe->ask = ask;
    if (p->tail)
        p->tail->next = pe;
    else
        p->head = pe;
    p->tail = pe;
    if (ask) {
        /* this side's own run is the first opinion */
        cJSON_AddItemToArray(pe->failing, cJSON_CreateString(region));
        struct transfer_session *s = NULL;
        bool have_session = transfer_session_new(&s, p->o.engine) == 0;
        pe->n_calls = p->o.cfg->n_urls;
        pe->waiting = pe->n_calls;
        for (size_t i = 0; i < pe->n_calls; i++) {
            pe->calls[i].pe = pe;
            pe->calls[i].url = p->o.cfg->urls[i];
            pe->calls[i].agent = p->o.cfg->agents ? p->o.cfg->agents[i] : NULL;
            if (have_session) {
                ask_one(p, pe, s, &pe->calls[i], probe_id, region);
            } else {
                no_answer(pe, pe->calls[i].url, "cannot send the request");
                pe->calls[i].done = true;
                pe->waiting--;
            }
        }
        transfer_session_free(s);
    }
    flush(p);
}

bool peers_idle(const struct peers *p)
{
    return !p || (!p->head && p->serving == 0);
}

void peers_hold(struct peers *p)
{
    if (p)
        p->serving++;
}

void peers_release(struct peers *p)
{
    if (p && p->serving)
        p->serving--;
}

void peers_free(struct peers *p)
{
    if (!p)
        return;
    /* the engine goes next without calling back: what is unanswered now
     * stays unanswered */
    for (struct pending *pe = p->head; pe; pe = pe->next) {
        for (size_t i = 0; i < pe->n_calls; i++) {
            if (!pe->calls[i].done) {
                no_answer(pe, pe->calls[i].url, "agent stopping");
                pe->calls[i].done = true;
            }
        }
        pe->waiting = 0;
    }
    flush(p);
    secret_free(&p->key);
    replay_free(p->seen);
    free(p);
}

static bool hex_sig_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

int peers_sign(const struct peers *p, const char *body, size_t len, char sig[72])
{
    return sink_signature(p->key.data, p->key.len, body, len, sig);
}

int peers_check(struct peers *p, const char *signature, const char *body, size_t len, int64_t now_s, char *probe,
                size_t probelen, char *nonce, size_t noncelen, char *why, size_t whylen)
{
    char want[72];
    int status = 401;
    cJSON *doc = NULL;
    probe[0] = '\0';
    nonce[0] = '\0';
    p->refusal = NULL;
    if (!signature || strlen(signature) != 71) {
        snprintf(why, whylen, "missing or malformed %s header", PEERS_SIGNATURE_HEADER);
        refuse(p, PEERS_REFUSED_SIGNATURE);
        goto out;
    }
    if (sink_signature(p->key.data, p->key.len, body, len, want) || !hex_sig_equal(signature, want)) {
        snprintf(why, whylen, "bad signature");
        refuse(p, PEERS_REFUSED_SIGNATURE);
        goto out;
    }
    status = 400;
    doc = cJSON_ParseWithLength(body, len);
    cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "probe");
    cJSON *ts = cJSON_GetObjectItemCaseSensitive(doc, "ts");
    if (!cJSON_IsString(id) || !id->valuestring[0] || strlen(id->valuestring) >= probelen || !cJSON_IsNumber(ts)) {
        snprintf(why, whylen, "expected {\"probe\": id, \"ts\": unix seconds}");
        refuse(p, PEERS_REFUSED_MALFORMED);
        goto out;
    }
    status = 401;
    double skew = ts->valuedouble - (double)now_s;
    if (skew > PEERS_MAX_SKEW_S || skew < -PEERS_MAX_SKEW_S) {
        snprintf(why, whylen, "stale request (ts %.0f is %.0f s from now; clocks must agree within %d s)",
                 ts->valuedouble, skew, PEERS_MAX_SKEW_S);
        refuse(p, PEERS_REFUSED_STALE);
        goto out;
    }
    /* the destination inside the signed body: a request for another agent
     * cannot be redirected here (a bare URL's request names none) */
    cJSON *to = cJSON_GetObjectItemCaseSensitive(doc, "to");
    if (to && (!cJSON_IsString(to) || strcmp(to->valuestring, p->o.agent ? p->o.agent : "") != 0)) {
        status = 421;
        snprintf(why, whylen, "request for another agent (this is %s)", p->o.agent ? p->o.agent : "?");
        refuse(p, PEERS_REFUSED_AGENT);
        goto out;
    }
    /* a signed request is good once: the same bytes again, while they are
     * fresh enough to pass the check above, are a replay */
    int rc = replay_add(p->seen, want, (int64_t)ts->valuedouble + PEERS_MAX_SKEW_S, now_s);
    if (rc == TL_EEXISTS) {
        snprintf(why, whylen, "replayed request");
        refuse(p, PEERS_REFUSED_REPLAY);
        goto out;
    }
    if (rc) {
        status = 503;
        snprintf(why, whylen, "too many requests to remember against replays (%s)", tl_strerror(rc));
        refuse(p, PEERS_REFUSED_BUSY);
        goto out;
    }
    snprintf(probe, probelen, "%s", id->valuestring);
    const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "nonce"));
    snprintf(nonce, noncelen, "%s", n ? n : "");
    why[0] = '\0';
    status = 200;
out:
    cJSON_Delete(doc);
    return status;
}

char *peers_answer_json(const struct run_result *r, const char *region, const char *agent, const char *nonce)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "probe", r->probe_id);
    cJSON_AddStringToObject(o, "region", region);
    cJSON_AddStringToObject(o, "agent", agent);
    cJSON_AddBoolToObject(o, "ok", r->ok);
    if (r->ok) {
        cJSON_AddNullToObject(o, "bucket");
        cJSON_AddNullToObject(o, "reason");
    } else {
        cJSON_AddStringToObject(o, "bucket", bucket_str(r->bucket));
        cJSON_AddStringToObject(o, "reason", r->reason ? r->reason : "");
    }
    cJSON_AddNumberToObject(o, "durationMs", (double)r->duration / 1000.0);
    cJSON_AddStringToObject(o, "nonce", nonce ? nonce : "");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
