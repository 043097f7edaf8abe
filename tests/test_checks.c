/* checks_run and friends against hand-built responses and expectations:
 * every check passing and failing, with the exact messages users read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/check/checks.h"

#define CID "4b3a2c1d-0000-4000-8000-abcdef123456"
#define OTHER_CID "11111111-2222-4333-8444-555555555555"

/* One case: a response, its parsed body, an expect block, run variables. */
struct tc {
    struct response r;
    cJSON *json;
    struct expect e;
    struct tpl_vars vars;
    struct check_outcome o;
    struct http_header hdrs[8];
};

static void tc_init(struct tc *t, long status, const char *body)
{
    memset(t, 0, sizeof(*t));
    t->r.status = status;
    t->r.headers = t->hdrs;
    buf_init(&t->r.body, 1 << 20);
    if (body) {
        assert_int_equal(buf_puts(&t->r.body, body), 0);
        t->json = cJSON_Parse(body);
    }
    tpl_vars_init(&t->vars);
    check_outcome_init(&t->o);
}

static void tc_header(struct tc *t, const char *name, const char *value)
{
    t->hdrs[t->r.n_headers].name = (char *)name;
    t->hdrs[t->r.n_headers].value = (char *)value;
    t->r.n_headers++;
}

static int tc_run(struct tc *t)
{
    return checks_run(&t->e, &t->r, t->json, CID, &t->vars, &t->o);
}

static void tc_free(struct tc *t)
{
    buf_free(&t->r.body);
    cJSON_Delete(t->json);
    tpl_vars_free(&t->vars);
    check_outcome_free(&t->o);
}

static void print_failures(const struct tc *t)
{
    for (size_t i = 0; i < t->o.failures.n; i++)
        print_error("failure: %s\n", t->o.failures.v[i]);
}

/* Runs and asserts exactly these failure messages (NULL-terminated). */
static void expect_failures(struct tc *t, ...)
{
    assert_int_equal(tc_run(t), 0);
    va_list ap;
    va_start(ap, t);
    size_t n = 0;
    for (const char *m = va_arg(ap, const char *); m; m = va_arg(ap, const char *)) {
        if (n >= t->o.failures.n) {
            print_failures(t);
            fail_msg("missing failure: %s", m);
        }
        assert_string_equal(t->o.failures.v[n], m);
        n++;
    }
    va_end(ap);
    if (n != t->o.failures.n)
        print_failures(t);
    assert_int_equal(t->o.failures.n, n);
}

static void parse_tpl(struct tpl *out, const char *src)
{
    char err[128];
    int off;
    assert_int_equal(tpl_parse(out, src, err, sizeof(err), &off), 0);
}

static void compile(regex_t *re, const char *src)
{
    assert_int_equal(regcomp(re, src, REG_EXTENDED | REG_NOSUB), 0);
}

static struct jpath key_path(const char *src, struct jpath_seg *seg, const char *key)
{
    *seg = (struct jpath_seg){ .key = (char *)key };
    return (struct jpath){ (char *)src, 1, seg };
}

/* --- status ------------------------------------------------------------ */

static void test_status_match(void **state)
{
    assert_true(status_expect_match(NULL, 200));
    struct status_expect def = { 0, NULL };
    assert_true(status_expect_match(&def, 204));
    assert_true(status_expect_match(&def, 399));
    assert_false(status_expect_match(&def, 400));
    assert_false(status_expect_match(&def, 199));
    struct status_range rs[] = { { 201, 201 }, { 400, 499 } };
    struct status_expect se = { 2, rs };
    assert_true(status_expect_match(&se, 201));
    assert_true(status_expect_match(&se, 404));
    assert_false(status_expect_match(&se, 200));
    assert_false(status_expect_match(&se, 500));
}

