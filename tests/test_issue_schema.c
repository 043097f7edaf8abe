/* The issues schema: each rule valid and invalid, with the exact messages a
 * user reads. JSON is written with ' for " to keep the cases readable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/check/issue_schema.h"

#define CID "4b3a2c1d-0000-4000-8000-abcdef123456"
#define GOOD_ISSUE                                                                           \
    "'issue':'payment.unauthorized.token_expired','severity':'error','correlationId':'" CID \
    "','dateTime':'2024-11-01T12:34:56Z'"

struct run {
    struct strv msgs;
    int n;
};

static cJSON *parse_quoted(const char *text)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    cJSON *j = cJSON_Parse(s);
    free(s);
    return j;
}

/* Checks `text` (' for ") with the given options; the caller frees msgs. */
static struct run check_ex(const char *text, const char *sent, bool echo, bool nonempty)
{
    struct run r;
    strv_init(&r.msgs);
    cJSON *j = text ? parse_quoted(text) : NULL;
    if (text)
        assert_non_null(j);
    r.n = issue_schema_check(j, sent, echo, nonempty, &r.msgs);
    assert_int_equal((size_t)r.n, r.msgs.n);
    cJSON_Delete(j);
    return r;
}

static struct run check(const char *text)
{
    return check_ex(text, NULL, false, true);
}

/* Asserts exactly one violation with this message. */
static void expect_one(const char *text, const char *msg)
{
    struct run r = check(text);
    if (r.n != 1)
        for (size_t i = 0; i < r.msgs.n; i++)
            print_error("got: %s\n", r.msgs.v[i]);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msgs.v[0], msg);
    strv_free(&r.msgs);
}

static void expect_valid(const char *text)
{
    struct run r = check(text);
    for (size_t i = 0; i < r.msgs.n; i++)
        print_error("unexpected: %s\n", r.msgs.v[i]);
    assert_int_equal(r.n, 0);
    strv_free(&r.msgs);
}

/* A hostile body of 300,000 empty issues (700 KB) gave 1.2 million
 * messages, 160 MB of `once --json` and 22 s of the loop: the messages stop
 * at ISSUE_SCHEMA_MESSAGES_MAX and one more says how many were left out;
 * the count stays whole. */
static void test_many_violations(void **state)
{
    (void)state;
    size_t n = 300000;
    char *text = malloc(3 * n + 16);
    assert_non_null(text);
    size_t o = (size_t)sprintf(text, "{\"issues\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(text + o, i ? ",{}" : "{}");
    strcpy(text + o, "]}");
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    struct strv msgs;
    strv_init(&msgs);
    int count = issue_schema_check(j, NULL, false, true, &msgs);
    assert_int_equal(count, 4 * 300000);
    assert_int_equal(msgs.n, ISSUE_SCHEMA_MESSAGES_MAX + 1);
    assert_string_equal(msgs.v[0], "issues[0].issue: missing (required string)");
    char more[96];
    snprintf(more, sizeof(more), "and %d more issue schema violations", count - ISSUE_SCHEMA_MESSAGES_MAX);
    assert_string_equal(msgs.v[ISSUE_SCHEMA_MESSAGES_MAX], more);
    strv_free(&msgs);
    cJSON_Delete(j);
}

static void test_valid_example(void **state)
{
    /* The example response of the pattern itself, with an unknown field. */
    expect_valid("{'issues':[{" GOOD_ISSUE ",'active':false,"
                 "'message':{'title':'Payment not authorised','detail':'No.'},"
                 "'links':{'documentation':'https://docs.example.com/errors/unauthorized',"
                 "'portal':'http://support.example.com'},"
                 "'thirdParty':{'provider':'acme_verify','code':'X'},'extra':{'future':1}}]}");
}

static void test_body_shape(void **state)
{
    struct run r = check(NULL);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msgs.v[0], "body: not JSON (expected an object with an issues array)");
    strv_free(&r.msgs);
    expect_one("[]", "body: expected an object with an issues array, got array");
    expect_one("'oops'", "body: expected an object with an issues array, got string");
}

