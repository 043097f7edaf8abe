#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "schedules/spread.h"

#define SEC 1000000LL

static void test_stable_and_in_range(void **state)
{
    (void)state;
    tl_usec a = spread_offset("checkout", 60 * SEC);
    assert_true(a >= 0 && a < 60 * SEC);
    /* The same id lands on the same phase every time. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(spread_offset("checkout", 60 * SEC), a);
    /* Different ids land on different phases. */
    assert_int_not_equal(spread_offset("login", 60 * SEC), a);
    /* The hash is a fixed function of the id: pinned so a change that would
     * move every probe's phase after an upgrade is noticed. */
    assert_true(spread_hash("checkout") == 0x5f263ed75df33484ULL);
    assert_true(spread_hash("checkout") != spread_hash("checkouT"));
}

static void test_degenerate(void **state)
{
    (void)state;
    assert_int_equal(spread_offset("x", 0), 0);
    assert_int_equal(spread_offset("x", -5), 0);
    assert_int_equal(spread_offset(NULL, 60 * SEC), 0);
    assert_int_equal(spread_offset("x", 1), 0);
    tl_usec o = spread_offset("", 10);
    assert_true(o >= 0 && o < 10);
}

/* 1,000 ids with a shared prefix, as real probe ids tend to be, over 60s:
 * no one-second bucket holds more than 5x the mean (16.7). */
static void test_even_spread(void **state)
{
    (void)state;
    int buckets[60] = {0};
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "probe-%d", i);
        tl_usec o = spread_offset(id, 60 * SEC);
        assert_true(o >= 0 && o < 60 * SEC);
        buckets[o / SEC]++;
    }
    int max = 0, empty = 0;
    for (int i = 0; i < 60; i++) {
        if (buckets[i] > max)
            max = buckets[i];
        if (buckets[i] == 0)
            empty++;
    }
    assert_true(max <= 5 * 1000 / 60);
    assert_int_equal(empty, 0);
}

/* Sub-second spread matters too: 100 ids at 1s fill most 10ms slots' tens. */
static void test_spread_short_interval(void **state)
{
    (void)state;
    int buckets[10] = {0};
    char id[32];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "api-%03d", i);
        buckets[spread_offset(id, SEC) / (SEC / 10)]++;
    }
    for (int i = 0; i < 10; i++)
        assert_true(buckets[i] > 0 && buckets[i] <= 5 * 20);
}

/* Start slots: as coarse as SPREAD_SLOT_MAX while the rate puts at most
 * SPREAD_SLOT_RUNS runs in one, finer as the rate grows, never finer than
 * SPREAD_SLOT_MIN, never more than 1/SPREAD_SLOT_SPAN of the interval. */
static void test_slots(void **state)
{
    (void)state;
    assert_int_equal(spread_slot(0, SEC), SPREAD_SLOT_MAX);
    assert_int_equal(spread_slot(1000, SEC), 4000);  /* 4 per slot */
    assert_int_equal(spread_slot(1001, SEC), 2000);
    assert_int_equal(spread_slot(5000, SEC), 500);   /* 2.5 per slot */
    assert_int_equal(spread_slot(1e6, SEC), SPREAD_SLOT_MIN);
    assert_int_equal(spread_slot(10, 50000), 2000);  /* 50 ms / 16 */
    assert_int_equal(spread_slot(10, 16 * SPREAD_SLOT_MIN), SPREAD_SLOT_MIN);
    assert_int_equal(spread_slot(10, 16 * SPREAD_SLOT_MIN - 1), 0);
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "probe-%d", i);
        tl_usec off = spread_offset(id, 60 * SEC), p = spread_phase(id, 60 * SEC, 4000);
        assert_true(p % 4000 == 0 && p <= off && off - p < 4000);
        assert_int_equal(spread_phase(id, 60 * SEC, 0), off);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_and_in_range),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_even_spread),
        cmocka_unit_test(test_spread_short_interval),
        cmocka_unit_test(test_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
