#define _GNU_SOURCE /* memmem */
#include "probes/run/journey.h"
#include "base/err.h"
#include "base/time.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <curl/curl.h>

#include "probes/check/checks.h"
#include "probes/triage/evidence.h"
#include "probes/check/jsonpath.h"
#include "probes/kinds/kind.h"
#include "probes/redact/redact.h"
#include "base/uuid.h"

#define DEFAULT_BODY_MAX (1u << 20)
#define REQ_BODY_MAX (1u << 20)
#define RENDER_MAX 65536

struct journey {
    const struct journey_env *env;
    const struct probe *probe;
    journey_done_cb cb;
    void *cb_arg;
    struct transfer_session *session;
    struct tpl_vars vars;
    struct redactor redactor;
    struct run_result *result;
    uint64_t started_ns;         /* uv_hrtime at start */
    uint64_t deadline_ns;
    size_t step;                 /* the step in flight */
    bool failed;                 /* a failing step without `continue` stops the journey */
    bool config_error;           /* the probe's vars could not be formed */
    enum reason config_reason;   /* why, as an agent fault */
    /* the request in flight, kept for the evidence pack */
    struct http_header *req_headers;
    size_t n_req_headers;
    char *req_url;
    char *req_body;
    enum body_kind req_body_kind;
};

static void journey_next(struct journey *j);

/* Whether the loop stalled during this run: the overloaded verdict's input. */
static bool loop_stalled(const struct journey *j)
{
    return j->env->stalled && j->env->stalled(j->env->stalled_arg, (tl_usec)(j->started_ns / 1000));
}

static void free_request(struct journey *j)
{
    for (size_t i = 0; i < j->n_req_headers; i++) {
        free(j->req_headers[i].name);
        free(j->req_headers[i].value);
    }
    free(j->req_headers);
    j->req_headers = NULL;
    j->n_req_headers = 0;
    free(j->req_url);
    j->req_url = NULL;
    free(j->req_body);
    j->req_body = NULL;
}

static void journey_free(struct journey *j)
{
    free_request(j);
    transfer_session_free(j->session);
    tpl_vars_free(&j->vars);
    redactor_free(&j->redactor);
    run_result_free(j->result);
    free(j);
}

/* Every message written out passes through here: a secret rendered into
 * a URL or echoed in an error never leaves the run. */
static void push_failure(struct journey *j, struct strv *to, const char *step, const char *msg)
{
    char *clean = redact_text(&j->redactor, msg);
    if (step)
        strv_pushf(to, "step %s: %s", step, clean ? clean : "(out of memory)");
    else
        strv_push(to, clean ? clean : "(out of memory)");
    free(clean);
}

/* The journey budget: phases summed over the steps that ran, total as wall
 * time. Breaches become journey-level failures. */
static void check_journey_budget(struct journey *j)
{
    struct run_result *r = j->result;
    struct timings sum = {0};
    for (size_t i = 0; i < r->n_steps; i++) {
        if (!r->steps[i].ran)
            continue;
        sum.dns += r->steps[i].timings.dns;
        sum.connect += r->steps[i].timings.connect;
        sum.tls += r->steps[i].timings.tls;
        sum.ttfb += r->steps[i].timings.ttfb;
    }
    sum.total = r->duration;
    struct strv breaches;
    strv_init(&breaches);
    if (budget_check(&j->probe->budget, &sum, &breaches) > 0) {
        r->budget_breached = true;
        for (size_t i = 0; i < breaches.n; i++)
            strv_pushf(&r->failures, "journey: %s", breaches.v[i]);
    }
    strv_free(&breaches);
}

/* The one exit of every run: records the duration and the run's verdict,
 * then hands the result to the done callback. */
