#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "schedules/cron.h"
#include "schedules/scheduler.h"
#include "schedules/spread.h"

#define MS 1000LL
#define SEC 1000000LL
#define MAX_RUNS 512
/* Tests wait on a condition, never on a fixed window of wall-clock time;
 * the cap only ends a test whose condition never came. */
#define CAP_MS 30000

struct tctx;

/* What the test's fake "probe" records about its runs. */
struct rec {
    struct tctx *c;
    const char *id;
    struct scheduler_entry *e;
    uv_timer_t t;        /* ends an asynchronous run */
    bool t_init;
    tl_usec run_for;     /* 0: the run ends inside the start callback */
    bool never_finish;   /* only the timeout (or the test) ends it */
    bool running;
    int n;
    tl_usec first;       /* its first due time (no jitter), for slot counts */
    tl_usec sched[MAX_RUNS];
};

struct tctx {
    uv_loop_t loop;
    uv_timer_t stop;     /* the safety cap */
    uv_timer_t action;   /* a mid-test step */
    struct scheduler *s;
    int in_flight, max_in_flight;
    size_t max_queued;
    tl_usec order[4096]; /* scheduled times in start order, across entries */
    int n_order;
    void (*step)(struct tctx *c);
    bool (*step_when)(struct tctx *c); /* the step runs once this holds */
    bool (*until)(struct tctx *c);     /* the loop ends once this holds */
    bool reached, capped;
    struct rec *recs;
    int n_recs;
    void (*on_each_start)(struct tctx *c); /* optional, at every start */
};

static void on_action(uv_timer_t *t)
{
    struct tctx *c = t->data;
    c->step(c);
}

/* Checked after every start and every end of a run. */
static void check_conditions(struct tctx *c)
{
    if (c->step_when && c->step_when(c)) {
        c->step_when = NULL;
        /* On the next turn of the loop, outside the scheduler's callback. */
        assert_int_equal(uv_timer_start(&c->action, on_action, 0, 0), 0);
    }
    if (c->until && !c->reached && c->until(c)) {
        c->reached = true;
        uv_stop(&c->loop);
    }
}

static void finish(struct rec *r)
{
    struct tctx *c = r->c;
    struct scheduler_stats st;
    scheduler_stats(c->s, &st);
    if (st.queued > c->max_queued)
        c->max_queued = st.queued;
    r->running = false;
    c->in_flight--;
    scheduler_done(r->e);
    check_conditions(c);
}

static void on_run_timer(uv_timer_t *t)
{
    finish((struct rec *)t->data);
}

static void on_start(struct scheduler_entry *e, void *user, tl_usec scheduled)
{
    struct rec *r = user;
    struct tctx *c = r->c;
    /* A probe never overlaps itself. */
    assert_false(r->running);
    assert_ptr_equal(e, r->e);
    assert_true(scheduled <= scheduler_now());
    if (r->n < MAX_RUNS)
        r->sched[r->n] = scheduled;
    r->n++;
    if (c->n_order < 4096)
        c->order[c->n_order++] = scheduled;
    if (c->on_each_start)
        c->on_each_start(c);
    r->running = true;
    c->in_flight++;
    if (c->in_flight > c->max_in_flight)
        c->max_in_flight = c->in_flight;
    if (r->never_finish) {
        check_conditions(c);
        return;
    }
    if (r->run_for == 0) {
        finish(r);
        return;
    }
    assert_int_equal(uv_timer_start(&r->t, on_run_timer, (uint64_t)(r->run_for / MS), 0), 0);
    check_conditions(c);
}

static void on_timeout(struct scheduler_entry *e, void *user)
{
    struct rec *r = user;
    assert_ptr_equal(e, r->e);
    assert_true(r->running);
    finish(r);
}

static void on_cap(uv_timer_t *t)
{
    struct tctx *c = t->data;
    c->capped = true;
    uv_stop(t->loop);
}

