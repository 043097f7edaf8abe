/* Retries of a failed step (`retry: {attempts: N, delay: D}`): the policy
 * (which failures are tried again, and whether the deadline leaves room)
 * and the record of every try, so flakiness stays visible in results. */
#ifndef TRIPLINE_RETRY_H
#define TRIPLINE_RETRY_H

#include <stdbool.h>

#include "probes/probe.h"
#include "probes/run/result.h"
#include "probes/run/template.h"

/* Whether the try that just failed with v (taking took) is tried again: the
 * step has tries left, the failure is about the API (never bucket agent),
 * and the time left before the deadline covers the delay and another try
 * as long as this one. */
bool retry_wanted(const struct step *st, const struct step_result *sr, const struct verdict *v, tl_usec took,
                  tl_usec left);

/* Records the failed try (verdict, status, time, failures) in
 * sr->failed_attempts and clears sr for the next try; the values this try
 * captured are dropped from vars, so none leaks into the next. */
void retry_record(struct step_result *sr, const struct step *st, const struct verdict *v, tl_usec took,
                  struct tpl_vars *vars);

/* When the step ends: counts its last try; a failure's evidence lists the
 * failed tries before it. */
void retry_finish(struct step_result *sr);

#endif