static void run_done(struct journey *j)
{
    struct run_result *r = j->result;
    r->duration = (tl_usec)((uv_hrtime() - j->started_ns) / 1000);
    check_journey_budget(j);
    r->ok = r->failures.n == 0;
    r->failed_step = -1;
    for (size_t i = 0; i < r->n_steps; i++) {
        if (r->steps[i].ran && !r->steps[i].ok) {
            r->ok = false;
            if (r->failed_step < 0)
                r->failed_step = (int)i;
        }
        if (r->steps[i].budget_breached)
            r->budget_breached = true;
    }
    struct run_facts f = {
        .first_failure = r->failed_step >= 0 ? &r->steps[r->failed_step].verdict : NULL,
        .config_error = j->config_error,
        .agent_fault = j->config_reason,
        .journey_failures = r->failures.n > 0,
        .budget_breached = r->budget_breached,
        .loop_stalled = !r->ok && loop_stalled(j),
    };
    r->verdict = triage_run(&f);
    r->bucket = r->verdict.bucket;
    r->reason = r->ok ? NULL : strdup(verdict_reason(&r->verdict));
    j->result = NULL;
    journey_done_cb cb = j->cb;
    void *arg = j->cb_arg;
    journey_free(j);
    cb(r, arg);
}

/* --- rendering the request ------------------------------------------ */

/* Returns 0 or tpl_render's TL_E* code, which names the agent fault; *secret
 * says whether a secret went into it. The secret values inside were
 * registered one by one as they were rendered: registering the whole string
 * too would blank a URL down to its host. */
static int render_ex(struct journey *j, const struct tpl *t, enum tpl_escape esc, char **out, bool *secret,
                     char *err, size_t errlen)
{
    struct buf b;
    buf_init(&b, RENDER_MAX);
    *secret = false;
    int rc = tpl_render(t, &j->vars, esc, &b, secret, err, errlen);
    *out = rc ? NULL : buf_take(&b);
    if (rc)
        buf_free(&b);
    return rc;
}

static int render(struct journey *j, const struct tpl *t, enum tpl_escape esc, char **out, char *err,
                  size_t errlen)
{
    bool secret;
    return render_ex(j, t, esc, out, &secret, err, errlen);
}

