/* Events: what the escalation service and Alertmanager receive for each
 * transition. Each one must be a valid issue of the schema we check others
 * against. Probes, transitions and runs are built by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/incident/event.h"
#include "probes/check/issue_schema.h"

#define SEC ((int64_t)1000000)
#define AT (1795307516 * SEC + 123000)   /* 2026-11-22T00:31:56.123Z */
#define SINCE (1795307456 * SEC)          /* 2026-11-22T00:30:56.000Z */
#define CID "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
#define EID "6f1c3f0e-5d0b-4c61-9a43-0e2b5c1c7d11"
#define IID "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21"

static void test_issue_code(void **state)
{
    (void)state;
    char out[256];
    event_issue_code("checkout", "upstream", "timeout", out, sizeof(out));
    assert_string_equal(out, "checkout.upstream.timeout");
    event_issue_code("Check-Out-EU", "rate_limit", "status_429", out, sizeof(out));
    assert_string_equal(out, "check_out_eu.rate_limit.status_429");
    assert_true(issue_code_valid(out));
    /* an empty or missing reason still gives three segments */
    event_issue_code("shop", "server", "", out, sizeof(out));
    assert_string_equal(out, "shop.server.failure");
    event_issue_code("shop", "server", NULL, out, sizeof(out));
    assert_string_equal(out, "shop.server.failure");
    /* an empty segment is never left empty; dots inside a part do not add segments */
    event_issue_code("", "none", "a.b", out, sizeof(out));
    assert_string_equal(out, "x.none.a_b");
    assert_true(issue_code_valid(out));
    event_issue_code("api v2/ü", "client", "Status 404!", out, sizeof(out));
    assert_string_equal(out, "api_v2___.client.status_404_");
    assert_true(issue_code_valid(out));
}

struct fx {
    struct kv labels[2];
    struct probe probe;
    struct esc_transition t;
    struct step_result steps[2];
    struct run_result run;
    struct event_in in;
};

static void fx_init(struct fx *f, enum esc_kind kind, enum level level, enum level prev)
{
    memset(f, 0, sizeof(*f));
    f->labels[0] = (struct kv){"team", "payments"};
    f->labels[1] = (struct kv){"tier", "1"};
    f->probe.id = "check-out";
    f->probe.runbook = "https://runbooks.example.test/checkout";
    f->probe.n_labels = 2;
    f->probe.labels = f->labels;
    f->probe.escalation.resolve_successes = 3;
    f->t.kind = kind;
    f->t.level = level;
    f->t.prev_level = prev;
    memcpy(f->t.incident_id, IID, 37);
    memcpy(f->t.event_id, EID, 37);
    memcpy(f->t.correlation_id, CID, 37);
    f->t.at_us = AT;
    f->t.opened_at_us = AT;
    f->t.failing_since_us = SINCE;
    f->t.bucket = BUCKET_UPSTREAM;
    memcpy(f->t.reason, "timeout", 8);
    memcpy(f->t.step, "pay", 4);
    f->t.consecutive_failures = 2;
    f->t.failure_ratio = 0.4;
    f->t.window_observations = 5;

    f->steps[0].name = "cart";
    f->steps[0].ran = true;
    f->steps[0].ok = true;
    f->steps[1].name = "pay";
    f->steps[1].ran = true;
    f->steps[1].bucket = BUCKET_UPSTREAM;
    strv_init(&f->steps[0].failures);
    strv_init(&f->steps[1].failures);
    strv_push(&f->steps[1].failures, "step pay: Operation timed out after 1000 milliseconds");
    strv_push(&f->steps[1].failures, "step pay: second failure");
    f->steps[1].evidence = cJSON_Parse("{\"request\":{\"method\":\"POST\"},\"response\":{\"status\":null},"
                                       "\"step\":{\"name\":\"pay\",\"index\":2,\"of\":2}}");
    assert_non_null(f->steps[1].evidence);
    strv_init(&f->run.failures);
    f->run.ok = false;
    f->run.failed_step = 1;
    f->run.n_steps = 2;
    f->run.steps = f->steps;

    f->in.probe = &f->probe;
    f->in.t = &f->t;
    f->in.last = &f->run;
    f->in.region = "eu-west";
    f->in.agent = "edge-eu-1";
}

static void fx_free(struct fx *f)
{
    strv_free(&f->steps[0].failures);
    strv_free(&f->steps[1].failures);
    strv_free(&f->run.failures);
    cJSON_Delete(f->steps[1].evidence);
}