static void test_issues_array(void **state)
{
    expect_one("{}", "issues: missing (required array of issue objects)");
    expect_one("{'issues':{}}", "issues: expected an array, got object");
    expect_one("{'issues':[]}", "issues: empty (an error response must carry at least one issue)");
    struct run r = check_ex("{'issues':[]}", NULL, false, false);
    assert_int_equal(r.n, 0);
    strv_free(&r.msgs);
    expect_one("{'issues':[{" GOOD_ISSUE "}, 3]}", "issues[1]: expected an object, got number");
}

static void test_issue_code(void **state)
{
    const char *rest = "','severity':'error','correlationId':'" CID
                       "','dateTime':'2024-11-01T12:34:56Z'}]}";
    char doc[512];
    snprintf(doc, sizeof(doc), "{'issues':[{'issue':'payment.validation.missing_field%s", rest);
    expect_valid(doc);
    /* Deeper codes are allowed: never a fixed depth. */
    snprintf(doc, sizeof(doc), "{'issues':[{'issue':'a.b.c.d_2.e%s", rest);
    expect_valid(doc);
    snprintf(doc, sizeof(doc), "{'issues':[{'issue':'payment.unauthorized%s", rest);
    expect_one(doc, "issues[0].issue: \"payment.unauthorized\" is not a namespaced code (at least "
                    "three dot-separated segments of [a-z0-9_], e.g. payment.unauthorized.token_expired)");
    expect_one("{'issues':[{'severity':'error','correlationId':'" CID
               "','dateTime':'2024-11-01T12:34:56Z'}]}",
               "issues[0].issue: missing (required string)");
    expect_one("{'issues':[{'issue':7,'severity':'error','correlationId':'" CID
               "','dateTime':'2024-11-01T12:34:56Z'}]}",
               "issues[0].issue: expected a string, got number");
}

static void test_code_valid(void **state)
{
    assert_true(issue_code_valid("payment.unauthorized.token_expired"));
    assert_true(issue_code_valid("a.b.c.d"));
    assert_true(issue_code_valid("v2.rate_limit.x9"));
    assert_false(issue_code_valid("payment.unauthorized"));
    assert_false(issue_code_valid("Payment.unauthorized.x"));
    assert_false(issue_code_valid("payment..x"));
    assert_false(issue_code_valid("payment.unauthorized.x."));
    assert_false(issue_code_valid(".payment.unauthorized.x"));
    assert_false(issue_code_valid("payment.un-authorized.x"));
    assert_false(issue_code_valid(""));
    assert_false(issue_code_valid(NULL));
}

static void test_code_matches(void **state)
{
    assert_true(issue_code_matches("payment.unauthorized.*", "payment.unauthorized.token_expired"));
    assert_true(issue_code_matches("payment.unauthorized.*", "payment.unauthorized.x.y"));
    assert_false(issue_code_matches("payment.unauthorized.*", "payment.unauthorizedx.y"));
    /* "*" stands for at least one more segment. */
    assert_false(issue_code_matches("payment.unauthorized.*", "payment.unauthorized"));
    assert_true(issue_code_matches("payment.*", "payment.declined.card"));
    assert_false(issue_code_matches("payment.*", "paymentx.declined.card"));
    assert_true(issue_code_matches("payment.*.card", "payment.declined.card"));
    assert_false(issue_code_matches("payment.*.card", "payment.declined.bank"));
    assert_true(issue_code_matches("payment.declined.card", "payment.declined.card"));
    assert_false(issue_code_matches("payment.declined.card", "payment.declined.card.expired"));
    assert_false(issue_code_matches("payment.declined", "payment.declined.card"));
    assert_true(issue_code_matches("*", "anything.at.all"));
    assert_false(issue_code_matches("payment.*", NULL));
    /* A "*" before the last segment stands for exactly one segment. */
    assert_true(issue_code_matches("*.rate_limit.*", "pricing.rate_limit.exceeded"));
    assert_true(issue_code_matches("*.rate_limit.*", "auth.rate_limit.burst.x"));
    assert_false(issue_code_matches("*.rate_limit.*", "pricing.quota.rate_limit.exceeded"));
    assert_false(issue_code_matches("*.rate_limit.*", "pricing.rate_limit"));
    assert_true(issue_code_matches("payment.*.declined", "payment.card.declined"));
    assert_false(issue_code_matches("payment.*.declined", "payment.card.x.declined"));
    assert_false(issue_code_matches("payment.*.declined", "payment.declined"));
    assert_true(issue_code_matches("*.*.declined", "payment.card.declined"));
    assert_false(issue_code_matches("*.*.declined", "payment.card.declined.x"));
}