static void test_status_str(void **state)
{
    char out[64];
    struct status_range one[] = { { 201, 201 } };
    struct status_range range[] = { { 200, 299 } };
    struct status_range two[] = { { 200, 200 }, { 201, 201 } };
    struct status_range three[] = { { 200, 200 }, { 201, 201 }, { 204, 204 } };
    struct status_expect se = { 1, one };
    status_expect_str(&se, out, sizeof(out));
    assert_string_equal(out, "201");
    se = (struct status_expect){ 1, range };
    status_expect_str(&se, out, sizeof(out));
    assert_string_equal(out, "200-299");
    se = (struct status_expect){ 2, two };
    status_expect_str(&se, out, sizeof(out));
    assert_string_equal(out, "200 or 201");
    se = (struct status_expect){ 3, three };
    status_expect_str(&se, out, sizeof(out));
    assert_string_equal(out, "200, 201 or 204");
    se = (struct status_expect){ 0, NULL };
    status_expect_str(&se, out, sizeof(out));
    assert_string_equal(out, "200-399");
    /* A small buffer is cut, never overrun. */
    se = (struct status_expect){ 3, three };
    status_expect_str(&se, out, 6);
    assert_string_equal(out, "200, ");
}

static void test_status_check(void **state)
{
    struct tc t;
    struct status_range one[] = { { 201, 201 } };
    tc_init(&t, 201, NULL);
    t.e.status = (struct status_expect){ 1, one };
    expect_failures(&t, NULL);
    assert_true(t.o.status_ok);
    assert_false(t.o.checks_failed);
    tc_free(&t);

    tc_init(&t, 302, NULL);
    t.e.status = (struct status_expect){ 1, one };
    expect_failures(&t, "status 302, expected 201", NULL);
    assert_false(t.o.status_ok);
    /* The status is not one of the other checks. */
    assert_false(t.o.checks_failed);
    tc_free(&t);
}

/* --- headers ----------------------------------------------------------- */

static void test_headers(void **state)
{
    struct tc t;
    struct header_check h[6];
    memset(h, 0, sizeof(h));
    tc_init(&t, 200, NULL);
    tc_header(&t, "content-type", "application/json; charset=utf-8");
    tc_header(&t, "Cache-Control", "no-store");
    assert_int_equal(tpl_vars_set(&t.vars, "ct", "application/json; charset=utf-8", false), 0);
    h[0] = (struct header_check){ .name = "Content-Type", .op = MATCH_EXISTS, .exists = true };
    h[1] = (struct header_check){ .name = "Content-Type", .op = MATCH_EQUALS };
    parse_tpl(&h[1].value, "{{ ct }}");
    h[2] = (struct header_check){ .name = "Content-Type", .op = MATCH_CONTAINS };
    parse_tpl(&h[2].value, "json");
    h[3] = (struct header_check){ .name = "Cache-Control", .op = MATCH_MATCHES };
    parse_tpl(&h[3].value, "^no-(store|cache)$");
    compile(&h[3].re, h[3].value.src);
    h[4] = (struct header_check){ .name = "X-Debug", .op = MATCH_EXISTS, .exists = false };
    t.e.headers = h;
    t.e.n_headers = 5;
    expect_failures(&t, NULL);
    tc_free(&t);

    /* The same checks against a response that breaks each of them. */
    tc_init(&t, 200, NULL);
    tc_header(&t, "Cache-Control", "public, max-age=60");
    tc_header(&t, "X-Debug", "1");
    tc_header(&t, "Content-Type", "text/html");
    assert_int_equal(tpl_vars_set(&t.vars, "ct", "application/json; charset=utf-8", false), 0);
    h[0].name = "ETag";
    t.e.headers = h;
    t.e.n_headers = 5;
    expect_failures(&t, "header ETag: missing",
                    "header Content-Type: \"text/html\", expected \"application/json; charset=utf-8\"",
                    "header Content-Type: \"text/html\" does not contain \"json\"",
                    "header Cache-Control: \"public, max-age=60\" does not match /^no-(store|cache)$/",
                    "header X-Debug: present, expected absent", NULL);
    assert_true(t.o.checks_failed);
    tc_free(&t);

    /* Missing headers name what was expected. */
    tc_init(&t, 200, NULL);
    assert_int_equal(tpl_vars_set(&t.vars, "ct", "application/json", false), 0);
    t.e.headers = h + 1;
    t.e.n_headers = 3;
    expect_failures(&t, "header Content-Type: missing, expected \"application/json\"",
                    "header Content-Type: missing, expected to contain \"json\"",
                    "header Cache-Control: missing, expected to match /^no-(store|cache)$/", NULL);
    tc_free(&t);
    for (int i = 0; i < 4; i++)
        tpl_free(&h[i].value);
    regfree(&h[3].re);
}

