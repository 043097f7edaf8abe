/* What the sink interface and the HTTP sinks share: outcome names, the
 * meaning of an HTTP status, Retry-After and the body signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/sinks/sink.h"

#define SEC ((tl_usec)1000000)

static void test_outcome_names(void **state)
{
    (void)state;
    assert_string_equal(sink_outcome_str(SINK_DELIVERED), "delivered");
    assert_string_equal(sink_outcome_str(SINK_RETRY), "retry");
    assert_string_equal(sink_outcome_str(SINK_REJECTED), "rejected");
}

static void test_http_status_outcomes(void **state)
{
    (void)state;
    assert_int_equal(sink_http_outcome(200), SINK_DELIVERED);
    assert_int_equal(sink_http_outcome(204), SINK_DELIVERED);
    assert_int_equal(sink_http_outcome(0), SINK_RETRY);
    assert_int_equal(sink_http_outcome(408), SINK_RETRY);
    assert_int_equal(sink_http_outcome(429), SINK_RETRY);
    assert_int_equal(sink_http_outcome(500), SINK_RETRY);
    assert_int_equal(sink_http_outcome(503), SINK_RETRY);
    /* a redirect or no such path: the URL is wrong, the events are not */
    assert_int_equal(sink_http_outcome(301), SINK_RETRY);
    assert_int_equal(sink_http_outcome(302), SINK_RETRY);
    assert_int_equal(sink_http_outcome(307), SINK_RETRY);
    assert_int_equal(sink_http_outcome(308), SINK_RETRY);
    assert_int_equal(sink_http_outcome(404), SINK_RETRY);
    assert_int_equal(sink_http_outcome(405), SINK_RETRY);
    assert_true(sink_http_misdirected(302));
    assert_false(sink_http_misdirected(400));
    assert_false(sink_http_misdirected(503));
    assert_int_equal(sink_http_outcome(100), SINK_REJECTED);
    assert_int_equal(sink_http_outcome(400), SINK_REJECTED);
    assert_int_equal(sink_http_outcome(401), SINK_REJECTED);
    assert_int_equal(sink_http_outcome(422), SINK_REJECTED);
}

static void test_null_sink_is_refused(void **state)
{
    (void)state;
    assert_int_equal(sink_send(NULL, NULL, NULL, 0, NULL, NULL), TL_EINVAL);
    assert_int_equal(sink_reload(NULL), TL_EINVAL);
    sink_free(NULL);
}

static void test_retry_after_parsing(void **state)
{
    /* 2026-11-22T00:31:56Z */
    long long now = 1795307516LL;

    assert_int_equal(sink_parse_retry_after("2", now), 2 * SEC);
    assert_int_equal(sink_parse_retry_after(" 120 ", now), 120 * SEC);
    assert_int_equal(sink_parse_retry_after("Sun, 22 Nov 2026 00:32:06 GMT", now), 10 * SEC);
    assert_int_equal(sink_parse_retry_after("Sunday, 22-Nov-26 00:32:06 GMT", now), 10 * SEC);
    /* A date in the past means "now". */
    assert_int_equal(sink_parse_retry_after("Sat, 21 Nov 2026 00:00:00 GMT", now), 0);
    assert_int_equal(sink_parse_retry_after(NULL, now), -1);
    assert_int_equal(sink_parse_retry_after("2x", now), -1);
    assert_int_equal(sink_parse_retry_after("soon", now), -1);
    assert_int_equal(sink_parse_retry_after("", now), -1);
    /* A date far in the future is capped like a huge delay, never overflows. */
    assert_int_equal(sink_parse_retry_after("Fri, 31 Dec 999999 23:59:59 GMT", now),
                     sink_parse_retry_after("99999999999999", now));
    assert_true(sink_parse_retry_after("Fri, 31 Dec 999999 23:59:59 GMT", now) > 0);
}

static void test_signature_matches_openssl(void **state)
{
    char sig[72];

    /* RFC 4231 test case 2. */
    assert_int_equal(sink_signature("Jefe", 4, "what do ya want for nothing?", 28, sig), 0);
    assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcome_names),
        cmocka_unit_test(test_http_status_outcomes),
        cmocka_unit_test(test_null_sink_is_refused),
        cmocka_unit_test(test_retry_after_parsing),
        cmocka_unit_test(test_signature_matches_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
