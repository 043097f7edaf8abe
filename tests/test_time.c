/* Clocks and ISO-8601 formatting: known instants, times before the epoch and
 * instants no four-digit year can hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/time.h"

static void test_mono(void **state)
{
    (void)state;
    tl_usec first = tl_mono_us(), prev = first;
    assert_true(first > 0);
    /* never goes back; spin until it moves (a clock tick is far below 1 s) */
    for (int i = 0; prev == first && i < 100000000; i++) {
        tl_usec now = tl_mono_us();
        assert_true(now >= prev);
        prev = now;
    }
    assert_true(prev > first);
}

static void test_wall(void **state)
{
    (void)state;
    int64_t before = (int64_t)time(NULL);
    int64_t us = tl_wall_us();
    int64_t after = (int64_t)time(NULL);
    assert_true(us / 1000000 >= before - 1);
    assert_true(us / 1000000 <= after + 1);
}

/* Formats us both ways and compares with the expected strings. */
static void expect(int64_t us, const char *with_ms, const char *without_ms)
{
    char out[TL_ISO8601_LEN];
    memset(out, 'x', sizeof out);
    assert_int_equal(tl_iso8601(us, true, out), 0);
    assert_string_equal(out, with_ms);
    memset(out, 'x', sizeof out);
    assert_int_equal(tl_iso8601(us, false, out), 0);
    assert_string_equal(out, without_ms);
}

static void expect_refused(int64_t us)
{
    char out[TL_ISO8601_LEN];
    for (int ms = 0; ms < 2; ms++) {
        memset(out, 'x', sizeof out);
        assert_int_equal(tl_iso8601(us, ms == 1, out), -1);
        assert_string_equal(out, "");
    }
}

static void test_known(void **state)
{
    (void)state;
    expect(0, "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00Z");
    expect(1700000000123456LL, "2023-11-14T22:13:20.123Z", "2023-11-14T22:13:20Z");
    expect(1700000000999999LL, "2023-11-14T22:13:20.999Z", "2023-11-14T22:13:20Z"); /* truncated, not rounded */
    expect(951782400000000LL, "2000-02-29T00:00:00.000Z", "2000-02-29T00:00:00Z");   /* leap day */
    /* the last instant with four digits of year */
    expect(253402300799999999LL, "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59Z");
}

static void test_before_epoch(void **state)
{
    (void)state;
    /* floor, not truncation toward zero: -1 us is in the last second of 1969 */
    expect(-1, "1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59Z");
    expect(-1000, "1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59Z");
    expect(-1001, "1969-12-31T23:59:59.998Z", "1969-12-31T23:59:59Z");
    expect(-1000000, "1969-12-31T23:59:59.000Z", "1969-12-31T23:59:59Z");
    expect(-1000001, "1969-12-31T23:59:58.999Z", "1969-12-31T23:59:58Z");
    /* small years keep four digits, as ISO-8601 wants */
    expect(-62135596800000000LL, "0001-01-01T00:00:00.000Z", "0001-01-01T00:00:00Z");
    expect(-62167219200000000LL, "0000-01-01T00:00:00.000Z", "0000-01-01T00:00:00Z");
}

static void test_out_of_range(void **state)
{
    (void)state;
    expect_refused(253402300800000000LL);   /* 10000-01-01 */
    expect_refused(-62167219200000001LL);   /* the last microsecond of year -1 */
    expect_refused(INT64_MAX);
    expect_refused(INT64_MIN);
    expect_refused(INT64_MIN + 1);
    expect_refused(INT64_MAX - 999999);
}

static void test_now(void **state)
{
    (void)state;
    char out[TL_ISO8601_LEN];
    assert_int_equal(tl_iso8601_now(true, out), 0);
    assert_int_equal(strlen(out), 24);
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < 24; i++) {
        if (shape[i] == 'd')
            assert_true(out[i] >= '0' && out[i] <= '9');
        else
            assert_int_equal(out[i], shape[i]);
    }
    assert_true(strncmp(out, "20", 2) >= 0);
    assert_int_equal(tl_iso8601_now(false, out), 0);
    assert_int_equal(strlen(out), 20);
    assert_int_equal(out[19], 'Z');
    assert_int_equal(out[10], 'T');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono),         cmocka_unit_test(test_wall),
        cmocka_unit_test(test_known),        cmocka_unit_test(test_before_epoch),
        cmocka_unit_test(test_out_of_range), cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
