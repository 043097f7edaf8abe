/* The `expect.json` items: a JSON path and one check of what it selects. A
 * path without wildcards selects one node or none, and reads as it always
 * did. A path with a wildcard, `..` or a filter selects a list: `exists`
 * wants at least one match (none with `exists: false`), `length` counts the
 * matches, and every other check wants at least one match and holds it
 * against each, naming the first that fails. */
#include "probes/check/checks_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/check/json_exact.h"
#include "probes/check/jsonpath.h"
#include "probes/redact/redact.h"

struct jctx {
    const struct json_check *j;
    bool *config_error;
    const cJSON *root;
    struct strv *failures;
    cJSON *want;     /* equals/contains: the expected value, rendered once */
    bool secret;     /* want came from a secret */
    bool templated;  /* want was a template */
    char twant[QBUF];
    int rc;
};

static void fail(struct jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct jctx *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (checks_fail_push(c->failures, msg))
        c->rc = -1;
}

void checks_json_text(const cJSON *v, char *out, size_t outlen)
{
    char *s = json_exact_print(v);
    if (!s) {
        snprintf(out, outlen, "%s", json_type_name(v));
        return;
    }
    if (strlen(s) > QUOTE_MAX)
        snprintf(out, outlen, "%.*s...", QUOTE_MAX, s);
    else
        snprintf(out, outlen, "%s", s);
    cJSON_free(s);
}

/* A value is shown as <secret> when the path's last key or its own member
 * name names a credential ($.session.token, $..password). */
static bool is_sensitive(const struct jpath *p, const cJSON *got)
{
    const struct jpath_seg *last = p->n ? &p->segs[p->n - 1] : NULL;
    return (last && last->key && redact_name_sensitive(last->key)) ||
           (got && got->string && redact_name_sensitive(got->string));
}

/* --- expected values ------------------------------------------------------ */

/* A copy of v whose string leaves holding templates are rendered. NULL with
 * err set on failure. */
static cJSON *render_json(const cJSON *v, const struct tpl_vars *vars, bool *secret, char *err,
                          size_t errlen)
{
    if (cJSON_IsString(v) && tpl_has_placeholders(v->valuestring)) {
        struct tpl t;
        int off = 0;
        if (tpl_parse(&t, v->valuestring, err, errlen, &off))
            return NULL;
        char *s = tpl_render_str(&t, vars, TPL_ESC_NONE, secret, err, errlen);
        tpl_free(&t);
        cJSON *out = s ? cJSON_CreateString(s) : NULL;
        free(s);
        return out;
    }
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
        cJSON *dup = cJSON_Duplicate(v, false);
        if (!dup)
            snprintf(err, errlen, "out of memory");
        return dup;
    }
    cJSON *out = cJSON_IsArray(v) ? cJSON_CreateArray() : cJSON_CreateObject();
    const cJSON *child;
    cJSON_ArrayForEach(child, v)
    {
        cJSON *r = out ? render_json(child, vars, secret, err, errlen) : NULL;
        if (!r) {
            cJSON_Delete(out);
            return NULL;
        }
        if (cJSON_IsArray(v))
            cJSON_AddItemToArray(out, r);
        else
            cJSON_AddItemToObject(out, child->string, r);
    }
    return out;
}

/* Renders the expected value of equals/contains; false after a failure. */
static bool want_render(struct jctx *c, const struct tpl_vars *vars)
{
    char err[256];
    const struct json_check *j = c->j;
    if (j->op != MATCH_EQUALS && j->op != MATCH_CONTAINS)
        return true;
    if (!j->equals) {
        fail(c, "%s: no expected value", j->path.src);
        return false;
    }
    c->want = render_json(j->equals, vars, &c->secret, err, sizeof(err));
    if (!c->want) {
        fail(c, "%s: cannot render the expected value: %s", j->path.src, err);
        return false;
    }
    checks_json_text(c->want, c->twant, sizeof(c->twant));
    c->templated = cJSON_IsString(j->equals) && tpl_has_placeholders(j->equals->valuestring);
    return true;
}

/* Equality of JSON values (exact: json_exact.h); a templated string also
 * equals a number or a boolean printed the same way, since captures hold
 * every value as text. */
static bool json_equal(const cJSON *got, const cJSON *want, bool templated)
{
    if (json_exact_equal(got, want))
        return true;
    if (!templated || !cJSON_IsString(want) || !(cJSON_IsNumber(got) || cJSON_IsBool(got)))
        return false;
    char *s = json_exact_print(got);
    bool eq = s && strcmp(s, want->valuestring) == 0;
    cJSON_free(s);
    return eq;
}

static bool json_contains(const cJSON *got, const cJSON *want)
{
    /* a string cut at U+0000 holds what its kept text holds, at least */
    if (cJSON_IsString(got) && cJSON_IsString(want))
        return !json_exact_has_nul(want) && strstr(got->valuestring, want->valuestring) != NULL;
    const cJSON *el;
    if (!cJSON_IsArray(got))
        return false;
    cJSON_ArrayForEach(el, got)
    {
        if (json_exact_equal(el, want))
            return true;
    }
    return false;
}