static const char *str_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v))
        fail_msg("\"%s\" is not a string", k);
    return v->valuestring;
}

static double num_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

/* The event is a valid issue: {"issues":[event]} passes our own checker,
 * echoing the event's correlationId. */
static void assert_schema_valid(const cJSON *e)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "issues");
    cJSON_AddItemToArray(arr, cJSON_Duplicate(e, 1));
    struct strv v;
    strv_init(&v);
    int n = issue_schema_check(doc, str_at(e, "correlationId"), true, true, &v);
    for (size_t i = 0; i < v.n; i++)
        print_error("violation: %s\n", v.v[i]);
    assert_int_equal(n, 0);
    strv_free(&v);
    cJSON_Delete(doc);
}

static void assert_common(const cJSON *e)
{
    assert_string_equal(str_at(e, "issue"), "check_out.upstream.timeout");
    assert_string_equal(str_at(e, "correlationId"), CID);
    assert_string_equal(str_at(e, "dateTime"), "2026-11-22T00:31:56.123Z");
    assert_string_equal(str_at(e, "eventId"), EID);
    assert_string_equal(str_at(e, "incidentId"), IID);
    assert_string_equal(str_at(e, "probe"), "check-out");
    assert_string_equal(str_at(e, "step"), "pay");
    assert_string_equal(str_at(e, "region"), "eu-west");
    assert_string_equal(str_at(e, "agent"), "edge-eu-1");
    assert_string_equal(str_at(e, "bucket"), "upstream");
    assert_string_equal(str_at(e, "reason"), "timeout");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e, "flapping")));
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(e, "labels");
    assert_int_equal(cJSON_GetArraySize(labels), 2);
    assert_string_equal(str_at(labels, "team"), "payments");
    assert_string_equal(str_at(labels, "tier"), "1");
    const cJSON *impact = cJSON_GetObjectItemCaseSensitive(e, "impact");
    assert_int_equal((int)num_at(impact, "consecutiveFailures"), 2);
    assert_true(num_at(impact, "failureRatio") == 0.4);
    assert_int_equal((int)num_at(impact, "windowRuns"), 5);
    assert_string_equal(str_at(impact, "since"), "2026-11-22T00:30:56.000Z");
    assert_string_equal(str_at(cJSON_GetObjectItemCaseSensitive(e, "links"), "documentation"),
                        "https://runbooks.example.test/checkout");
    assert_schema_valid(e);
}

static void test_opened(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, ESC_OPENED, LEVEL_WARNING, LEVEL_NONE);
    cJSON *e = event_build(&f.in);
    assert_non_null(e);
    assert_common(e);
    assert_string_equal(str_at(e, "severity"), "warning");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "active")));
    assert_string_equal(str_at(e, "transition"), "opened");
    assert_string_equal(str_at(e, "level"), "warning");
    assert_string_equal(str_at(e, "previousLevel"), "none");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    assert_string_equal(str_at(msg, "title"), "check-out failing in eu-west: upstream timeout");
    /* the first failure of the failing step */
    assert_string_equal(str_at(msg, "detail"), "step pay: Operation timed out after 1000 milliseconds");

    /* evidence: the failing step's pack with the impact added; the run's own
     * pack is left as it was */
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(e, "evidence");
    assert_non_null(ev);
    assert_string_equal(str_at(cJSON_GetObjectItemCaseSensitive(ev, "request"), "method"), "POST");
    assert_string_equal(str_at(cJSON_GetObjectItemCaseSensitive(ev, "step"), "name"), "pay");
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ev, "impact"),
                              cJSON_GetObjectItemCaseSensitive(e, "impact"), 1));
    assert_null(cJSON_GetObjectItemCaseSensitive(f.steps[1].evidence, "impact"));
    assert_null(cJSON_GetObjectItemCaseSensitive(e, "timeline"));

    /* the checker is not vacuous: a foreign severity and a bad code fail it */
    cJSON *bad = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(bad, "issues");
    cJSON *dup = cJSON_Duplicate(e, 1);
    cJSON_ReplaceItemInObjectCaseSensitive(dup, "severity", cJSON_CreateString("fatal"));
    cJSON_ReplaceItemInObjectCaseSensitive(dup, "issue", cJSON_CreateString("check-out.upstream"));
    cJSON_AddItemToArray(arr, dup);
    struct strv v;
    strv_init(&v);
    assert_int_equal(issue_schema_check(bad, CID, true, true, &v), 2);
    strv_free(&v);
    cJSON_Delete(bad);
    cJSON_Delete(e);
    fx_free(&f);
}

