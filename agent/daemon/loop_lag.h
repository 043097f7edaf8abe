/* The loop's own lag: a timer that should fire every LOOP_LAG_TICK_MS
 * measures how late it actually fires (tripline_loop_lag_seconds). A lag of
 * LOOP_STALL_US or more is a stall, and so are smaller lags that add up to it
 * (and to a tenth of the run) while a run was in flight: a run that timed out
 * while the loop was stalled says nothing about the API (bucket agent, reason
 * overloaded). Once
 * per LOOP_SHED_LOG_MS it logs one line when runs were shed (skipped late)
 * or the loop stalled in that interval, never one per run.
 *
 * Test-only: TRIPLINE_TEST_STALL_MS=N (read at start) blocks the loop for
 * N ms once a second (every TRIPLINE_TEST_STALL_EVERY_MS ms when set), to
 * emulate an agent saturated by its own work. */
#ifndef TRIPLINE_LOOP_LAG_H
#define TRIPLINE_LOOP_LAG_H

#include <stdbool.h>

#include <uv.h>

#include "agent/endpoint/metrics.h"
#include "agent/log/log.h"
#include "base/err.h"
#include "base/time.h"
#include "schedules/scheduler.h"

#define LOOP_LAG_TICK_MS 50
#define LOOP_STALL_US 250000
#define LOOP_SHED_LOG_MS 10000

struct loop_lag;

/* Starts the timers; sched (for the shedding line) and log are borrowed. */
int loop_lag_new(uv_loop_t *loop, struct metrics *m, struct logger *log, struct scheduler *sched,
                 struct loop_lag **out);
/* Closes the timers; frees l from their close callbacks. */
void loop_lag_close(struct loop_lag *l);
/* True when the loop stalled at or after since (monotonic, scheduler_now),
 * or is stalled now (the lag timer is overdue); arg is a struct loop_lag. */
bool loop_lag_stalled(void *arg, tl_usec since);

#endif