static void test_header_secrets_and_render_errors(void **state)
{
    struct tc t;
    struct header_check h[3];
    memset(h, 0, sizeof(h));
    tc_init(&t, 200, NULL);
    tc_header(&t, "X-Token", "tok-live-1234");
    tc_header(&t, "Set-Cookie", "session=abcdef");
    assert_int_equal(tpl_vars_set(&t.vars, "token", "tok-test-9999", true), 0);
    h[0] = (struct header_check){ .name = "X-Token", .op = MATCH_EQUALS };
    parse_tpl(&h[0].value, "{{ token }}");
    h[1] = (struct header_check){ .name = "Set-Cookie", .op = MATCH_CONTAINS };
    parse_tpl(&h[1].value, "Secure");
    h[2] = (struct header_check){ .name = "X-Token", .op = MATCH_EQUALS };
    parse_tpl(&h[2].value, "{{ nope }}");
    t.e.headers = h;
    t.e.n_headers = 3;
    expect_failures(&t, "header X-Token: <secret>, expected <secret>",
                    "header Set-Cookie: <secret> does not contain \"Secure\"",
                    "header X-Token: cannot render the expected value: variable \"nope\" is not defined",
                    NULL);
    for (size_t i = 0; i < t.o.failures.n; i++) {
        assert_null(strstr(t.o.failures.v[i], "tok-"));
        assert_null(strstr(t.o.failures.v[i], "abcdef"));
    }
    tc_free(&t);
    for (int i = 0; i < 3; i++)
        tpl_free(&h[i].value);
}

/* --- JSON paths -------------------------------------------------------- */

static void test_json_not_json(void **state)
{
    struct tc t;
    struct jpath_seg seg;
    struct json_check j = { .op = MATCH_EXISTS, .exists = true };
    j.path = key_path("$.id", &seg, "id");
    tc_init(&t, 200, "<html>");
    assert_null(t.json);
    t.e.json = &j;
    t.e.n_json = 1;
    expect_failures(&t, "$.id: body is not JSON", NULL);
    tc_free(&t);
}

static void test_json_exists_and_type(void **state)
{
    struct tc t;
    struct jpath_seg segs[4];
    struct json_check j[4] = {
        { .op = MATCH_EXISTS, .exists = true },
        { .op = MATCH_EXISTS, .exists = false },
        { .op = MATCH_TYPE, .type = "string" },
        { .op = MATCH_TYPE, .type = "array" },
    };
    j[0].path = key_path("$.id", &segs[0], "id");
    j[1].path = key_path("$.error", &segs[1], "error");
    j[2].path = key_path("$.id", &segs[2], "id");
    j[3].path = key_path("$.items", &segs[3], "items");
    tc_init(&t, 200, "{\"id\":\"c-1\",\"items\":[]}");
    t.e.json = j;
    t.e.n_json = 4;
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, 200, "{\"error\":null,\"id\":7}");
    t.e.json = j;
    t.e.n_json = 4;
    expect_failures(&t, "$.error: present, expected absent", "$.id: number, expected string",
                    "$.items: missing, expected array", NULL);
    tc_free(&t);

    tc_init(&t, 200, "{}");
    t.e.json = j;
    t.e.n_json = 1;
    expect_failures(&t, "$.id: missing", NULL);
    tc_free(&t);
}

