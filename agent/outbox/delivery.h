/* Delivery: drives every sink from the spool. Each sink reads the events it
 * has not acknowledged with its own cursor, sends them in batches, acks what
 * was delivered, retries with exponential backoff and full jitter (or the
 * server's Retry-After), and moves what was rejected for good to a
 * dead-letter file before acking it. Nothing is acked that is not delivered
 * or on disk in the dead-letter file: delivery is at least once.
 * See docs/sinks.md. */
#ifndef TRIPLINE_DELIVERY_H
#define TRIPLINE_DELIVERY_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "agent/config/config.h"
#include "agent/sinks/sink.h"
#include "agent/outbox/spool.h"
#include "probes/probe.h"


typedef void (*delivery_log_fn)(void *arg, enum log_level level, const char *sink,
                                const char *msg);

struct delivery_opts {
    size_t batch_max;           /* events per batch; default 100 */
    tl_usec backoff_min;        /* first retry waits up to this; default 1s */
    tl_usec backoff_max;        /* doubling stops here; default 5 min */
    tl_usec retry_after_max;    /* a server's Retry-After is capped here; default 1 h */
    const char *dead_letter_dir; /* dead-letter-<sink>.jsonl lives here: the spool directory */
    uint64_t dead_letter_max;   /* a dead-letter file past this moves to .1 (the older .1
                                 * goes): at most twice this per sink; default 64 MiB */
    delivery_log_fn log;        /* default: one line on stderr */
    void *log_arg;
};

/* Counters of one sink, for /metrics. Events, not batches, unless named so. */
struct delivery_stats {
    uint64_t delivered;
    uint64_t batches;           /* batches delivered */
    uint64_t retried;           /* attempts that ended in "retry later" */
    uint64_t auth_failures;     /* of those, answered 401 or 403 (retried, never dead-lettered) */
    uint64_t dead_lettered;
    uint64_t in_flight;         /* events of the batch being sent now */
    uint64_t attempts;          /* sends started */
    unsigned int failures;      /* consecutive failed attempts (backoff exponent) */
};

struct delivery;

/* sp and loop are borrowed and must outlive the delivery. opts may be NULL
 * only for dead_letter_dir "." (tests); the agent passes its spool dir. */
int delivery_new(struct delivery **out, uv_loop_t *loop, struct spool *sp,
                 const struct delivery_opts *opts);
/* Adds a sink under its spool name (one of the names the spool was opened
 * with). The delivery owns s from here on, even on failure. */
int delivery_add(struct delivery *d, const char *name, struct sink *s);
/* Events were appended: every idle sink looks at the spool again. Cheap;
 * call it after every spool_append. Waiting retries are not cut short,
 * except those of a batch some receivers took (an HA Alertmanager with one
 * instance down) and no Retry-After delays. */
void delivery_kick(struct delivery *d);
/* sink_reload on every sink; returns the first error (the others still run). */
int delivery_reload(struct delivery *d);
int delivery_stats(const struct delivery *d, const char *name, struct delivery_stats *out);
/* True when no sink has a batch in flight or a retry waiting and every sink
 * found the spool empty on its last look. */
bool delivery_idle(const struct delivery *d);
/* Frees the sinks (abandoning batches in flight, which stay in the spool)
 * and closes the timers: run the loop afterwards. NULL is a no-op. */
void delivery_free(struct delivery *d);

/* The delay before retry number `failures` (1-based): full jitter over
 * min(max, min * 2^(failures-1)), using *rng (xorshift64, never 0). */
tl_usec delivery_backoff(tl_usec min, tl_usec max, unsigned int failures, uint64_t *rng);

#endif