static void setup_ctx(struct tctx *c, unsigned total, unsigned per_host, struct rec *recs, int n)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    struct scheduler_opts o = {.max_in_flight = total, .max_per_host = per_host,
                               .start = on_start, .timeout = on_timeout, .seed = 42};
    assert_int_equal(scheduler_new(&c->loop, &o, &c->s), 0);
    assert_int_equal(uv_timer_init(&c->loop, &c->stop), 0);
    c->stop.data = c;
    assert_int_equal(uv_timer_init(&c->loop, &c->action), 0);
    c->action.data = c;
    c->recs = recs;
    c->n_recs = n;
    for (int i = 0; i < n; i++) {
        recs[i].c = c;
        assert_int_equal(uv_timer_init(&c->loop, &recs[i].t), 0);
        recs[i].t.data = &recs[i];
        recs[i].t_init = true;
    }
}

static void add(struct tctx *c, struct rec *r, tl_usec every, tl_usec jitter, tl_usec timeout,
                const char *host)
{
    struct schedule sch = {.every = every, .jitter = jitter, .timeout = timeout};
    assert_int_equal(scheduler_add(c->s, r->id, &sch, host, r, &r->e), 0);
    r->first = scheduler_entry_next(r->e);
}

/* Runs the loop until `until` holds; reaching the cap fails the test. */
static void run_until(struct tctx *c, bool (*until)(struct tctx *c), const char *what)
{
    c->until = until;
    c->reached = false;
    assert_int_equal(uv_timer_start(&c->stop, on_cap, CAP_MS, 0), 0);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&c->stop);
    if (!c->reached)
        fail_msg("not reached within %d ms: %s", CAP_MS, what);
}

/* Runs the loop for d, for a check that something does NOT happen. */
static void run_for(struct tctx *c, tl_usec d)
{
    c->until = NULL;
    assert_int_equal(uv_timer_start(&c->stop, on_cap, (uint64_t)(d / MS), 0), 0);
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

/* Every slot an entry passed is a run, a skip, a counted miss or a run
 * waiting in the queue, at any speed of the machine: the entries' next due
 * times (every entry of c, all at interval `every`, no jitter) say how many
 * slots went by. None is planned more than a slot ahead of the clock. */
static void assert_slots_accounted(struct tctx *c, tl_usec every)
{
    struct scheduler_stats st;
    scheduler_stats(c->s, &st);
    tl_usec now = scheduler_now();
    uint64_t slots = 0;
    for (int i = 0; i < c->n_recs; i++) {
        tl_usec next = scheduler_entry_next(c->recs[i].e);
        assert_int_equal((next - c->recs[i].first) % every, 0);
        assert_true(next <= now + every);
        slots += (uint64_t)((next - c->recs[i].first) / every);
    }
    assert_int_equal(slots, st.started + st.skipped + st.missed + st.queued);
}

static void teardown_ctx(struct tctx *c)
{
    for (int i = 0; i < c->n_recs; i++)
        if (c->recs[i].t_init)
            uv_close((uv_handle_t *)&c->recs[i].t, NULL);
    scheduler_free(c->s);
    uv_close((uv_handle_t *)&c->stop, NULL);
    uv_close((uv_handle_t *)&c->action, NULL);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&c->loop), 0);
}

static bool all_ran(struct tctx *c, int n)
{
    for (int i = 0; i < c->n_recs; i++)
        if (c->recs[i].n < n)
            return false;
    return true;
}

static bool twenty_runs(struct tctx *c)
{
    return c->recs[0].n >= 20;
}

/* Every 50ms: runs exactly 50ms apart in scheduled time (fixed rate, no
 * drift), on the probe's spread phase; a slot passed over is a counted miss. */
static void test_fixed_rate(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[1] = {{.id = "fixed"}};
    setup_ctx(&c, 0, 0, r, 1);
    add(&c, &r[0], 50 * MS, 0, 0, "h");
    run_until(&c, twenty_runs, "20 runs every 50ms");

    struct scheduler_stats st;
    scheduler_stats(c.s, &st);
    assert_int_equal(st.started, (uint64_t)r[0].n);
    assert_int_equal(st.lateness.count, st.started);
    assert_int_equal((r[0].sched[0] - r[0].first) % (50 * MS), 0); /* a stall may shed the first */
    assert_int_equal(r[0].sched[0] % (50 * MS), spread_phase("fixed", 50 * MS, spread_slot(20, 50 * MS)));
    uint64_t passed_over = 0;
    for (int i = 1; i < r[0].n; i++) {
        tl_usec d = r[0].sched[i] - r[0].sched[i - 1];
        assert_true(d > 0 && d % (50 * MS) == 0);
        passed_over += (uint64_t)(d / (50 * MS) - 1);
    }
    /* Slots are only passed over when the loop stalled, and then counted:
     * missed, or shed as late when the stall came after it was due. */
    assert_true(passed_over <= st.missed + st.skipped_late);
    /* A run ends inside its start: no slot is ever skipped for an overlap. */
    assert_int_equal(st.skipped, st.skipped_late);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.entries, 1);
    assert_slots_accounted(&c, 50 * MS);
    teardown_ctx(&c);
}

