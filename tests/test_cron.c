#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "schedules/cron.h"

/* Expected times come from timegm(), an implementation independent of the
 * one under test. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000000;
}

static int64_t next_of(const char *expr, int64_t after)
{
    struct cron c;
    char err[200];
    int rc = cron_parse(&c, expr, err, sizeof err);
    if (rc)
        fail_msg("cron_parse(\"%s\"): %s", expr, err);
    return cron_next(&c, after);
}

#define ASSERT_NEXT(expr, after, expect)                                                       \
    do {                                                                                       \
        int64_t got_ = next_of(expr, after);                                                   \
        int64_t want_ = (expect);                                                              \
        if (got_ != want_)                                                                     \
            fail_msg("%s: got %lld want %lld (diff %lld s)", expr, (long long)got_,            \
                     (long long)want_, (long long)((got_ - want_) / 1000000));                 \
    } while (0)

static void test_steps_and_strictly_after(void **state)
{
    (void)state;
    ASSERT_NEXT("*/15 * * * *", utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 1, 0, 15, 0));
    ASSERT_NEXT("*/15 * * * *", utc(2024, 1, 1, 0, 7, 30), utc(2024, 1, 1, 0, 15, 0));
    ASSERT_NEXT("*/15 * * * *", utc(2024, 1, 1, 0, 15, 0) - 1, utc(2024, 1, 1, 0, 15, 0));
    ASSERT_NEXT("*/15 * * * *", utc(2024, 1, 1, 0, 15, 0) + 1, utc(2024, 1, 1, 0, 30, 0));
    ASSERT_NEXT("*/15 * * * *", utc(2024, 1, 1, 23, 50, 0), utc(2024, 1, 2, 0, 0, 0));
    ASSERT_NEXT("* * * * *", utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 1, 0, 1, 0));
    ASSERT_NEXT("5/20 * * * *", utc(2024, 1, 1, 0, 30, 0), utc(2024, 1, 1, 0, 45, 0));
    ASSERT_NEXT("5/20 * * * *", utc(2024, 1, 1, 0, 46, 0), utc(2024, 1, 1, 1, 5, 0));
    ASSERT_NEXT("0 9-17/2 * * *", utc(2024, 1, 1, 9, 0, 0), utc(2024, 1, 1, 11, 0, 0));
    ASSERT_NEXT("0 9-17/2 * * *", utc(2024, 1, 1, 17, 0, 0), utc(2024, 1, 2, 9, 0, 0));
    ASSERT_NEXT("5,10,15-17 * * * *", utc(2024, 1, 1, 0, 10, 0), utc(2024, 1, 1, 0, 15, 0));
    ASSERT_NEXT("5,10,15-17 * * * *", utc(2024, 1, 1, 0, 17, 0), utc(2024, 1, 1, 1, 5, 0));
    ASSERT_NEXT("@hourly", utc(2024, 1, 1, 0, 0, 1), utc(2024, 1, 1, 1, 0, 0));
    ASSERT_NEXT("  @daily ", utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 2, 0, 0, 0));
}

static void test_month_ends_and_leap_years(void **state)
{
    (void)state;
    /* April has 30 days: the 31st is in May. */
    ASSERT_NEXT("0 0 31 * *", utc(2024, 4, 1, 0, 0, 0), utc(2024, 5, 31, 0, 0, 0));
    ASSERT_NEXT("0 0 31 * *", utc(2024, 1, 31, 0, 0, 0), utc(2024, 3, 31, 0, 0, 0));
    ASSERT_NEXT("59 23 31 12 *", utc(2024, 12, 31, 23, 59, 0), utc(2025, 12, 31, 23, 59, 0));
    ASSERT_NEXT("59 23 31 12 *", utc(2024, 12, 31, 23, 58, 59), utc(2024, 12, 31, 23, 59, 0));
    ASSERT_NEXT("@yearly", utc(2024, 6, 1, 0, 0, 0), utc(2025, 1, 1, 0, 0, 0));
    ASSERT_NEXT("0 0 29 2 *", utc(2023, 3, 1, 0, 0, 0), utc(2024, 2, 29, 0, 0, 0));
    ASSERT_NEXT("0 0 29 2 *", utc(2024, 3, 1, 0, 0, 0), utc(2028, 2, 29, 0, 0, 0));
    /* 2100 is not a leap year; 2000 was. */
    ASSERT_NEXT("0 0 29 2 *", utc(2096, 3, 1, 0, 0, 0), utc(2104, 2, 29, 0, 0, 0));
    ASSERT_NEXT("0 0 29 feb *", utc(1999, 1, 1, 0, 0, 0), utc(2000, 2, 29, 0, 0, 0));
    ASSERT_NEXT("0 0 1 jan,JUL *", utc(2024, 2, 1, 0, 0, 0), utc(2024, 7, 1, 0, 0, 0));
    ASSERT_NEXT("0 0 * mar-may *", utc(2024, 1, 15, 0, 0, 0), utc(2024, 3, 1, 0, 0, 0));
    /* Only midnights of Feb 28..31: after the 28th, the next is a year later. */
    ASSERT_NEXT("0 0 28-31 2 *", utc(2023, 2, 28, 0, 0, 0), utc(2024, 2, 28, 0, 0, 0));
    ASSERT_NEXT("0 0 28-31 2 *", utc(2024, 2, 28, 0, 0, 0), utc(2024, 2, 29, 0, 0, 0));
}