static void test_escalated_and_severity_map(void **state)
{
    (void)state;
    static const struct {
        enum level level, prev;
        const char *severity, *lvl, *prevs;
    } cases[] = {
        {LEVEL_CRITICAL, LEVEL_WARNING, "error", "critical", "warning"},
        {LEVEL_WARNING, LEVEL_NOTICE, "warning", "warning", "notice"},
        {LEVEL_NOTICE, LEVEL_NONE, "info", "notice", "none"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;
        fx_init(&f, i == 2 ? ESC_OPENED : ESC_ESCALATED, cases[i].level, cases[i].prev);
        f.t.flapping = i == 0;
        cJSON *timeline = cJSON_Parse("[{\"at\":\"2026-11-22T00:31:56Z\",\"action\":\"slack\",\"kind\":\"run\","
                                      "\"outcome\":\"ok\",\"detail\":\"HTTP 200\"}]");
        f.in.timeline = timeline;
        cJSON *e = event_build(&f.in);
        assert_non_null(e);
        assert_string_equal(str_at(e, "severity"), cases[i].severity);
        assert_string_equal(str_at(e, "level"), cases[i].lvl);
        assert_string_equal(str_at(e, "previousLevel"), cases[i].prevs);
        assert_string_equal(str_at(e, "transition"), i == 2 ? "opened" : "escalated");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "active")));
        assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(e, "flapping")));
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "flapping")), i == 0);
        assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(e, "timeline"), timeline, 1));
        assert_schema_valid(e);
        cJSON_Delete(e);
        cJSON_Delete(timeline);
        fx_free(&f);
    }
}

static void test_resolved(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, ESC_RESOLVED, LEVEL_CRITICAL, LEVEL_CRITICAL);
    /* resolution comes with a passing run */
    f.run.ok = true;
    f.run.failed_step = -1;
    cJSON *e = event_build(&f.in);
    assert_non_null(e);
    assert_common(e);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e, "active")));
    assert_string_equal(str_at(e, "transition"), "resolved");
    assert_string_equal(str_at(e, "severity"), "error");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    assert_string_equal(str_at(msg, "title"), "check-out recovered in eu-west");
    assert_string_equal(str_at(msg, "detail"), "3 consecutive successful runs");
    assert_null(cJSON_GetObjectItemCaseSensitive(e, "evidence"));
    cJSON_Delete(e);
    fx_free(&f);
}

/* No runbook: no links at all (an empty links object is not an issue link);
 * no correlation id: the event id stands in; journey-level failures are the
 * detail when no step failed. */
static void test_without_runbook_or_step(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, ESC_OPENED, LEVEL_CRITICAL, LEVEL_NONE);
    f.probe.runbook = NULL;
    f.probe.n_labels = 0;
    f.t.correlation_id[0] = '\0';
    f.t.step[0] = '\0';
    f.t.bucket = BUCKET_BUDGET;
    memcpy(f.t.reason, "journey", 8);
    f.run.failed_step = -1;
    strv_push(&f.run.failures, "journey took 12000 ms, budget 10000 ms");
    cJSON *e = event_build(&f.in);
    assert_non_null(e);
    assert_null(cJSON_GetObjectItemCaseSensitive(e, "links"));
    assert_null(cJSON_GetObjectItemCaseSensitive(e, "step"));
    assert_null(cJSON_GetObjectItemCaseSensitive(e, "evidence"));
    assert_string_equal(str_at(e, "correlationId"), EID);
    assert_string_equal(str_at(e, "issue"), "check_out.budget.journey");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "labels")), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    assert_string_equal(str_at(msg, "title"), "check-out failing in eu-west: budget journey");
    assert_string_equal(str_at(msg, "detail"), "journey took 12000 ms, budget 10000 ms");
    assert_schema_valid(e);
    cJSON_Delete(e);

    /* an empty reason: the code still has three segments */
    f.t.reason[0] = '\0';
    e = event_build(&f.in);
    assert_string_equal(str_at(e, "issue"), "check_out.budget.failure");
    assert_schema_valid(e);
    cJSON_Delete(e);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_code),
        cmocka_unit_test(test_opened),
        cmocka_unit_test(test_escalated_and_severity_map),
        cmocka_unit_test(test_resolved),
        cmocka_unit_test(test_without_runbook_or_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