static bool runs_and_skips(struct tctx *c)
{
    struct scheduler_stats st;
    scheduler_stats(c->s, &st);
    return c->recs[0].n >= 3 && st.skipped - st.skipped_late >= 3;
}

/* A run of 175ms every 50ms: the slots in between are skipped and counted,
 * never run on top of the previous run (on_start asserts that). */
static void test_no_overlap(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[1] = {{.id = "slow", .run_for = 175 * MS}};
    setup_ctx(&c, 0, 0, r, 1);
    add(&c, &r[0], 50 * MS, 0, 0, NULL);
    run_until(&c, runs_and_skips, "3 runs and 3 slots skipped for an overlap");

    struct scheduler_stats st;
    scheduler_stats(c.s, &st);
    assert_int_equal(c.max_in_flight, 1);
    assert_int_equal(scheduler_entry_skipped(r[0].e), st.skipped);
    assert_int_equal(scheduler_entry_runs(r[0].e), (uint64_t)r[0].n);
    /* Every slot is a run, a skip or a stall. */
    assert_slots_accounted(&c, 50 * MS);
    teardown_ctx(&c);
}

static bool three_each_and_queued(struct tctx *c)
{
    return all_ran(c, 3) && c->max_queued >= 1;
}

/* Total concurrency 1: three probes whose runs together need more time
 * than they have; runs wait in the queue, never two at once, and every
 * probe gets its turn. */
static void test_limiter_queue(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[3] = {{.id = "q1", .run_for = 30 * MS},
                       {.id = "q2", .run_for = 30 * MS},
                       {.id = "q3", .run_for = 30 * MS}};
    setup_ctx(&c, 1, 0, r, 3);
    for (int i = 0; i < 3; i++)
        add(&c, &r[i], 50 * MS, 0, 0, "api.example");
    run_until(&c, three_each_and_queued, "3 runs of each probe, one having queued");

    struct scheduler_stats st;
    scheduler_stats(c.s, &st);
    assert_int_equal(c.max_in_flight, 1);
    /* Waiting in the queue is lateness. */
    assert_true(st.lateness_p99 >= 1 * MS);
    assert_true(st.lateness.sum > 0);
    assert_slots_accounted(&c, 50 * MS);
    teardown_ctx(&c);
}

static bool shed_one(struct tctx *c)
{
    struct scheduler_stats st;
    scheduler_stats(c->s, &st);
    return st.skipped_late >= 1 && c->recs[1].n >= 1;
}

/* Load shedding: a run held in the queue past its own interval is skipped
 * and counted late, never started late; the slot goes to the next one. */
static void test_shed_late(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[2] = {{.id = "hog", .run_for = 300 * MS}, {.id = "quick"}};
    setup_ctx(&c, 1, 0, r, 2);
    add(&c, &r[0], 400 * MS, 0, 0, NULL);
    add(&c, &r[1], 50 * MS, 0, 0, NULL);
    run_until(&c, shed_one, "a late run shed and a quick run started");

    struct scheduler_stats st;
    scheduler_stats(c.s, &st);
    assert_true(st.skipped >= st.skipped_late);
    /* Nothing started later than its interval (400ms at most): the
     * histogram's buckets above 500ms stay empty at any speed. */
    assert_int_equal(st.lateness.counts[SCHEDULER_HIST_BUCKETS - 1], 0);
    assert_int_equal(st.lateness.counts[SCHEDULER_HIST_BUCKETS - 2], 0);
    teardown_ctx(&c);
}

