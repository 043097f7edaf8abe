/* expect.tls: how long the peer certificate must stay valid. */
#ifndef TRIPLINE_CHECK_TLS_H
#define TRIPLINE_CHECK_TLS_H

#include <stdint.h>

#include "probes/check/checks.h"

/* With `expect: {tls: {min_days: N}}`: a leaf whose not-after is less than
 * N days after now_s sets o->cert_expiring and says so in budget_failures
 * (a degradation, not an outage); a response with no certificate (http://)
 * is a failed check. Returns 0, or TL_ENOMEM. */
int check_tls_expect(const struct expect *e, const struct response *resp, int64_t now_s, struct check_outcome *o);

#endif