static void test_json_equals(void **state)
{
    struct tc t;
    struct jpath_seg segs[5];
    struct json_check j[5] = { { .op = MATCH_EQUALS }, { .op = MATCH_EQUALS },
                               { .op = MATCH_EQUALS }, { .op = MATCH_EQUALS },
                               { .op = MATCH_EQUALS } };
    j[0].path = key_path("$.status", &segs[0], "status");
    j[0].equals = cJSON_CreateString("paid");
    j[1].path = key_path("$.total", &segs[1], "total");
    j[1].equals = cJSON_CreateNumber(12.5);
    j[2].path = key_path("$.cart", &segs[2], "cart");
    j[2].equals = cJSON_Parse("{\"id\":\"{{ cart_id }}\",\"items\":[1,2]}");
    /* A captured number is text: "{{ n }}" still equals the number 3. */
    j[3].path = key_path("$.count", &segs[3], "count");
    j[3].equals = cJSON_CreateString("{{ n }}");
    j[4].path = key_path("$.owner", &segs[4], "owner");
    j[4].equals = cJSON_CreateString("user-{{ uid }}");
    tc_init(&t, 200,
            "{\"status\":\"paid\",\"total\":12.5,\"cart\":{\"items\":[1,2],\"id\":\"c-9\"},"
            "\"count\":3,\"owner\":\"user-42\"}");
    assert_int_equal(tpl_vars_set(&t.vars, "cart_id", "c-9", false), 0);
    assert_int_equal(tpl_vars_set(&t.vars, "n", "3", false), 0);
    assert_int_equal(tpl_vars_set(&t.vars, "uid", "42", false), 0);
    t.e.json = j;
    t.e.n_json = 5;
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, 200,
            "{\"status\":\"pending\",\"total\":\"12.5\",\"cart\":{\"items\":[2,1],\"id\":\"c-9\"},"
            "\"count\":4}");
    assert_int_equal(tpl_vars_set(&t.vars, "cart_id", "c-9", false), 0);
    assert_int_equal(tpl_vars_set(&t.vars, "n", "3", false), 0);
    assert_int_equal(tpl_vars_set(&t.vars, "uid", "42", true), 0);
    t.e.json = j;
    t.e.n_json = 5;
    expect_failures(&t, "$.status: \"pending\", expected \"paid\"",
                    "$.total: \"12.5\", expected 12.5",
                    "$.cart: {\"items\":[2,1],\"id\":\"c-9\"}, expected {\"id\":\"c-9\",\"items\":[1,2]}",
                    "$.count: 4, expected \"3\"", "$.owner: missing, expected <secret>", NULL);
    tc_free(&t);
    for (int i = 0; i < 5; i++)
        cJSON_Delete(j[i].equals);
}

static void test_json_contains_and_matches(void **state)
{
    struct tc t;
    struct jpath_seg segs[4];
    struct json_check j[4] = { { .op = MATCH_CONTAINS }, { .op = MATCH_CONTAINS },
                               { .op = MATCH_MATCHES }, { .op = MATCH_MATCHES } };
    j[0].path = key_path("$.name", &segs[0], "name");
    j[0].equals = cJSON_CreateString("Widget");
    j[1].path = key_path("$.tags", &segs[1], "tags");
    j[1].equals = cJSON_CreateString("{{ tag }}");
    j[2].path = key_path("$.id", &segs[2], "id");
    j[2].re_src = "^ord_[0-9]+$";
    compile(&j[2].re, j[2].re_src);
    j[3].path = key_path("$.qty", &segs[3], "qty");
    j[3].re_src = "^[1-9][0-9]*$";
    compile(&j[3].re, j[3].re_src);
    tc_init(&t, 200, "{\"name\":\"Blue Widget\",\"tags\":[\"new\",\"sale\"],\"id\":\"ord_42\",\"qty\":3}");
    assert_int_equal(tpl_vars_set(&t.vars, "tag", "sale", false), 0);
    t.e.json = j;
    t.e.n_json = 4;
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, 200, "{\"name\":\"Gadget\",\"tags\":[\"new\"],\"id\":\"ORD-42\",\"qty\":0}");
    assert_int_equal(tpl_vars_set(&t.vars, "tag", "sale", false), 0);
    t.e.json = j;
    t.e.n_json = 4;
    expect_failures(&t, "$.name: \"Gadget\" does not contain \"Widget\"",
                    "$.tags: [\"new\"] does not contain \"sale\"",
                    "$.id: \"ORD-42\" does not match /^ord_[0-9]+$/",
                    "$.qty: 0 does not match /^[1-9][0-9]*$/", NULL);
    tc_free(&t);

    tc_init(&t, 200, "{}");
    assert_int_equal(tpl_vars_set(&t.vars, "tag", "sale", false), 0);
    t.e.json = j + 1;
    t.e.n_json = 2;
    expect_failures(&t, "$.tags: missing, expected to contain \"sale\"",
                    "$.id: missing, expected to match /^ord_[0-9]+$/", NULL);
    tc_free(&t);
    cJSON_Delete(j[0].equals);
    cJSON_Delete(j[1].equals);
    regfree(&j[2].re);
    regfree(&j[3].re);
}