static void test_code_class(void **state)
{
    char out[16];
    issue_code_class("payment.unauthorized.token_expired", out, sizeof(out));
    assert_string_equal(out, "unauthorized");
    issue_code_class("payment.rate_limit", out, sizeof(out));
    assert_string_equal(out, "rate_limit");
    issue_code_class("payment", out, sizeof(out));
    assert_string_equal(out, "");
    issue_code_class(NULL, out, sizeof(out));
    assert_string_equal(out, "");
    issue_code_class("a.abcdefghijklmnopqrstuvwxyz.c", out, 5);
    assert_string_equal(out, "abcd");
}

static void test_severity(void **state)
{
#define BASE1 "{'issues':[{'issue':'a.b.c','severity':%s,'correlationId':'" CID \
"','dateTime':'2024-11-01T12:34:56Z'}]}"
    char doc[512];
    snprintf(doc, sizeof(doc), BASE1, "'warning'");
    expect_valid(doc);
    snprintf(doc, sizeof(doc), BASE1, "'info'");
    expect_valid(doc);
    snprintf(doc, sizeof(doc), BASE1, "'fatal'");
    expect_one(doc, "issues[0].severity: \"fatal\" is not one of error, warning, info");
    snprintf(doc, sizeof(doc), BASE1, "'Error'");
    expect_one(doc, "issues[0].severity: \"Error\" is not one of error, warning, info");
    snprintf(doc, sizeof(doc), BASE1, "null");
    expect_one(doc, "issues[0].severity: expected a string, got null");
    expect_one("{'issues':[{'issue':'a.b.c','correlationId':'" CID
               "','dateTime':'2024-11-01T12:34:56Z'}]}",
               "issues[0].severity: missing (required string)");
}

static void test_correlation_id(void **state)
{
#define BASE2 "{'issues':[{'issue':'a.b.c','severity':'info',%s" \
"'dateTime':'2024-11-01T12:34:56Z'}]%s}"
    char doc[512];
    snprintf(doc, sizeof(doc), BASE2, "", "");
    expect_one(doc, "issues[0].correlationId: missing (required per issue or at the top level)");
    /* At the top level of the response instead of per issue. */
    snprintf(doc, sizeof(doc), BASE2, "", ",'correlationId':'" CID "'");
    expect_valid(doc);
    /* Hex digits in either case. */
    snprintf(doc, sizeof(doc), BASE2, "'correlationId':'4B3A2C1D-0000-4000-8000-ABCDEF123456',", "");
    expect_valid(doc);
    snprintf(doc, sizeof(doc), BASE2, "'correlationId':'req-42',", "");
    expect_one(doc, "issues[0].correlationId: \"req-42\" is not a UUID (8-4-4-4-12 hex digits)");
    snprintf(doc, sizeof(doc), BASE2, "'correlationId':'4b3a2c1d-0000-4000-8000-abcdef12345g',", "");
    expect_one(doc, "issues[0].correlationId: \"4b3a2c1d-0000-4000-8000-abcdef12345g\" is not a "
                    "UUID (8-4-4-4-12 hex digits)");
    snprintf(doc, sizeof(doc), BASE2, "'correlationId':42,", "");
    expect_one(doc, "issues[0].correlationId: expected a UUID string, got number");
    snprintf(doc, sizeof(doc), BASE2, "", ",'correlationId':'nope'");
    expect_one(doc, "correlationId: \"nope\" is not a UUID (8-4-4-4-12 hex digits)");
}

