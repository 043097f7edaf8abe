#include "schedules/scheduler.h"
#include "base/container.h"
#include "base/rand.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/timerfd.h>
#endif

#include "schedules/cron.h"
#include "schedules/limiter.h"
#include "schedules/spread.h"

#define NOT_IN_HEAP SIZE_MAX

/* An entry's next due time or its running deadline, while in the heap. */
struct heap_node {
    tl_usec when;
    size_t idx;
    bool is_deadline;
};

/* The heap holds the key beside the node: sifting compares keys in the
 * array without touching the nodes, which live in entries scattered over
 * the heap of memory (at 10,000 entries each comparison through a pointer
 * was a cache miss). Only the nodes that move are written (their idx). */
struct heap_slot {
    tl_usec when;
    struct heap_node *node;
};

enum entry_state { ENTRY_IDLE, ENTRY_QUEUED, ENTRY_RUNNING };

#define SCHEDULER_WAKE_GRID 250 /* us */

struct scheduler_entry {
    struct scheduler *s;
    struct scheduler_entry *next_all, *prev_all; /* every live entry */
    struct scheduler_entry *chain;               /* id hash bucket */
    uint64_t hash;
    char *id;
    char *host;
    struct cron cron; /* compiled by the loader; used when every is 0 */
    tl_usec every, jitter, timeout;
    void *user;
    struct limiter_waiter waiter;
    struct heap_node due;
    struct heap_node deadline;
    tl_usec nominal;      /* the next due time before jitter */
    int64_t nominal_wall; /* cron: the same, on the wall clock */
    tl_usec scheduled;    /* the due time of the queued or running run */
    enum entry_state state;
    bool removed;
    bool fresh; /* planned first and not fired yet: its phase may still move */
    uint64_t runs, skipped;
};

struct scheduler {
    uv_loop_t *loop;
    uv_timer_t timer;
    /* Linux: a timerfd on CLOCK_MONOTONIC (uv_hrtime's clock) armed at the
     * due microsecond; uv timers round to whole milliseconds, which alone
     * made runs up to ~2 ms late. tfd < 0: the uv timer is used instead. */
    int tfd;
    tl_usec tfd_when; /* what the timerfd is armed at; 0 = disarmed */
    uv_poll_t poll;
    int open_handles; /* freed when the last one is closed */
    struct limiter *limiter;
    scheduler_start_cb start;
    scheduler_timeout_cb on_timeout;
    uint64_t rng;
    struct heap_slot *heap;
    size_t heap_len, heap_cap;
    struct scheduler_entry *all;
    struct scheduler_entry **buckets;
    size_t n_buckets, n_entries;
    double rate; /* runs per second of the `every` entries: their start slot */
    bool in_tick, closing;
    uint64_t started, skipped, skipped_late, missed, timeouts;
    struct scheduler_hist lateness;
};

static const tl_usec hist_bounds[SCHEDULER_HIST_BUCKETS - 1] = {
    100, 500, 1000, 2000, 5000, 10000, 50000, 100000, 500000, 1000000};

const tl_usec *scheduler_hist_bounds(void)
{
    return hist_bounds;
}

tl_usec scheduler_now(void)
{
    return (tl_usec)(uv_hrtime() / 1000);
}

static int64_t wall_now(void)
{
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) != 0)
        return 0;
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Jitter needs spread, not secrecy. */
static tl_usec rand_below(struct scheduler *s, tl_usec n)
{
    return (tl_usec)tl_rand_below(&s->rng, (uint64_t)n);
}

/* --- the heap ---------------------------------------------------------- */

static void heap_set(struct scheduler *s, size_t i, struct heap_slot v)
{
    s->heap[i] = v;
    v.node->idx = i;
}

static void heap_up(struct scheduler *s, size_t i)
{
    struct heap_slot v = s->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (s->heap[p].when <= v.when)
            break;
        heap_set(s, i, s->heap[p]);
        i = p;
    }
    heap_set(s, i, v);
}

static void heap_down(struct scheduler *s, size_t i)
{
    struct heap_slot v = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_len)
            break;
        if (c + 1 < s->heap_len && s->heap[c + 1].when < s->heap[c].when)
            c++;
        if (v.when <= s->heap[c].when)
            break;
        heap_set(s, i, s->heap[c]);
        i = c;
    }
    heap_set(s, i, v);
}

