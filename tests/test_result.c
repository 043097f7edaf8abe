/* run_result_json: the shape of `tripline once --json`, the millisecond
 * timings written by integer arithmetic, and what a skipped step shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "probes/run/result.h"

/* A run of two steps: the first failed with a 503, the second was skipped. */
static struct run_result *failed_run(void)
{
    struct run_result *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->probe_id = strdup("checkout");
    r->region = strdup("eu");
    r->started_at_us = 1700000000123456; /* written with milliseconds */
    r->duration = 12345;                 /* 12.345 ms */
    r->verdict = (struct verdict){ BUCKET_UPSTREAM, REASON_STATUS, 503 };
    r->bucket = BUCKET_UPSTREAM;
    r->reason = strdup(verdict_reason(&r->verdict));
    r->failed_step = 0;
    strv_init(&r->failures);
    r->n_steps = 2;
    r->steps = calloc(2, sizeof(*r->steps));
    assert_non_null(r->steps);
    struct step_result *s = &r->steps[0];
    s->name = strdup("pay");
    s->ran = true;
    s->status = 503;
    s->timings = (struct timings){ .dns = 1000, .connect = 1500, .tls = 0, .ttfb = 10250, .total = 12001 };
    s->bucket = BUCKET_UPSTREAM;
    s->reason = strdup("status_503");
    memcpy(s->correlation_id, "00000000-0000-4000-8000-000000000000", 37);
    strv_init(&s->failures);
    strv_push(&s->failures, "step pay: status 503, expected 200");
    r->steps[1].name = strdup("receipt");
    strv_init(&r->steps[1].failures);
    return r;
}

static void assert_raw(const cJSON *o, const char *key, const char *text)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_non_null(v);
    char *p = cJSON_PrintUnformatted(v);
    assert_non_null(p);
    assert_string_equal(p, text);
    free(p);
}

static void test_failed_run_shape(void **state)
{
    (void)state;
    struct run_result *r = failed_run();
    cJSON *o = run_result_json(r);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "probe")->valuestring, "checkout");
    assert_string_equal(cJSON_GetObjectItem(o, "region")->valuestring, "eu");
    assert_null(cJSON_GetObjectItem(o, "vantage"));
    assert_string_equal(cJSON_GetObjectItem(o, "started_at")->valuestring, "2023-11-14T22:13:20.123Z");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "ok")));
    assert_string_equal(cJSON_GetObjectItem(o, "bucket")->valuestring, "upstream");
    assert_string_equal(cJSON_GetObjectItem(o, "reason")->valuestring, "status_503");
    assert_raw(o, "duration_ms", "12.345");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "budget_breached")));
    assert_string_equal(cJSON_GetObjectItem(o, "failed_step")->valuestring, "pay");
    /* the failing step's failures are the run's too (they used to be missing) */
    const cJSON *fails = cJSON_GetObjectItem(o, "failures");
    assert_int_equal(cJSON_GetArraySize(fails), 1);
    assert_string_equal(cJSON_GetArrayItem(fails, 0)->valuestring, "step pay: status 503, expected 200");

    const cJSON *steps = cJSON_GetObjectItem(o, "steps");
    assert_int_equal(cJSON_GetArraySize(steps), 2);
    const cJSON *s = cJSON_GetArrayItem(steps, 0);
    assert_string_equal(cJSON_GetObjectItem(s, "name")->valuestring, "pay");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(s, "ran")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s, "ok")));
    assert_raw(s, "status", "503");
    assert_string_equal(cJSON_GetObjectItem(s, "bucket")->valuestring, "upstream");
    assert_string_equal(cJSON_GetObjectItem(s, "reason")->valuestring, "status_503");
    assert_string_equal(cJSON_GetObjectItem(s, "correlation_id")->valuestring, r->steps[0].correlation_id);
    const cJSON *t = cJSON_GetObjectItem(s, "timings");
    assert_raw(t, "dns_ms", "1");
    assert_raw(t, "connect_ms", "1.5");
    assert_raw(t, "tls_ms", "0");
    assert_raw(t, "ttfb_ms", "10.25");
    assert_raw(t, "total_ms", "12.001");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "failures")), 1);
    assert_null(cJSON_GetObjectItem(s, "evidence"));

    /* A skipped step: no status, no timings, no verdict. */
    s = cJSON_GetArrayItem(steps, 1);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s, "ran")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s, "ok")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(s, "status")));
    assert_null(cJSON_GetObjectItem(s, "timings"));
    assert_null(cJSON_GetObjectItem(s, "correlation_id"));
    assert_null(cJSON_GetObjectItem(s, "bucket"));
    assert_null(cJSON_GetObjectItem(s, "reason"));
    cJSON_Delete(o);
    run_result_free(r);
}

static void test_ok_run_shape(void **state)
{
    (void)state;
    struct run_result *r = failed_run();
    r->ok = true;
    r->failed_step = -1;
    r->bucket = BUCKET_NONE;
    r->duration = 2000000; /* whole milliseconds print without a fraction */
    r->vantage = strdup("edge-1");
    r->steps[0].ok = true;
    strv_free(&r->steps[0].failures);
    strv_init(&r->steps[0].failures);
    strv_push(&r->failures, "journey: total 2000.0 ms > budget 1000 ms");
    cJSON *o = run_result_json(r);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "bucket")));
    assert_null(cJSON_GetObjectItem(o, "reason"));
    assert_null(cJSON_GetObjectItem(o, "failed_step"));
    assert_string_equal(cJSON_GetObjectItem(o, "vantage")->valuestring, "edge-1");
    assert_raw(o, "duration_ms", "2000");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "failures")), 1);
    const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "steps"), 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(s, "ok")));
    assert_null(cJSON_GetObjectItem(s, "bucket"));
    cJSON_Delete(o);
    run_result_free(r);
}

static void test_free_null(void **state)
{
    (void)state;
    run_result_free(NULL);
}

/* A request refused before any answer: the phases it never reached are
 * null, not 0 ms; the time it took is still there. */
static void test_no_answer_phases_null(void **state)
{
    (void)state;
    struct run_result *r = failed_run();
    r->steps[0].status = 0;
    r->steps[0].timings = (struct timings){ .dns = 40, .total = 300 };
    cJSON *o = run_result_json(r);
    assert_non_null(o);
    const cJSON *t = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "steps"), 0), "timings");
    assert_raw(t, "dns_ms", "0.04");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "connect_ms")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "tls_ms")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "ttfb_ms")));
    assert_raw(t, "total_ms", "0.3");
    cJSON_Delete(o);
    run_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_run_shape),
        cmocka_unit_test(test_no_answer_phases_null),
        cmocka_unit_test(test_ok_run_shape),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