/* --- body -------------------------------------------------------------- */

static void test_body(void **state)
{
    struct tc t;
    struct body_check b[2] = { { .op = MATCH_CONTAINS, .text = "\"ok\":true" },
                               { .op = MATCH_MATCHES, .text = "version\":\"[0-9]+\\." } };
    compile(&b[1].re, b[1].text);
    tc_init(&t, 200, "{\"ok\":true,\"version\":\"2.1\"}");
    t.e.body = b;
    t.e.n_body = 2;
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, 200, "{\"ok\":false}");
    t.e.body = b;
    t.e.n_body = 2;
    expect_failures(&t, "body does not contain \"\\\"ok\\\":true\"",
                    "body does not match /version\":\"[0-9]+\\./", NULL);
    tc_free(&t);

    /* An empty body contains nothing. */
    tc_init(&t, 204, NULL);
    t.e.body = b;
    t.e.n_body = 1;
    expect_failures(&t, "body does not contain \"\\\"ok\\\":true\"", NULL);
    tc_free(&t);

    /* A NUL byte in a binary-ish body does not hide what follows it. */
    tc_init(&t, 200, NULL);
    assert_int_equal(buf_append(&t.r.body, "x\0{\"ok\":true}", 13), 0);
    t.e.body = b;
    t.e.n_body = 1;
    expect_failures(&t, NULL);
    tc_free(&t);
    regfree(&b[1].re);
}

/* --- issues, schema, echo ---------------------------------------------- */

#define ISSUE(code, sev)                                                                       \
    "{\"issue\":\"" code "\",\"severity\":\"" sev "\",\"correlationId\":\"" CID "\","      \
    "\"dateTime\":\"2024-11-01T12:34:56Z\"}"

static void test_expected_issues(void **state)
{
    struct tc t;
    struct status_range r401[] = { { 401, 401 } };
    struct issue_expect ie[2] = { { .pattern = "payment.unauthorized.*", .severity = SEV_ERROR },
                                  { .pattern = "payment.*" } };
    tc_init(&t, 401, "{\"issues\":[" ISSUE("payment.unauthorized.token_expired", "error") "]}");
    t.e.status = (struct status_expect){ 1, r401 };
    t.e.issues = ie;
    t.e.n_issues = 2;
    expect_failures(&t, NULL);
    assert_int_equal(t.o.issue_codes.n, 1);
    assert_string_equal(t.o.issue_codes.v[0], "payment.unauthorized.token_expired");
    assert_string_equal(t.o.issue_class, "unauthorized");
    tc_free(&t);

    tc_init(&t, 401, "{\"issues\":[" ISSUE("payment.declined.card", "error") "]}");
    t.e.status = (struct status_expect){ 1, r401 };
    t.e.issues = ie;
    t.e.n_issues = 2;
    expect_failures(&t,
                    "expected issue \"payment.unauthorized.*\" (severity error) not found; got "
                    "payment.declined.card",
                    NULL);
    assert_true(t.o.checks_failed);
    assert_string_equal(t.o.issue_class, "declined");
    tc_free(&t);

    /* The right code at the wrong severity says so. */
    tc_init(&t, 401,
            "{\"issues\":[" ISSUE("account.validation.x", "info") "," ISSUE(
                "payment.unauthorized.token_expired", "warning") "]}");
    t.e.status = (struct status_expect){ 1, r401 };
    t.e.issues = ie;
    t.e.n_issues = 1;
    expect_failures(&t,
                    "expected issue \"payment.unauthorized.*\" (severity error) not found; got "
                    "account.validation.x, payment.unauthorized.token_expired (severity warning)",
                    NULL);
    assert_int_equal(t.o.issue_codes.n, 2);
    assert_string_equal(t.o.issue_class, "validation");
    tc_free(&t);

    tc_init(&t, 200, "{\"ok\":true}");
    t.e.issues = ie + 1;
    t.e.n_issues = 1;
    expect_failures(&t, "expected issue \"payment.*\" not found; got no issues", NULL);
    assert_int_equal(t.o.issue_codes.n, 0);
    assert_string_equal(t.o.issue_class, "");
    tc_free(&t);
}

