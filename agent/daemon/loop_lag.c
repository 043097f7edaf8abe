/* The loop's own lag and the shedding log line (loop_lag.h). */
#include "agent/daemon/loop_lag.h"

#include <stdlib.h>
#include <time.h>

/* Ticks whose lag is kept, to sum the lag over a run: 2048 x 50 ms = 102 s. */
#define LOOP_RING 2048
/* A tick later than this is the loop being behind, not timer jitter. */
#define LOOP_LAG_FLOOR_US 5000

struct lag_sample {
    tl_usec at;  /* when the tick ran */
    tl_usec sum; /* lag summed over all ticks up to this one */
};

struct loop_lag {
    uv_timer_t tick, stall;
    int open;                 /* handles not yet closed */
    struct logger *log;
    struct scheduler *sched;
    struct metric *m_lag;
    tl_usec expected;         /* when tick should fire next */
    tl_usec last_stall;       /* when the last stall ended; 0 = never */
    tl_usec window_start;
    tl_usec window_max;       /* largest lag of this log window */
    uint64_t window_late;     /* skipped_late at the window's start */
    unsigned stall_ms;        /* TRIPLINE_TEST_STALL_MS */
    unsigned stall_every_ms;  /* TRIPLINE_TEST_STALL_EVERY_MS, default 1000 */
    tl_usec lag_sum;          /* lag above the floor summed since start */
    size_t n_ring, ring_head; /* samples held; index of the oldest */
    struct lag_sample ring[LOOP_RING];
};

static void log_window(struct loop_lag *l, tl_usec now)
{
    struct scheduler_stats ss;
    scheduler_stats(l->sched, &ss);
    uint64_t shed = ss.skipped_late - l->window_late;
    if (shed > 0 || l->window_max >= LOOP_STALL_US)
        log_kv(l->log, LOG_WARN,
               LOG_FIELDS(LOG_INT("shed", (long long)shed), LOG_INT("queued", (long long)ss.queued),
                          LOG_FLOAT("max_lag_ms", (double)l->window_max / 1000.0),
                          LOG_FLOAT("lateness_p99_ms", (double)ss.lateness_p99 / 1000.0)),
               "overloaded: %llu runs skipped as late in the last %d s (they could not start within their "
               "interval); timeouts during loop stalls are agent faults",
               (unsigned long long)shed, LOOP_SHED_LOG_MS / 1000);
    l->window_late = ss.skipped_late;
    l->window_max = 0;
    l->window_start = now;
}

static void on_tick(uv_timer_t *t)
{
    struct loop_lag *l = t->data;
    tl_usec now = scheduler_now();
    tl_usec lag = now > l->expected ? now - l->expected : 0;
    metric_observe(l->m_lag, (double)lag / 1e6);
    if (lag >= LOOP_STALL_US)
        l->last_stall = now;
    if (lag >= LOOP_LAG_FLOOR_US)
        l->lag_sum += lag;
    size_t at = (l->ring_head + l->n_ring) % LOOP_RING;
    if (l->n_ring == LOOP_RING)
        l->ring_head = (l->ring_head + 1) % LOOP_RING;
    else
        l->n_ring++;
    l->ring[at] = (struct lag_sample){.at = now, .sum = l->lag_sum};
    if (lag > l->window_max)
        l->window_max = lag;
    if (now - l->window_start >= (tl_usec)LOOP_SHED_LOG_MS * 1000)
        log_window(l, now);
    l->expected = now + LOOP_LAG_TICK_MS * 1000;
}

/* Test-only: the loop does nothing else for stall_ms. */
static void on_stall(uv_timer_t *t)
{
    struct loop_lag *l = t->data;
    struct timespec ts = {.tv_sec = l->stall_ms / 1000, .tv_nsec = (long)(l->stall_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The lag summed up to the last tick before since (the oldest one kept when
 * since is older): samples are in time order, so a binary search. */
static tl_usec lag_sum_at(const struct loop_lag *l, tl_usec since)
{
    size_t lo = 0, hi = l->n_ring;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->ring[(l->ring_head + mid) % LOOP_RING].at <= since)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return l->n_ring == LOOP_RING ? l->ring[l->ring_head].sum : 0;
    return l->ring[(l->ring_head + lo - 1) % LOOP_RING].sum;
}

/* A run measured the agent, not the API, when the loop was behind by a stall
 * once, or by many smaller delays adding up to a stall and to a tenth of the
 * run: a starved loop late by 100 ms at every tick never stalls once. */
bool loop_lag_stalled(void *arg, tl_usec since)
{
    const struct loop_lag *l = arg;
    if (!l)
        return false;
    if (l->last_stall && l->last_stall >= since)
        return true;
    tl_usec now = scheduler_now(), pending = now - l->expected;
    if (pending >= LOOP_STALL_US)
        return true;
    tl_usec behind = l->lag_sum - lag_sum_at(l, since) + (pending >= LOOP_LAG_FLOOR_US ? pending : 0);
    tl_usec tenth = (now - since) / 10;
    return behind >= LOOP_STALL_US && behind >= tenth;
}

static unsigned test_env_ms(const char *name)
{
    const char *v = getenv(name);
    char *end;
    if (!v || !*v)
        return 0;
    unsigned long n = strtoul(v, &end, 10);
    return *end || n > 60000 ? 0 : (unsigned)n;
}

int loop_lag_new(uv_loop_t *loop, struct metrics *m, struct logger *log, struct scheduler *sched,
                 struct loop_lag **out)
{
    static const double bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    *out = NULL;
    struct metric_family *f = metrics_histogram(m, "tripline_loop_lag_seconds",
                                                "How late the agent's loop ran a timer due every 50 ms", NULL, 0,
                                                bounds, sizeof(bounds) / sizeof(bounds[0]));
    struct loop_lag *l = calloc(1, sizeof(*l));
    if (!l || !f || !(l->m_lag = metrics_series(f, NULL))) {
        free(l);
        return TL_ENOMEM;
    }
    l->log = log;
    l->sched = sched;
    l->stall_ms = test_env_ms("TRIPLINE_TEST_STALL_MS");
    l->stall_every_ms = test_env_ms("TRIPLINE_TEST_STALL_EVERY_MS");
    if (!l->stall_every_ms)
        l->stall_every_ms = 1000;
    l->window_start = scheduler_now();
    l->expected = l->window_start + LOOP_LAG_TICK_MS * 1000;
    uv_timer_init(loop, &l->tick);
    uv_timer_init(loop, &l->stall);
    l->tick.data = l->stall.data = l;
    l->open = 2;
    uv_timer_start(&l->tick, on_tick, LOOP_LAG_TICK_MS, LOOP_LAG_TICK_MS);
    if (l->stall_ms) {
        log_warn(log, "TRIPLINE_TEST_STALL_MS=%u: the loop stalls on purpose every %u ms (tests only)",
                 l->stall_ms, l->stall_every_ms);
        uv_timer_start(&l->stall, on_stall, l->stall_every_ms, l->stall_every_ms);
    }
    *out = l;
    return 0;
}

static void on_close(uv_handle_t *h)
{
    struct loop_lag *l = h->data;
    if (--l->open == 0)
        free(l);
}

void loop_lag_close(struct loop_lag *l)
{
    if (!l)
        return;
    uv_close((uv_handle_t *)&l->tick, on_close);
    uv_close((uv_handle_t *)&l->stall, on_close);
}