static bool two_each(struct tctx *c)
{
    return all_ran(c, 2);
}

/* The same under a per-host limit: two hosts, one slot each. */
static void test_per_host_limit(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[4] = {{.id = "a1", .run_for = 40 * MS},
                       {.id = "a2", .run_for = 40 * MS},
                       {.id = "b1", .run_for = 40 * MS},
                       {.id = "b2", .run_for = 40 * MS}};
    setup_ctx(&c, 0, 1, r, 4);
    add(&c, &r[0], 50 * MS, 0, 0, "a");
    add(&c, &r[1], 50 * MS, 0, 0, "a");
    add(&c, &r[2], 50 * MS, 0, 0, "b");
    add(&c, &r[3], 50 * MS, 0, 0, "b");
    run_until(&c, two_each, "2 runs of each probe");
    assert_true(c.max_in_flight <= 2);
    assert_false(r[0].running && r[1].running);
    assert_false(r[2].running && r[3].running);
    assert_slots_accounted(&c, 50 * MS);
    teardown_ctx(&c);
}

static int removed_runs_a = -1;

static bool a_ran_b_running(struct tctx *c)
{
    return c->recs[0].n >= 3 && c->recs[1].running;
}

static bool b_ended_after_removal(struct tctx *c)
{
    return removed_runs_a >= 0 && !c->recs[1].running;
}

static void step_remove(struct tctx *c)
{
    removed_runs_a = c->recs[0].n;
    assert_true(c->recs[1].running); /* b is mid-run: it only ends when told */
    scheduler_remove(c->recs[0].e);
    scheduler_remove(c->recs[1].e);
    assert_null(scheduler_find(c->s, "a"));
    assert_null(scheduler_find(c->s, "b"));
    c->recs[0].e = NULL;
    /* b's run ends later: its entry lives until then. */
    assert_int_equal(uv_timer_start(&c->recs[1].t, on_run_timer, 100, 0), 0);
}

/* Removal stops runs; a running entry lives until its run ends. */
static void test_remove(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[2] = {{.id = "a"}, {.id = "b", .never_finish = true}};
    setup_ctx(&c, 0, 0, r, 2);
    add(&c, &r[0], 20 * MS, 0, 0, NULL);
    add(&c, &r[1], 20 * MS, 0, 0, NULL);
    assert_ptr_equal(scheduler_find(c.s, "a"), r[0].e);
    c.step = step_remove;
    c.step_when = a_ran_b_running;
    run_until(&c, b_ended_after_removal, "3 runs of a, removal, then b's run end");
    /* No run may start after the removal: watch for 10 of a's intervals (a
     * slow machine only makes this check weaker, never wrong). */
    run_for(&c, 200 * MS);

    struct scheduler_stats st;
    scheduler_stats(c.s, &st);
    assert_true(removed_runs_a >= 3);
    assert_int_equal(r[0].n, removed_runs_a);
    assert_int_equal(r[1].n, 1);
    assert_false(r[1].running); /* its run ended and scheduler_done freed it */
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.in_flight, 0);
    teardown_ctx(&c);
}

static bool three_runs(struct tctx *c)
{
    return c->recs[0].n >= 3;
}

/* A run that never ends by itself gets the timeout callback. */
static void test_timeout(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[1] = {{.id = "hang", .never_finish = true}};
    setup_ctx(&c, 0, 0, r, 1);
    add(&c, &r[0], 100 * MS, 0, 30 * MS, NULL);
    run_until(&c, three_runs, "3 runs ended by their timeout");
    struct scheduler_stats st;
    scheduler_stats(c.s, &st);
    /* Every run but the one just started ended by its timeout. */
    assert_true(st.timeouts >= (uint64_t)r[0].n - 1 && st.timeouts <= (uint64_t)r[0].n);
    assert_slots_accounted(&c, 100 * MS);
    teardown_ctx(&c);
}

static bool eight_runs(struct tctx *c)
{
    return c->recs[0].n >= 8;
}

