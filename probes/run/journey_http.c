/* HTTP and gRPC steps of a journey: the request rendered from its templates
 * (URL, headers, body; a captured value that would inject a header line is
 * the API's contract failure), the transfer, and the response judged,
 * triaged and packed as evidence. */
#define _GNU_SOURCE /* memmem */
#include "probes/run/journey_int.h"
#include "base/err.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "probes/check/checks.h"
#include "probes/check/json_exact.h"
#include "probes/check/jsonpath.h"
#include "probes/grpc/grpc.h"
#include "probes/redact/redact.h"
#include "probes/triage/evidence.h"

#define REQ_BODY_MAX (1u << 20)

/* journey_render; a secret it cannot read (env., file:) is reported where
 * the probe file wrote the template. */
static int render_at(struct journey *j, const struct tpl *t, enum tpl_escape esc, char **out, char *err,
                     size_t errlen)
{
    int rc = journey_render(j, t, esc, out, err, errlen);
    char at[PATH_MAX + 64];
    tpl_where(t, at, sizeof(at));
    char *why = rc == TL_EKEY && at[0] ? strdup(err) : NULL;
    /* a long path cuts the reason's end, never its position */
    if (why && snprintf(err, errlen, "%s%s", at, why) >= (int)errlen && errlen > 0)
        err[errlen - 1] = '\0'; /* cut at the end: the position leads */
    free(why);
    return rc;
}