static void test_correlation_echo(void **state)
{
    const char *other = "11111111-2222-4333-8444-555555555555";
    const char *doc = "{'issues':[{" GOOD_ISSUE "}]}";
    /* Echoed (case-insensitively). */
    struct run r = check_ex(doc, "4B3A2C1D-0000-4000-8000-ABCDEF123456", true, true);
    assert_int_equal(r.n, 0);
    strv_free(&r.msgs);
    r = check_ex(doc, other, false, true);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msgs.v[0],
                        "issues[0].correlationId: \"" CID "\" does not echo the X-Correlation-ID "
                        "sent (11111111-2222-4333-8444-555555555555)");
    strv_free(&r.msgs);
    /* Top-level mismatch. */
    r = check_ex("{'correlationId':'" CID "','issues':[]}", other, false, false);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msgs.v[0], "correlationId: \"" CID "\" does not echo the X-Correlation-ID "
                                     "sent (11111111-2222-4333-8444-555555555555)");
    strv_free(&r.msgs);
    /* require_echo: nothing echoed at all. */
    r = check_ex("{'issues':[]}", other, true, false);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msgs.v[0], "correlationId: missing (the X-Correlation-ID sent "
                                     "(11111111-2222-4333-8444-555555555555) must be echoed)");
    strv_free(&r.msgs);
    /* Without require_echo an absent id on an empty 2xx list is fine. */
    r = check_ex("{'issues':[]}", other, false, false);
    assert_int_equal(r.n, 0);
    strv_free(&r.msgs);
}

static void expect_datetime(const char *dt, const char *msg)
{
    char doc[512];
    snprintf(doc, sizeof(doc),
             "{'issues':[{'issue':'a.b.c','severity':'info','correlationId':'" CID
             "','dateTime':'%s'}]}",
             dt);
    if (msg)
        expect_one(doc, msg);
    else
        expect_valid(doc);
}

static void expect_bad_datetime(const char *dt)
{
    char msg[256];
    snprintf(msg, sizeof(msg),
             "issues[0].dateTime: \"%s\" is not an ISO 8601 UTC date-time "
             "(YYYY-MM-DDTHH:MM:SS[.fff]Z)",
             dt);
    expect_datetime(dt, msg);
}

static void test_datetime(void **state)
{
    expect_datetime("2024-11-01T12:34:56Z", NULL);
    expect_datetime("2024-11-01T12:34:56.123456Z", NULL);
    expect_datetime("2024-11-01T12:34:56+00:00", NULL);
    expect_datetime("2024-02-29T23:59:59Z", NULL);  /* leap year */
    expect_datetime("2000-02-29T00:00:00Z", NULL);  /* divisible by 400 */
    expect_datetime("2016-12-31T23:59:60Z", NULL);  /* leap second */
    expect_bad_datetime("2023-02-29T00:00:00Z");
    expect_bad_datetime("1900-02-29T00:00:00Z");   /* divisible by 100 */
    expect_bad_datetime("2024-04-31T00:00:00Z");
    expect_bad_datetime("2024-13-01T00:00:00Z");
    expect_bad_datetime("2024-00-01T00:00:00Z");
    expect_bad_datetime("2024-11-00T00:00:00Z");
    expect_bad_datetime("2024-11-01T24:00:00Z");
    expect_bad_datetime("2024-11-01T12:60:00Z");
    expect_bad_datetime("2024-11-01T12:00:61Z");
    expect_bad_datetime("2024-11-01T12:34:56");
    expect_bad_datetime("2024-11-01 12:34:56Z");
    expect_bad_datetime("2024-11-01T12:34:56.Z");
    expect_bad_datetime("2024-11-01");
    expect_bad_datetime("1730464496");
    expect_bad_datetime("2024-11-01T12:34:56Zjunk");
    expect_datetime("2024-11-01T12:34:56+02:00",
                    "issues[0].dateTime: \"2024-11-01T12:34:56+02:00\" is not in UTC "
                    "(expected Z or +00:00)");
    expect_one("{'issues':[{'issue':'a.b.c','severity':'info','correlationId':'" CID "'}]}",
               "issues[0].dateTime: missing (required string)");
}