static void test_schema_on_error_responses(void **state)
{
    struct tc t;
    struct status_range r4xx[] = { { 400, 499 } };
    tc_init(&t, 422,
            "{\"issues\":[{\"issue\":\"payment.validation.missing_field\",\"severity\":\"fatal\","
            "\"correlationId\":\"" CID "\",\"dateTime\":\"2024-11-01T12:34:56Z\"}]}");
    t.e.status = (struct status_expect){ 1, r4xx };
    expect_failures(&t, "issues[0].severity: \"fatal\" is not one of error, warning, info", NULL);
    assert_true(t.o.status_ok);
    assert_true(t.o.checks_failed);
    assert_int_equal(t.o.schema_violations, 1);
    tc_free(&t);

    /* An unexpected 500 with a plain-text body: both findings are listed. */
    tc_init(&t, 500, "Internal Server Error");
    expect_failures(&t, "status 500, expected 200-399",
                    "body: not JSON (expected an object with an issues array)", NULL);
    assert_false(t.o.status_ok);
    assert_int_equal(t.o.schema_violations, 1);
    tc_free(&t);

    /* An error response must carry at least one issue. */
    tc_init(&t, 404, "{\"issues\":[]}");
    t.e.status = (struct status_expect){ 1, r4xx };
    expect_failures(&t, "issues: empty (an error response must carry at least one issue)", NULL);
    tc_free(&t);
}

static void test_schema_on_2xx_only_when_asked(void **state)
{
    struct tc t;
    tc_init(&t, 200, "{\"ok\":true}");
    expect_failures(&t, NULL);
    assert_int_equal(t.o.schema_violations, 0);
    tc_free(&t);

    tc_init(&t, 200, "{\"ok\":true}");
    t.e.issue_schema_on_2xx = true;
    expect_failures(&t, "issues: missing (required array of issue objects)", NULL);
    tc_free(&t);

    /* On a 2xx an empty list of warnings is fine. */
    tc_init(&t, 200, "{\"issues\":[]}");
    t.e.issue_schema_on_2xx = true;
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, 201, "{\"issues\":[" ISSUE("cart.stock.low_stock", "warning") "]}");
    t.e.issue_schema_on_2xx = true;
    expect_failures(&t, NULL);
    assert_string_equal(t.o.issue_class, "stock");
    tc_free(&t);
}

static void test_correlation_echo(void **state)
{
    struct tc t;
    /* The header echoes ours (case does not matter). */
    tc_init(&t, 200, "{}");
    tc_header(&t, "x-correlation-id", "4B3A2C1D-0000-4000-8000-ABCDEF123456");
    t.e.echo_correlation_id = true;
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, 200, "{}");
    tc_header(&t, "X-Correlation-ID", OTHER_CID);
    t.e.echo_correlation_id = true;
    expect_failures(&t, "header X-Correlation-ID: \"" OTHER_CID "\" does not echo the "
                        "X-Correlation-ID sent (" CID ")", NULL);
    tc_free(&t);

    /* No header: the body's correlationId counts. */
    tc_init(&t, 200, "{\"correlationId\":\"" CID "\"}");
    t.e.echo_correlation_id = true;
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, 200, "{\"correlationId\":\"" OTHER_CID "\"}");
    t.e.echo_correlation_id = true;
    expect_failures(&t, "correlationId: \"" OTHER_CID "\" does not echo the X-Correlation-ID "
                        "sent (" CID ")", NULL);
    tc_free(&t);

    tc_init(&t, 200, "{}");
    t.e.echo_correlation_id = true;
    expect_failures(&t, "correlation id not echoed: no X-Correlation-ID header and no "
                        "correlationId in the body (sent " CID ")", NULL);
    assert_true(t.o.checks_failed);
    tc_free(&t);

    /* On an error response the schema check holds the body's ids. By
     * default a correlationId the response carries must echo ours too
     * (`echo` adds only that one must be there); `correlation_id: false`
     * (the API mints its own) lets another pass. */
    static const char MISMATCH[] = "issues[0].correlationId: \"" OTHER_CID "\" does not echo the "
                                   "X-Correlation-ID sent (" CID ")";
    static const struct {
        bool echo, own;
        const char *want;
    } modes[] = { { true, false, MISMATCH }, { false, false, MISMATCH }, { false, true, NULL } };
    struct status_range r409[] = { { 409, 409 } };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        tc_init(&t, 409,
                "{\"issues\":[{\"issue\":\"cart.conflict.version\",\"severity\":\"error\","
                "\"correlationId\":\"" OTHER_CID "\",\"dateTime\":\"2024-11-01T12:34:56Z\"}]}");
        t.e.status = (struct status_expect){ 1, r409 };
        t.e.echo_correlation_id = modes[i].echo;
        t.e.correlation_id_own = modes[i].own;
        expect_failures(&t, modes[i].want, NULL);
        tc_free(&t);
    }

    /* A 2xx body or header with another id fails by default; none at all is fine. */
    tc_init(&t, 200, "{\"correlationId\":\"" OTHER_CID "\"}");
    expect_failures(&t, "correlationId: \"" OTHER_CID "\" does not echo the X-Correlation-ID "
                        "sent (" CID ")", NULL);
    tc_free(&t);

    tc_init(&t, 200, "{}");
    tc_header(&t, "X-Correlation-ID", OTHER_CID);
    t.e.correlation_id_own = true;
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, 200, "{}");
    expect_failures(&t, NULL);
    tc_free(&t);
}

