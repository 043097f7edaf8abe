/* expect.json checks on paths that select many nodes (wildcards, `..`,
 * filters), length and number ranges, through checks_run with the exact
 * messages users read. Single-node paths are in test_checks.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/check/checks.h"
#include "probes/check/issue_schema.h"
#include "probes/check/jsonpath.h"

#define MAX_CHECKS 8

/* One case: a body, its checks, the run. */
struct tc {
    struct response r;
    cJSON *json;
    struct expect e;
    struct json_check j[MAX_CHECKS];
    struct tpl_vars vars;
    struct check_outcome o;
};

static void tc_init(struct tc *t, const char *body)
{
    memset(t, 0, sizeof(*t));
    t->r.status = 200;
    buf_init(&t->r.body, 4 << 20);
    assert_int_equal(buf_puts(&t->r.body, body), 0);
    t->json = cJSON_Parse(body);
    assert_non_null(t->json);
    t->e.json = t->j;
    tpl_vars_init(&t->vars);
    check_outcome_init(&t->o);
}

/* Adds a check on path; the caller sets its operator fields. */
static struct json_check *tc_check(struct tc *t, const char *path, enum match_op op)
{
    char err[200];
    int off;
    struct json_check *j = &t->j[t->e.n_json++];
    if (jpath_compile(&j->path, path, err, sizeof(err), &off))
        fail_msg("%s: %s", path, err);
    j->op = op;
    return j;
}

static void bound(struct json_check *j, enum bound_op op, double v)
{
    j->bounds.has |= 1u << op;
    j->bounds.v[op] = v;
}

static void tc_free(struct tc *t)
{
    for (size_t i = 0; i < t->e.n_json; i++) {
        jpath_free(&t->j[i].path);
        cJSON_Delete(t->j[i].equals);
        if (t->j[i].re_src)
            regfree(&t->j[i].re);
    }
    buf_free(&t->r.body);
    cJSON_Delete(t->json);
    tpl_vars_free(&t->vars);
    check_outcome_free(&t->o);
}

/* Runs and asserts exactly these failure messages (NULL-terminated). */
static void expect_failures(struct tc *t, ...)
{
    assert_int_equal(checks_run(&t->e, &t->r, t->json, NULL, &t->vars, &t->o), 0);
    va_list ap;
    va_start(ap, t);
    size_t n = 0;
    for (const char *m = va_arg(ap, const char *); m; m = va_arg(ap, const char *), n++) {
        if (n >= t->o.failures.n)
            fail_msg("missing failure: %s", m);
        if (strcmp(t->o.failures.v[n], m) != 0)
            fail_msg("failure %zu:\n  got  %s\n  want %s", n, t->o.failures.v[n], m);
    }
    va_end(ap);
    for (size_t i = n; i < t->o.failures.n; i++)
        print_error("unexpected failure: %s\n", t->o.failures.v[i]);
    assert_int_equal(t->o.failures.n, n);
    assert_int_equal(t->o.checks_failed, n > 0);
}

static const char *ITEMS = "{\"items\":[{\"sku\":\"A\",\"price\":5,\"status\":\"ok\"},"
                           "{\"sku\":\"B\",\"price\":12.5,\"status\":\"ok\"},"
                           "{\"sku\":\"C\",\"price\":\"n/a\",\"status\":\"gone\"}],"
                           "\"name\":\"h\xc3\xa9llo\",\"meta\":{\"a\":1,\"b\":2},\"total\":3}";

static void test_every_match_must_hold(void **state)
{
    struct tc t;
    tc_init(&t, ITEMS);
    tc_check(&t, "$.items[*].sku", MATCH_MATCHES)->re_src = "^[A-Z]$";
    regcomp(&t.j[0].re, t.j[0].re_src, REG_EXTENDED | REG_NOSUB);
    tc_check(&t, "$.items[?(@.price > 10)].sku", MATCH_EQUALS)->equals = cJSON_CreateString("B");
    tc_check(&t, "$..sku", MATCH_TYPE)->type = "string";
    tc_check(&t, "$.items[?(@.status == \"ok\")].price", MATCH_TYPE)->type = "number";
    expect_failures(&t, NULL);
    tc_free(&t);

    /* The first failing match is named, with where it is. */
    tc_init(&t, ITEMS);
    tc_check(&t, "$.items[*].status", MATCH_EQUALS)->equals = cJSON_CreateString("ok");
    tc_check(&t, "$..price", MATCH_TYPE)->type = "number";
    tc_check(&t, "$.items.*.sku", MATCH_CONTAINS)->equals = cJSON_CreateString("A");
    expect_failures(&t, "$.items[*].status: match 3 of 3 ($.items[2].status): \"gone\", expected \"ok\"",
                    "$..price: match 3 of 3 ($.items[2].price): string, expected number",
                    "$.items.*.sku: match 2 of 3 ($.items[1].sku): \"B\" does not contain \"A\"", NULL);
    tc_free(&t);
}

static void test_no_match(void **state)
{
    struct tc t;
    tc_init(&t, ITEMS);
    tc_check(&t, "$.items[?(@.price > 100)].sku", MATCH_EQUALS)->equals = cJSON_CreateString("Z");
    tc_check(&t, "$.nothing[*]", MATCH_EXISTS)->exists = true;
    tc_check(&t, "$..nothing", MATCH_EXISTS)->exists = false;
    tc_check(&t, "$.items[?(@.status == \"gone\")]", MATCH_EXISTS)->exists = false;
    tc_check(&t, "$..status", MATCH_EXISTS)->exists = true;
    expect_failures(&t, "$.items[?(@.price > 100)].sku: no match", "$.nothing[*]: no match",
                    "$.items[?(@.status == \"gone\")]: 1 match, expected none (the first at $.items[2])",
                    NULL);
    tc_free(&t);
}

