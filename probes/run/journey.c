/* One probe run: its variables, its steps in order (HTTP and gRPC steps in
 * journey_http.c, other kinds in journey_kind.c), retries, the journey budget
 * and the one exit through the done callback. */
#include "probes/run/journey_int.h"
#include "base/err.h"
#include "base/time.h"
#include "base/freelist.h"
#include "base/utf8.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/check/checks.h"
#include "probes/check/json_exact.h"
#include "probes/check/jsonpath.h"
#include "probes/redact/redact.h"
#include "probes/run/retry.h"
#include "base/uuid.h"

#define RENDER_MAX 65536

static int start_step(struct journey *j);

/* Journeys are above malloc's per-thread cache size: reused (freelist.h). */
static struct freelist journeys = FREELIST_INIT(sizeof(struct journey));

/* Whether the loop stalled during this run: the overloaded verdict's input. */
bool journey_loop_stalled(const struct journey *j)
{
    return j->env->stalled && j->env->stalled(j->env->stalled_arg, (tl_usec)(j->started_ns / 1000));
}

void journey_free_request(struct journey *j)
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
    journey_free_request(j);
    transfer_session_free(j->session);
    tpl_vars_free(&j->vars);
    redactor_free(&j->redactor);
    run_result_free(j->result);
    freelist_put(&journeys, j);
}

/* Every message written out passes through here: a secret rendered into
 * a URL or echoed in an error never leaves the run. */