static int heap_push(struct scheduler *s, struct heap_node *n)
{
    if (s->heap_len == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
        struct heap_slot *h = realloc(s->heap, cap * sizeof *h);
        if (!h)
            return TL_ENOMEM;
        s->heap = h;
        s->heap_cap = cap;
    }
    heap_set(s, s->heap_len++, (struct heap_slot){n->when, n});
    heap_up(s, n->idx);
    return 0;
}

static void heap_remove(struct scheduler *s, struct heap_node *n)
{
    if (n->idx == NOT_IN_HEAP)
        return;
    size_t i = n->idx;
    struct heap_slot last = s->heap[--s->heap_len];
    n->idx = NOT_IN_HEAP;
    if (last.node == n)
        return;
    heap_set(s, i, last);
    heap_up(s, i);
    heap_down(s, last.node->idx);
}

/* --- the timer --------------------------------------------------------- */

static void on_timer(uv_timer_t *t);
#ifdef __linux__
static void on_poll(uv_poll_t *p, int status, int events);
#endif

/* Sets the one timer for the earliest node. uv timers count milliseconds of
 * loop time, which is uv_hrtime() in ms rounded down (or a coarser clock
 * that never runs ahead of it): waiting until the loop time reaches the due
 * time rounded UP never wakes before the due time. */
static void arm(struct scheduler *s)
{
    if (s->closing || s->in_tick)
        return;
    if (s->heap_len == 0) {
        uv_timer_stop(&s->timer);
#ifdef __linux__
        if (s->tfd >= 0) {
            struct itimerspec off = {{0, 0}, {0, 0}};
            timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &off, NULL);
            s->tfd_when = 0;
        }
#endif
        return;
    }
    tl_usec when = s->heap[0].when;
#ifdef __linux__
    /* Wake on a 250 us grid: runs due close together share one wake-up
     * (a context switch each costs more than the run's own user time),
     * and no run starts more than a quarter of a millisecond late for it. */
    if (when > 0)
        when = (when + SCHEDULER_WAKE_GRID - 1) / SCHEDULER_WAKE_GRID * SCHEDULER_WAKE_GRID;
    if (s->tfd >= 0 && when == s->tfd_when && when > 0)
        return; /* armed already: spare the syscall (arm runs after every run) */
    if (s->tfd >= 0) {
        /* it_value 0 would disarm: a due time already passed fires now */
        struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = 1}};
        if (when > 0) {
            its.it_value.tv_sec = (time_t)(when / 1000000);
            its.it_value.tv_nsec = (long)(when % 1000000) * 1000;
        }
        if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0) {
            s->tfd_when = when;
            return;
        }
        /* cannot happen with a valid fd; the uv timer still works */
    }
#endif
    uv_update_time(s->loop);
    uint64_t target_ms = when <= 0 ? 0 : (uint64_t)((when + 999) / 1000);
    uint64_t now_ms = uv_now(s->loop);
    uv_timer_start(&s->timer, on_timer, target_ms > now_ms ? target_ms - now_ms : 0, 0);
}

/* --- entries ----------------------------------------------------------- */

