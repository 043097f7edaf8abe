/* expect.tls (check_tls.h). */
#include "probes/check/check_tls.h"

#include <stdio.h>

#include "base/err.h"
#include "base/time.h"

int check_tls_expect(const struct expect *e, const struct response *resp, int64_t now_s, struct check_outcome *o)
{
    const struct tls_facts *f = &resp->tls;
    char when[TL_ISO8601_LEN];
    int rc = 0;

    if (!e->tls_expect)
        goto out;
    if (!f->present) {
        rc = strv_push(&o->failures, "expect.tls: no TLS certificate (the URL is not https://)");
        o->checks_failed = true;
        goto out;
    }
    int64_t left = tls_facts_days_left(f, now_s);
    if (left >= e->tls_min_days)
        goto out;
    if (tl_iso8601(f->not_after * 1000000, false, when) != 0)
        snprintf(when, sizeof(when), "%lld", (long long)f->not_after);
    o->cert_expiring = true;
    if (left < 0)
        rc = strv_pushf(&o->budget_failures, "certificate expired %lld day%s ago (not after %s), min_days %d",
                        (long long)-left, left == -1 ? "" : "s", when, e->tls_min_days);
    else
        rc = strv_pushf(&o->budget_failures, "certificate expires in %lld day%s (not after %s) < min_days %d",
                        (long long)left, left == 1 ? "" : "s", when, e->tls_min_days);
out:
    return rc ? TL_ENOMEM : 0;
}
