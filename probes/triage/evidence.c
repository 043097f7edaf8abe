#include "probes/triage/evidence.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/utf8.h"
#include "probes/check/json_exact.h"
#include "probes/check/jsonpath.h"

/* Response headers worth having when triaging: rate limits, caches and
 * gateways (who answered), and the echoed correlation id. */
static bool header_selected(const char *name)
{
    static const char *const keep[] = {"content-type", "content-length", "retry-after", "server", "via",
                                       "x-correlation-id", "x-request-id", "location", "www-authenticate",
                                       "x-cache", "cf-ray", "x-served-by", "date"};
    if (strncasecmp(name, "x-ratelimit-", 12) == 0 || strncasecmp(name, "ratelimit", 9) == 0)
        return true;
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (strcasecmp(name, keep[i]) == 0)
            return true;
    return false;
}

cJSON *evidence_shape(const cJSON *v)
{
    if (cJSON_IsObject(v)) {
        cJSON *o = cJSON_CreateObject();
        for (const cJSON *c = v->child; o && c; c = c->next)
            cJSON_AddItemToObject(o, c->string, evidence_shape(c));
        return o;
    }
    if (cJSON_IsArray(v)) {
        cJSON *a = cJSON_CreateArray();
        /* the shape of the first element stands for all: lists are homogeneous in practice */
        if (a && v->child)
            cJSON_AddItemToArray(a, evidence_shape(v->child));
        return a;
    }
    return cJSON_CreateString(json_type_name(v));
}

static double ms(tl_usec us)
{
    return (double)us / 1000.0;
}

static void add_timings(cJSON *o, const struct timings *t)
{
    cJSON_AddNumberToObject(o, "dns_ms", ms(t->dns));
    cJSON_AddNumberToObject(o, "connect_ms", ms(t->connect));
    cJSON_AddNumberToObject(o, "tls_ms", ms(t->tls));
    cJSON_AddNumberToObject(o, "ttfb_ms", ms(t->ttfb));
    cJSON_AddNumberToObject(o, "total_ms", ms(t->total));
}

static void add_redacted_string(cJSON *o, const char *key, const struct redactor *r, const char *s)
{
    char *clean = redact_text(r, s ? s : "");
    cJSON_AddStringToObject(o, key, clean ? clean : REDACTED);
    free(clean);
}

static cJSON *request_part(const struct evidence_in *in)
{
    cJSON *req = cJSON_CreateObject();
    if (!req)
        return NULL;
    cJSON_AddStringToObject(req, "method", in->method ? in->method : "GET");
    char *url = in->url ? redact_url(in->redactor, in->url) : NULL;
    cJSON_AddStringToObject(req, "url", url ? url : "");
    free(url);
    cJSON *names = cJSON_AddArrayToObject(req, "headers");
    for (size_t i = 0; names && i < in->n_headers; i++) {
        char *n = redact_text(in->redactor, in->headers[i].name);
        cJSON_AddItemToArray(names, cJSON_CreateString(n ? n : REDACTED));
        free(n);
    }
    if (in->body && in->body_kind == BODY_JSON) {
        cJSON *b = cJSON_Parse(in->body);
        cJSON_AddItemToObject(req, "body_shape", b ? evidence_shape(b) : cJSON_CreateString("unparsable"));
        cJSON_Delete(b);
    } else if (in->body && in->body_kind == BODY_FORM) {
        cJSON_AddStringToObject(req, "body_shape", "form");
    } else if (in->body) {
        cJSON_AddStringToObject(req, "body_shape", "text");
    }
    return req;
}

static cJSON *response_part(const struct evidence_in *in)
{
    const struct response *resp = in->resp;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (resp->status > 0)
        cJSON_AddNumberToObject(o, "status", (double)resp->status);
    else
        cJSON_AddNullToObject(o, "status");
    if (resp->url) {
        /* request.url is what the step asked; this is who answered */
        char *url = redact_url(in->redactor, resp->url);
        cJSON_AddStringToObject(o, "final_url", url ? url : REDACTED);
        free(url);
        cJSON_AddNumberToObject(o, "redirects", resp->redirects);
    }
    if (resp->fail != TRANSFER_OK) {
        cJSON_AddStringToObject(o, "transport", transfer_fail_str(resp->fail));
        cJSON_AddNumberToObject(o, "curl_code", resp->curl_code);
        add_redacted_string(o, "error", in->redactor, resp->error);
    }
    cJSON *codes = cJSON_AddArrayToObject(o, "issues");
    size_t n_codes = in->issue_codes ? in->issue_codes->n : 0;
    for (size_t i = 0; codes && i < n_codes && i < EVIDENCE_ISSUES_MAX; i++) {
        char *code = redact_text(in->redactor, in->issue_codes->v[i]);
        cJSON_AddItemToArray(codes, cJSON_CreateString(code ? code : REDACTED));
        free(code);
    }
    if (n_codes > EVIDENCE_ISSUES_MAX)
        cJSON_AddNumberToObject(o, "issues_total", (double)n_codes);
    cJSON *hs = cJSON_AddObjectToObject(o, "headers");
    for (size_t i = 0; hs && i < resp->n_headers; i++) {
        const char *n = resp->headers[i].name;
        if (!header_selected(n) || cJSON_GetObjectItemCaseSensitive(hs, n))
            continue;
        char *clean_name = redact_text(in->redactor, n);
        if (!clean_name || strcmp(clean_name, n) != 0) {
            /* a secret in a header's name: the pair is not evidence */
            free(clean_name);
            continue;
        }
        free(clean_name);
        if (strcasecmp(n, "location") == 0) {
            /* a redirect can carry server-issued codes and tokens in its query */
            char *u = redact_url(in->redactor, resp->headers[i].value);
            cJSON_AddStringToObject(hs, n, u ? u : REDACTED);
            free(u);
            continue;
        }
        add_redacted_string(hs, n, in->redactor, resp->headers[i].value);
    }
    if (resp->facts) {
        /* a step kind's findings (answers, banner): redacted like a JSON body */
        cJSON *facts = cJSON_Duplicate(resp->facts, true);
        if (facts)
            redact_json(in->redactor, facts);
        cJSON_AddItemToObject(o, "facts", facts);
    }
    cJSON_AddNumberToObject(o, "body_bytes", (double)resp->body.len);
    if (resp->body.len) {
        /* A JSON body is redacted by key before it is cut, so a cut never
         * leaves half a secret behind; a body too big to parse cheaply (or
         * not JSON) by key on its text, then by value. */
        char *text = NULL;
        cJSON *parsed = resp->body.len <= 65536 ? cJSON_ParseWithLength(resp->body.data, resp->body.len) : NULL;
        if (parsed) {
            (void)json_exact_annotate(parsed, resp->body.data, resp->body.len);
            redact_json(in->redactor, parsed);
            text = json_exact_print(parsed);
            cJSON_Delete(parsed);
        } else {
            size_t n = resp->body.len < EVIDENCE_SNIPPET_MAX * 2 ? resp->body.len : EVIDENCE_SNIPPET_MAX * 2;
            char *raw = strndup(resp->body.data, n);
            text = raw ? redact_body_text(in->redactor, raw) : NULL;
            free(raw);
        }
        if (text && strlen(text) > EVIDENCE_SNIPPET_MAX) {
            /* cut on a UTF-8 boundary */
            size_t cut = EVIDENCE_SNIPPET_MAX;
            while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
                cut--;
            /* the text may end 1 or 2 bytes past the cut: make room for "..." */
            char *room = realloc(text, cut + 4);
            if (room) {
                text = room;
                memcpy(text + cut, "...", 4);
            } else {
                text[cut] = '\0';
            }
        }
        cJSON_AddStringToObject(o, "body_snippet", text ? text : "");
        free(text);
    }
    return o;
}

