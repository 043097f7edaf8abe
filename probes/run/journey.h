/* Journeys: one probe run, its steps in order on one transfer session
 * (cookie jar), sharing variables and a deadline. Each step's response is
 * checked, failures are triaged into one bucket and packed as evidence; the
 * run ends in exactly one call of the done callback with an immutable
 * run_result. */
#ifndef TRIPLINE_JOURNEY_H
#define TRIPLINE_JOURNEY_H

#include <stdbool.h>

#include "base/time.h"

#include <stddef.h>

#include "probes/probe.h"
#include "probes/run/result.h"
#include "probes/run/template.h"
#include "probes/http/transfer.h"

/* What every run of an agent shares. Borrowed by runs: must outlive them. */
struct journey_env {
    struct transfer_engine *engine;
    const char *region;          /* on every result and in evidence */
    const char *agent_name;
    size_t body_max;             /* response body cap; 0 = 1 MiB */
    const struct tpl_vars *overrides; /* --var name=value: replaces probe vars of that name */
    /* Optional vantage: egress settings for every transfer of the run. */
    const char *vantage;
    const char *resolve;
    const char *proxy;
    const char *interface;
    /* Optional: true when the agent's loop stalled at or after since
     * (uv_hrtime in microseconds); a timeout then is the agent's fault. */
    bool (*stalled)(void *arg, tl_usec since);
    void *stalled_arg;
};

/* Called once when the run ends; the callee owns r (run_result_free). */
typedef void (*journey_done_cb)(struct run_result *r, void *arg);

/* Starts a run of p. Returns 0, or a negative value when it could not start
 * (then cb is never called). */
int journey_start(const struct journey_env *env, const struct probe *p, journey_done_cb cb, void *arg);

#endif
