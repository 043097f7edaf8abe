/* Concurrency limits: at most `total` runs in flight, and at most `per_host`
 * against any one host, so the agent never floods the API it watches.
 *
 * A run that would pass a limit waits in one FIFO queue; it is never dropped.
 * When a slot frees, the queue is scanned from its head and every waiter that
 * now fits is granted, in order. A waiter whose host is at its limit is
 * passed over without holding back waiters for other hosts (no head-of-line
 * blocking), and keeps its place for when its host frees.
 *
 * Grants are callbacks on a waiter the caller embeds in its own struct and
 * reaches with container_of. A callback may call any limiter function. */
#ifndef TRIPLINE_LIMITER_H
#define TRIPLINE_LIMITER_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stddef.h>

struct limiter;
struct limiter_host;

enum limiter_state { LIMITER_W_IDLE = 0, LIMITER_W_QUEUED, LIMITER_W_HELD };

struct limiter_waiter {
    /* Set by the caller before limiter_acquire: called when a queued waiter
     * gets its slot (never from inside limiter_acquire). */
    void (*grant)(struct limiter_waiter *w);
    /* Private to the limiter. */
    enum limiter_state state;
    struct limiter_waiter *prev, *next;
    struct limiter_host *host;
};

#define LIMITER_QUEUED 1     /* limiter_acquire: queued; grant() comes later */

/* 0 for a limit means unlimited. NULL when out of memory. */
struct limiter *limiter_new(unsigned total, unsigned per_host);
/* Waiters still queued are forgotten and not touched (their owners may
 * have freed them already). */
void limiter_free(struct limiter *l);
/* Changes the limits (on reload); raising one grants waiters that now fit.
 * Lowering one never takes a slot back: in-flight runs finish. */
void limiter_set_limits(struct limiter *l, unsigned total, unsigned per_host);

/* Asks for a slot for a run against host (NULL: only the total limit
 * applies). Returns 0 when granted now (grant() is not called),
 * LIMITER_QUEUED when queued, or a negative error. w must be idle. */
int limiter_acquire(struct limiter *l, const char *host, struct limiter_waiter *w);
/* Gives back the slot w holds and grants the waiters that now fit. */
int limiter_release(struct limiter *l, struct limiter_waiter *w);
/* Takes a queued waiter out of the queue; TL_ESTATE if not queued. */
int limiter_cancel(struct limiter *l, struct limiter_waiter *w);

size_t limiter_in_flight(const struct limiter *l);
size_t limiter_queued(const struct limiter *l);
/* In-flight runs against host (0 for a host the limiter does not know). */
size_t limiter_host_in_flight(const struct limiter *l, const char *host);

#endif
