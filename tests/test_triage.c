/* Triage: one test per row of the bucket table, the precedence between the
 * rows, and the reasons that end up in event codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include <errno.h>
#include <string.h>

#include "probes/probe.h"
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
    assert_int_equal(unexpected(201, NULL), BUCKET_CONTRACT); /* README: no boundary failed */
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
    assert_string_equal(transport(CURLE_FAILED_INIT), "transport");
    /* No response at all wins over everything else the input says. */
    struct triage_input in = { .status = 0, .curl_code = CURLE_WRITE_ERROR, .body_too_big = true,
                               .checks_failed = true };
    assert_int_equal(triage_classify(&in), BUCKET_UPSTREAM);
    assert_string_equal(triage_reason(&in), "body_too_big");
}

/* Every reason has its own name: a missing or repeated entry would merge
 * two causes in events and metrics. */
static void test_reason_table(void **state)
{
    (void)state;
    for (int i = 0; i < REASON_COUNT; i++) {
        const char *a = reason_str((enum reason)i);
        assert_non_null(a);
        assert_string_not_equal(a, "unknown");
        assert_true(a[0] != '\0');
        for (int k = 0; k < i; k++)
            assert_string_not_equal(a, reason_str((enum reason)k));
    }
    assert_string_equal(reason_str(REASON_COUNT), "unknown");
    assert_string_equal(reason_str(REASON_PROBE_CONFIG), "probe_config");
    assert_string_equal(reason_str(REASON_JOURNEY_BUDGET), "journey_budget");
    assert_string_equal(reason_str(REASON_DEADLINE), "deadline");
    /* The budget reasons are the phase names. */
    assert_string_equal(reason_str(REASON_DNS), phase_str(PHASE_DNS));
    assert_string_equal(reason_str(REASON_CONNECT), phase_str(PHASE_CONNECT));
    assert_string_equal(reason_str(REASON_TLS), phase_str(PHASE_TLS));
    assert_string_equal(reason_str(REASON_TTFB), phase_str(PHASE_TTFB));
    assert_string_equal(reason_str(REASON_TOTAL), phase_str(PHASE_TOTAL));
}

static void test_phase_table(void **state)
{
    (void)state;
    static const char *const names[] = { "dns", "connect", "tls", "ttfb", "total" };
    assert_int_equal(PHASE_COUNT, 5);
    for (int i = 0; i < PHASE_COUNT; i++) {
        assert_string_equal(phase_str((enum phase)i), names[i]);
        assert_int_equal(phase_parse(names[i]), i);
    }
    assert_int_equal(phase_parse("budget"), -1);
    assert_int_equal(phase_parse(NULL), -1);
    assert_string_equal(phase_str(PHASE_COUNT), "unknown");
}

static void test_verdict_text(void **state)
{
    (void)state;
    struct verdict v = { BUCKET_UPSTREAM, REASON_STATUS, 503 };
    assert_string_equal(verdict_reason(&v), "status_503");
    v.status = 99;
    assert_string_equal(verdict_reason(&v), "status_other");
    v.status = 600;
    assert_string_equal(verdict_reason(&v), "status_other");
    v = (struct verdict){ BUCKET_CONTRACT, REASON_SCHEMA, 400 };
    assert_string_equal(verdict_reason(&v), "schema");
}

/* Failures before a request: the config error is the agent's, the
 * deadline the network's; both win over anything else in the input. */
static void test_early_step_failures(void **state)
{
    (void)state;
    struct triage_input in = { .config_error = true, .status = 200, .status_expected = true };
    struct verdict v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_AGENT);
    assert_string_equal(bucket_str(v.bucket), "agent");
    assert_true(bucket_is_agent(v.bucket));
    assert_int_equal(v.reason, REASON_PROBE_CONFIG);
    in = (struct triage_input){ .agent_fault = REASON_MISSING_SECRET, .config_error = true };
    v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_AGENT);
    assert_string_equal(verdict_reason(&v), "missing_secret");
    in = (struct triage_input){ .deadline_passed = true };
    v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(verdict_reason(&v), "timeout");
}

/* A transfer broken after the status line has no usable status; one cut
 * only by the body cap keeps its status. */
static void test_transport_failed_after_status(void **state)
{
    (void)state;
    struct triage_input in = { .status = 200, .status_expected = true, .transport_failed = true,
                               .curl_code = CURLE_RECV_ERROR };
    struct verdict v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(verdict_reason(&v), "reset");
    in.body_too_big = true;
    v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_CONTRACT);
    assert_string_equal(verdict_reason(&v), "body_too_big");
    /* aborted by the agent for its framing (curl says only "write error") */
    in = (struct triage_input){ .status = 200, .status_expected = true, .transport_failed = true,
                                .curl_code = CURLE_WRITE_ERROR, .broken_framing = true };
    v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(verdict_reason(&v), "broken_response");
}

