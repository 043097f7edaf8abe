/* Retries: which failed tries are tried again, what each try leaves in the
 * result, and the loader's retry keys (a probe's retry is its steps'
 * default). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "probes/load/load.h"
#include "probes/run/retry.h"

#define MS 1000LL
#define SEC 1000000LL

static const struct verdict V503 = {BUCKET_UPSTREAM, REASON_STATUS, 503};
static const struct verdict VAGENT = {BUCKET_AGENT, REASON_MISSING_SECRET, 0};
static const struct verdict VOK = {BUCKET_NONE, REASON_OK, 0};

static void test_wanted(void **state)
{
    (void)state;
    struct step st = {.name = "s", .retry = {.attempts = 3, .delay = 100 * MS}};
    struct step_result sr = {0};
    strv_init(&sr.failures);
    assert_true(retry_wanted(&st, &sr, &V503, 50 * MS, 10 * SEC));
    /* never the agent's own fault, never a pass */
    assert_false(retry_wanted(&st, &sr, &VAGENT, 50 * MS, 10 * SEC));
    assert_false(retry_wanted(&st, &sr, &VOK, 50 * MS, 10 * SEC));
    /* the deadline must leave the delay and a try as long as this one */
    assert_false(retry_wanted(&st, &sr, &V503, 50 * MS, 150 * MS));
    assert_true(retry_wanted(&st, &sr, &V503, 50 * MS, 151 * MS));
    /* attempts counts every try: the third is the last */
    sr.attempts = 2;
    assert_false(retry_wanted(&st, &sr, &V503, 50 * MS, 10 * SEC));
    /* no retry key: one try */
    struct step plain = {.name = "p"};
    sr.attempts = 0;
    assert_false(retry_wanted(&plain, &sr, &V503, 0, 10 * SEC));
    st.retry.attempts = 1;
    assert_false(retry_wanted(&st, &sr, &V503, 0, 10 * SEC));
}

static void test_record_and_finish(void **state)
{
    (void)state;
    struct capture caps[] = {{.name = "token"}};
    struct step st = {.name = "s", .retry = {.attempts = 2}, .n_captures = 1, .captures = caps};
    struct step_result sr = {.status = 503, .reason = strdup("status_503"), .budget_breached = true};
    strcpy(sr.correlation_id, "11111111-2222-4333-8444-555555555555");
    strv_init(&sr.failures);
    strv_push(&sr.failures, "step s: status 503, expected 200-399");
    struct tpl_vars vars;
    tpl_vars_init(&vars);
    tpl_vars_set(&vars, "base", "http://x", false);
    tpl_vars_set(&vars, "token", "from-the-failed-try", true);

    retry_record(&sr, &st, &V503, 42 * MS, &vars);
    assert_int_equal(sr.attempts, 1);
    assert_int_equal(sr.failures.n, 0);
    assert_null(sr.reason);
    assert_int_equal(sr.status, 0);
    assert_false(sr.budget_breached);
    /* the failed try's capture is gone, the probe's vars stay */
    assert_null(tpl_vars_get(&vars, "token"));
    assert_non_null(tpl_vars_get(&vars, "base"));
    cJSON *a = cJSON_GetArrayItem(sr.failed_attempts, 0);
    assert_non_null(a);
    assert_int_equal(cJSON_GetObjectItem(a, "attempt")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(a, "bucket")->valuestring, "upstream");
    assert_string_equal(cJSON_GetObjectItem(a, "reason")->valuestring, "status_503");
    assert_int_equal(cJSON_GetObjectItem(a, "status")->valueint, 503);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "failures"), 0)->valuestring,
                        "step s: status 503, expected 200-399");

    /* the last try failed too: its evidence carries both tries */
    sr.evidence = cJSON_CreateObject();
    retry_finish(&sr);
    assert_int_equal(sr.attempts, 2);
    assert_int_equal(cJSON_GetObjectItem(sr.evidence, "attempts")->valueint, 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(sr.evidence, "failed_attempts")), 1);

    /* a step without retries: one attempt, nothing added */
    struct step_result once = {0};
    retry_finish(&once);
    assert_int_equal(once.attempts, 1);
    assert_null(once.failed_attempts);

    cJSON_Delete(sr.evidence);
    cJSON_Delete(sr.failed_attempts);
    strv_free(&sr.failures);
    tpl_vars_free(&vars);
}

static void test_loader_defaults(void **state)
{
    (void)state;
    static const char text[] = "probe: r\n"
                               "schedule: {every: 1m, timeout: 5s}\n"
                               "retry: {attempts: 2, delay: 1s}\n"
                               "steps:\n"
                               "  - {name: a, request: {url: \"http://127.0.0.1:1/\"}}\n"
                               "  - name: b\n"
                               "    request: {url: \"http://127.0.0.1:1/\"}\n"
                               "    retry: {attempts: 5}\n"
                               "finally:\n"
                               "  - {name: c, request: {url: \"http://127.0.0.1:1/\"}}\n";
    char path[] = "/tmp/test_retry-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    struct probe_set *set = NULL;
    struct strv errors;
    strv_init(&errors);
    char *files[] = {path};
    assert_int_equal(probe_load_files(&set, files, 1, &errors), 0);
    const struct probe *p = set->probes[0];
    assert_int_equal(p->steps[0].retry.attempts, 2);
    assert_int_equal(p->steps[0].retry.delay, 1 * SEC);
    assert_int_equal(p->steps[1].retry.attempts, 5); /* its own, delay 0 */
    assert_int_equal(p->steps[1].retry.delay, 0);
    assert_int_equal(p->steps[2].retry.attempts, 2);
    probe_set_free(set);
    strv_free(&errors);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wanted),
        cmocka_unit_test(test_record_and_finish),
        cmocka_unit_test(test_loader_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