static void test_length(void **state)
{
    struct tc t;
    tc_init(&t, ITEMS);
    bound(tc_check(&t, "$.items", MATCH_LENGTH), BOUND_EQ, 3);
    bound(tc_check(&t, "$.name", MATCH_LENGTH), BOUND_EQ, 5); /* characters, not bytes */
    bound(tc_check(&t, "$.meta", MATCH_LENGTH), BOUND_GTE, 2);
    bound(tc_check(&t, "$.items[?(@.status == \"ok\")]", MATCH_LENGTH), BOUND_EQ, 2);
    bound(tc_check(&t, "$.nothing[*]", MATCH_LENGTH), BOUND_EQ, 0);
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, ITEMS);
    struct json_check *j = tc_check(&t, "$.items", MATCH_LENGTH);
    bound(j, BOUND_GTE, 4);
    bound(j, BOUND_LTE, 10);
    bound(tc_check(&t, "$.total", MATCH_LENGTH), BOUND_GTE, 1);
    bound(tc_check(&t, "$.missing", MATCH_LENGTH), BOUND_EQ, 1);
    bound(tc_check(&t, "$.items[*].sku", MATCH_LENGTH), BOUND_LT, 3);
    expect_failures(&t, "$.items: length 3, expected >= 4 and <= 10",
                    "$.total: number has no length, expected length >= 1",
                    "$.missing: missing, expected length 1", "$.items[*].sku: 3 matches, expected < 3", NULL);
    tc_free(&t);
}

static void test_number_ranges(void **state)
{
    struct tc t;
    tc_init(&t, ITEMS);
    bound(tc_check(&t, "$.total", MATCH_COMPARE), BOUND_GT, 2);
    struct json_check *j = tc_check(&t, "$.items[?(@.status == 'ok')].price", MATCH_COMPARE);
    bound(j, BOUND_GTE, 5);
    bound(j, BOUND_LT, 12.6);
    expect_failures(&t, NULL);
    tc_free(&t);

    tc_init(&t, ITEMS);
    bound(tc_check(&t, "$.total", MATCH_COMPARE), BOUND_LTE, 2.5);
    bound(tc_check(&t, "$.name", MATCH_COMPARE), BOUND_GT, 0);
    bound(tc_check(&t, "$.missing", MATCH_COMPARE), BOUND_LT, 0);
    j = tc_check(&t, "$.items[*].price", MATCH_COMPARE);
    bound(j, BOUND_GT, 0);
    bound(j, BOUND_LTE, 10);
    expect_failures(&t, "$.total: 3, expected <= 2.5", "$.name: string, expected a number > 0",
                    "$.missing: missing, expected a number < 0",
                    "$.items[*].price: match 2 of 3 ($.items[1].price): 12.5, expected > 0 and <= 10", NULL);
    tc_free(&t);
}

/* A credential is never quoted, found by name through a wildcard too. */
static void test_secrets_stay_hidden(void **state)
{
    struct tc t;
    tc_init(&t, "{\"s\":{\"id\":\"s-1\",\"token\":\"tok-secret-123\"},\"a\":[{\"password\":\"pw-9\"}]}");
    tc_check(&t, "$.s.*", MATCH_EQUALS)->equals = cJSON_CreateString("s-1");
    tc_check(&t, "$..password", MATCH_EQUALS)->equals = cJSON_CreateString("x");
    expect_failures(&t, "$.s.*: match 2 of 2 ($.s.token): <secret>, expected \"s-1\"",
                    "$..password: match 1 of 1 ($.a[0].password): <secret>, expected \"x\"", NULL);
    tc_free(&t);
}

/* A body over the evaluation caps fails the check, quickly. */
static void test_capped_body(void **state)
{
    struct buf b;
    struct tc t;
    buf_init(&b, 4 << 20);
    buf_puts(&b, "[0");
    for (int i = 1; i <= JPATH_MATCHES_MAX; i++)
        buf_puts(&b, ",1");
    buf_puts(&b, "]");
    tc_init(&t, b.data);
    tc_check(&t, "$[*]", MATCH_EXISTS)->exists = true;
    bound(tc_check(&t, "$[-1]", MATCH_COMPARE), BOUND_EQ, 1);
    expect_failures(&t, "$[*]: cannot be checked: it selects more than 100000 nodes (a limit of JSON path "
                        "evaluation)", NULL);
    tc_free(&t);
    buf_free(&b);
}

static void test_issue_wildcards(void **state)
{
    struct tc t;
    struct issue_expect ie[2] = { { .pattern = "*.rate_limit.*" }, { .pattern = "payment.*.declined" } };
    tc_init(&t, "{\"issues\":[{\"issue\":\"pricing.rate_limit.exceeded\",\"severity\":\"error\"}]}");
    t.r.status = 429;
    t.e.status.n = 0;
    t.e.issues = ie;
    t.e.n_issues = 2;
    assert_int_equal(checks_run(&t.e, &t.r, t.json, NULL, &t.vars, &t.o), 0);
    bool found_first = false, found_second = false;
    for (size_t i = 0; i < t.o.failures.n; i++) {
        found_first |= strstr(t.o.failures.v[i], "\"*.rate_limit.*\"") != NULL;
        found_second |= strstr(t.o.failures.v[i], "expected issue \"payment.*.declined\" not found; got "
                                                  "pricing.rate_limit.exceeded") != NULL;
    }
    assert_false(found_first);
    assert_true(found_second);
    tc_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_match_must_hold),
        cmocka_unit_test(test_no_match),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_number_ranges),
        cmocka_unit_test(test_secrets_stay_hidden),
        cmocka_unit_test(test_capped_body),
        cmocka_unit_test(test_issue_wildcards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
