/* The scheduler: when each probe runs.
 *
 * One timer drives a binary min-heap of due times, however many entries there
 * are: on Linux a timerfd on CLOCK_MONOTONIC armed at the heap's top rounded
 * up to a 250 us grid (watched by a uv_poll_t), elsewhere or without a
 * timerfd a uv_timer_t at the whole millisecond after it. An entry is a probe's schedule: `every` (fixed rate: the next
 * run is the previous scheduled time plus the interval, so runs never drift;
 * the phase inside the interval is spread_offset(id) so probes sharing an
 * interval do not fire together; an optional jitter adds a fresh random delay
 * in [0, jitter) to each run without accumulating) or `cron` (cron_next on
 * the wall clock, UTC).
 *
 * When an entry is due and its previous run is still going (running, or
 * waiting for a slot), the new run is skipped and counted: a probe never
 * overlaps itself. Otherwise the run asks the limiter for a slot (total and
 * per-host limits; runs wait in a FIFO queue) and then the start callback is
 * called. Load shedding: a run whose slot comes later than its interval (a
 * cron: SCHEDULER_LATE_CRON) after its due time is skipped and counted as
 * late instead of started, so the oldest waiters are shed first. At most
 * SCHEDULER_TICK_STARTS runs start per wake-up, so a backlog never arrives
 * as one burst: past capacity, throughput stays at capacity and the excess
 * is shed as late, never started and then lost to its own timeout. The owner calls scheduler_done() when the run
 * ends, whatever its outcome. A run still going `timeout` after it started
 * gets the timeout callback (the owner aborts it and still calls done).
 *
 * Times are microseconds. `scheduled` times are on the monotonic clock of
 * scheduler_now() (uv_hrtime() / 1000); only cron reads the wall clock. */
#ifndef TRIPLINE_SCHEDULER_H
#define TRIPLINE_SCHEDULER_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/time.h"
#include "schedules/limiter.h"
#include "schedules/schedule.h"

struct scheduler;
struct scheduler_entry;

/* A cron run later than this is skipped (an `every` run: its interval). */
#define SCHEDULER_LATE_CRON 60000000
/* Runs started per wake-up at most: a backlog (the loop fell behind) starts
 * between rounds of I/O instead of as one burst. */
#define SCHEDULER_TICK_STARTS 32

/* A run may start: scheduled is when it was due (monotonic, jitter
 * included); lateness is measured from it. */
typedef void (*scheduler_start_cb)(struct scheduler_entry *e, void *user, tl_usec scheduled);
/* The run started by the last start callback passed its timeout. */
typedef void (*scheduler_timeout_cb)(struct scheduler_entry *e, void *user);

struct scheduler_opts {
    unsigned max_in_flight;        /* total concurrency; 0 = unlimited */
    unsigned max_per_host;         /* per host; 0 = unlimited */
    scheduler_start_cb start;      /* required */
    scheduler_timeout_cb timeout;  /* may be NULL */
    uint64_t seed;                 /* jitter's random numbers; 0 = from the clock */
};

/* Lateness histogram: fixed upper bounds (inclusive, as Prometheus `le`). */
#define SCHEDULER_HIST_BUCKETS 11
/* Upper bounds of the first SCHEDULER_HIST_BUCKETS - 1 buckets, in
 * microseconds; the last bucket is +Inf. */
const tl_usec *scheduler_hist_bounds(void);

struct scheduler_hist {
    uint64_t counts[SCHEDULER_HIST_BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;
    tl_usec sum;
};

struct scheduler_stats {
    uint64_t started;     /* runs started */
    uint64_t skipped;     /* due while the previous run was still going, or late */
    uint64_t skipped_late; /* of skipped: could not start within its interval */
    uint64_t missed;      /* due times passed over after the loop stalled */
    uint64_t timeouts;    /* timeout callbacks */
    size_t entries;       /* scheduled entries */
    size_t queued;        /* runs waiting for a slot now */
    size_t in_flight;     /* runs going now */
    struct scheduler_hist lateness; /* actual start - scheduled */
    tl_usec lateness_p99; /* estimated from the histogram */
};


/* The monotonic clock of scheduled times, in microseconds. */
tl_usec scheduler_now(void);

int scheduler_new(uv_loop_t *loop, const struct scheduler_opts *opts, struct scheduler **out);
/* Frees every entry (the owner must not call scheduler_done afterwards:
 * drain first) and closes the timer; not from inside a start callback; the rest is freed by its close
 * callback, so run the loop once more before uv_loop_close(). */
void scheduler_free(struct scheduler *s);
/* The limiter the scheduler's runs go through; other kinds of run (a peer's
 * POST /peer/run) share it so the limits hold for every run. Freed with s. */
struct limiter *scheduler_limiter(struct scheduler *s);
/* Changes the limits; raising one starts queued runs that now fit. */
void scheduler_set_limits(struct scheduler *s, unsigned max_in_flight, unsigned max_per_host);

/* Schedules id (copied) with sch (copied; timeout 0 = none) against host
 * (copied; NULL = only the total limit applies). A cron schedule must come
 * compiled (sch->compiled from cron_parse): TL_EINVAL otherwise. */
int scheduler_add(struct scheduler *s, const char *id, const struct schedule *sch,
                  const char *host, void *user, struct scheduler_entry **out);
/* On reload: an unchanged schedule (every, cron, jitter) keeps its phase and
 * next due time; a changed one starts over as if just added. host, user and
 * the timeout apply from the next run. */
int scheduler_update(struct scheduler_entry *e, const struct schedule *sch, const char *host,
                     void *user);
/* After a batch of adds and updates (a load, a reload): entries that have
 * not run yet move to the start slot of the whole scheduled rate (they were
 * planned for the rate so far; spread.h). Entries that have run keep their
 * times; none moves into the past. */
void scheduler_settle(struct scheduler *s);
/* No further runs. A queued run is dropped; a running one keeps the entry
 * alive until its scheduler_done(), which then frees it. */
void scheduler_remove(struct scheduler_entry *e);
/* The run started by the last start callback of e ended. */
void scheduler_done(struct scheduler_entry *e);
struct scheduler_entry *scheduler_find(struct scheduler *s, const char *id);

void scheduler_stats(const struct scheduler *s, struct scheduler_stats *st);
const char *scheduler_entry_id(const struct scheduler_entry *e);
uint64_t scheduler_entry_runs(const struct scheduler_entry *e);
uint64_t scheduler_entry_skipped(const struct scheduler_entry *e);
/* When the entry is next due (monotonic); -1 when never (a cron with no
 * future time). */
tl_usec scheduler_entry_next(const struct scheduler_entry *e);

void scheduler_hist_observe(struct scheduler_hist *h, tl_usec v);
/* The q-quantile (0..1) by linear interpolation inside its bucket; the
 * largest finite bound when it falls in +Inf; 0 when empty. */
tl_usec scheduler_hist_quantile(const struct scheduler_hist *h, double q);

#endif
