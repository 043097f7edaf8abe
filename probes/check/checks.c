/* Checks of one response against its step's `expect` block. Every check runs
 * (a failed status does not hide a broken body) and each failure is one
 * message; values from the response are quoted and shortened, values
 * rendered from secrets are never written. */
#include "probes/check/checks.h"
#include "probes/check/check_tls.h"
#include "probes/redact/redact.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/check/checks_json.h"
#include "probes/check/issue_schema.h"
#include "probes/check/json_exact.h"


struct cctx {
    const struct expect *e;
    const struct response *resp;
    const cJSON *json;
    const char *cid;
    const struct tpl_vars *vars;
    struct check_outcome *o;
    int rc; /* -1 after an allocation failure */
};

static void fail(struct cctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct cctx *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (checks_fail_push(&c->o->failures, msg))
        c->rc = -1;
}

int checks_fail_push(struct strv *failures, const char *msg)
{
    /* messages quote server text: a secret it echoes goes no further */
    char *clean = redact_text(NULL, msg);
    int rc = !clean || strv_push(failures, clean) ? -1 : 0;
    free(clean);
    return rc;
}

/* "text" with quotes and backslashes escaped, control bytes as '?', cut
 * after QUOTE_MAX bytes with "...". */
static void quote(const char *s, char *out, size_t outlen)
{
    size_t o = 0, i = 0;
    out[o++] = '"';
    for (; s[i] && i < QUOTE_MAX && o + 6 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            out[o++] = '\\';
        out[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    if (s[i]) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* --- status ------------------------------------------------------------ */

void check_outcome_init(struct check_outcome *o)
{
    memset(o, 0, sizeof(*o));
    strv_init(&o->failures);
    strv_init(&o->budget_failures);
    strv_init(&o->issue_codes);
}

void check_outcome_free(struct check_outcome *o)
{
    if (!o)
        return;
    strv_free(&o->failures);
    strv_free(&o->budget_failures);
    strv_free(&o->issue_codes);
}

bool status_expect_match(const struct status_expect *se, long status)
{
    if (!se || se->n == 0)
        return status >= 200 && status <= 399;
    for (size_t i = 0; i < se->n; i++)
        if (status >= se->ranges[i].lo && status <= se->ranges[i].hi)
            return true;
    return false;
}

void status_expect_str(const struct status_expect *se, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    if (!se || se->n == 0) {
        snprintf(out, outlen, "200-399");
        return;
    }
    for (size_t i = 0; i < se->n && o < outlen; i++) {
        const struct status_range *r = &se->ranges[i];
        const char *sep = i == 0 ? "" : i + 1 == se->n ? " or " : ", ";
        int n = r->lo == r->hi ? snprintf(out + o, outlen - o, "%s%d", sep, r->lo)
                               : snprintf(out + o, outlen - o, "%s%d-%d", sep, r->lo, r->hi);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static void check_status(struct cctx *c)
{
    char want[128];
    c->o->status_ok = status_expect_match(&c->e->status, c->resp->status);
    if (c->o->status_ok)
        return;
    status_expect_str(&c->e->status, want, sizeof(want));
    if (!c->resp->url) {
        fail(c, "status %ld, expected %s", c->resp->status, want);
        return;
    }
    /* the status is the final URL's, not the step's own */
    char *url = redact_url(NULL, c->resp->url);
    fail(c, "status %ld from %.300s (after %d redirect%s), expected %s", c->resp->status, url ? url : REDACTED,
         c->resp->redirects, c->resp->redirects == 1 ? "" : "s", want);
    free(url);
}

/* --- headers ----------------------------------------------------------- */

static const char *find_header(const struct response *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].name && strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value ? r->headers[i].value : "";
    return NULL;
}

/* Credentials a response may carry: never copied into a message. The same
 * names the redactor protects everywhere else. */
static bool header_is_sensitive(const char *name)
{
    return redact_name_sensitive(name);
}

static void header_compare(struct cctx *c, const struct header_check *h, const char *got,
                           const char *want, bool secret)
{
    char qgot[QBUF], qwant[QBUF];
    quote(got, qgot, sizeof(qgot));
    quote(want, qwant, sizeof(qwant));
    const char *sgot = secret || header_is_sensitive(h->name) ? SECRET_SHOWN : qgot;
    const char *swant = secret ? SECRET_SHOWN : qwant;
    if (h->op == MATCH_EQUALS && strcmp(got, want) != 0)
        fail(c, "header %s: %s, expected %s", h->name, sgot, swant);
    else if (h->op == MATCH_CONTAINS && !strstr(got, want))
        fail(c, "header %s: %s does not contain %s", h->name, sgot, swant);
}

static void check_header(struct cctx *c, const struct header_check *h)
{
    const char *got = find_header(c->resp, h->name);
    char err[256], q[QBUF];
    bool secret = false;
    if (h->op == MATCH_EXISTS) {
        if (h->exists && !got)
            fail(c, "header %s: missing", h->name);
        else if (!h->exists && got)
            fail(c, "header %s: present, expected absent", h->name);
        return;
    }
    if (h->op == MATCH_TYPE) {
        fail(c, "header %s: a type check applies to JSON paths only", h->name);
        return;
    }
    if (h->op == MATCH_MATCHES) {
        quote(got ? got : "", q, sizeof(q));
        if (!got) {
            fail(c, "header %s: missing, expected to match /%s/", h->name, h->value.src);
        } else if (h->search_max && strlen(got) > h->search_max) {
            char why[512];
            checks_too_costly(why, sizeof(why), h->value.src, strlen(got), h->search_max);
            fail(c, "header %s: %s", h->name, why);
            c->o->config_error = true;
        } else if (regexec(&h->re, got, 0, NULL, 0) != 0)
            fail(c, "header %s: %s does not match /%s/", h->name,
                 header_is_sensitive(h->name) ? SECRET_SHOWN : q, h->value.src);
        return;
    }
    char *want = tpl_render_str(&h->value, c->vars, TPL_ESC_NONE, &secret, err, sizeof(err));
    if (!want) {
        fail(c, "header %s: cannot render the expected value: %s", h->name, err);
        return;
    }
    quote(want, q, sizeof(q));
    if (!got)
        fail(c, "header %s: missing, expected %s%s", h->name,
             h->op == MATCH_CONTAINS ? "to contain " : "", secret ? SECRET_SHOWN : q);
    else
        header_compare(c, h, got, want, secret);
    free(want);
}

/* --- body -------------------------------------------------------------- */

/* Substring search that does not stop at NUL bytes in the body. */
static bool body_has(const char *hay, size_t hlen, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return true;
    for (size_t i = 0; hay && i + n <= hlen; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

static void check_body(struct cctx *c, const struct body_check *b)
{
    char q[QBUF];
    const char *text = c->resp->body.data ? c->resp->body.data : "";
    if (b->op == MATCH_CONTAINS) {
        quote(b->text, q, sizeof(q));
        if (!body_has(c->resp->body.data, c->resp->body.len, b->text))
            fail(c, "body does not contain %s", q);
    } else if (b->op == MATCH_MATCHES) {
        if (b->search_max && strlen(text) > b->search_max) {
            char why[512];
            checks_too_costly(why, sizeof(why), b->text, strlen(text), b->search_max);
            fail(c, "body: %s", why);
            c->o->config_error = true;
        } else if (regexec(&b->re, text, 0, NULL, 0) != 0) {
            fail(c, "body does not match /%s/", b->text);
        }
    } else {
        fail(c, "body: only contains and matches apply to the body");
    }
}

/* --- issues ------------------------------------------------------------ */

static const cJSON *body_issues(const cJSON *json)
{
    const cJSON *issues = cJSON_IsObject(json) ? cJSON_GetObjectItemCaseSensitive(json, "issues") : NULL;
    return cJSON_IsArray(issues) ? issues : NULL;
}

static const char *issue_str(const cJSON *issue, const char *name)
{
    const cJSON *v = cJSON_IsObject(issue) ? cJSON_GetObjectItemCaseSensitive(issue, name) : NULL;
    /* a code cut at U+0000 is not the code it starts with */
    return cJSON_IsString(v) && !json_exact_has_nul(v) ? v->valuestring : NULL;
}

static void collect_issues(struct cctx *c)
{
    const cJSON *issue;
    cJSON_ArrayForEach(issue, body_issues(c->json))
    {
        const char *code = issue_str(issue, "issue");
        if (!code)
            continue;
        char *clean = redact_text(NULL, code);
        if (!clean) {
            c->rc = -1;
            continue;
        }
        if (c->o->issue_codes.n == 0)
            issue_code_class(clean, c->o->issue_class, sizeof(c->o->issue_class));
        /* Codes are short by the schema; a hostile one is cut. */
        if (strv_pushf(&c->o->issue_codes, "%.128s", clean))
            c->rc = -1;
        free(clean);
    }
}

/* "payment.declined.card, payment.unauthorized.x (severity warning)" */
static void issues_got(const cJSON *issues, const struct issue_expect *ie, struct buf *out)
{
    const cJSON *issue;
    size_t shown = 0;
    cJSON_ArrayForEach(issue, issues)
    {
        const char *code = issue_str(issue, "issue");
        const char *sev = issue_str(issue, "severity");
        if (!code)
            continue;
        if (shown++ == 10) {
            buf_puts(out, ", ...");
            break;
        }
        buf_printf(out, "%s%.128s", shown > 1 ? ", " : "", code);
        /* The severity is what differed when the code itself matched. */
        if (ie->severity != SEV_ANY && issue_code_matches(ie->pattern, code))
            buf_printf(out, " (severity %.16s)", sev ? sev : "missing");
    }
    if (shown == 0)
        buf_puts(out, "no issues");
}

static void check_issue_expect(struct cctx *c, const struct issue_expect *ie)
{
    const cJSON *issues = body_issues(c->json), *issue;
    cJSON_ArrayForEach(issue, issues)
    {
        const char *code = issue_str(issue, "issue");
        const char *sev = issue_str(issue, "severity");
        if (code && issue_code_matches(ie->pattern, code) &&
            (ie->severity == SEV_ANY || (sev && strcmp(sev, severity_str(ie->severity)) == 0)))
            return;
    }
    struct buf got;
    char sev[32] = "";
    buf_init(&got, 2048);
    issues_got(issues, ie, &got);
    if (ie->severity != SEV_ANY)
        snprintf(sev, sizeof(sev), " (severity %s)", severity_str(ie->severity));
    fail(c, "expected issue \"%s\"%s not found; got %s", ie->pattern, sev,
         got.data ? got.data : "no issues");
    buf_free(&got);
}

/* --- schema and correlation-id echo ------------------------------------ */

static bool schema_applies(const struct cctx *c)
{
    long s = c->resp->status;
    return s >= 400 || (s >= 200 && s <= 299 && c->e->issue_schema_on_2xx);
}

static void check_schema(struct cctx *c)
{
    /* a correlationId present must echo ours unless the API mints its own */
    const char *sent = c->e->correlation_id_own ? NULL : c->cid;
    c->o->schema_violations = issue_schema_check(c->json, sent, c->e->echo_correlation_id,
                                                 c->resp->status >= 400, &c->o->failures);
}

/* The body's correlationId: top level first, else the first issue's. */
static const cJSON *body_cid(const cJSON *json)
{
    const cJSON *v = cJSON_IsObject(json) ? cJSON_GetObjectItemCaseSensitive(json, "correlationId") : NULL;
    const cJSON *issue;
    cJSON_ArrayForEach(issue, body_issues(json))
    {
        if (v)
            break;
        v = cJSON_IsObject(issue) ? cJSON_GetObjectItemCaseSensitive(issue, "correlationId") : NULL;
    }
    return v;
}

/* required (`correlation_id: echo`): an echo must be there; otherwise only
 * an id the response carries is held against the one sent. */
static void check_echo(struct cctx *c, bool schema_ran, bool required)
{
    char q[QBUF];
    const char *hdr = find_header(c->resp, "X-Correlation-ID");
    if (hdr) {
        quote(hdr, q, sizeof(q));
        if (strcasecmp(hdr, c->cid) != 0)
            fail(c, "header X-Correlation-ID: %s does not echo the X-Correlation-ID sent (%s)", q,
                 c->cid);
        return;
    }
    /* The schema check already held the body's ids against ours. */
    if (schema_ran)
        return;
    const cJSON *v = body_cid(c->json);
    if (!v && !required)
        return;
    if (!v) {
        fail(c, "correlation id not echoed: no X-Correlation-ID header and no correlationId in "
                "the body (sent %s)", c->cid);
        return;
    }
    if (cJSON_IsString(v) && strcasecmp(v->valuestring, c->cid) == 0)
        return;
    checks_json_text(v, q, sizeof(q));
    fail(c, "correlationId: %s does not echo the X-Correlation-ID sent (%s)", q, c->cid);
}

/* --- budgets ----------------------------------------------------------- */

/* Where each phase's limit and time sit, indexed by enum phase (the names). */
struct phase_field {
    size_t budget_off, timing_off;
};

static const struct phase_field phases[PHASE_COUNT] = {
    [PHASE_DNS] = { offsetof(struct budget, dns), offsetof(struct timings, dns) },
    [PHASE_CONNECT] = { offsetof(struct budget, connect), offsetof(struct timings, connect) },
    [PHASE_TLS] = { offsetof(struct budget, tls), offsetof(struct timings, tls) },
    [PHASE_TTFB] = { offsetof(struct budget, ttfb), offsetof(struct timings, ttfb) },
    [PHASE_TOTAL] = { offsetof(struct budget, total), offsetof(struct timings, total) },
};

static tl_usec field_at(const void *base, size_t off)
{
    tl_usec v;
    memcpy(&v, (const char *)base + off, sizeof(v));
    return v;
}

/* Milliseconds without trailing zeros: 200, 1.5, 0.25. */
static void ms_str(tl_usec us, char *out, size_t outlen)
{
    int64_t whole = us / 1000, frac = us % 1000;
    if (frac == 0) {
        snprintf(out, outlen, "%" PRId64, whole);
        return;
    }
    int digits = 3;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    snprintf(out, outlen, "%" PRId64 ".%0*" PRId64, whole, digits, frac);
}

static const char *first_breach(const struct budget *b, const struct timings *t)
{
    for (int i = 0; i < PHASE_COUNT; i++) {
        tl_usec limit = field_at(b, phases[i].budget_off);
        if (limit > 0 && field_at(t, phases[i].timing_off) > limit)
            return phase_str((enum phase)i);
    }
    return NULL;
}

int budget_check(const struct budget *b, const struct timings *t, struct strv *out)
{
    int n = 0;
    char limit_ms[32];
    for (int i = 0; i < PHASE_COUNT; i++) {
        tl_usec limit = field_at(b, phases[i].budget_off);
        tl_usec took = field_at(t, phases[i].timing_off);
        if (limit <= 0 || took <= limit)
            continue;
        ms_str(limit, limit_ms, sizeof(limit_ms));
        strv_pushf(out, "%s %.1f ms > budget %s ms", phase_str((enum phase)i), (double)took / 1000.0,
                   limit_ms);
        n++;
    }
    return n;
}

/* --- all of it ---------------------------------------------------------- */

static void check_budgets(struct cctx *c)
{
    const struct expect *e = c->e;
    struct check_outcome *o = c->o;
    size_t before = o->budget_failures.n;
    int breached = budget_check(&e->budget, &c->resp->timings, &o->budget_failures);
    if (o->budget_failures.n - before != (size_t)breached)
        c->rc = -1;
    o->budget_breached = breached > 0;
    o->budget_phase = first_breach(&e->budget, &c->resp->timings);
}

int checks_run(const struct expect *e, const struct response *resp, const cJSON *json,
               const char *correlation_id, const struct tpl_vars *vars, struct check_outcome *o)
{
    struct cctx c = { e, resp, json, correlation_id, vars, o, 0 };
    check_status(&c);
    size_t status_msgs = o->failures.n;
    for (size_t i = 0; i < e->n_headers; i++)
        check_header(&c, &e->headers[i]);
    for (size_t i = 0; i < e->n_json; i++)
        if (checks_json(&e->json[i], json, vars, &o->failures, &o->config_error))
            c.rc = -1;
    for (size_t i = 0; i < e->n_body; i++)
        check_body(&c, &e->body[i]);
    collect_issues(&c);
    for (size_t i = 0; i < e->n_issues; i++)
        check_issue_expect(&c, &e->issues[i]);
    bool schema_ran = schema_applies(&c);
    if (schema_ran)
        check_schema(&c);
    if (correlation_id && !e->correlation_id_own)
        check_echo(&c, schema_ran, e->echo_correlation_id);
    o->checks_failed = o->failures.n > status_msgs;
    check_budgets(&c);
    if (check_tls_expect(e, resp, tl_wall_us() / 1000000, o))
        c.rc = -1;
    return c.rc;
}

int checks_run_data(const struct expect *e, const struct response *resp, const cJSON *facts,
                    const struct tpl_vars *vars, struct check_outcome *o)
{
    struct cctx c = { e, resp, facts, NULL, vars, o, 0 };
    size_t before = o->failures.n;
    o->status_ok = true;
    for (size_t i = 0; i < e->n_json; i++)
        if (checks_json(&e->json[i], facts, vars, &o->failures, &o->config_error))
            c.rc = -1;
    for (size_t i = 0; i < e->n_body; i++)
        check_body(&c, &e->body[i]);
    o->checks_failed = o->failures.n > before;
    check_budgets(&c);
    return c.rc;
}