static void test_run_verdict(void **state)
{
    (void)state;
    struct run_facts f = { 0 };
    struct verdict v = triage_run(&f);
    assert_int_equal(v.bucket, BUCKET_NONE);
    assert_int_equal(v.reason, REASON_OK);
    struct verdict step = { BUCKET_AUTH, REASON_STATUS, 401 };
    f = (struct run_facts){ .first_failure = &step, .journey_failures = true, .budget_breached = true };
    v = triage_run(&f);
    assert_int_equal(v.bucket, BUCKET_AUTH);
    assert_string_equal(verdict_reason(&v), "status_401");
    f = (struct run_facts){ .journey_failures = true, .budget_breached = true };
    v = triage_run(&f);
    assert_int_equal(v.bucket, BUCKET_BUDGET);
    assert_string_equal(verdict_reason(&v), "journey_budget");
    f = (struct run_facts){ .journey_failures = true };
    v = triage_run(&f);
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(verdict_reason(&v), "deadline");
    f = (struct run_facts){ .config_error = true, .journey_failures = true };
    v = triage_run(&f);
    assert_int_equal(v.bucket, BUCKET_AGENT);
    assert_string_equal(verdict_reason(&v), "probe_config");
    f.agent_fault = REASON_MISSING_SECRET;
    v = triage_run(&f);
    assert_int_equal(v.bucket, BUCKET_AGENT);
    assert_string_equal(verdict_reason(&v), "missing_secret");
}

/* Transfers that failed on the agent's side never blame the API; every
 * API bucket is not an agent bucket. */
static void test_agent_faults(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *reason;
    } own[] = {
        { CURLE_SSL_CACERT_BADFILE, "ca_file" },
        { CURLE_UNSUPPORTED_PROTOCOL, "bad_var" },
        { CURLE_URL_MALFORMAT, "bad_var" },
        { CURLE_OUT_OF_MEMORY, "out_of_memory" },
    };
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        struct triage_input in = { .curl_code = own[i].code, .transport_failed = true };
        struct verdict v = triage_step(&in);
        assert_int_equal(v.bucket, BUCKET_AGENT);
        assert_string_equal(verdict_reason(&v), own[i].reason);
        /* the same codes after the target sent bytes (HTTP/0.9, status -200,
         * a 300 KB status line) are its broken reply */
        in.answered = true;
        v = triage_step(&in);
        if (own[i].code == CURLE_UNSUPPORTED_PROTOCOL || own[i].code == CURLE_OUT_OF_MEMORY) {
            assert_int_equal(v.bucket, BUCKET_UPSTREAM);
            assert_string_equal(verdict_reason(&v), "broken_response");
        }
    }
    static const char *const names[] = { "missing_secret", "ca_file", "bad_var", "overloaded",
                                         "fd_limit", "out_of_memory", "clock" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_string_equal(reason_str((enum reason)(REASON_MISSING_SECRET + (int)i)), names[i]);
    for (enum bucket b = BUCKET_NONE; b < BUCKET_AGENT; b++)
        assert_false(bucket_is_agent(b));
}

/* curl's "couldn't connect" is the target's (refused, unreachable) unless
 * the errno says this host had no local port, descriptor or buffer left. */
