/* expect.dns against the facts of one answer. The rcode comes first: an
 * answer with the wrong rcode says nothing about records, so the record
 * tests are not run on it. Record tests look at the answers of the asked
 * type only (the CNAME chain in front of them is the path, not the result). */
#include "probes/kinds/dns_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many answers are listed in one message. */
#define LIST_MAX 8

struct rrs {
    size_t n;
    const cJSON *v[256];        /* the first 256 answers of the asked type */
    size_t total;               /* all of them */
};

static const char *rr_data(const cJSON *rr)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rr, "data"));
    return s ? s : "";
}

static void rrs_collect(const cJSON *facts, const char *type, struct rrs *out)
{
    const cJSON *rr;
    out->n = out->total = 0;
    cJSON_ArrayForEach(rr, cJSON_GetObjectItemCaseSensitive(facts, "answers"))
    {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rr, "type"));
        if (!t || strcmp(t, type) != 0)
            continue;
        if (out->n < sizeof(out->v) / sizeof(out->v[0]))
            out->v[out->n++] = rr;
        out->total++;
    }
}

/* "10.0.0.1, 10.0.0.2" (the first LIST_MAX), "none" when empty. */
static void rrs_list(const struct rrs *r, char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->n && i < LIST_MAX && at < len; i++) {
        int w = snprintf(out + at, len - at, "%s%s", i ? ", " : "", rr_data(r->v[i]));
        if (w < 0)
            return;
        at += (size_t)w;
    }
    if (r->total > LIST_MAX && at < len)
        snprintf(out + at, len - at, ", ... (%zu in all)", r->total);
    if (r->total == 0)
        snprintf(out, len, "none");
}

static int rcode_judge(const struct dns_def *d, const char *got, struct check_outcome *co, struct verdict *answer)
{
    char b[16];
    const char *want = dns_rcode_str(d->rcode, b, sizeof(b));
    if (strcmp(got, want) == 0)
        return 0;
    co->checks_failed = true;
    if (d->rcode == 0 && strcmp(got, "SERVFAIL") == 0)
        *answer = (struct verdict){BUCKET_UPSTREAM, REASON_DNS_SERVFAIL, 0};
    else if (d->rcode == 0 && strcmp(got, "REFUSED") == 0)
        *answer = (struct verdict){BUCKET_UPSTREAM, REASON_DNS_REFUSED, 0};
    else if (d->rcode == 0 && strcmp(got, "NXDOMAIN") == 0)
        *answer = (struct verdict){BUCKET_CONTRACT, REASON_DNS_NXDOMAIN, 0};
    return strv_pushf(&co->failures, "dns rcode %s, expected %s", got, want) ? TL_ENOMEM : 1;
}

/* The expected value rendered; a secret one is never named in messages. */
static int expected(const struct tpl *t, const struct tpl_vars *vars, char **out, bool *secret,
                    struct check_outcome *co)
{
    char err[200];
    *secret = false;
    *out = tpl_render_str(t, vars, TPL_ESC_NONE, secret, err, sizeof(err));
    if (*out)
        return 0;
    co->checks_failed = true;
    return strv_pushf(&co->failures, "dns answers: %s", err) ? TL_ENOMEM : 1;
}