static int render_json_strings(struct journey *j, cJSON *v, char *err, size_t errlen)
{
    for (cJSON *c = v->child; c; c = c->next) {
        if (cJSON_IsString(c) && tpl_has_placeholders(c->valuestring)) {
            struct tpl t;
            int off;
            if (tpl_parse(&t, c->valuestring, err, errlen, &off))
                return TL_ESYNTAX;
            char *s;
            int rc = journey_render(j, &t, TPL_ESC_NONE, &s, err, errlen);
            tpl_free(&t);
            if (rc)
                return rc;
            char *old = c->valuestring;
            /* swap the rendered value in; the item keeps its key and place */
            c->valuestring = s;
            free(old);
        } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            int rc = render_json_strings(j, c, err, errlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int add_header(struct journey *j, const char *name, const char *value)
{
    struct http_header *h = realloc(j->req_headers, (j->n_req_headers + 1) * sizeof(*h));
    if (!h)
        return TL_ENOMEM;
    j->req_headers = h;
    h[j->n_req_headers].name = strdup(name);
    h[j->n_req_headers].value = strdup(value);
    j->n_req_headers++;
    return h[j->n_req_headers - 1].name && h[j->n_req_headers - 1].value ? 0 : TL_ENOMEM;
}

static bool has_header(const struct journey *j, const char *name)
{
    for (size_t i = 0; i < j->n_req_headers; i++)
        if (strcasecmp(j->req_headers[i].name, name) == 0)
            return true;
    return false;
}

static int render_body(struct journey *j, const struct request *rq, char *err, size_t errlen)
{
    j->req_body_kind = rq->body_kind;
    switch (rq->body_kind) {
    case BODY_NONE:
        return 0;
    case BODY_RAW:
        return render_at(j, &rq->body, TPL_ESC_NONE, &j->req_body, err, errlen);
    case BODY_JSON: {
        cJSON *copy = cJSON_Duplicate(rq->json, 1);
        int rc = copy ? 0 : TL_ENOMEM;
        if (copy && (cJSON_IsObject(copy) || cJSON_IsArray(copy)))
            rc = render_json_strings(j, copy, err, errlen);
        if (rc) {
            if (!copy)
                snprintf(err, errlen, "out of memory");
            cJSON_Delete(copy);
            return rc;
        }
        if (cJSON_IsString(copy) && tpl_has_placeholders(copy->valuestring)) {
            /* a bare string body: wrap to reuse the walker */
            cJSON *wrap = cJSON_CreateArray();
            cJSON_AddItemToArray(wrap, copy);
            rc = render_json_strings(j, wrap, err, errlen);
            copy = cJSON_DetachItemFromArray(wrap, 0);
            cJSON_Delete(wrap);
            if (rc) {
                cJSON_Delete(copy);
                return rc;
            }
        }
        j->req_body = cJSON_PrintUnformatted(copy);
        cJSON_Delete(copy);
        if (!j->req_body) {
            snprintf(err, errlen, "out of memory");
            return TL_ENOMEM;
        }
        return has_header(j, "Content-Type") ? 0 : add_header(j, "Content-Type", "application/json");
    }
    case BODY_FORM: {
        struct buf b;
        buf_init(&b, REQ_BODY_MAX);
        for (size_t i = 0; i < rq->n_form; i++) {
            char *v;
            int rrc = render_at(j, &rq->form[i].value, TPL_ESC_NONE, &v, err, errlen);
            if (rrc) {
                buf_free(&b);
                return rrc;
            }
            char *ek = curl_easy_escape(NULL, rq->form[i].name, 0);
            char *ev = curl_easy_escape(NULL, v, 0);
            free(v);
            int rc = (!ek || !ev) ? -1 : buf_printf(&b, "%s%s=%s", i ? "&" : "", ek, ev);
            curl_free(ek);
            curl_free(ev);
            if (rc) {
                snprintf(err, errlen, "form body too large");
                buf_free(&b);
                return TL_ETOOBIG;
            }
        }
        j->req_body = buf_take(&b);
        return has_header(j, "Content-Type") ? 0
                                            : add_header(j, "Content-Type", "application/x-www-form-urlencoded");
    }
    }
    return 0;
}

/* --- judging the response -------------------------------------------- */

static bool looks_json(const struct response *resp)
{
    const char *ct = response_header(resp, "Content-Type");
    if (ct && strstr(ct, "json"))
        return true;
    for (size_t i = 0; i < resp->body.len; i++) {
        char c = resp->body.data[i];
        if (!isspace((unsigned char)c))
            return c == '{' || c == '[';
    }
    return false;
}

static bool resp_names_cid(const struct response *resp)
{
    static const char key[] = "\"correlationId\"";
    return resp->body.data && memmem(resp->body.data, resp->body.len, key, sizeof(key) - 1);
}

/* Parsing a body nobody reads was a tenth of a plain run's cost: parse
 * only for JSON checks and captures, expected issues, the correlation echo,
 * and the issue schema (every response that is not 2xx, or 2xx on request). */
static bool needs_json(const struct step *st, const struct response *resp)
{
    long status = resp->status;
    const struct expect *e = &st->expect;
    if (e->n_json || e->n_issues || e->issue_schema_on_2xx || e->echo_correlation_id)
        return true;
    /* the default echo check: only a body that names a correlationId */
    if (!e->correlation_id_own && resp_names_cid(resp))
        return true;
    if (status < 200 || status > 299)
        return true;
    for (size_t i = 0; i < st->n_captures; i++)
        if (st->captures[i].kind == CAPTURE_JSON)
            return true;
    return false;
}

/* The body as JSON, or NULL: a value followed by anything but whitespace
 * (a warning printed after it, a second document) is not JSON to a client. */
static cJSON *parse_body(const struct response *resp)
{
    const char *end = NULL, *stop = resp->body.data + resp->body.len;
    cJSON *doc = cJSON_ParseWithLengthOpts(resp->body.data, resp->body.len, &end, false);
    while (doc && end < stop && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (doc && end != stop) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    /* what cJSON rounds or cuts; out of memory, a mark may be missing:
     * then a comparison is cJSON's, no worse than before */
    (void)json_exact_annotate(doc, resp->body.data, resp->body.len);
    return doc;
}

/* Runs the step's checks and captures on a response that has a status;
 * *json is the parsed body when a check needed it. */
static void judge_response(struct journey *j, const struct step *st, const struct response *resp, bool body_too_big,
                           cJSON **json, struct check_outcome *co)
{
    struct step_result *sr = &j->result->steps[j->step];
    if (!body_too_big && resp->body.len && needs_json(st, resp) && looks_json(resp))
        *json = parse_body(resp);
    if (checks_run(&st->expect, resp, *json, sr->correlation_id, &j->vars, co) != 0)
        strv_push(&co->failures, "checks ran out of memory");
    if (st->grpc && co->status_ok && grpc_check(st->grpc, resp, &co->grpc, &co->failures) != 0)
        strv_push(&co->failures, "checks ran out of memory");
    for (size_t i = 0; i < co->failures.n; i++)
        journey_push_failure(j, &sr->failures, st->name, co->failures.v[i]);
    for (size_t i = 0; i < co->budget_failures.n; i++)
        journey_push_failure(j, &sr->failures, st->name, co->budget_failures.v[i]);
    if (co->failures.n == 0 && !body_too_big)
        journey_run_captures(j, st, resp, *json, co);
}

/* The certificate the step saw (a retry's replaces the try before). Out of
 * memory, the result goes without it: the checks read the response's. */
static void set_tls_facts(struct step_result *sr, const struct tls_facts *f)
{
    if (!f->present) {
        free(sr->tls);
        sr->tls = NULL;
        return;
    }
    if (!sr->tls)
        sr->tls = malloc(sizeof(*sr->tls));
    if (sr->tls)
        *sr->tls = *f;
}

/* curl reports a reply line over its cap as it reports this host's memory
 * running out (CURLE_OUT_OF_MEMORY). After the target answered it is taken
 * for the reply's fault only while an allocation of the agent's own still
 * succeeds: a host that is really short keeps the run the agent's. */
static bool memory_short(int curl_code)
{
    if (curl_code != CURLE_OUT_OF_MEMORY)
        return false;
    void *volatile p = malloc((size_t)1 << 20); /* volatile: not folded away */
    bool none = p == NULL;
    free(p);
    return none;
}

static void on_response(struct response *resp, void *arg)
{
    struct journey *j = arg;
    const struct step *st = &j->probe->steps[j->step];
    struct step_result *sr = &j->result->steps[j->step];
    sr->status = resp->status;
    sr->curl_code = resp->curl_code;
    set_tls_facts(sr, &resp->tls);
    for (size_t i = 0; i < resp->n_headers; i++)
        if (resp->headers[i].name && strcasecmp(resp->headers[i].name, "set-cookie") == 0)
            redactor_add_set_cookie(&j->redactor, resp->headers[i].value);

    struct check_outcome co;
    check_outcome_init(&co);
    cJSON *json = NULL;
    /* a redirect the agent would not follow: the API answered, somewhere
     * the step's secrets may not go (its contract, like a check) */
    bool refused = resp->fail == TRANSFER_REDIRECT_REFUSED;
    bool transport_failed = resp->fail != TRANSFER_OK && !refused;
    bool body_too_big = resp->fail == TRANSFER_BODY_TOO_BIG;
    if (resp->fail != TRANSFER_OK)
        journey_push_failure(j, &sr->failures, st->name, resp->error[0] ? resp->error : transfer_fail_str(resp->fail));
    if (resp->status > 0 && !(transport_failed && !body_too_big))
        judge_response(j, st, resp, body_too_big, &json, &co);

    struct triage_input ti = {
        .status = resp->status,
        .curl_code = resp->curl_code,
        .os_errno = resp->os_errno,
        .body_too_big = body_too_big,
        .status_expected = resp->status > 0 && co.status_ok,
        .issue_class = co.issue_class[0] ? co.issue_class : NULL,
        .checks_failed = co.checks_failed || co.failures.n > 0 || refused,
        .config_error = co.config_error,
        .budget_breached = co.budget_breached,
        .schema_violated = co.schema_violations > 0,
        .budget_phase = co.budget_phase,
        .transport_failed = transport_failed,
        .loop_stalled = (resp->status == 0 || co.budget_breached) && journey_loop_stalled(j),
        .grpc = co.grpc.read ? &co.grpc : NULL,
        .cert_expiring = co.cert_expiring,
        .answered = resp->timings.ttfb > 0 && !memory_short(resp->curl_code),
        .broken_framing = resp->fail == TRANSFER_BROKEN_FRAMING,
    };
    sr->budget_breached = co.budget_breached;
    struct evidence_in ev = {
        .probe = j->probe,
        .region = j->env->region,
        .agent = j->env->agent_name,
        .vantage = j->env->vantage,
        .step_index = j->step,
        .method = st->request.method,
        .url = j->req_url,
        .headers = j->req_headers,
        .n_headers = j->n_req_headers,
        .body = j->req_body,
        .body_kind = j->req_body_kind,
        .correlation_id = sr->correlation_id,
        .resp = resp,
        .issue_codes = &co.issue_codes,
        .thresholds = &co.budget_failures,
        .redactor = &j->redactor,
        .grpc = co.grpc.read ? &co.grpc : NULL,
    };
    struct verdict v = triage_step(&ti);
    bool again = journey_retry_again(j, st, &v, resp->timings.total);
    if (!again)
        journey_step_done(j, &resp->timings, v, &ev);
    cJSON_Delete(json);
    check_outcome_free(&co);
    response_release(resp);
    if (!again)
        journey_next(j);
}

/* A captured value that would inject header lines: the expected answer came
 * back, but its data breaks what the journey needs (contract, check). */
static const struct triage_input UNSAFE_CAPTURED_VALUE = {
    .status = 200, .status_expected = true, .checks_failed = true,
};
#define UNSAFE_CAPTURE 1 /* render_request: not a TL_E* code, a verdict */

/* True when t names a variable the probe does not define: a capture, a
 * value the API handed over in an earlier step. */
static bool uses_capture(const struct probe *p, const struct tpl *t)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->segs[i].kind != TPL_VAR)
            continue;
        bool defined = strcmp(t->segs[i].text, "correlation_id") == 0;
        for (size_t v = 0; !defined && v < p->n_vars; v++)
            defined = strcmp(p->vars[v].name, t->segs[i].text) == 0;
        if (!defined)
            return true;
    }
    return false;
}

/* Renders the step's URL, headers and body into the journey. Returns 0 or
 * the TL_E* code of the first render that failed, the reason in err. */
static int render_request(struct journey *j, const struct request *rq, const char *cid, char *err, size_t errlen)
{
    int rc = render_at(j, &rq->url, TPL_ESC_URL, &j->req_url, err, errlen);
    for (size_t i = 0; rc == 0 && i < rq->n_headers; i++) {
        char *v;
        rc = render_at(j, &rq->headers[i].value, TPL_ESC_NONE, &v, err, errlen);
        /* CR/LF in a header would let a value write headers of its own */
        if (rc == 0 && transfer_header_check(rq->headers[i].name, v, err, errlen))
            rc = uses_capture(j->probe, &rq->headers[i].value) ? UNSAFE_CAPTURE : TL_EINVAL;
        if (rc == 0)
            rc = add_header(j, rq->headers[i].name, v);
        free(v);
    }
    if (rc == 0)
        rc = render_body(j, rq, err, errlen);
    if (rc == 0)
        rc = add_header(j, "X-Correlation-ID", cid);
    if (rc == TL_ENOMEM)
        snprintf(err, errlen, "out of memory");
    return rc;
}


/* An HTTP (or gRPC) step: renders its request and starts the transfer;
 * on_response continues the journey. */
int journey_start_http(struct journey *j, const struct step *st, tl_usec timeout)
{
    struct step_result *sr = &j->result->steps[j->step];
    char err[512];
    const struct request *rq = &st->request;
    int rc = render_request(j, rq, sr->correlation_id, err, sizeof(err));
    if (rc == TL_ENOTFOUND && st->is_finally) {
        journey_skip_step(j);
        return -1;
    }
    if (rc == UNSAFE_CAPTURE) {
        /* the API's own data cannot be sent back safely: its contract */
        journey_step_failed_early(j, err, &UNSAFE_CAPTURED_VALUE);
        return -1;
    }
    if (rc) {
        journey_step_agent_fault(j, err, journey_render_reason(rc));
        return -1;
    }

    struct transfer_req req = {
        .method = rq->method ? rq->method : "GET",
        .url = j->req_url,
        .n_headers = j->n_req_headers,
        .headers = j->req_headers,
        .body = j->req_body,
        .body_len = j->req_body ? strlen(j->req_body) : 0,
        .timeout = timeout,
        .body_max = j->env->body_max ? j->env->body_max : DEFAULT_BODY_MAX,
        .follow_redirects = rq->follow_redirects,
        .insecure = rq->insecure,
        .resolve = j->env->resolve,
        .proxy = j->env->proxy,
        .interface = j->env->interface,
    };
    if (st->grpc)
        grpc_transfer_req(st->grpc, &req);
    transfer_tls_pick(&req, &rq->tls, &j->probe->tls);
    if (transfer_start(j->session, &req, on_response, j) == 0)
        return 0;
    journey_step_agent_fault(j, "cannot start the transfer", REASON_FD_LIMIT);
    return -1;
}