/* The agent fault a render error code stands for. */
static enum reason render_reason(int rc)
{
    switch (rc) {
    case TL_EKEY: return REASON_MISSING_SECRET;
    case TL_ENOMEM: return REASON_OUT_OF_MEMORY;
    case TL_ETOOBIG: return REASON_BAD_VAR;
    default: break;
    }
    return REASON_PROBE_CONFIG;
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
            int rc = render(j, &t, TPL_ESC_NONE, &s, err, errlen);
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
        return render(j, &rq->body, TPL_ESC_NONE, &j->req_body, err, errlen);
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
            int rrc = render(j, &rq->form[i].value, TPL_ESC_NONE, &v, err, errlen);
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

static int capture_value(const struct capture *c, const struct response *resp, const cJSON *json, char **out,
                         char *why, size_t whylen)
{
    *out = NULL;
    switch (c->kind) {
    case CAPTURE_JSON: {
        const cJSON *v = json ? jpath_eval(&c->path, json) : NULL;
        if (!v) {
            snprintf(why, whylen, "capture %s: %s not found in the response body", c->name, c->path.src);
            return -1;
        }
        if (cJSON_IsString(v))
            *out = strdup(v->valuestring);
        else
            *out = cJSON_PrintUnformatted(v);
        break;
    }
    case CAPTURE_HEADER: {
        const char *v = response_header(resp, c->header);
        if (!v) {
            snprintf(why, whylen, "capture %s: header %s not in the response", c->name, c->header);
            return -1;
        }
        *out = strdup(v);
        break;
    }
    case CAPTURE_REGEX: {
        regmatch_t m[10];
        int g = c->group;
        if (g < 0 || g > 9 || !resp->body.data || regexec(&c->re, resp->body.data, 10, m, 0) != 0 ||
            m[g].rm_so < 0) {
            snprintf(why, whylen, "capture %s: /%s/ group %d did not match the response body", c->name, c->re_src,
                     g);
            return -1;
        }
        *out = strndup(resp->body.data + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
        break;
    }
    }
    if (!*out) {
        snprintf(why, whylen, "capture %s: out of memory", c->name);
        return -1;
    }
    return 0;
}

/* The one exit of every step: records its timings and verdict, packs the
 * evidence when it failed (ev may be NULL: nothing was sent), and stops the
 * journey on a failure unless the step may continue or is a finally step. */
static void step_done(struct journey *j, const struct timings *t, struct verdict v, const struct evidence_in *ev)
{
    const struct step *st = &j->probe->steps[j->step];
    struct step_result *sr = &j->result->steps[j->step];
    sr->ran = true;
    if (t)
        sr->timings = *t;
    sr->verdict = v;
    sr->bucket = v.bucket;
    sr->ok = v.bucket == BUCKET_NONE && sr->failures.n == 0;
    if (!sr->ok) {
        free(sr->reason);
        sr->reason = strdup(verdict_reason(&v));
        if (ev)
            sr->evidence = evidence_pack(ev);
        if (!st->continue_on_failure && !st->is_finally)
            j->failed = true;
    }
    free_request(j);
    j->step++;
}

/* Captures only from a response that passed its checks; a failed capture
 * fails the checks. */
static void run_captures(struct journey *j, const struct step *st, const struct response *resp, const cJSON *json,
                         struct check_outcome *co)
{
    struct step_result *sr = &j->result->steps[j->step];
    for (size_t i = 0; i < st->n_captures; i++) {
        char why[512], *val = NULL;
        if (capture_value(&st->captures[i], resp, json, &val, why, sizeof(why))) {
            push_failure(j, &sr->failures, st->name, why);
            co->checks_failed = true;
            continue;
        }
        /* A value captured from a secret-bearing response is not itself secret,
         * but a captured credential (token) must not be echoed later. */
        const struct capture *cap = &st->captures[i];
        bool secret = redact_name_sensitive(cap->name) ||
                      (cap->kind == CAPTURE_HEADER && redact_name_sensitive(cap->header));
        tpl_vars_set(&j->vars, st->captures[i].name, val, secret);
        if (secret)
            redactor_add(&j->redactor, val);
        free(val);
    }
}

/* Runs the step's checks and captures on a response that has a status;
 * *json is the parsed body when a check needed it. */
static void judge_response(struct journey *j, const struct step *st, const struct response *resp, bool body_too_big,
                           cJSON **json, struct check_outcome *co)
{
    struct step_result *sr = &j->result->steps[j->step];
    if (!body_too_big && resp->body.len && needs_json(st, resp) && looks_json(resp))
        *json = cJSON_ParseWithLength(resp->body.data, resp->body.len);
    if (checks_run(&st->expect, resp, *json, sr->correlation_id, &j->vars, co) != 0)
        strv_push(&co->failures, "checks ran out of memory");
    if (st->grpc && co->status_ok && grpc_check(st->grpc, resp, &co->grpc, &co->failures) != 0)
        strv_push(&co->failures, "checks ran out of memory");
    for (size_t i = 0; i < co->failures.n; i++)
        push_failure(j, &sr->failures, st->name, co->failures.v[i]);
    for (size_t i = 0; i < co->budget_failures.n; i++)
        push_failure(j, &sr->failures, st->name, co->budget_failures.v[i]);
    if (co->failures.n == 0 && !body_too_big)
        run_captures(j, st, resp, *json, co);
}

static void on_response(struct response *resp, void *arg)
{
    struct journey *j = arg;
    const struct step *st = &j->probe->steps[j->step];
    struct step_result *sr = &j->result->steps[j->step];
    sr->status = resp->status;
    sr->curl_code = resp->curl_code;
    for (size_t i = 0; i < resp->n_headers; i++)
        if (resp->headers[i].name && strcasecmp(resp->headers[i].name, "set-cookie") == 0)
            redactor_add_set_cookie(&j->redactor, resp->headers[i].value);

    struct check_outcome co;
    check_outcome_init(&co);
    cJSON *json = NULL;
    bool transport_failed = resp->fail != TRANSFER_OK;
    bool body_too_big = resp->fail == TRANSFER_BODY_TOO_BIG;
    if (transport_failed)
        push_failure(j, &sr->failures, st->name, resp->error[0] ? resp->error : transfer_fail_str(resp->fail));
    if (resp->status > 0 && !(transport_failed && !body_too_big))
        judge_response(j, st, resp, body_too_big, &json, &co);

    struct triage_input ti = {
        .status = resp->status,
        .curl_code = resp->curl_code,
        .body_too_big = body_too_big,
        .status_expected = resp->status > 0 && co.status_ok,
        .issue_class = co.issue_class[0] ? co.issue_class : NULL,
        .checks_failed = co.checks_failed || co.failures.n > 0,
        .budget_breached = co.budget_breached,
        .schema_violated = co.schema_violations > 0,
        .budget_phase = co.budget_phase,
        .transport_failed = transport_failed,
        .loop_stalled = resp->status == 0 && loop_stalled(j),
        .grpc = co.grpc.read ? &co.grpc : NULL,
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
    step_done(j, &resp->timings, triage_step(&ti), &ev);
    cJSON_Delete(json);
    check_outcome_free(&co);
    response_free(resp);
    free(resp);
    journey_next(j);
}

/* A step that failed before any request went out (a template that cannot
 * render, the journey deadline): recorded like any failure. */
static void step_failed_early(struct journey *j, const char *msg, const struct triage_input *ti)
{
    const struct step *st = &j->probe->steps[j->step];
    push_failure(j, &j->result->steps[j->step].failures, st->name, msg);
    step_done(j, NULL, triage_step(ti), NULL);
}

static void step_agent_fault(struct journey *j, const char *msg, enum reason why)
{
    struct triage_input ti = { .agent_fault = why };
    step_failed_early(j, msg, &ti);
}

static const struct triage_input DEADLINE_PASSED = { .deadline_passed = true };
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
    int rc = render(j, &rq->url, TPL_ESC_URL, &j->req_url, err, errlen);
    for (size_t i = 0; rc == 0 && i < rq->n_headers; i++) {
        char *v;
        rc = render(j, &rq->headers[i].value, TPL_ESC_NONE, &v, err, errlen);
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

/* A finally step naming a capture that was never taken (its step failed or
 * was skipped) has nothing to clean up: skipped, not failed. */
static void skip_step(struct journey *j)
{
    free_request(j);
    j->step++;
}

/* --- steps of other kinds (probes/kinds/kind.h) ------------------------ */

static int kind_render(void *arg, const struct tpl *t, char **out, bool *secret, char *err, size_t errlen)
{
    return render_ex(arg, t, TPL_ESC_NONE, out, secret, err, errlen);
}

/* Checks without a status line, then the kind's own judgement. */
static void judge_kind(struct journey *j, const struct step *st, const struct response *resp,
                       struct check_outcome *co, struct verdict *answer)
{
    struct step_result *sr = &j->result->steps[j->step];
    const struct kind_ops *ops = kind_ops_of(st->kind);
    if (checks_run_data(&st->expect, resp, resp->facts, &j->vars, co) != 0 ||
        (ops->judge && ops->judge(st->kind_def, resp, &j->vars, co, answer) != 0))
        strv_push(&co->failures, "checks ran out of memory");
    for (size_t i = 0; i < co->failures.n; i++)
        push_failure(j, &sr->failures, st->name, co->failures.v[i]);
    for (size_t i = 0; i < co->budget_failures.n; i++)
        push_failure(j, &sr->failures, st->name, co->budget_failures.v[i]);
    if (co->failures.n == 0)
        run_captures(j, st, resp, resp->facts, co);
}

static void on_kind_response(struct response *resp, void *arg)
{
    struct journey *j = arg;
    const struct step *st = &j->probe->steps[j->step];
    struct step_result *sr = &j->result->steps[j->step];
    struct check_outcome co;
    check_outcome_init(&co);
    struct verdict answer = { BUCKET_NONE, REASON_OK, 0 };
    bool failed = resp->fail != TRANSFER_OK;
    sr->answered = !failed || resp->fail == TRANSFER_BODY_TOO_BIG;
    if (failed)
        push_failure(j, &sr->failures, st->name, resp->error[0] ? resp->error : transfer_fail_str(resp->fail));
    else
        judge_kind(j, st, resp, &co, &answer);
    struct triage_input ti = {
        .kind_step = true,
        .kind_reason = resp->kind_reason,
        .kind_answer = answer,
        .transport_failed = failed,
        .body_too_big = resp->fail == TRANSFER_BODY_TOO_BIG,
        .checks_failed = co.checks_failed || co.failures.n > 0,
        .budget_breached = co.budget_breached,
        .budget_phase = co.budget_phase,
        .loop_stalled = failed && loop_stalled(j),
    };
    sr->budget_breached = co.budget_breached;
    struct evidence_in ev = {
        .probe = j->probe,
        .region = j->env->region,
        .agent = j->env->agent_name,
        .vantage = j->env->vantage,
        .step_index = j->step,
        .method = step_kind_str(st->kind),
        .url = j->req_url,
        .resp = resp,
        .thresholds = &co.budget_failures,
        .redactor = &j->redactor,
    };
    step_done(j, &resp->timings, triage_step(&ti), &ev);
    check_outcome_free(&co);
    response_free(resp);
    free(resp);
    journey_next(j);
}

/* Why a kind could not start, as an agent fault. */
static enum reason kind_start_reason(int rc)
{
    switch (rc) {
    case TL_EKEY:
    case TL_ENOMEM:
    case TL_ETOOBIG:
    case TL_ESYNTAX:
    case TL_ENOTFOUND: return render_reason(rc);
    default: break;
    }
    return REASON_FD_LIMIT;
}

static int start_kind_step(struct journey *j, const struct step *st, tl_usec timeout)
{
    const struct kind_ops *ops = kind_ops_of(st->kind);
    char err[512] = "";
    struct kind_run run = {
        .loop = transfer_engine_loop(j->env->engine),
        .step = st,
        .def = st->kind_def,
        .timeout = timeout,
        .data_max = j->env->body_max ? j->env->body_max : DEFAULT_BODY_MAX,
        .interface = j->env->interface,
        .render = kind_render,
        .render_arg = j,
        .done = on_kind_response,
        .done_arg = j,
        .err = err,
        .errlen = sizeof(err),
    };
    if (!ops) {
        step_agent_fault(j, "this build cannot run this kind of step", REASON_PROBE_CONFIG);
        return -1;
    }
    j->req_url = ops->target ? ops->target(&run) : NULL;
    int rc = ops->start(&run);
    if (rc == 0)
        return 0;
    if (rc == TL_ENOTFOUND && st->is_finally) {
        skip_step(j);
        return -1;
    }
    step_agent_fault(j, err[0] ? err : tl_strerror(rc), kind_start_reason(rc));
    return -1;
}

static int start_step(struct journey *j)
{
    const struct step *st = &j->probe->steps[j->step];
    struct step_result *sr = &j->result->steps[j->step];
    char err[512];
    if (uuid_v4(sr->correlation_id)) {
        step_agent_fault(j, "cannot draw a correlation id (RAND_bytes failed)", REASON_CLOCK);
        return -1;
    }
    tpl_vars_set(&j->vars, "correlation_id", sr->correlation_id, false);

    uint64_t now = uv_hrtime();
    if (now >= j->deadline_ns) {
        struct triage_input ti = DEADLINE_PASSED;
        ti.loop_stalled = loop_stalled(j);
        step_failed_early(j, "journey deadline exceeded before this step", &ti);
        return -1;
    }
    tl_usec timeout = st->timeout ? st->timeout : j->probe->schedule.timeout;
    if (timeout <= 0)
        timeout = 10000000;
    tl_usec left = (tl_usec)((j->deadline_ns - now) / 1000);
    /* finally steps get their own timeout even past the deadline: cleanup must run */
    if (!st->is_finally && left < timeout)
        timeout = left;
    if (timeout < 1000)
        timeout = 1000;

    if (st->kind != STEP_HTTP)
        return start_kind_step(j, st, timeout);
    const struct request *rq = &st->request;
    int rc = render_request(j, rq, sr->correlation_id, err, sizeof(err));
    if (rc == TL_ENOTFOUND && st->is_finally) {
        skip_step(j);
        return -1;
    }
    if (rc == UNSAFE_CAPTURE) {
        /* the API's own data cannot be sent back safely: its contract */
        step_failed_early(j, err, &UNSAFE_CAPTURED_VALUE);
        return -1;
    }
    if (rc) {
        step_agent_fault(j, err, render_reason(rc));
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
    if (transfer_start(j->session, &req, on_response, j) == 0)
        return 0;
    step_agent_fault(j, "cannot start the transfer", REASON_FD_LIMIT);
    return -1;
}

static void journey_next(struct journey *j)
{
    while (j->step < j->probe->n_steps) {
        const struct step *st = &j->probe->steps[j->step];
        if (j->failed && !st->is_finally) {
            j->step++; /* skipped: ran stays false */
            continue;
        }
        if (start_step(j) == 0)
            return; /* on_response continues the journey */
    }
    run_done(j);
}

static int init_vars(struct journey *j, char *err, size_t errlen)
{
    const struct probe *p = j->probe;
    for (size_t i = 0; i < p->n_vars; i++) {
        const struct var_def *vd = &p->vars[i];
        const struct tpl_var *ov = j->env->overrides ? tpl_vars_get(j->env->overrides, vd->name) : NULL;
        if (ov) {
            /* an override of a var defined from env. or file: is as secret */
            bool ov_secret = ov->secret || vd->secret;
            if (tpl_vars_set(&j->vars, vd->name, ov->value, ov_secret))
                goto nomem;
            if (ov_secret && redact_global_add(ov->value))
                goto nomem;
            continue;
        }
        char verr[400], *v;
        bool secret;
        int rc = render_ex(j, &vd->value, TPL_ESC_NONE, &v, &secret, verr, sizeof(verr));
        if (rc) {
            snprintf(err, errlen, "vars.%s: %s", vd->name, verr);
            j->config_reason = render_reason(rc);
            return rc;
        }
        secret = secret || vd->secret;
        rc = tpl_vars_set(&j->vars, vd->name, v, secret);
        if (secret)
            redactor_add(&j->redactor, v);
        free(v);
        if (rc)
            goto nomem;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    j->config_reason = REASON_OUT_OF_MEMORY;
    return TL_ENOMEM;
}

int journey_start(const struct journey_env *env, const struct probe *p, journey_done_cb cb, void *arg)
{
    struct journey *j = calloc(1, sizeof(*j));
    if (!j)
        return -1;
    j->env = env;
    j->probe = p;
    j->cb = cb;
    j->cb_arg = arg;
    tpl_vars_init(&j->vars);
    redactor_init(&j->redactor);
    struct run_result *r = calloc(1, sizeof(*r));
    j->result = r;
    if (!r)
        goto fail;
    r->probe = p;
    r->probe_id = strdup(p->id);
    r->region = strdup(env->region ? env->region : "local");
    r->vantage = env->vantage ? strdup(env->vantage) : NULL;
    r->started_at_us = tl_wall_us();
    r->failed_step = -1;
    strv_init(&r->failures);
    r->n_steps = p->n_steps;
    r->steps = calloc(p->n_steps ? p->n_steps : 1, sizeof(*r->steps));
    if (!r->probe_id || !r->region || !r->steps)
        goto fail;
    for (size_t i = 0; i < p->n_steps; i++) {
        r->steps[i].name = strdup(p->steps[i].name);
        r->steps[i].kind = p->steps[i].kind;
        strv_init(&r->steps[i].failures);
        if (!r->steps[i].name)
            goto fail;
    }
    if (transfer_session_new(&j->session, env->engine))
        goto fail;
    j->started_ns = uv_hrtime();
    tl_usec timeout = p->schedule.timeout > 0 ? p->schedule.timeout : 10000000;
    j->deadline_ns = j->started_ns + (uint64_t)timeout * 1000;

    char err[512];
    if (init_vars(j, err, sizeof(err))) {
        /* The probe cannot be formed (an unset env variable, an unreadable
         * secret file): a failed run of the client side, not of the API. */
        push_failure(j, &r->failures, NULL, err);
        j->config_error = true;
        j->step = p->n_steps;
        j->failed = true;
    }
    journey_next(j);
    return 0;
fail:
    journey_free(j);
    return -1;
}