static int contains_judge(const struct dns_def *d, const struct rrs *r, const char *type,
                          const struct tpl_vars *vars, struct check_outcome *co)
{
    char *want = NULL, list[512];
    bool secret = false;
    int rc = expected(&d->contains, vars, &want, &secret, co);
    if (rc)
        return rc == 1 ? 0 : rc;
    bool found = false;
    for (size_t i = 0; i < r->n && !found; i++)
        found = strcmp(rr_data(r->v[i]), want) == 0;
    if (!found) {
        co->checks_failed = true;
        rrs_list(r, list, sizeof(list));
        if (strv_pushf(&co->failures, "dns: no %s answer is \"%s\" (answers: %s)", type,
                       secret ? "(secret)" : want, list))
            rc = TL_ENOMEM;
    }
    free(want);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The set of answers equals the expected set: order does not matter (a
 * resolver rotates them), each expected value once. */
static int equals_judge(const struct dns_def *d, const struct rrs *r, const char *type,
                        const struct tpl_vars *vars, struct check_outcome *co)
{
    size_t n = d->n_equals;
    char **want = calloc(n + 1, sizeof(*want)), list[512];
    const char **got = calloc(r->n + 1, sizeof(*got));
    bool secret = false, any_secret = false;
    int rc = want && got ? 0 : TL_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = expected(&d->equals[i], vars, &want[i], &secret, co);
        any_secret |= secret;
    }
    if (rc)
        goto out;
    for (size_t i = 0; i < r->n; i++)
        got[i] = rr_data(r->v[i]);
    qsort(want, n, sizeof(*want), cmp_str);
    qsort(got, r->n, sizeof(*got), cmp_str);
    bool same = r->total == n && r->n == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(want[i], got[i]) == 0;
    if (!same) {
        co->checks_failed = true;
        rrs_list(r, list, sizeof(list));
        if (strv_pushf(&co->failures, "dns: %s answers are %s, expected %zu %s", type, list, n,
                       any_secret ? "other values" : n == 1 ? "value" : "values"))
            rc = TL_ENOMEM;
    }
out:
    for (size_t i = 0; want && i < n; i++)
        free(want[i]);
    free(want);
    free(got);
    return rc == 1 ? 0 : rc;
}

static int matches_judge(const struct dns_def *d, const struct rrs *r, const char *type, struct check_outcome *co)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *s = rr_data(r->v[i]);
        if (regexec(&d->re, s, 0, NULL, 0) == 0)
            continue;
        co->checks_failed = true;
        return strv_pushf(&co->failures, "dns: %s answer \"%s\" does not match \"%s\"", type, s, d->re_src)
                   ? TL_ENOMEM : 0;
    }
    return 0;
}

static int ttl_judge(const struct dns_def *d, const struct rrs *r, const char *type, struct check_outcome *co)
{
    for (size_t i = 0; i < r->n; i++) {
        double ttl = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r->v[i], "ttl"));
        bool low = d->ttl_min >= 0 && ttl < (double)d->ttl_min;
        bool high = d->ttl_max >= 0 && ttl > (double)d->ttl_max;
        if (!low && !high)
            continue;
        co->checks_failed = true;
        return strv_pushf(&co->failures, "dns: %s answer %s has TTL %.0f s, expected at %s %ld s", type,
                          rr_data(r->v[i]), ttl, low ? "least" : "most", low ? d->ttl_min : d->ttl_max)
                   ? TL_ENOMEM : 0;
    }
    return 0;
}

int dns_judge(const void *def, const struct response *resp, const struct tpl_vars *vars,
              struct check_outcome *co, struct verdict *answer)
{
    const struct dns_def *d = def;
    const char *type = dns_qtype_str(d->type);
    const char *rcode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(resp->facts, "rcode"));
    int rc = rcode_judge(d, rcode ? rcode : "none", co, answer);
    if (rc)
        return rc == 1 ? 0 : rc;
    struct rrs *r = malloc(sizeof(*r));
    if (!r)
        return TL_ENOMEM;
    rrs_collect(resp->facts, type, r);
    if (r->total < (size_t)d->min_answers) {
        co->checks_failed = true;
        rc = strv_pushf(&co->failures, "dns: %zu %s answers, expected at least %ld", r->total, type,
                        d->min_answers) ? TL_ENOMEM : 0;
    }
    if (rc == 0 && d->op == DNS_MATCH_CONTAINS)
        rc = contains_judge(d, r, type, vars, co);
    else if (rc == 0 && d->op == DNS_MATCH_EQUALS)
        rc = equals_judge(d, r, type, vars, co);
    else if (rc == 0 && d->op == DNS_MATCH_MATCHES)
        rc = matches_judge(d, r, type, co);
    if (rc == 0)
        rc = ttl_judge(d, r, type, co);
    free(r);
    return rc;
}
