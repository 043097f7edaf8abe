/* Scheduled runs in the agent: the scheduler's start callback starts a
 * journey for the probe state; its end records the result (log line,
 * /status, metrics), hands it to escalation (agent_escalate, agent_run.c)
 * and gives the slot back. Counts the runs in flight for the drain. */
#ifndef TRIPLINE_RUNS_H
#define TRIPLINE_RUNS_H

#include <stddef.h>

#include "agent/endpoint/metrics.h"
#include "base/err.h"
#include "schedules/scheduler.h"

struct runs;

/* Registers the lateness and in-flight metrics in m. */
int runs_new(struct metrics *m, struct runs **out);
void runs_free(struct runs *r);
size_t runs_in_flight(const struct runs *r);
/* scheduler_opts.start: user is a struct probe_state of the agent's table. */
void runs_on_start(struct scheduler_entry *e, void *user, tl_usec scheduled);

#endif