static void test_days_of_week(void **state)
{
    (void)state;
    /* 2024-02-27 is a Tuesday; the next Monday is 2024-03-04. */
    ASSERT_NEXT("0 12 * * mon", utc(2024, 2, 27, 0, 0, 0), utc(2024, 3, 4, 12, 0, 0));
    ASSERT_NEXT("0 12 * * 1", utc(2024, 2, 27, 0, 0, 0), utc(2024, 3, 4, 12, 0, 0));
    /* 0, 7 and sun are all Sunday: 2024-03-03. */
    ASSERT_NEXT("0 0 * * 0", utc(2024, 2, 27, 0, 0, 0), utc(2024, 3, 3, 0, 0, 0));
    ASSERT_NEXT("0 0 * * 7", utc(2024, 2, 27, 0, 0, 0), utc(2024, 3, 3, 0, 0, 0));
    ASSERT_NEXT("0 0 * * Sun", utc(2024, 2, 27, 0, 0, 0), utc(2024, 3, 3, 0, 0, 0));
    ASSERT_NEXT("0 0 * * 5-7", utc(2024, 2, 27, 0, 0, 0), utc(2024, 3, 1, 0, 0, 0));
    /* Weekdays only: Friday evening goes to Monday. 2024-03-01 is a Friday. */
    ASSERT_NEXT("30 8 * * mon-fri", utc(2024, 3, 1, 9, 0, 0), utc(2024, 3, 4, 8, 30, 0));
    ASSERT_NEXT("@weekly", utc(2024, 2, 27, 0, 0, 0), utc(2024, 3, 3, 0, 0, 0));
}

/* Vixie: both restricted means either; one `*` means both. */
static void test_dom_dow_rule(void **state)
{
    (void)state;
    /* 2024-01-05 is a Friday, 2024-01-13 a Saturday. */
    int64_t t = utc(2024, 1, 1, 0, 0, 0);
    int64_t want[] = {utc(2024, 1, 5, 0, 0, 0), utc(2024, 1, 12, 0, 0, 0),
                      utc(2024, 1, 13, 0, 0, 0), utc(2024, 1, 19, 0, 0, 0)};
    for (size_t i = 0; i < 4; i++) {
        t = next_of("0 0 13 * fri", t);
        assert_true(t == want[i]);
    }
    /* day-of-month `*`: only Fridays. */
    ASSERT_NEXT("0 0 * * fri", utc(2024, 1, 6, 0, 0, 0), utc(2024, 1, 12, 0, 0, 0));
    /* `*` with a step still counts as `*` (Vixie): odd days that are Mondays.
     * 2024-01-01 is a Monday (odd); the next odd Monday is 2024-01-15. */
    ASSERT_NEXT("0 0 */2 * mon", utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 15, 0, 0, 0));
    /* day-of-week `*`: only the 13th. */
    ASSERT_NEXT("0 0 13 * *", utc(2024, 1, 14, 0, 0, 0), utc(2024, 2, 13, 0, 0, 0));
}