/* The peer certificate: the server's own text, passed through the
 * redactor like every other string the server sent. */
static cJSON *tls_part(const struct evidence_in *in)
{
    cJSON *o = tls_facts_json(&in->resp->tls);
    for (cJSON *c = o ? o->child : NULL; c; c = c->next) {
        if (!cJSON_IsString(c))
            continue;
        char *clean = redact_text(in->redactor, c->valuestring);
        if (clean)
            cJSON_SetValuestring(c, clean);
        free(clean);
    }
    return o;
}

/* The server's bytes (a body's strings and keys, header values, a binary
 * body) as valid UTF-8: every reader of the evidence parses JSON. */
static void clean_utf8(cJSON *node)
{
    for (cJSON *c = node; c; c = c->next) {
        if (c->string && !(c->type & cJSON_StringIsConst) && !tl_utf8_valid(c->string)) {
            char *key = tl_utf8_clean(c->string);
            if (key) {
                cJSON_free(c->string);
                c->string = key;
            }
        }
        if (cJSON_IsString(c) && c->valuestring && !tl_utf8_valid(c->valuestring)) {
            char *text = tl_utf8_clean(c->valuestring);
            if (!text || !cJSON_SetValuestring(c, text))
                cJSON_SetValuestring(c, "");
            free(text);
        }
        clean_utf8(c->child);
    }
}

cJSON *evidence_pack(const struct evidence_in *in)
{
    cJSON *ev = cJSON_CreateObject();
    if (!ev)
        return NULL;
    cJSON_AddItemToObject(ev, "request", request_part(in));
    cJSON_AddItemToObject(ev, "response", response_part(in));
    if (in->grpc)
        cJSON_AddItemToObject(ev, "grpc", grpc_evidence(in->grpc, in->redactor));
    cJSON *t = cJSON_AddObjectToObject(ev, "timings");
    if (t) {
        add_timings(t, &in->resp->timings);
        cJSON *th = cJSON_AddArrayToObject(t, "thresholds_crossed");
        for (size_t i = 0; th && in->thresholds && i < in->thresholds->n; i++)
            cJSON_AddItemToArray(th, cJSON_CreateString(in->thresholds->v[i]));
    }
    cJSON *env = cJSON_AddObjectToObject(ev, "environment");
    if (env) {
        cJSON_AddStringToObject(env, "region", in->region ? in->region : "local");
        cJSON_AddStringToObject(env, "agent", in->agent ? in->agent : "");
        cJSON_AddStringToObject(env, "version", TRIPLINE_VERSION);
        if (in->vantage)
            cJSON_AddStringToObject(env, "vantage", in->vantage);
        cJSON_AddStringToObject(env, "probe_file", in->probe->file ? in->probe->file : "");
        cJSON_AddStringToObject(env, "probe_file_sha256", in->probe->file_hash);
        cJSON_AddStringToObject(env, "resolved_ip", in->resp->primary_ip);
    }
    cJSON *st = cJSON_AddObjectToObject(ev, "step");
    if (st) {
        cJSON_AddStringToObject(st, "name", in->probe->steps[in->step_index].name);
        cJSON_AddNumberToObject(st, "index", (double)in->step_index + 1);
        cJSON_AddNumberToObject(st, "of", (double)in->probe->n_steps);
        if (in->step_index > 0)
            cJSON_AddStringToObject(st, "after", in->probe->steps[in->step_index - 1].name);
    }
    cJSON_AddStringToObject(ev, "correlation_id", in->correlation_id);
    if (in->resp->tls.present)
        cJSON_AddItemToObject(ev, "tls", tls_part(in));
    clean_utf8(ev);
    return ev;
}