/* Jitter delays each run by [0, jitter) from its slot, without drifting. */
static void test_jitter(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[1] = {{.id = "jittery"}};
    setup_ctx(&c, 0, 0, r, 1);
    add(&c, &r[0], 50 * MS, 20 * MS, 0, NULL);
    run_until(&c, eight_runs, "8 runs with jitter");
    tl_usec off = spread_phase("jittery", 50 * MS, spread_slot(20, 50 * MS));
    tl_usec lo = 50 * MS, hi = -1;
    for (int i = 0; i < r[0].n; i++) {
        tl_usec j = ((r[0].sched[i] - off) % (50 * MS) + 50 * MS) % (50 * MS);
        assert_true(j < 20 * MS);
        if (j < lo)
            lo = j;
        if (j > hi)
            hi = j;
    }
    assert_true(hi > lo); /* a fresh draw per run */
    teardown_ctx(&c);
}

static bool each_ran(struct tctx *c)
{
    return all_ran(c, 1);
}

/* Names n records "<prefix>-<i>" (ids must outlive the records). */
static void name_recs(struct rec *r, char (*ids)[16], int n, const char *prefix)
{
    memset(r, 0, (size_t)n * sizeof *r);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "%s-%d", prefix, i);
        r[i].id = ids[i];
    }
}

/* Many entries: start order follows scheduled time (the heap), each entry
 * on its own spread phase, in the start slot of the whole rate (1,500/s: 2 ms)
 * although the first were added while the rate was lower (4 ms). */
static void test_many_entries_order(void **state)
{
    (void)state;
    enum { N = 300 };
    static struct rec r[N];
    static char ids[N][16];
    struct tctx c;
    name_recs(r, ids, N, "p");
    setup_ctx(&c, 0, 0, r, N);
    int moved = 0;
    for (int i = 0; i < N; i++)
        add(&c, &r[i], 200 * MS, 0, 0, NULL);
    /* Planned while the rate grew: the first ones on 4 ms slots. Settled,
     * every entry is on the 2 ms slots of the whole rate (none moved into
     * the past: a fresh phase is at least the one it had). */
    scheduler_settle(c.s);
    for (int i = 0; i < N; i++) {
        tl_usec next = scheduler_entry_next(r[i].e);
        moved += next != r[i].first;
        assert_true(next >= r[i].first);
        r[i].first = next;
    }
    assert_true(moved > 0);
    run_until(&c, each_ran, "a run of each of 300 entries");
    assert_true(c.n_order >= N);
    for (int i = 1; i < c.n_order; i++)
        assert_true(c.order[i] >= c.order[i - 1]);
    for (int i = 0; i < N; i++) {
        assert_int_equal((r[i].sched[0] - r[i].first) % (200 * MS), 0);
        assert_int_equal(r[i].sched[0] % (200 * MS), spread_phase(ids[i], 200 * MS, spread_slot(N * 5.0, 200 * MS)));
        for (int k = 1; k < r[i].n; k++)
            assert_int_equal((r[i].sched[k] - r[i].sched[0]) % (200 * MS), 0);
    }
    struct scheduler_stats st;
    scheduler_stats(c.s, &st);
    assert_int_equal(st.entries, N);
    assert_slots_accounted(&c, 200 * MS);
    teardown_ctx(&c);
}

/* A backlog starts in rounds: the loop blocked past every entry's due time,
 * then at most SCHEDULER_TICK_STARTS runs start per turn of the loop (I/O
 * gets its turn in between), and every slot is still a run or a counted
 * skip (the earliest may be shed as late: they waited past their interval). */
static uint64_t loop_turn;
static int starts_in_turn[4096];

static void on_prepare(uv_prepare_t *p)
{
    (void)p;
    loop_turn++;
}