static void expect_error(const char *expr, const char *needle)
{
    struct cron c;
    char err[200];
    memset(err, 'x', sizeof err);
    int rc = cron_parse(&c, expr, err, sizeof err);
    if (rc != TL_ESYNTAX)
        fail_msg("\"%s\" parsed but should not", expr);
    if (!strstr(err, needle))
        fail_msg("\"%s\": error '%s' lacks '%s'", expr, err, needle);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("* * * *", "expected 5 fields");
    expect_error("", "expected 5 fields");
    expect_error("0 * * * * *", "seconds field is not supported");
    expect_error("60 * * * *", "minute: 60 is out of range 0-59");
    expect_error("* 24 * * *", "hour: 24 is out of range 0-23");
    expect_error("* * 0 * *", "day-of-month: 0 is out of range 1-31");
    expect_error("* * * 13 *", "month: 13 is out of range 1-12");
    expect_error("* * * * 8", "day-of-week: 8 is out of range 0-7");
    expect_error("*/0 * * * *", "minute: step 0 is out of range 1-60");
    expect_error("*/ * * * *", "a step needs a number");
    expect_error("5-3 * * * *", "runs backwards");
    expect_error("* * * foo *", "month: unknown name 'foo' (expected 1-12 or jan..dec)");
    expect_error("* * * * funday", "day-of-week: unknown name");
    expect_error("a * * * *", "minute: 'a' is not a number");
    expect_error("1,,2 * * * *", "minute: empty list item");
    expect_error("1, * * * *", "minute: empty list item");
    expect_error("1-2x * * * *", "minute: unexpected 'x'");
    expect_error("1- * * * *", "minute: a value is missing");
    expect_error("99999999999999999999 * * * *", "out of range");
    expect_error("0 0 30 2 *", "never fires: day-of-month 30 never occurs in month 2");
    expect_error("0 0 31 apr,jun *",
                 "never fires: day-of-month 31 never occurs in month apr,jun");
    expect_error("0 0 31 4,6,9,11 *",
                 "never fires: day-of-month 31 never occurs in month 4,6,9,11");
    expect_error("0 0 30-31 feb *", "never fires");
    expect_error("0 0 * * thr", "day-of-week: unknown name 'thr' (expected 0-7 or sun..sat)");
    expect_error("@reboot", "unknown macro");
    expect_error("@daily 5", "unexpected text after @daily");
    struct cron c;
    assert_int_equal(cron_parse(&c, NULL, NULL, 0), TL_ESYNTAX);
    /* The 31st with a restricted day-of-week is fine: the weekday fires. */
    char err[100];
    assert_int_equal(cron_parse(&c, "0 0 31 2 mon", err, sizeof err), 0);
    assert_int_equal(cron_parse(&c, "0 0 31 jan-feb *", err, sizeof err), 0);
}

/* Whatever the bytes, the parser answers 0 or TL_ESYNTAX with a message and
 * never reads past the expression (run under ASan). */
static void test_hostile(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "0 0 * * th",     "0 0 * * thursday", "0 0 * * t",      "0 0 * * THR",
        "0 0 * * 8",      "0 0 * * sun-",    "0 0 * * -mon",   "0 0 * jan- *",
        "* * * * * * *",  "@",               "@ midnight",     "@midnightx",
        "@Midnight",      "*/61 * * * *",    "*/-1 * * * *",   "*/1/2 * * * *",
        "1-2-3 * * * *",  "*-5 * * * *",     "5/ * * * *",     ",",
        "0 0 * * \xff",   "\x01 * * * *",     "0\n0 * * *",      "0 0 * * 0x1",
        "   ",            "*,*,*,*,,* * * * *",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cron c;
        char err[64];
        assert_int_equal(cron_parse(&c, bad[i], err, sizeof err), TL_ESYNTAX);
        assert_true(err[0] != '\0');
        assert_false(cron_valid(&c));
        /* A short or absent buffer truncates, never overflows. */
        assert_int_equal(cron_parse(&c, bad[i], err, 1), TL_ESYNTAX);
        assert_int_equal(cron_parse(&c, bad[i], NULL, 0), TL_ESYNTAX);
    }
    /* Every macro is accepted and equals its expansion. */
    static const char *const macros[][2] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", " 0 0 * * * "},
        {"@hourly", "0 * * * *"},
    };
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        struct cron a, b;
        assert_int_equal(cron_parse(&a, macros[i][0], NULL, 0), 0);
        assert_int_equal(cron_parse(&b, macros[i][1], NULL, 0), 0);
        assert_true(cron_valid(&a) && cron_equal(&a, &b));
    }
    /* Rare but real dates are not "never": Feb 29 fires in leap years. */
    struct cron c;
    assert_int_equal(cron_parse(&c, "0 0 29 2 *", NULL, 0), 0);
    assert_true(cron_next(&c, utc(2025, 1, 1, 0, 0, 0)) == utc(2028, 2, 29, 0, 0, 0));
    /* A long expression is cut in the message, not overflowed. */
    char big[4096];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char err[200];
    assert_int_equal(cron_parse(&c, big, err, sizeof err), TL_ESYNTAX);
    assert_true(strlen(err) < sizeof err);
}

static void test_limits(void **state)
{
    (void)state;
    struct cron c;
    assert_int_equal(cron_parse(&c, "0 0 1 1 *", NULL, 0), 0);
    assert_true(cron_next(&c, utc(9999, 6, 1, 0, 0, 0)) == -1);
    assert_true(cron_next(&c, INT64_MAX) == -1);
    /* Before the epoch works too. */
    assert_true(cron_next(&c, utc(1969, 6, 1, 0, 0, 0)) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_and_strictly_after),
        cmocka_unit_test(test_month_ends_and_leap_years),
        cmocka_unit_test(test_days_of_week),
        cmocka_unit_test(test_dom_dow_rule),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
