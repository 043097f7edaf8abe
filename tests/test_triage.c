/* Triage: one test per row of the bucket table, the precedence between the
 * rows, and the reasons that end up in event codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "probes/triage/triage.h"

/* An unexpected status with an optional issue class. */
static enum bucket unexpected(long status, const char *cls)
{
    struct triage_input in = { .status = status, .issue_class = cls };
    return triage_classify(&in);
}

static const char *reason_unexpected(long status)
{
    struct triage_input in = { .status = status };
    return triage_reason(&in);
}

static void test_bucket_names(void **state)
{
    assert_string_equal(bucket_str(BUCKET_NONE), "none");
    assert_string_equal(bucket_str(BUCKET_CLIENT), "client");
    assert_string_equal(bucket_str(BUCKET_AUTH), "auth");
    assert_string_equal(bucket_str(BUCKET_RATE_LIMIT), "rate_limit");
    assert_string_equal(bucket_str(BUCKET_UPSTREAM), "upstream");
    assert_string_equal(bucket_str(BUCKET_SERVER), "server");
    assert_string_equal(bucket_str(BUCKET_CONTRACT), "contract");
    assert_string_equal(bucket_str(BUCKET_BUDGET), "budget");
}

static void test_ok(void **state)
{
    struct triage_input in = { .status = 200, .status_expected = true };
    assert_int_equal(triage_classify(&in), BUCKET_NONE);
    assert_string_equal(triage_reason(&in), "ok");
}

static void test_client_row(void **state)
{
    const long codes[] = { 400, 404, 405, 415, 422 };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        assert_int_equal(unexpected(codes[i], NULL), BUCKET_CLIENT);
    /* Other 4xx default to client; an issue class refines them. */
    assert_int_equal(unexpected(409, NULL), BUCKET_CLIENT);
    assert_int_equal(unexpected(409, "validation"), BUCKET_CLIENT);
    assert_int_equal(unexpected(410, "unauthorized"), BUCKET_AUTH);
    assert_int_equal(unexpected(418, "rate_limit"), BUCKET_RATE_LIMIT);
    assert_string_equal(reason_unexpected(422), "status_422");
}

static void test_auth_row(void **state)
{
    assert_int_equal(unexpected(401, NULL), BUCKET_AUTH);
    assert_int_equal(unexpected(403, NULL), BUCKET_AUTH);
    /* A listed status decides on its own: the class does not override it. */
    assert_int_equal(unexpected(401, "validation"), BUCKET_AUTH);
    assert_string_equal(reason_unexpected(403), "status_403");
}

static void test_rate_limit_row(void **state)
{
    assert_int_equal(unexpected(429, NULL), BUCKET_RATE_LIMIT);
    assert_int_equal(unexpected(429, "internal"), BUCKET_RATE_LIMIT);
    assert_string_equal(reason_unexpected(429), "status_429");
}

static void test_upstream_row(void **state)
{
    assert_int_equal(unexpected(502, NULL), BUCKET_UPSTREAM);
    assert_int_equal(unexpected(503, NULL), BUCKET_UPSTREAM);
    assert_int_equal(unexpected(504, NULL), BUCKET_UPSTREAM);
    assert_int_equal(unexpected(504, "timeout"), BUCKET_UPSTREAM); /* unknown class */
    assert_string_equal(reason_unexpected(503), "status_503");
}

static void test_server_row(void **state)
{
    assert_int_equal(unexpected(500, NULL), BUCKET_SERVER);
    assert_int_equal(unexpected(501, NULL), BUCKET_SERVER);
    assert_int_equal(unexpected(599, NULL), BUCKET_SERVER);
    /* A 503 whose body says internal came from the service, not a gateway. */
    assert_int_equal(unexpected(503, "internal"), BUCKET_SERVER);
    assert_string_equal(reason_unexpected(500), "status_500");
    assert_string_equal(reason_unexpected(599), "status_599");
}

static void test_class_refines_5xx(void **state)
{
    assert_int_equal(unexpected(500, "validation"), BUCKET_CLIENT);
    assert_int_equal(unexpected(500, "unauthorized"), BUCKET_AUTH);
    assert_int_equal(unexpected(500, "rate_limit"), BUCKET_RATE_LIMIT);
    assert_int_equal(unexpected(502, "validation"), BUCKET_CLIENT);
    assert_int_equal(unexpected(500, "conflict"), BUCKET_SERVER);
}

static void test_unexpected_success_is_contract(void **state)
{
    assert_int_equal(unexpected(200, NULL), BUCKET_CONTRACT);
    assert_int_equal(unexpected(204, "validation"), BUCKET_CONTRACT);
    assert_int_equal(unexpected(302, NULL), BUCKET_CONTRACT);
    assert_int_equal(unexpected(101, NULL), BUCKET_CONTRACT);
    assert_string_equal(reason_unexpected(200), "status_200");
    assert_string_equal(reason_unexpected(100), "status_100");
    assert_string_equal(reason_unexpected(999), "status_other");
}

