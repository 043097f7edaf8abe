/* Action timelines: incidents, the bounded ring, supersession, cleaning
 * and redaction of outside text, and the JSON /status reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/actions/actions_int.h"

#define INC1 "11111111-1111-4111-8111-111111111111"
#define INC2 "22222222-2222-4222-8222-222222222222"

struct env {
    uv_loop_t loop;
    struct actions *act;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    assert_int_equal(actions_new(&e->act, &e->loop, NULL, NULL), 0);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    actions_free(e->act);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
    return 0;
}

static void test_fmt_dur(void **state)
{
    char b[32];
    (void)state;
    assert_string_equal(act_fmt_dur(b, sizeof b, 250000), "250ms");
    assert_string_equal(act_fmt_dur(b, sizeof b, 1500000), "1.5s");
    assert_string_equal(act_fmt_dur(b, sizeof b, 90ULL * 1000000), "1.5m");
    assert_string_equal(act_fmt_dur(b, sizeof b, 7200ULL * 1000000), "2.0h");
}

static void test_text_keep_cleans(void **state)
{
    const char raw[] = "ok\tline\n\x01" "bad\xff" "caf\xc3\xa9 \xe2\x82";
    char *t = malloc(sizeof raw);
    (void)state;
    assert_non_null(t);
    memcpy(t, raw, sizeof raw);
    act_text_keep(&t, sizeof raw - 1);
    /* tab and newline stay, control bytes and broken UTF-8 become '?' */
    assert_string_equal(t, "ok\tline\n?bad?caf\xc3\xa9 ??");
    free(t);
}

static void test_text_keep_redacts(void **state)
{
    const char raw[] = "deploying\npassword=hunter2\n";
    char *t = malloc(sizeof raw);
    (void)state;
    assert_non_null(t);
    memcpy(t, raw, sizeof raw);
    act_text_keep(&t, sizeof raw - 1);
    assert_null(strstr(t, "hunter2"));
    assert_non_null(strstr(t, "deploying"));
    free(t);
}

static void test_ring_drops_oldest(void **state)
{
    struct env *e = *state;
    struct act_incident *inc = act_incident_get(e->act, INC1, "p", "eu");
    char name[16];
    assert_non_null(inc);
    for (int i = 0; i < ACTIONS_TIMELINE_MAX + 3; i++) {
        snprintf(name, sizeof name, "a%d", i);
        act_timeline_note(inc, name, ACT_RUN, "skipped", "cooldown");
    }
    cJSON *tl = actions_timeline_json(e->act, INC1);
    assert_non_null(tl);
    assert_int_equal(cJSON_GetArraySize(tl), ACTIONS_TIMELINE_MAX);
    cJSON *first = cJSON_GetArrayItem(tl, 0);
    assert_string_equal(cJSON_GetObjectItem(first, "action")->valuestring, "a3");
    assert_string_equal(cJSON_GetObjectItem(first, "kind")->valuestring, "run");
    assert_string_equal(cJSON_GetObjectItem(first, "outcome")->valuestring, "skipped");
    assert_null(cJSON_GetObjectItem(first, "status"));
    cJSON_Delete(tl);

    cJSON *st = actions_probe_json(e->act, "p", "eu");
    assert_non_null(st);
    assert_int_equal(cJSON_GetObjectItem(st, "dropped")->valueint, 3);
    assert_string_equal(cJSON_GetObjectItem(st, "state")->valuestring, "open");
    cJSON_Delete(st);
}

static void test_entry_fields_in_json(void **state)
{
    struct env *e = *state;
    struct act_incident *inc = act_incident_get(e->act, INC1, "p", "eu");
    struct act_entry en = { .kind = ACT_ROLLBACK, .outcome = "ok", .status = 204 };
    assert_non_null(inc);
    en.action = strdup("flag");
    en.detail = strdup("HTTP 204");
    en.output = strdup("done");
    act_timeline_push(inc, &en);
    assert_null(en.action); /* moved */
    cJSON *tl = actions_timeline_json(e->act, INC1);
    cJSON *o = cJSON_GetArrayItem(tl, 0);
    assert_string_equal(cJSON_GetObjectItem(o, "kind")->valuestring, "rollback");
    assert_int_equal(cJSON_GetObjectItem(o, "status")->valueint, 204);
    assert_string_equal(cJSON_GetObjectItem(o, "output")->valuestring, "done");
    cJSON_Delete(tl);
    assert_null(actions_timeline_json(e->act, INC2));
}

/* A new incident of the same (probe, region) replaces the old one, which
 * lives on while it has runs in flight. */
static void test_supersede(void **state)
{
    struct env *e = *state;
    struct act_incident *old = act_incident_get(e->act, INC1, "p", "eu");
    assert_non_null(old);
    old->pending = 1;
    struct act_incident *cur = act_incident_get(e->act, INC2, "p", "eu");
    assert_non_null(cur);
    assert_true(old->stale);
    assert_ptr_equal(act_incident_find(e->act, INC1), old);
    cJSON *st = actions_probe_json(e->act, "p", NULL);
    assert_string_equal(cJSON_GetObjectItem(st, "incident_id")->valuestring, INC2);
    cJSON_Delete(st);
    old->pending = 0;
    act_incident_settle(e->act, old);
    assert_null(act_incident_find(e->act, INC1));
    assert_ptr_equal(act_incident_find(e->act, INC2), cur);
    /* another region is another place */
    assert_non_null(act_incident_get(e->act, INC1, "p", "us"));
    assert_non_null(act_incident_find(e->act, INC2));
}

static void test_open_wins_over_resolved(void **state)
{
    struct env *e = *state;
    struct act_incident *a = act_incident_get(e->act, INC1, "p", "eu");
    assert_non_null(a);
    a->resolved = true;
    cJSON *st = actions_probe_json(e->act, "p", "eu");
    assert_string_equal(cJSON_GetObjectItem(st, "state")->valuestring, "resolved");
    cJSON_Delete(st);
    assert_null(actions_probe_json(e->act, "other", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_dur),
        cmocka_unit_test(test_text_keep_cleans),
        cmocka_unit_test(test_text_keep_redacts),
        cmocka_unit_test_setup_teardown(test_ring_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_fields_in_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supersede, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_wins_over_resolved, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