void journey_push_failure(struct journey *j, struct strv *to, const char *step, const char *msg)
{
    char *clean = redact_text(&j->redactor, msg);
    /* messages quote the server's bytes, and every output is JSON or XML */
    if (clean && !tl_utf8_valid(clean)) {
        char *text = tl_utf8_clean(clean);
        free(clean);
        clean = text;
    }
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
        .loop_stalled = !r->ok && journey_loop_stalled(j),
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
int journey_render_ex(struct journey *j, const struct tpl *t, enum tpl_escape esc, char **out, bool *secret,
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

int journey_render(struct journey *j, const struct tpl *t, enum tpl_escape esc, char **out, char *err,
                  size_t errlen)
{
    bool secret;
    return journey_render_ex(j, t, esc, out, &secret, err, errlen);
}

/* The agent fault a render error code stands for. */
enum reason journey_render_reason(int rc)
{
    switch (rc) {
    case TL_EKEY: return REASON_MISSING_SECRET;
    case TL_ENOMEM: return REASON_OUT_OF_MEMORY;
    case TL_ETOOBIG: return REASON_BAD_VAR;
    default: break;
    }
    return REASON_PROBE_CONFIG;
}

/* The leftmost match of a capture regex in body and its groups, in time
 * linear in the body (regexec alone restarts at every offset: 256 KB of
 * letters against "([a-z]+)[0-9]" held the loop for minutes). The longest
 * match of "^.*(R')" over the reversed body ends where the leftmost match
 * of R starts; regexec started there matches at once. 0 with m filled, 1
 * when nothing matches, -1 out of memory, -2 when R has no reversed form
 * and the body is over its search_max (probes/load/load_int.h). */
static int regex_capture(const struct capture *c, const char *body, regmatch_t m[10])
{
    size_t n = strlen(body);
    if (!c->has_rev) {
        if (n > c->search_max)
            return -2;
        return regexec(&c->re, body, 10, m, 0) == 0 ? 0 : 1;
    }
    char *rev = malloc(n + 1);
    if (!rev)
        return -1;
    for (size_t i = 0; i < n; i++)
        rev[i] = body[n - 1 - i];
    rev[n] = '\0';
    regmatch_t whole;
    int rc = regexec(&c->rev, rev, 1, &whole, 0);
    free(rev);
    if (rc != 0)
        return 1;
    m[0].rm_so = (regoff_t)(n - (size_t)whole.rm_eo);
    m[0].rm_eo = (regoff_t)n;
    return regexec(&c->re, body, 10, m, REG_STARTEND) == 0 ? 0 : 1;
}

/* *config is set when the capture failed on the probe's own regex. */
static int capture_value(const struct capture *c, const struct response *resp, const cJSON *json, char **out,
                         bool *config, char *why, size_t whylen)
{
    *out = NULL;
    switch (c->kind) {
    case CAPTURE_JSON: {
        const cJSON *v = json ? jpath_eval(&c->path, json) : NULL;
        if (!v) {
            snprintf(why, whylen, "capture %s: %s not found in the response body", c->name, c->path.src);
            return -1;
        }
        if (json_exact_has_nul(v)) {
            /* its text ends at the U+0000: sent on, it would be another value */
            snprintf(why, whylen, "capture %s: %s holds U+0000 (\\u0000)", c->name, c->path.src);
            return -1;
        }
        if (cJSON_IsString(v))
            *out = strdup(v->valuestring);
        else
            *out = json_exact_print(v);
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
        int rc = g < 0 || g > 9 || !resp->body.data ? 1 : regex_capture(c, resp->body.data, m);
        if (rc == -2) {
            *config = true;
            snprintf(why, whylen,
                     "capture %s: /%s/ is too costly on a body of %zu bytes (searched in bodies of at most %zu "
                     "bytes: a regex with a back-reference, $, ^ past its start or a word anchor is searched "
                     "offset by offset)",
                     c->name, c->re_src, strlen(resp->body.data), c->search_max);
            return -1;
        }
        if (rc == 0 && m[g].rm_so < 0)
            rc = 1;
        if (rc != 0) {
            if (rc < 0)
                snprintf(why, whylen, "capture %s: out of memory", c->name);
            else
                snprintf(why, whylen, "capture %s: /%s/ group %d did not match the response body", c->name,
                         c->re_src, g);
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
void journey_step_done(struct journey *j, const struct timings *t, struct verdict v, const struct evidence_in *ev)
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
    retry_finish(sr);
    journey_free_request(j);
    j->step++;
}

static void retry_fire(void *arg)
{
    struct journey *j = arg;
    if (start_step(j) != 0)
        journey_next(j);
}

/* A failed try the step's retry covers: recorded, and the step starts
 * again after its delay (probes/run/retry.c decides). */
bool journey_retry_again(struct journey *j, const struct step *st, const struct verdict *v, tl_usec took)
{
    struct step_result *sr = &j->result->steps[j->step];
    uint64_t now = uv_hrtime();
    tl_usec left = now < j->deadline_ns ? (tl_usec)((j->deadline_ns - now) / 1000) : 0;
    if (!retry_wanted(st, sr, v, took, left) || transfer_session_after(j->session, st->retry.delay, retry_fire, j))
        return false;
    retry_record(sr, st, v, took, &j->vars);
    journey_free_request(j);
    return true;
}

/* Captures only from a response that passed its checks; a failed capture
 * fails the checks. */
void journey_run_captures(struct journey *j, const struct step *st, const struct response *resp, const cJSON *json,
                         struct check_outcome *co)
{
    struct step_result *sr = &j->result->steps[j->step];
    for (size_t i = 0; i < st->n_captures; i++) {
        char why[512], *val = NULL;
        bool config = false;
        if (capture_value(&st->captures[i], resp, json, &val, &config, why, sizeof(why))) {
            journey_push_failure(j, &sr->failures, st->name, why);
            if (config)
                co->config_error = true;
            else
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

/* A step that failed before any request went out (a template that cannot
 * render, the journey deadline): recorded like any failure. */
void journey_step_failed_early(struct journey *j, const char *msg, const struct triage_input *ti)
{
    const struct step *st = &j->probe->steps[j->step];
    journey_push_failure(j, &j->result->steps[j->step].failures, st->name, msg);
    journey_step_done(j, NULL, triage_step(ti), NULL);
}

void journey_step_agent_fault(struct journey *j, const char *msg, enum reason why)
{
    struct triage_input ti = { .agent_fault = why };
    journey_step_failed_early(j, msg, &ti);
}

static const struct triage_input DEADLINE_PASSED = { .deadline_passed = true };

/* A finally step naming a capture that was never taken (its step failed or
 * was skipped) has nothing to clean up: skipped, not failed. */
void journey_skip_step(struct journey *j)
{
    journey_free_request(j);
    j->step++;
}

static int start_step(struct journey *j)
{
    const struct step *st = &j->probe->steps[j->step];
    struct step_result *sr = &j->result->steps[j->step];
    if (uuid_v4(sr->correlation_id)) {
        journey_step_agent_fault(j, "cannot draw a correlation id (RAND_bytes failed)", REASON_CLOCK);
        return -1;
    }
    tpl_vars_set(&j->vars, "correlation_id", sr->correlation_id, false);

    uint64_t now = uv_hrtime();
    if (now >= j->deadline_ns) {
        /* Before the run's first request the agent itself took the time
         * (its own preparation, a slow secret file): never the API's. */
        struct triage_input ti = DEADLINE_PASSED;
        ti.loop_stalled = journey_loop_stalled(j);
        ti.nothing_sent = !j->sent;
        journey_step_failed_early(j, j->sent ? "journey deadline exceeded before this step"
                                             : "journey deadline exceeded before the first request was sent "
                                               "(the agent took the time; the API was never asked)",
                                  &ti);
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

    j->sent = true;
    if (st->kind != STEP_HTTP)
        return journey_start_kind(j, st, timeout);
    return journey_start_http(j, st, timeout);
}

void journey_next(struct journey *j)
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
        int rc = journey_render_ex(j, &vd->value, TPL_ESC_NONE, &v, &secret, verr, sizeof(verr));
        if (rc) {
            char at[PATH_MAX + 64];
            tpl_where(&vd->value, at, sizeof(at));
            /* a long path cuts the reason's end, never its position */
            if (snprintf(err, errlen, "%svars.%s: %s", at, vd->name, verr) >= (int)errlen && errlen > 0)
                err[errlen - 1] = '\0'; /* cut at the end: the position leads */
            j->config_reason = journey_render_reason(rc);
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
    struct journey *j = freelist_get(&journeys);
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
    r->steps = run_result_steps_new(p->n_steps);
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
        journey_push_failure(j, &r->failures, NULL, err);
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