static void test_status_beats_schema_and_budget(void **state)
{
    /* The schema violation is a second finding, not the bucket. */
    struct triage_input in = { .status = 500, .checks_failed = true, .schema_violated = true,
                               .budget_breached = true, .budget_phase = "ttfb" };
    assert_int_equal(triage_classify(&in), BUCKET_SERVER);
    assert_string_equal(triage_reason(&in), "status_500");
}

static void test_contract_row(void **state)
{
    struct triage_input in = { .status = 400, .status_expected = true, .checks_failed = true,
                               .schema_violated = true };
    assert_int_equal(triage_classify(&in), BUCKET_CONTRACT);
    assert_string_equal(triage_reason(&in), "schema");
    in.schema_violated = false;
    assert_string_equal(triage_reason(&in), "check");
    /* A failed check wins over a breached budget. */
    in.budget_breached = true;
    assert_int_equal(triage_classify(&in), BUCKET_CONTRACT);
    struct triage_input big = { .status = 200, .status_expected = true, .body_too_big = true,
                                .checks_failed = true };
    assert_int_equal(triage_classify(&big), BUCKET_CONTRACT);
    assert_string_equal(triage_reason(&big), "body_too_big");
}

static void test_budget_row(void **state)
{
    struct triage_input in = { .status = 200, .status_expected = true, .budget_breached = true,
                               .budget_phase = "ttfb" };
    assert_int_equal(triage_classify(&in), BUCKET_BUDGET);
    assert_string_equal(triage_reason(&in), "ttfb");
    in.budget_phase = "total";
    assert_string_equal(triage_reason(&in), "total");
    in.budget_phase = NULL;
    assert_string_equal(triage_reason(&in), "budget");
    in.budget_phase = "bogus";
    assert_string_equal(triage_reason(&in), "budget");
}

static const char *transport(int code)
{
    struct triage_input in = { .status = 0, .curl_code = code, .status_expected = false };
    assert_int_equal(triage_classify(&in), BUCKET_UPSTREAM);
    return triage_reason(&in);
}

static void test_transport_failures(void **state)
{
    assert_string_equal(transport(CURLE_COULDNT_RESOLVE_HOST), "dns");
    assert_string_equal(transport(CURLE_COULDNT_RESOLVE_PROXY), "dns");
    assert_string_equal(transport(CURLE_COULDNT_CONNECT), "connect");
    assert_string_equal(transport(CURLE_OPERATION_TIMEDOUT), "timeout");
    assert_string_equal(transport(CURLE_PEER_FAILED_VERIFICATION), "tls");
    assert_string_equal(transport(CURLE_SSL_CONNECT_ERROR), "tls");
    assert_string_equal(transport(CURLE_SSL_PINNEDPUBKEYNOTMATCH), "tls");
    assert_string_equal(transport(CURLE_RECV_ERROR), "reset");
    assert_string_equal(transport(CURLE_SEND_ERROR), "reset");
    assert_string_equal(transport(CURLE_GOT_NOTHING), "reset");
    assert_string_equal(transport(CURLE_PARTIAL_FILE), "broken_response");
    assert_string_equal(transport(CURLE_WEIRD_SERVER_REPLY), "broken_response");
    assert_string_equal(transport(CURLE_BAD_CONTENT_ENCODING), "broken_response");
    assert_string_equal(transport(CURLE_HTTP2_STREAM), "broken_response");
    assert_string_equal(transport(CURLE_TOO_MANY_REDIRECTS), "redirects");
    assert_string_equal(transport(CURLE_OUT_OF_MEMORY), "transport");
    /* No response at all wins over everything else the input says. */
    struct triage_input in = { .status = 0, .curl_code = CURLE_WRITE_ERROR, .body_too_big = true,
                               .checks_failed = true };
    assert_int_equal(triage_classify(&in), BUCKET_UPSTREAM);
    assert_string_equal(triage_reason(&in), "body_too_big");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_names),
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_client_row),
        cmocka_unit_test(test_auth_row),
        cmocka_unit_test(test_rate_limit_row),
        cmocka_unit_test(test_upstream_row),
        cmocka_unit_test(test_server_row),
        cmocka_unit_test(test_class_refines_5xx),
        cmocka_unit_test(test_unexpected_success_is_contract),
        cmocka_unit_test(test_status_beats_schema_and_budget),
        cmocka_unit_test(test_contract_row),
        cmocka_unit_test(test_budget_row),
        cmocka_unit_test(test_transport_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