static void test_connect_errno(void **state)
{
    (void)state;
    static const struct { int os_errno; enum bucket bucket; const char *reason; } cases[] = {
        { 0, BUCKET_UPSTREAM, "connect" },
        { ECONNREFUSED, BUCKET_UPSTREAM, "connect" },
        { EHOSTUNREACH, BUCKET_UPSTREAM, "connect" },
        { EADDRNOTAVAIL, BUCKET_AGENT, "local_ports" },
        { EMFILE, BUCKET_AGENT, "fd_limit" },
        { ENFILE, BUCKET_AGENT, "fd_limit" },
        { ENOBUFS, BUCKET_AGENT, "out_of_memory" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct triage_input in = { .curl_code = CURLE_COULDNT_CONNECT, .os_errno = cases[i].os_errno,
                                   .transport_failed = true };
        struct verdict v = triage_step(&in);
        assert_int_equal(v.bucket, cases[i].bucket);
        assert_string_equal(verdict_reason(&v), cases[i].reason);
    }
    /* the errno of another failure changes nothing: a reset stays a reset */
    struct triage_input reset = { .curl_code = CURLE_RECV_ERROR, .os_errno = EMFILE, .transport_failed = true };
    struct verdict v = triage_step(&reset);
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(verdict_reason(&v), "reset");
}

/* A timeout while the agent's loop stalled is the agent's (overloaded);
 * the same stall leaves an answer from the API as it was. */
static void test_overloaded(void **state)
{
    (void)state;
    struct triage_input to = {.curl_code = CURLE_OPERATION_TIMEDOUT, .transport_failed = true, .loop_stalled = true};
    struct verdict v = triage_step(&to);
    assert_int_equal(v.bucket, BUCKET_AGENT);
    assert_string_equal(verdict_reason(&v), "overloaded");
    to.loop_stalled = false;
    assert_int_equal(triage_step(&to).bucket, BUCKET_UPSTREAM);
    struct triage_input dl = {.deadline_passed = true, .loop_stalled = true};
    assert_int_equal(triage_step(&dl).reason, REASON_OVERLOADED);
    struct triage_input s503 = {.status = 503, .loop_stalled = true};
    assert_int_equal(triage_step(&s503).bucket, BUCKET_UPSTREAM);
    struct run_facts f = {.journey_failures = true, .loop_stalled = true};
    assert_int_equal(triage_run(&f).reason, REASON_OVERLOADED);
    /* a budget breached while the loop stalled counted the agent's delay */
    struct triage_input slow = {.status = 200, .status_expected = true, .budget_breached = true,
                                .budget_phase = "total", .loop_stalled = true};
    assert_int_equal(triage_step(&slow).reason, REASON_OVERLOADED);
    slow.loop_stalled = false;
    assert_int_equal(triage_step(&slow).bucket, BUCKET_BUDGET);
    struct triage_input slow503 = {.status = 503, .budget_breached = true, .loop_stalled = true};
    assert_int_equal(triage_step(&slow503).bucket, BUCKET_UPSTREAM);
    struct run_facts jb = {.journey_failures = true, .budget_breached = true, .loop_stalled = true};
    assert_int_equal(triage_run(&jb).reason, REASON_OVERLOADED);
    jb.loop_stalled = false;
    assert_int_equal(triage_run(&jb).reason, REASON_JOURNEY_BUDGET);
}

/* Steps of other kinds: no status line; the exchange's reason, the kind's
 * own verdict, then checks and budgets. */
static void test_kind_steps(void **state)
{
    (void)state;
    struct triage_input in = { .kind_step = true, .transport_failed = true, .kind_reason = REASON_CONNECT };
    struct verdict v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(verdict_reason(&v), "connect");
    /* the agent's own resources are never the target's fault */
    in.kind_reason = REASON_FD_LIMIT;
    assert_int_equal(triage_step(&in).bucket, BUCKET_AGENT);
    in.kind_reason = REASON_OK; /* no reason given: still upstream, "transport" */
    v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(verdict_reason(&v), "transport");
    /* a timeout while the loop stalled measured the agent */
    in.kind_reason = REASON_TIMEOUT;
    in.loop_stalled = true;
    assert_int_equal(triage_step(&in).bucket, BUCKET_AGENT);

    struct triage_input ok = { .kind_step = true };
    assert_int_equal(triage_step(&ok).bucket, BUCKET_NONE);
    ok.budget_breached = true;
    ok.budget_phase = "total";
    v = triage_step(&ok);
    assert_int_equal(v.bucket, BUCKET_BUDGET);
    assert_string_equal(verdict_reason(&v), "total");
    ok.checks_failed = true; /* a failed check beats the budget */
    v = triage_step(&ok);
    assert_int_equal(v.bucket, BUCKET_CONTRACT);
    assert_string_equal(verdict_reason(&v), "check");
    /* the kind's verdict on the answer beats generic checks */
    ok.kind_answer = (struct verdict){ BUCKET_UPSTREAM, REASON_DNS, 0 };
    assert_int_equal(triage_step(&ok).bucket, BUCKET_UPSTREAM);
    /* more bytes than the cap from a peer that answered */
    struct triage_input big = { .kind_step = true, .transport_failed = true, .body_too_big = true };
    v = triage_step(&big);
    assert_int_equal(v.bucket, BUCKET_CONTRACT);
    assert_string_equal(verdict_reason(&v), "body_too_big");
    /* the journey deadline passed before the exchange */
    struct triage_input late = { .kind_step = true, .deadline_passed = true };
    assert_int_equal(triage_step(&late).bucket, BUCKET_UPSTREAM);
}

/* The journey deadline passed before a step: the API's (upstream, timeout)
 * only when an earlier step of the run sent a request and took the time.
 * Before the first request the time went to the agent itself (a deadline
 * shorter than its own preparation, a slow secret file): agent. */
static void test_deadline_before_any_request(void **state)
{
    (void)state;
    struct triage_input in = {.deadline_passed = true, .nothing_sent = true};
    struct verdict v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_AGENT);
    assert_string_equal(verdict_reason(&v), "overloaded");
    in.kind_step = true;
    assert_int_equal(triage_step(&in).bucket, BUCKET_AGENT);
    in.nothing_sent = false;
    assert_int_equal(triage_step(&in).bucket, BUCKET_UPSTREAM);
    in.kind_step = false;
    v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(verdict_reason(&v), "timeout");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_errno),
        cmocka_unit_test(test_overloaded),
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
        cmocka_unit_test(test_reason_table),
        cmocka_unit_test(test_phase_table),
        cmocka_unit_test(test_verdict_text),
        cmocka_unit_test(test_early_step_failures),
        cmocka_unit_test(test_transport_failed_after_status),
        cmocka_unit_test(test_run_verdict),
        cmocka_unit_test(test_agent_faults),
        cmocka_unit_test(test_kind_steps),
        cmocka_unit_test(test_deadline_before_any_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