/* --- budgets ----------------------------------------------------------- */

static void test_budget_check(void **state)
{
    struct strv out;
    strv_init(&out);
    struct budget b = { .ttfb = 200000, .total = 250, .dns = 0 };
    struct timings tm = { .dns = 999999, .ttfb = 412300, .total = 260 };
    assert_int_equal(budget_check(&b, &tm, &out), 2);
    assert_string_equal(out.v[0], "ttfb 412.3 ms > budget 200 ms");
    assert_string_equal(out.v[1], "total 0.3 ms > budget 0.25 ms");
    strv_free(&out);

    /* Exactly at the budget is within it. */
    struct budget all = { 1000, 1500, 2000, 3000, 4000 };
    struct timings at = { 1000, 1500, 2000, 3000, 4000 };
    assert_int_equal(budget_check(&all, &at, &out), 0);
    assert_int_equal(out.n, 0);
    struct timings over = { 1001, 1501, 2001, 3001, 4001 };
    assert_int_equal(budget_check(&all, &over, &out), 5);
    assert_string_equal(out.v[0], "dns 1.0 ms > budget 1 ms");
    assert_string_equal(out.v[1], "connect 1.5 ms > budget 1.5 ms");
    assert_string_equal(out.v[2], "tls 2.0 ms > budget 2 ms");
    assert_string_equal(out.v[3], "ttfb 3.0 ms > budget 3 ms");
    assert_string_equal(out.v[4], "total 4.0 ms > budget 4 ms");
    strv_free(&out);
}

static void test_budget_in_checks_run(void **state)
{
    struct tc t;
    tc_init(&t, 200, "{}");
    t.e.budget.ttfb = 200000;
    t.e.budget.total = 300000;
    t.r.timings.ttfb = 412300;
    t.r.timings.total = 500000;
    expect_failures(&t, NULL);
    assert_true(t.o.budget_breached);
    assert_false(t.o.checks_failed);
    assert_string_equal(t.o.budget_phase, "ttfb");
    assert_int_equal(t.o.budget_failures.n, 2);
    assert_string_equal(t.o.budget_failures.v[0], "ttfb 412.3 ms > budget 200 ms");
    tc_free(&t);

    tc_init(&t, 200, "{}");
    t.e.budget.ttfb = 200000;
    t.r.timings.ttfb = 100000;
    expect_failures(&t, NULL);
    assert_false(t.o.budget_breached);
    assert_null(t.o.budget_phase);
    tc_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_match),
        cmocka_unit_test(test_status_str),
        cmocka_unit_test(test_status_check),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_header_secrets_and_render_errors),
        cmocka_unit_test(test_json_not_json),
        cmocka_unit_test(test_json_exists_and_type),
        cmocka_unit_test(test_json_equals),
        cmocka_unit_test(test_json_contains_and_matches),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_expected_issues),
        cmocka_unit_test(test_schema_on_error_responses),
        cmocka_unit_test(test_schema_on_2xx_only_when_asked),
        cmocka_unit_test(test_correlation_echo),
        cmocka_unit_test(test_budget_check),
        cmocka_unit_test(test_budget_in_checks_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