static void hist_observe(struct scheduler_hist *h, tl_usec v)
{
    size_t i = 0;
    if (v < 0)
        v = 0;
    while (i < SCHEDULER_HIST_BUCKETS - 1 && v > hist_bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

void scheduler_hist_observe(struct scheduler_hist *h, tl_usec v)
{
    hist_observe(h, v);
}

tl_usec scheduler_hist_quantile(const struct scheduler_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    double rank = q * (double)h->count;
    uint64_t cum = 0;
    for (size_t i = 0; i < SCHEDULER_HIST_BUCKETS - 1; i++) {
        if (h->counts[i] && (double)(cum + h->counts[i]) >= rank) {
            tl_usec lo = i ? hist_bounds[i - 1] : 0;
            double frac = (rank - (double)cum) / (double)h->counts[i];
            return lo + (tl_usec)((double)(hist_bounds[i] - lo) * frac);
        }
        cum += h->counts[i];
    }
    return hist_bounds[SCHEDULER_HIST_BUCKETS - 2];
}

/* The next nominal time of e strictly after its current one (or its first
 * when first is set), and the due node with a fresh jitter. */
static void plan_next(struct scheduler *s, struct scheduler_entry *e, bool first)
{
    tl_usec now = scheduler_now();
    if (e->every > 0) {
        if (first) {
            /* Align to the id's phase inside the interval, in its start
             * slot for the rate scheduled so far (spread.h). */
            tl_usec off = spread_phase(e->id, e->every, spread_slot(s->rate, e->every));
            e->fresh = true;
            e->nominal = now - now % e->every + off;
            if (e->nominal < now)
                e->nominal += e->every;
        } else {
            e->nominal += e->every;
            if (e->nominal < now) {
                /* The loop stalled past whole intervals: keep the phase,
                 * skip to the next slot, and count what was passed over. */
                tl_usec k = (now - e->nominal) / e->every + 1;
                s->missed += (uint64_t)k;
                e->nominal += k * e->every;
            }
        }
    } else {
        int64_t wnow = wall_now();
        /* From the later of the last fire and now: a wall clock that jumps
         * forward skips the missed times instead of firing them all. */
        int64_t base = (!first && e->nominal_wall > wnow) ? e->nominal_wall : wnow;
        int64_t next = cron_next(&e->cron, base);
        e->nominal_wall = next;
        if (next < 0) {
            e->nominal = -1;
            return;
        }
        e->nominal = now + (next - wnow);
    }
    e->due.when = e->nominal + (e->jitter > 0 ? rand_below(s, e->jitter) : 0);
    /* The heap holds one node per entry at most; growth was reserved. */
    if (heap_push(s, &e->due) != 0)
        e->nominal = -1;
}

/* How late a run may start: a run later than its own interval (cron: a
 * minute) is stale, and starting it would only push the next ones later. */
static tl_usec late_limit(const struct scheduler_entry *e)
{
    return e->every > 0 ? e->every : SCHEDULER_LATE_CRON;
}

static void start_run(struct scheduler *s, struct scheduler_entry *e)
{
    tl_usec now = scheduler_now();
    if (now - e->scheduled > late_limit(e)) {
        /* Shed: the slot goes to the next waiter, oldest first (FIFO). */
        e->state = ENTRY_IDLE;
        e->skipped++;
        s->skipped++;
        s->skipped_late++;
        limiter_release(s->limiter, &e->waiter);
        return;
    }
    e->state = ENTRY_RUNNING;
    e->runs++;
    s->started++;
    hist_observe(&s->lateness, now - e->scheduled);
    if (e->timeout > 0) {
        e->deadline.when = now + e->timeout;
        if (heap_push(s, &e->deadline) == 0)
            arm(s);
    }
    s->start(e, e->user, e->scheduled);
}

static void on_grant(struct limiter_waiter *w)
{
    struct scheduler_entry *e = container_of(w, struct scheduler_entry, waiter);
    start_run(e->s, e);
}

static void fire(struct scheduler *s, struct scheduler_entry *e)
{
    tl_usec scheduled = e->due.when;
    e->fresh = false;
    /* Plan the next run first: the callbacks below may remove e. */
    plan_next(s, e, false);
    if (e->state != ENTRY_IDLE) {
        e->skipped++;
        s->skipped++;
        return;
    }
    e->scheduled = scheduled;
    e->state = ENTRY_QUEUED;
    int rc = limiter_acquire(s->limiter, e->host, &e->waiter);
    if (rc == 0) {
        start_run(s, e);
    } else if (rc != LIMITER_QUEUED) {
        /* Out of memory for a host record: this run cannot be placed. */
        e->state = ENTRY_IDLE;
        e->skipped++;
        s->skipped++;
    }
}

static void tick(struct scheduler *s);

static void on_timer(uv_timer_t *t)
{
    tick(container_of(t, struct scheduler, timer));
}

#ifdef __linux__
static void on_poll(uv_poll_t *p, int status, int events)
{
    struct scheduler *s = container_of(p, struct scheduler, poll);
    uint64_t expirations;
    (void)status;
    (void)events;
    /* Nonblocking: nothing to read (a re-arm raced the wake-up) is fine. */
    if (read(s->tfd, &expirations, sizeof expirations) < 0)
        expirations = 0;
    s->tfd_when = 0; /* expired: the next arm must set it again */
    tick(s);
}
#endif

static void tick(struct scheduler *s)
{
    /* Bounded so callbacks slower than an interval cannot keep us here. */
    size_t budget = s->heap_len + 64;
    /* At most SCHEDULER_TICK_STARTS runs per wake-up: a loop that fell
     * behind starts its backlog between rounds of I/O, so runs in flight
     * finish (and are measured) before more start. Started all at once, a
     * backlog is a burst of connects whose events queue behind each other:
     * every transfer slows, some time out, and the work done for them is
     * lost. The rest waits for the next wake-up (at once, after the I/O);
     * what waits past its interval is shed as late. */
    uint64_t started_before = s->started;
    s->in_tick = true;
    while (s->heap_len > 0 && budget-- > 0) {
        struct heap_node *n = s->heap[0].node;
        if (s->heap[0].when > scheduler_now())
            break;
        if (!n->is_deadline && s->started - started_before >= SCHEDULER_TICK_STARTS)
            break;
        heap_remove(s, n);
        if (n->is_deadline) {
            struct scheduler_entry *e = container_of(n, struct scheduler_entry, deadline);
            s->timeouts++;
            if (s->on_timeout)
                s->on_timeout(e, e->user);
        } else {
            fire(s, container_of(n, struct scheduler_entry, due));
        }
    }
    s->in_tick = false;
    arm(s);
}

/* --- the public side --------------------------------------------------- */

void scheduler_settle(struct scheduler *s)
{
    tl_usec now = scheduler_now();
    for (struct scheduler_entry *e = s->all; e; e = e->next_all) {
        if (!e->fresh || e->every <= 0 || e->due.idx == NOT_IN_HEAP)
            continue;
        tl_usec off = spread_phase(e->id, e->every, spread_slot(s->rate, e->every));
        tl_usec move = off - e->nominal % e->every; /* nominal is a whole interval + phase */
        /* Never into the past: a run due now keeps its time. */
        if (move == 0 || e->nominal + move < now)
            continue;
        heap_remove(s, &e->due);
        e->nominal += move;
        e->due.when += move; /* the jitter drawn stays */
        heap_push(s, &e->due);
    }
    arm(s);
}

int scheduler_new(uv_loop_t *loop, const struct scheduler_opts *opts, struct scheduler **out)
{
    int rc = TL_ENOMEM;
    struct scheduler *s = NULL;
    *out = NULL;
    if (!opts || !opts->start)
        return TL_EINVAL;
    s = calloc(1, sizeof *s);
    if (!s)
        goto out;
    s->loop = loop;
    s->start = opts->start;
    s->on_timeout = opts->timeout;
    s->rng = opts->seed ? opts->seed : (uv_hrtime() | 1);
    s->tfd = -1;
    s->n_buckets = 256;
    s->buckets = calloc(s->n_buckets, sizeof *s->buckets);
    s->limiter = limiter_new(opts->max_in_flight, opts->max_per_host);
    if (!s->buckets || !s->limiter)
        goto out;
    if (uv_timer_init(loop, &s->timer) != 0) {
        rc = TL_ELOOP;
        goto out;
    }
    s->open_handles = 1;
#ifdef __linux__
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    /* Polled for good: a disarmed timerfd never becomes readable. */
    if (s->tfd >= 0 &&
        (uv_poll_init(loop, &s->poll, s->tfd) != 0 || uv_poll_start(&s->poll, UV_READABLE, on_poll) != 0)) {
        close(s->tfd);
        s->tfd = -1;
    }
    if (s->tfd >= 0)
        s->open_handles++;
#endif
    *out = s;
    s = NULL;
    rc = 0;
out:
    if (s) {
        limiter_free(s->limiter);
        free(s->buckets);
        free(s);
    }
    return rc;
}

static void entry_free(struct scheduler_entry *e)
{
    free(e->id);
    free(e->host);
    free(e);
}

static void on_close(uv_handle_t *h)
{
    struct scheduler *s = h->data;
    if (--s->open_handles > 0)
        return;
    if (s->tfd >= 0)
        close(s->tfd);
    free(s);
}

void scheduler_free(struct scheduler *s)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    struct scheduler_entry *e = s->all;
    while (e) {
        struct scheduler_entry *next = e->next_all;
        entry_free(e);
        e = next;
    }
    s->all = NULL;
    s->heap_len = 0;
    free(s->heap);
    s->heap = NULL;
    free(s->buckets);
    s->buckets = NULL;
    limiter_free(s->limiter);
    s->limiter = NULL;
    s->timer.data = s;
    uv_close((uv_handle_t *)&s->timer, on_close);
    if (s->tfd >= 0) {
        s->poll.data = s;
        uv_close((uv_handle_t *)&s->poll, on_close);
    }
}

struct limiter *scheduler_limiter(struct scheduler *s)
{
    return s->limiter;
}

void scheduler_set_limits(struct scheduler *s, unsigned max_in_flight, unsigned max_per_host)
{
    limiter_set_limits(s->limiter, max_in_flight, max_per_host);
    arm(s);
}

static char *dup_or_null(const char *p, bool *fail)
{
    if (!p)
        return NULL;
    char *d = strdup(p);
    if (!d)
        *fail = true;
    return d;
}

static double entry_rate(const struct scheduler_entry *e)
{
    return e->every > 0 ? 1e6 / (double)e->every : 0;
}

/* Checks sch and fills the schedule fields of e. The cron comes compiled:
 * nothing is parsed here. */
static int set_schedule(struct scheduler_entry *e, const struct schedule *sch)
{
    if ((sch->every > 0) == (sch->cron != NULL) || sch->every < 0 || sch->jitter < 0 ||
        sch->timeout < 0 || (sch->cron && !cron_valid(&sch->compiled)))
        return TL_EINVAL;
    if (sch->cron)
        e->cron = sch->compiled;
    else
        memset(&e->cron, 0, sizeof e->cron);
    e->every = sch->every;
    e->jitter = sch->jitter;
    e->timeout = sch->timeout;
    return 0;
}

struct scheduler_entry *scheduler_find(struct scheduler *s, const char *id)
{
    uint64_t h = spread_hash(id);
    for (struct scheduler_entry *e = s->buckets[h & (s->n_buckets - 1)]; e; e = e->chain)
        if (e->hash == h && strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

static void index_grow(struct scheduler *s)
{
    size_t n = s->n_buckets * 2;
    struct scheduler_entry **b = calloc(n, sizeof *b);
    /* Without memory the chains just get longer. */
    if (!b)
        return;
    for (struct scheduler_entry *e = s->all; e; e = e->next_all) {
        e->chain = b[e->hash & (n - 1)];
        b[e->hash & (n - 1)] = e;
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = n;
}

int scheduler_add(struct scheduler *s, const char *id, const struct schedule *sch,
                  const char *host, void *user, struct scheduler_entry **out)
{
    int rc;
    bool fail = false;
    struct scheduler_entry *e = NULL;
    if (out)
        *out = NULL;
    if (!id || !sch || s->closing) {
        rc = TL_EINVAL;
        goto out;
    }
    if (scheduler_find(s, id)) {
        rc = TL_EEXISTS;
        goto out;
    }
    /* Room for this entry's due and deadline nodes, so pushing them later
     * cannot fail. */
    if (s->heap_cap < 2 * (s->n_entries + 1)) {
        size_t cap = 2 * (s->n_entries + 1) + 64;
        struct heap_slot *h = realloc(s->heap, cap * sizeof *h);
        if (!h) {
            rc = TL_ENOMEM;
            goto out;
        }
        s->heap = h;
        s->heap_cap = cap;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        rc = TL_ENOMEM;
        goto out;
    }
    e->s = s;
    e->due.idx = e->deadline.idx = NOT_IN_HEAP;
    e->deadline.is_deadline = true;
    e->waiter.grant = on_grant;
    e->user = user;
    e->id = dup_or_null(id, &fail);
    e->host = dup_or_null(host, &fail);
    if (fail) {
        rc = TL_ENOMEM;
        goto out;
    }
    rc = set_schedule(e, sch);
    if (rc)
        goto out;
    e->hash = spread_hash(id);
    e->chain = s->buckets[e->hash & (s->n_buckets - 1)];
    s->buckets[e->hash & (s->n_buckets - 1)] = e;
    e->next_all = s->all;
    if (s->all)
        s->all->prev_all = e;
    s->all = e;
    s->n_entries++;
    s->rate += entry_rate(e);
    if (s->n_entries > 2 * s->n_buckets)
        index_grow(s);
    plan_next(s, e, true);
    arm(s);
    if (out)
        *out = e;
    e = NULL;
out:
    if (e)
        entry_free(e);
    return rc;
}

static bool same_schedule(const struct scheduler_entry *e, const struct schedule *sch)
{
    if (e->every != sch->every || e->jitter != sch->jitter)
        return false;
    /* Compared compiled: "*\/15" and "0,15,30,45" are the same schedule. */
    if (e->every)
        return !sch->cron;
    return sch->cron && cron_equal(&e->cron, &sch->compiled);
}

int scheduler_update(struct scheduler_entry *e, const struct schedule *sch, const char *host,
                     void *user)
{
    struct scheduler *s = e->s;
    bool fail = false;
    if (e->removed)
        return TL_EINVAL;
    char *h = dup_or_null(host, &fail);
    if (fail)
        return TL_ENOMEM;
    if (same_schedule(e, sch)) {
        e->timeout = sch->timeout;
    } else {
        /* Check into a copy so a bad schedule leaves e as it was. */
        struct scheduler_entry tmp = *e;
        int rc = set_schedule(&tmp, sch);
        if (rc) {
            free(h);
            return rc;
        }
        s->rate -= entry_rate(e);
        e->cron = tmp.cron;
        e->every = tmp.every;
        e->jitter = tmp.jitter;
        e->timeout = tmp.timeout;
        s->rate += entry_rate(&tmp);
        heap_remove(s, &e->due);
        plan_next(s, e, true);
        arm(s);
    }
    free(e->host);
    e->host = h;
    e->user = user;
    return 0;
}

static void unlink_entry(struct scheduler *s, struct scheduler_entry *e)
{
    struct scheduler_entry **pp = &s->buckets[e->hash & (s->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    if (e->prev_all)
        e->prev_all->next_all = e->next_all;
    else
        s->all = e->next_all;
    if (e->next_all)
        e->next_all->prev_all = e->prev_all;
    s->n_entries--;
    s->rate -= entry_rate(e);
    if (s->n_entries == 0)
        s->rate = 0; /* no rounding left over */
}

void scheduler_remove(struct scheduler_entry *e)
{
    if (!e || e->removed)
        return;
    struct scheduler *s = e->s;
    e->removed = true;
    heap_remove(s, &e->due);
    unlink_entry(s, e);
    if (e->state == ENTRY_QUEUED) {
        limiter_cancel(s->limiter, &e->waiter);
        e->state = ENTRY_IDLE;
    }
    if (e->state == ENTRY_IDLE)
        entry_free(e);
    arm(s);
}

void scheduler_done(struct scheduler_entry *e)
{
    if (!e || e->state != ENTRY_RUNNING)
        return;
    struct scheduler *s = e->s;
    heap_remove(s, &e->deadline);
    e->state = ENTRY_IDLE;
    /* May start queued runs of other entries, from inside this call. */
    limiter_release(s->limiter, &e->waiter);
    if (e->removed)
        entry_free(e);
    arm(s);
}

void scheduler_stats(const struct scheduler *s, struct scheduler_stats *st)
{
    memset(st, 0, sizeof *st);
    st->started = s->started;
    st->skipped = s->skipped;
    st->skipped_late = s->skipped_late;
    st->missed = s->missed;
    st->timeouts = s->timeouts;
    st->entries = s->n_entries;
    if (s->limiter) {
        st->queued = limiter_queued(s->limiter);
        st->in_flight = limiter_in_flight(s->limiter);
    }
    st->lateness = s->lateness;
    st->lateness_p99 = scheduler_hist_quantile(&s->lateness, 0.99);
}

const char *scheduler_entry_id(const struct scheduler_entry *e)
{
    return e->id;
}

uint64_t scheduler_entry_runs(const struct scheduler_entry *e)
{
    return e->runs;
}

uint64_t scheduler_entry_skipped(const struct scheduler_entry *e)
{
    return e->skipped;
}

tl_usec scheduler_entry_next(const struct scheduler_entry *e)
{
    return e->due.idx == NOT_IN_HEAP ? -1 : e->due.when;
}