/* --- numbers and lengths --------------------------------------------------- */

/* "3", ">= 1", "> 0 and <= 10" */
static void bounds_str(const struct num_bounds *b, char *out, size_t outlen)
{
    static const char *const sym[BOUND_COUNT] = {"", "> ", ">= ", "< ", "<= "};
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < BOUND_COUNT && o < outlen; i++) {
        if (!(b->has & (1u << i)))
            continue;
        char num[64];
        json_exact_double_str(b->v[i], num, sizeof(num));
        int n = snprintf(out + o, outlen - o, "%s%s%s", o ? " and " : "", sym[i], num);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static bool bounds_hold(const struct num_bounds *b, double x)
{
    bool ok = true;
    if (b->has & (1u << BOUND_EQ))
        ok = ok && x == b->v[BOUND_EQ];
    if (b->has & (1u << BOUND_GT))
        ok = ok && x > b->v[BOUND_GT];
    if (b->has & (1u << BOUND_GTE))
        ok = ok && x >= b->v[BOUND_GTE];
    if (b->has & (1u << BOUND_LT))
        ok = ok && x < b->v[BOUND_LT];
    if (b->has & (1u << BOUND_LTE))
        ok = ok && x <= b->v[BOUND_LTE];
    return ok;
}

/* The bounds against a number of the body, exactly (json_exact.h). */
static bool bounds_hold_json(const struct num_bounds *b, const cJSON *x)
{
    bool ok = true;
    if (b->has & (1u << BOUND_EQ))
        ok = ok && json_exact_cmp_double(x, b->v[BOUND_EQ]) == 0;
    if (b->has & (1u << BOUND_GT))
        ok = ok && json_exact_cmp_double(x, b->v[BOUND_GT]) > 0;
    if (b->has & (1u << BOUND_GTE))
        ok = ok && json_exact_cmp_double(x, b->v[BOUND_GTE]) >= 0;
    if (b->has & (1u << BOUND_LT))
        ok = ok && json_exact_cmp_double(x, b->v[BOUND_LT]) < 0;
    if (b->has & (1u << BOUND_LTE))
        ok = ok && json_exact_cmp_double(x, b->v[BOUND_LTE]) <= 0;
    return ok;
}

/* The length of an array or object (members) or a string (characters,
 * counting UTF-8 sequences); -1 for anything else. */
static long json_length(const cJSON *v)
{
    long n = 0;
    const cJSON *el;
    if (cJSON_IsString(v)) {
        for (const unsigned char *s = (const unsigned char *)v->valuestring; *s; s++)
            n += (*s & 0xc0) != 0x80;
        return n;
    }
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return -1;
    cJSON_ArrayForEach(el, v) n++;
    return n;
}

/* --- one node -------------------------------------------------------------- */

/* Whether got passes the check; if not, the reason in why ("12, expected
 * 10"), the path left for the caller to add. got is NULL when missing. */
static bool judge(struct jctx *c, const cJSON *got, char *why, size_t len)
{
    const struct json_check *j = c->j;
    char tgot[QBUF], want[128];
    bool secret = is_sensitive(&j->path, got);
    if (got)
        checks_json_text(got, tgot, sizeof(tgot));
    const char *sgot = secret ? SECRET_SHOWN : tgot;
    const char *swant = c->secret ? SECRET_SHOWN : c->twant;
    bounds_str(&j->bounds, want, sizeof(want));
    if (json_exact_has_nul(got) && (j->op == MATCH_MATCHES || j->op == MATCH_LENGTH)) {
        /* its text past the U+0000 is not kept: not checked as text */
        snprintf(why, len, "%s holds U+0000 (\\u0000): not %s as text", sgot,
                 j->op == MATCH_MATCHES ? "matched" : "measured");
        return false;
    }
    switch (j->op) {
    case MATCH_EXISTS:
        break;
    case MATCH_EQUALS:
    case MATCH_CONTAINS:
        if (!got)
            snprintf(why, len, "missing, expected %s%s", j->op == MATCH_CONTAINS ? "to contain " : "", swant);
        else if (j->op == MATCH_EQUALS && !json_equal(got, c->want, c->templated))
            snprintf(why, len, "%s%s, expected %s", sgot, json_exact_has_nul(got) ? " (holds U+0000)" : "", swant);
        else if (j->op == MATCH_CONTAINS && !json_contains(got, c->want))
            snprintf(why, len, "%s does not contain %s", sgot, swant);
        else
            return true;
        return false;
    case MATCH_MATCHES: {
        if (!got) {
            snprintf(why, len, "missing, expected to match /%s/", j->re_src);
            return false;
        }
        /* Strings match on their value, anything else on its JSON text. */
        char *printed = cJSON_IsString(got) ? NULL : json_exact_print(got);
        const char *subject = cJSON_IsString(got) ? got->valuestring : printed;
        if (subject && j->search_max && strlen(subject) > j->search_max) {
            checks_too_costly(why, len, j->re_src, strlen(subject), j->search_max);
            if (c->config_error)
                *c->config_error = true;
            cJSON_free(printed);
            return false;
        }
        bool ok = !subject || regexec(&j->re, subject, 0, NULL, 0) == 0;
        if (!subject)
            c->rc = -1;
        cJSON_free(printed);
        if (!ok)
            snprintf(why, len, "%s does not match /%s/", sgot, j->re_src);
        return ok;
    }
    case MATCH_TYPE:
        if (got && j->type && strcmp(json_type_name(got), j->type) == 0)
            return true;
        snprintf(why, len, "%s, expected %s", json_type_name(got), j->type ? j->type : "a type");
        return false;
    case MATCH_LENGTH: {
        long n = got ? json_length(got) : -1;
        if (n >= 0 && bounds_hold(&j->bounds, (double)n))
            return true;
        if (n >= 0)
            snprintf(why, len, "length %ld, expected %s", n, want);
        else if (!got)
            snprintf(why, len, "missing, expected length %s", want);
        else
            snprintf(why, len, "%s has no length, expected length %s", json_type_name(got), want);
        return false;
    }
    case MATCH_COMPARE:
        if (cJSON_IsNumber(got) && bounds_hold_json(&j->bounds, got))
            return true;
        if (cJSON_IsNumber(got))
            snprintf(why, len, "%s, expected %s", sgot, want);
        else
            snprintf(why, len, "%s, expected a number %s", got ? json_type_name(got) : "missing", want);
        return false;
    }
    return true;
}

/* A path without wildcards: the node or nothing, messages as they were. */
static void check_one(struct jctx *c)
{
    const struct json_check *j = c->j;
    const cJSON *got = jpath_eval(&j->path, c->root);
    char why[512];
    if (j->op == MATCH_EXISTS) {
        if (j->exists && !got)
            fail(c, "%s: missing", j->path.src);
        else if (!j->exists && got)
            fail(c, "%s: present, expected absent", j->path.src);
        return;
    }
    if (!judge(c, got, why, sizeof(why)))
        fail(c, "%s: %s", j->path.src, why);
}

/* A path that selects a list of nodes. */
static void check_all(struct jctx *c, const struct jpath_result *r)
{
    const struct json_check *j = c->j;
    char why[512], at[256], want[128];
    if (j->op == MATCH_EXISTS || j->op == MATCH_LENGTH) {
        bounds_str(&j->bounds, want, sizeof(want));
        if (j->op == MATCH_LENGTH && !bounds_hold(&j->bounds, (double)r->n))
            fail(c, "%s: %zu match%s, expected %s", j->path.src, r->n, r->n == 1 ? "" : "es", want);
        else if (j->op == MATCH_EXISTS && j->exists && r->n == 0)
            fail(c, "%s: no match", j->path.src);
        if (j->op == MATCH_EXISTS && !j->exists && r->n) {
            jpath_locate(c->root, r->v[0], at, sizeof(at));
            fail(c, "%s: %zu match%s, expected none (the first at %s)", j->path.src, r->n,
                 r->n == 1 ? "" : "es", at);
        }
        return;
    }
    if (r->n == 0) {
        fail(c, "%s: no match", j->path.src);
        return;
    }
    for (size_t k = 0; k < r->n; k++) {
        if (judge(c, r->v[k], why, sizeof(why)))
            continue;
        jpath_locate(c->root, r->v[k], at, sizeof(at));
        fail(c, "%s: match %zu of %zu (%s): %s", j->path.src, k + 1, r->n, at, why);
        return;
    }
}

void checks_too_costly(char *out, size_t len, const char *src, size_t n, size_t max)
{
    snprintf(out, len,
             "/%s/ is too costly on a text of %zu bytes (a regex with a back-reference is searched offset by "
             "offset, in texts of at most %zu bytes)",
             src, n, max);
}

int checks_json(const struct json_check *j, const cJSON *json, const struct tpl_vars *vars,
                struct strv *failures, bool *config_error)
{
    struct jctx c = {.j = j, .config_error = config_error, .root = json, .failures = failures};
    struct jpath_result r = {0};
    if (!json) {
        fail(&c, "%s: body is not JSON", j->path.src);
        goto out;
    }
    if (!want_render(&c, vars))
        goto out;
    if (!jpath_is_multi(&j->path)) {
        check_one(&c);
        goto out;
    }
    if (jpath_eval_all(&j->path, json, &r)) {
        c.rc = -1;
        goto out;
    }
    if (r.capped)
        fail(&c, "%s: cannot be checked: %s (a limit of JSON path evaluation)", j->path.src,
             jpath_capped_str(r.capped));
    else
        check_all(&c, &r);
out:
    jpath_result_free(&r);
    cJSON_Delete(c.want);
    return c.rc;
}