static void test_optional_fields(void **state)
{
    char doc[512];
#define BASE3 "{'issues':[{" GOOD_ISSUE ",%s}]}"
    snprintf(doc, sizeof(doc), BASE3, "'active':true");
    expect_valid(doc);
    snprintf(doc, sizeof(doc), BASE3, "'active':'yes'");
    expect_one(doc, "issues[0].active: expected a boolean, got string");
    snprintf(doc, sizeof(doc), BASE3, "'message':'Payment failed'");
    expect_one(doc, "issues[0].message: expected an object, got string");
    snprintf(doc, sizeof(doc), BASE3, "'message':{}");
    expect_valid(doc);
    snprintf(doc, sizeof(doc), BASE3, "'message':{'title':1,'detail':'ok'}");
    expect_one(doc, "issues[0].message.title: expected a string, got number");
    snprintf(doc, sizeof(doc), BASE3, "'message':{'detail':[]}");
    expect_one(doc, "issues[0].message.detail: expected a string, got array");
    snprintf(doc, sizeof(doc), BASE3, "'links':[]");
    expect_one(doc, "issues[0].links: expected an object, got array");
    snprintf(doc, sizeof(doc), BASE3, "'links':{'documentation':'docs/errors'}");
    expect_one(doc, "issues[0].links.documentation: \"docs/errors\" is not an http(s) URL");
    snprintf(doc, sizeof(doc), BASE3, "'links':{'portal':'ftp://x.example'}");
    expect_one(doc, "issues[0].links.portal: \"ftp://x.example\" is not an http(s) URL");
    snprintf(doc, sizeof(doc), BASE3, "'links':{'api':'https://'}");
    expect_one(doc, "issues[0].links.api: \"https://\" is not an http(s) URL");
    snprintf(doc, sizeof(doc), BASE3, "'links':{'api':true}");
    expect_one(doc, "issues[0].links.api: expected a URL string, got boolean");
    snprintf(doc, sizeof(doc), BASE3, "'thirdParty':{'code':'X'}");
    expect_one(doc, "issues[0].thirdParty.provider: missing (required string)");
    snprintf(doc, sizeof(doc), BASE3, "'thirdParty':{'provider':5}");
    expect_one(doc, "issues[0].thirdParty.provider: expected a string, got number");
    snprintf(doc, sizeof(doc), BASE3, "'thirdParty':'acme'");
    expect_one(doc, "issues[0].thirdParty: expected an object, got string");
}

static void test_every_violation_counted(void **state)
{
    struct run r = check("{'issues':[{'issue':'x','severity':'fatal','dateTime':'never',"
                         "'active':1},{}]}");
    assert_int_equal(r.n, 9);
    assert_string_equal(r.msgs.v[0], "issues[0].issue: \"x\" is not a namespaced code (at least "
                                     "three dot-separated segments of [a-z0-9_], e.g. "
                                     "payment.unauthorized.token_expired)");
    assert_string_equal(r.msgs.v[4], "issues[0].active: expected a boolean, got number");
    assert_string_equal(r.msgs.v[5], "issues[1].issue: missing (required string)");
    assert_string_equal(r.msgs.v[8], "issues[1].dateTime: missing (required string)");
    strv_free(&r.msgs);
}

static void test_hostile_values_are_bounded(void **state)
{
    char big[2048];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char doc[4096];
    snprintf(doc, sizeof(doc),
             "{'issues':[{'issue':'a.b.c','severity':'%s','correlationId':'" CID
             "','dateTime':'2024-11-01T12:34:56Z'}]}",
             big);
    struct run r = check(doc);
    assert_int_equal(r.n, 1);
    assert_true(strlen(r.msgs.v[0]) < 200);
    assert_non_null(strstr(r.msgs.v[0], "xxx...\" is not one of error, warning, info"));
    strv_free(&r.msgs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_example),
        cmocka_unit_test(test_body_shape),
        cmocka_unit_test(test_many_violations),
        cmocka_unit_test(test_issues_array),
        cmocka_unit_test(test_issue_code),
        cmocka_unit_test(test_code_valid),
        cmocka_unit_test(test_code_matches),
        cmocka_unit_test(test_code_class),
        cmocka_unit_test(test_severity),
        cmocka_unit_test(test_correlation_id),
        cmocka_unit_test(test_correlation_echo),
        cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_every_violation_counted),
        cmocka_unit_test(test_hostile_values_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
