#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "base/container.h"
#include "schedules/limiter.h"


struct run {
    struct limiter_waiter w;
    int id;
    const char *host;
    int granted;
    int release_on_grant;      /* give the slot back from inside the callback */
    struct run *cancel_on_grant;
    struct limiter *l;
};

static int order[256];
static int n_order;

static void on_grant(struct limiter_waiter *w)
{
    struct run *r = container_of(w, struct run, w);
    r->granted++;
    order[n_order++] = r->id;
    if (r->cancel_on_grant)
        assert_int_equal(limiter_cancel(r->l, &r->cancel_on_grant->w), 0);
    if (r->release_on_grant)
        assert_int_equal(limiter_release(r->l, &r->w), 0);
}

static void init_runs(struct run *r, int n, struct limiter *l)
{
    for (int i = 0; i < n; i++) {
        r[i] = (struct run){.id = i, .l = l};
        r[i].w.grant = on_grant;
    }
    n_order = 0;
}

static void test_total_limit_queues_never_drops(void **state)
{
    (void)state;
    struct limiter *l = limiter_new(2, 0);
    assert_non_null(l);
    struct run r[5];
    init_runs(r, 5, l);
    assert_int_equal(limiter_acquire(l, "a", &r[0].w), 0);
    assert_int_equal(limiter_acquire(l, "a", &r[1].w), 0);
    for (int i = 2; i < 5; i++)
        assert_int_equal(limiter_acquire(l, "a", &r[i].w), LIMITER_QUEUED);
    assert_int_equal(limiter_in_flight(l), 2);
    assert_int_equal(limiter_queued(l), 3);
    assert_int_equal(n_order, 0); /* a grant now is a return code, not a callback */
    /* Each release lets exactly the next one in, in arrival order. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(limiter_release(l, &r[i].w), 0);
        assert_true(limiter_in_flight(l) <= 2);
    }
    assert_int_equal(n_order, 3);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 3);
    assert_int_equal(order[2], 4);
    assert_int_equal(limiter_in_flight(l), 0);
    assert_int_equal(limiter_queued(l), 0);
    limiter_free(l);
    limiter_free(NULL);
}

/* A host at its limit does not hold back other hosts. */
static void test_per_host_no_head_of_line_blocking(void **state)
{
    (void)state;
    struct limiter *l = limiter_new(10, 1);
    struct run r[4];
    init_runs(r, 4, l);
    assert_int_equal(limiter_acquire(l, "h1", &r[0].w), 0);
    assert_int_equal(limiter_acquire(l, "h1", &r[1].w), LIMITER_QUEUED);
    assert_int_equal(limiter_acquire(l, "h2", &r[2].w), 0);
    assert_int_equal(limiter_acquire(l, "h1", &r[3].w), LIMITER_QUEUED);
    assert_int_equal(limiter_host_in_flight(l, "h1"), 1);
    assert_int_equal(limiter_host_in_flight(l, "h2"), 1);
    assert_int_equal(limiter_host_in_flight(l, "h3"), 0);
    /* h2 finishing does nothing for h1's waiters. */
    assert_int_equal(limiter_release(l, &r[2].w), 0);
    assert_int_equal(n_order, 0);
    assert_int_equal(limiter_host_in_flight(l, "h2"), 0);
    /* h1 finishing lets the first h1 waiter in, not the second. */
    assert_int_equal(limiter_release(l, &r[0].w), 0);
    assert_int_equal(n_order, 1);
    assert_int_equal(order[0], 1);
    assert_int_equal(limiter_queued(l), 1);
    assert_int_equal(limiter_release(l, &r[1].w), 0);
    assert_int_equal(limiter_release(l, &r[3].w), 0);
    assert_int_equal(n_order, 2);
    assert_int_equal(order[1], 3);
    limiter_free(l);
}

/* Both limits: when a slot frees, the first waiter whose host fits wins,
 * even if an older waiter for a busy host is ahead of it. */
static void test_total_and_host_together(void **state)
{
    (void)state;
    struct limiter *l = limiter_new(2, 1);
    struct run r[4];
    init_runs(r, 4, l);
    assert_int_equal(limiter_acquire(l, "h1", &r[0].w), 0);
    assert_int_equal(limiter_acquire(l, "h2", &r[1].w), 0);
    assert_int_equal(limiter_acquire(l, "h1", &r[2].w), LIMITER_QUEUED);
    assert_int_equal(limiter_acquire(l, "h3", &r[3].w), LIMITER_QUEUED);
    assert_int_equal(limiter_release(l, &r[1].w), 0);
    assert_int_equal(n_order, 1);
    assert_int_equal(order[0], 3);
    assert_int_equal(r[2].granted, 0);
    assert_int_equal(limiter_release(l, &r[0].w), 0);
    assert_int_equal(n_order, 2);
    assert_int_equal(order[1], 2);
    assert_int_equal(limiter_release(l, &r[2].w), 0);
    assert_int_equal(limiter_release(l, &r[3].w), 0);
    assert_int_equal(limiter_in_flight(l), 0);
    limiter_free(l);
}

static void test_null_host_and_unlimited(void **state)
{
    (void)state;
    struct limiter *l = limiter_new(0, 0);
    struct run r[50];
    init_runs(r, 50, l);
    for (int i = 0; i < 50; i++)
        assert_int_equal(limiter_acquire(l, (i % 2) ? "h" : NULL, &r[i].w), 0);
    assert_int_equal(limiter_in_flight(l), 50);
    assert_int_equal(limiter_host_in_flight(l, "h"), 25);
    for (int i = 0; i < 50; i++)
        assert_int_equal(limiter_release(l, &r[i].w), 0);
    assert_int_equal(limiter_in_flight(l), 0);
    limiter_free(l);
}

static void test_cancel_and_states(void **state)
{
    (void)state;
    struct limiter *l = limiter_new(1, 0);
    struct run r[3];
    init_runs(r, 3, l);
    assert_int_equal(limiter_release(l, &r[0].w), TL_ESTATE);
    assert_int_equal(limiter_cancel(l, &r[0].w), TL_ESTATE);
    assert_int_equal(limiter_acquire(l, "h", &r[0].w), 0);
    assert_int_equal(limiter_acquire(l, "h", &r[0].w), TL_ESTATE);
    assert_int_equal(limiter_cancel(l, &r[0].w), TL_ESTATE);
    assert_int_equal(limiter_acquire(l, "h", &r[1].w), LIMITER_QUEUED);
    assert_int_equal(limiter_acquire(l, "h", &r[2].w), LIMITER_QUEUED);
    assert_int_equal(limiter_acquire(l, "h", &r[1].w), TL_ESTATE);
    assert_int_equal(limiter_cancel(l, &r[1].w), 0);
    assert_int_equal(limiter_queued(l), 1);
    assert_int_equal(limiter_release(l, &r[0].w), 0);
    /* The cancelled waiter is never granted; the next one is. */
    assert_int_equal(r[1].granted, 0);
    assert_int_equal(r[2].granted, 1);
    assert_int_equal(limiter_release(l, &r[2].w), 0);
    /* A waiter without a grant callback is refused. */
    struct limiter_waiter bare = {0};
    assert_int_equal(limiter_acquire(l, "h", &bare), TL_ESTATE);
    limiter_free(l);
}

/* Runs that end inside their own grant (a failure before any I/O) chain
 * through a long queue in order, without recursion. */
static void test_release_inside_grant(void **state)
{
    (void)state;
    struct limiter *l = limiter_new(1, 0);
    struct run r[200];
    init_runs(r, 200, l);
    assert_int_equal(limiter_acquire(l, "h", &r[0].w), 0);
    for (int i = 1; i < 200; i++) {
        r[i].release_on_grant = 1;
        assert_int_equal(limiter_acquire(l, "h", &r[i].w), LIMITER_QUEUED);
    }
    assert_int_equal(limiter_release(l, &r[0].w), 0);
    assert_int_equal(n_order, 199);
    for (int i = 0; i < 199; i++)
        assert_int_equal(order[i], i + 1);
    assert_int_equal(limiter_in_flight(l), 0);
    assert_int_equal(limiter_queued(l), 0);
    limiter_free(l);
}

/* A grant callback that cancels a later waiter: that waiter is skipped. */
static void test_cancel_inside_grant(void **state)
{
    (void)state;
    struct limiter *l = limiter_new(1, 0);
    struct run r[4];
    init_runs(r, 4, l);
    assert_int_equal(limiter_acquire(l, NULL, &r[0].w), 0);
    for (int i = 1; i < 4; i++)
        assert_int_equal(limiter_acquire(l, NULL, &r[i].w), LIMITER_QUEUED);
    r[1].cancel_on_grant = &r[2];
    r[1].release_on_grant = 1;
    assert_int_equal(limiter_release(l, &r[0].w), 0);
    assert_int_equal(n_order, 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 3);
    assert_int_equal(r[2].granted, 0);
    assert_int_equal(limiter_release(l, &r[3].w), 0);
    limiter_free(l);
}

static void test_raise_limits(void **state)
{
    (void)state;
    struct limiter *l = limiter_new(1, 0);
    struct run r[4];
    init_runs(r, 4, l);
    assert_int_equal(limiter_acquire(l, "h", &r[0].w), 0);
    for (int i = 1; i < 4; i++)
        assert_int_equal(limiter_acquire(l, "h", &r[i].w), LIMITER_QUEUED);
    limiter_set_limits(l, 3, 0);
    assert_int_equal(n_order, 2);
    assert_int_equal(limiter_in_flight(l), 3);
    assert_int_equal(limiter_queued(l), 1);
    /* Lowering never takes slots back; releases drain down to the limit. */
    limiter_set_limits(l, 1, 0);
    assert_int_equal(limiter_release(l, &r[0].w), 0);
    assert_int_equal(n_order, 2);
    assert_int_equal(limiter_release(l, &r[1].w), 0);
    assert_int_equal(n_order, 2);
    assert_int_equal(limiter_release(l, &r[2].w), 0);
    assert_int_equal(n_order, 3);
    assert_int_equal(limiter_release(l, &r[3].w), 0);
    limiter_free(l);
}

/* Many hosts: the host table grows and every count stays right. */
static void test_many_hosts(void **state)
{
    (void)state;
    enum { N = 600 };
    struct limiter *l = limiter_new(0, 2);
    static struct run r[N];
    char names[N / 3][16];
    init_runs(r, N, l);
    for (int i = 0; i < N / 3; i++)
        snprintf(names[i], sizeof names[i], "host-%d", i);
    for (int i = 0; i < N; i++)
        assert_int_equal(limiter_acquire(l, names[i % (N / 3)], &r[i].w),
                         i < 2 * (N / 3) ? 0 : LIMITER_QUEUED);
    assert_int_equal(limiter_in_flight(l), 2 * (N / 3));
    assert_int_equal(limiter_queued(l), N / 3);
    assert_int_equal(limiter_host_in_flight(l, "host-7"), 2);
    for (int i = 0; i < N; i++)
        assert_int_equal(limiter_release(l, &r[i].w), 0);
    assert_int_equal(n_order, N / 3);
    assert_int_equal(limiter_in_flight(l), 0);
    assert_int_equal(limiter_host_in_flight(l, "host-7"), 0);
    limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_total_limit_queues_never_drops),
        cmocka_unit_test(test_per_host_no_head_of_line_blocking),
        cmocka_unit_test(test_total_and_host_together),
        cmocka_unit_test(test_null_host_and_unlimited),
        cmocka_unit_test(test_cancel_and_states),
        cmocka_unit_test(test_release_inside_grant),
        cmocka_unit_test(test_cancel_inside_grant),
        cmocka_unit_test(test_raise_limits),
        cmocka_unit_test(test_many_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