static void on_block(uv_timer_t *t)
{
    (void)t;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 520 * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void count_start(struct tctx *c)
{
    (void)c;
    if (loop_turn < 4096)
        starts_in_turn[loop_turn]++;
}

static bool backlog_placed(struct tctx *c)
{
    struct scheduler_stats st;
    scheduler_stats(c->s, &st);
    return st.started + st.skipped_late >= (uint64_t)c->n_recs;
}

static void test_backlog_in_rounds(void **state)
{
    (void)state;
    enum { N = 300 };
    static struct rec r[N];
    static char ids[N][16];
    struct tctx c;
    memset(starts_in_turn, 0, sizeof starts_in_turn);
    loop_turn = 0;
    name_recs(r, ids, N, "b");
    setup_ctx(&c, 0, 0, r, N);
    c.on_each_start = count_start;
    uv_prepare_t prep;
    uv_timer_t block;
    assert_int_equal(uv_prepare_init(&c.loop, &prep), 0);
    assert_int_equal(uv_prepare_start(&prep, on_prepare), 0);
    assert_int_equal(uv_timer_init(&c.loop, &block), 0);
    assert_int_equal(uv_timer_start(&block, on_block, 0, 0), 0);
    for (int i = 0; i < N; i++)
        add(&c, &r[i], 500 * MS, 0, 0, NULL);
    run_until(&c, backlog_placed, "every entry's first slot started or shed");
    int max = 0, turns = 0;
    for (int i = 0; i < 4096; i++) {
        if (starts_in_turn[i] > max)
            max = starts_in_turn[i];
        turns += starts_in_turn[i] > 0;
    }
    assert_true(max <= SCHEDULER_TICK_STARTS);
    assert_true(max > 0);
    struct scheduler_stats st;
    scheduler_stats(c.s, &st);
    /* at least N - shed runs over turns of at most the budget each */
    assert_true((uint64_t)turns * SCHEDULER_TICK_STARTS >= st.started);
    assert_slots_accounted(&c, 500 * MS);
    uv_close((uv_handle_t *)&prep, NULL);
    uv_close((uv_handle_t *)&block, NULL);
    teardown_ctx(&c);
}

/* Reload: an unchanged schedule keeps its next time; a changed one moves to
 * its new phase; a bad one changes nothing. */
static void test_update_and_errors(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[2] = {{.id = "reload"}, {.id = "other"}};
    setup_ctx(&c, 0, 0, r, 2);
    add(&c, &r[0], 10 * SEC, 0, 0, "h1");
    tl_usec next = scheduler_entry_next(r[0].e);
    tl_usec now = scheduler_now();
    assert_true(next >= now - SEC && next < now + 10 * SEC);
    assert_int_equal(next % (10 * SEC), spread_phase("reload", 10 * SEC, spread_slot(0.1, 10 * SEC)));

    struct schedule same = {.every = 10 * SEC, .timeout = 5 * SEC};
    assert_int_equal(scheduler_update(r[0].e, &same, "h2", &r[1]), 0);
    assert_true(scheduler_entry_next(r[0].e) == next);

    struct schedule bad = {0};
    assert_int_equal(scheduler_update(r[0].e, &bad, "h2", &r[0]), TL_EINVAL);
    /* A bad cron never compiles; one that was not compiled is refused. */
    struct schedule badcron = {.cron = "61 * * * *"};
    assert_int_equal(cron_parse(&badcron.compiled, badcron.cron, NULL, 0), TL_ESYNTAX);
    assert_int_equal(scheduler_update(r[0].e, &badcron, "h2", &r[0]), TL_EINVAL);
    assert_true(scheduler_entry_next(r[0].e) == next);

    struct schedule slower = {.every = 20 * SEC};
    assert_int_equal(scheduler_update(r[0].e, &slower, NULL, &r[0]), 0);
    assert_int_equal(scheduler_entry_next(r[0].e) % (20 * SEC),
                     spread_phase("reload", 20 * SEC, spread_slot(0.05, 20 * SEC)));

    struct schedule cron = {.cron = "* * * * *"};
    assert_int_equal(cron_parse(&cron.compiled, cron.cron, NULL, 0), 0);
    assert_int_equal(scheduler_update(r[0].e, &cron, NULL, &r[0]), 0);
    now = scheduler_now();
    next = scheduler_entry_next(r[0].e);
    assert_true(next > now && next <= now + 60 * SEC);
    /* The same times written differently are the same schedule. */
    struct schedule cron2 = {.cron = "*/1 0-23 * jan-dec *"};
    assert_int_equal(cron_parse(&cron2.compiled, cron2.cron, NULL, 0), 0);
    assert_int_equal(scheduler_update(r[0].e, &cron2, NULL, &r[0]), 0);
    assert_true(scheduler_entry_next(r[0].e) == next);

    struct schedule dup = {.every = SEC};
    struct scheduler_entry *e = NULL;
    assert_int_equal(scheduler_add(c.s, "reload", &dup, NULL, NULL, &e), TL_EEXISTS);
    assert_null(e);
    struct schedule both = {.every = SEC, .cron = "* * * * *"};
    assert_int_equal(scheduler_add(c.s, "x", &both, NULL, NULL, &e), TL_EINVAL);
    assert_int_equal(scheduler_add(c.s, "x", &badcron, NULL, NULL, &e), TL_EINVAL);
    struct schedule neg = {.every = SEC, .jitter = -1};
    assert_int_equal(scheduler_add(c.s, "x", &neg, NULL, NULL, &e), TL_EINVAL);
    struct scheduler_stats st;
    scheduler_stats(c.s, &st);
    assert_int_equal(st.entries, 1);
    teardown_ctx(&c);
}

/* A live update to a shorter interval takes effect: runs come (a 10s
 * schedule would give none), 20ms apart in scheduled time. */
static bool updated;

static void step_speed_up(struct tctx *c)
{
    struct schedule fast = {.every = 20 * MS};
    c->recs[0].n = 0;
    updated = true;
    assert_int_equal(scheduler_update(c->recs[0].e, &fast, NULL, &c->recs[0]), 0);
}

static bool ten_fast_runs(struct tctx *c)
{
    return updated && c->recs[0].n >= 10;
}

static void test_update_live(void **state)
{
    (void)state;
    struct tctx c;
    struct rec r[1] = {{.id = "speedy"}};
    setup_ctx(&c, 0, 0, r, 1);
    add(&c, &r[0], 10 * SEC, 0, 0, NULL);
    c.step = step_speed_up;
    assert_int_equal(uv_timer_start(&c.action, on_action, 50, 0), 0);
    run_until(&c, ten_fast_runs, "10 runs after the update to 20ms");
    for (int i = 1; i < r[0].n; i++)
        assert_true((r[0].sched[i] - r[0].sched[i - 1]) % (20 * MS) == 0);
    teardown_ctx(&c);
}

static void test_histogram(void **state)
{
    (void)state;
    struct scheduler_hist h;
    memset(&h, 0, sizeof h);
    assert_int_equal(scheduler_hist_quantile(&h, 0.99), 0);
    for (int i = 0; i < 99; i++)
        scheduler_hist_observe(&h, 50);
    scheduler_hist_observe(&h, 2 * SEC);
    assert_int_equal(h.count, 100);
    assert_int_equal(h.sum, 99 * 50 + 2 * SEC);
    assert_int_equal(h.counts[0], 99);
    assert_int_equal(h.counts[SCHEDULER_HIST_BUCKETS - 1], 1);
    assert_true(scheduler_hist_quantile(&h, 0.99) <= 100);
    assert_true(scheduler_hist_quantile(&h, 0.5) > 0);
    /* In +Inf the estimate is the largest finite bound, as Prometheus does. */
    assert_int_equal(scheduler_hist_quantile(&h, 1.0), SEC);
    /* Bounds are inclusive upper bounds. */
    memset(&h, 0, sizeof h);
    scheduler_hist_observe(&h, 100);
    scheduler_hist_observe(&h, 101);
    scheduler_hist_observe(&h, -5);
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[1], 1);
    const tl_usec *b = scheduler_hist_bounds();
    assert_int_equal(b[0], 100);
    assert_int_equal(b[SCHEDULER_HIST_BUCKETS - 2], SEC);
    for (int i = 0; i < 1000; i++)
        scheduler_hist_observe(&h, 3 * MS);
    tl_usec p99 = scheduler_hist_quantile(&h, 0.99);
    assert_true(p99 > 2 * MS && p99 <= 5 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_update_and_errors),
        cmocka_unit_test(test_fixed_rate),
        cmocka_unit_test(test_no_overlap),
        cmocka_unit_test(test_limiter_queue),
        cmocka_unit_test(test_shed_late),
        cmocka_unit_test(test_per_host_limit),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_many_entries_order),
        cmocka_unit_test(test_backlog_in_rounds),
        cmocka_unit_test(test_update_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
