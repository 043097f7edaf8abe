/* The incident store and the escalation snapshot it keeps: a record survives
 * a reopen of the store, resumes an incident under its id, and a damaged
 * file is set aside instead of stopping the agent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/incident/escalation.h"
#include "agent/incident/incident_store.h"

#define SEC ((int64_t)1000000)

static char *acts[] = {"throttle"};
static struct ladder_rung rungs[] = {
    {.level = LEVEL_WARNING, .consecutive_failures = 2, .n_actions = 1, .actions = acts},
};
static struct escalation esc = {.n_ladder = 1, .ladder = rungs, .resolve_successes = 2};
static const struct esc_obs OK = {.ok = true};
static const struct esc_obs FAIL = {.ok = false, .bucket = BUCKET_UPSTREAM, .reason = "status_503", .step = "health"};

static char *tmpdir(void)
{
    char *d = strdup("/tmp/tl-istore.XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rmdir_all(char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

/* Opens an incident on a fresh state; its snapshot in *snap. */
static struct esc_state *open_incident(struct esc_snapshot *snap, struct esc_transition *t)
{
    struct esc_state *st;
    assert_int_equal(esc_new(&esc, NULL, &st), 0);
    assert_int_equal(esc_observe(st, &FAIL, 1 * SEC, t), 0);
    assert_int_equal(esc_observe(st, &FAIL, 2 * SEC, t), 1);
    assert_int_equal(t->kind, ESC_OPENED);
    assert_true(esc_snapshot(st, snap));
    return st;
}

static void test_put_reopen_resume(void **unused)
{
    (void)unused;
    char *dir = tmpdir();
    struct esc_snapshot snap;
    struct esc_transition t, t2;
    struct esc_state *st = open_incident(&snap, &t);
    struct istore *s;
    assert_int_equal(istore_open(dir, &s, NULL, 0), 0);
    struct istore_rec rec = {.probe = "api", .region = "eu", .def_hash = 0xfeedfacecafebeefULL, .snap = snap};
    strv_init(&rec.fired);
    assert_int_equal(strv_push(&rec.fired, "throttle"), 0);
    assert_int_equal(istore_put(s, &rec), 0);
    strv_free(&rec.fired);
    istore_free(s);
    esc_free(st);

    /* a new process: the record is back, and the incident goes on under its id */
    assert_int_equal(istore_open(dir, &s, NULL, 0), 0);
    assert_int_equal(istore_count(s), 1);
    struct istore_rec *r = istore_find(s, "api", "eu");
    assert_non_null(r);
    assert_true(r->def_hash == 0xfeedfacecafebeefULL);
    assert_int_equal(r->fired.n, 1);
    assert_string_equal(r->fired.v[0], "throttle");
    assert_string_equal(r->snap.incident_id, t.incident_id);
    assert_int_equal(r->snap.bucket, BUCKET_UPSTREAM);
    assert_string_equal(r->snap.reason, "status_503");
    assert_int_equal(esc_new(&esc, NULL, &st), 0);
    esc_resume(st, &r->snap, 10 * SEC);
    assert_int_equal(esc_phase(st), ESC_PHASE_OPEN);
    assert_int_equal(esc_level(st), LEVEL_WARNING);
    /* the restart tells the sinks at once */
    assert_int_equal(esc_renotify_now(st, 10 * SEC, &t2), 1);
    assert_int_equal(t2.kind, ESC_RENOTIFIED);
    assert_string_equal(t2.incident_id, t.incident_id);
    assert_int_equal(t2.bucket, BUCKET_UPSTREAM);
    /* still failing: no second incident */
    assert_int_equal(esc_observe(st, &FAIL, 11 * SEC, &t2), 0);
    assert_int_equal(esc_observe(st, &OK, 12 * SEC, &t2), 0);
    assert_int_equal(esc_observe(st, &OK, 13 * SEC, &t2), 1);
    assert_int_equal(t2.kind, ESC_RESOLVED);
    assert_string_equal(t2.incident_id, t.incident_id);
    assert_string_equal(t2.resolution, "recovered");
    assert_int_equal(t2.bucket, BUCKET_UPSTREAM);
    assert_int_equal(istore_del(s, "api", "eu"), 0);
    assert_int_equal(istore_count(s), 0);
    istore_free(s);
    esc_free(st);
    assert_int_equal(istore_open(dir, &s, NULL, 0), 0);
    assert_int_equal(istore_count(s), 0);
    istore_free(s);
    rmdir_all(dir);
}

static void test_force_resolve(void **unused)
{
    (void)unused;
    struct esc_snapshot snap;
    struct esc_transition t, t2;
    struct esc_state *st = open_incident(&snap, &t);
    assert_int_equal(esc_force_resolve(st, "probe_removed", 3 * SEC, &t2), 1);
    assert_int_equal(t2.kind, ESC_RESOLVED);
    assert_string_equal(t2.resolution, "probe_removed");
    assert_string_equal(t2.incident_id, t.incident_id);
    assert_int_equal(esc_phase(st), ESC_PHASE_OK);
    /* nothing open: nothing to resolve */
    assert_int_equal(esc_force_resolve(st, "probe_removed", 4 * SEC, &t2), 0);
    esc_free(st);
}

/* The rollback definitions of an open incident and of a rollback owed are
 * kept in the file and read back (a restart runs them without the probe). */
static void test_rollback_defs_kept(void **unused)
{
    (void)unused;
    char *dir = tmpdir();
    struct istore *s;
    struct esc_snapshot snap;
    struct esc_transition t;
    struct esc_state *st = open_incident(&snap, &t);
    struct istore_rec rec = {.probe = "api", .region = "eu", .def_hash = 7, .snap = snap};
    strv_init(&rec.fired);
    strv_init(&rec.running);
    assert_int_equal(strv_push(&rec.fired, "throttle"), 0);
    rec.defs = cJSON_Parse("{\"throttle\":{\"timeoutUs\":1,\"command\":[\"/bin/rm\",\"/tmp/f\"]}}");
    assert_int_equal(istore_open(dir, &s, NULL, 0), 0);
    assert_int_equal(istore_put(s, &rec), 0);
    struct istore_owed o = {.probe = "api", .region = "eu", .level = LEVEL_WARNING, .action = "throttle",
                            .def = cJSON_GetObjectItemCaseSensitive(rec.defs, "throttle")};
    memcpy(o.incident_id, snap.incident_id, sizeof o.incident_id);
    assert_int_equal(istore_owe(s, &o), 0);
    istore_free(s);

    assert_int_equal(istore_open(dir, &s, NULL, 0), 0);
    struct istore_rec *back = istore_find(s, "api", "eu");
    assert_non_null(back);
    char *text = cJSON_PrintUnformatted(back->defs);
    assert_string_equal(text, "{\"throttle\":{\"timeoutUs\":1,\"command\":[\"/bin/rm\",\"/tmp/f\"]}}");
    free(text);
    struct istore_owed *ob = istore_owed_find(s, snap.incident_id, "throttle");
    assert_non_null(ob);
    text = cJSON_PrintUnformatted(ob->def);
    assert_string_equal(text, "{\"timeoutUs\":1,\"command\":[\"/bin/rm\",\"/tmp/f\"]}");
    free(text);
    istore_free(s);
    strv_free(&rec.fired);
    cJSON_Delete(rec.defs);
    esc_free(st);
    rmdir_all(dir);
}

/* Clocks older than the cutoff go, from the file too; the rest stay. */
static void test_cooldowns_pruned(void **unused)
{
    (void)unused;
    char *dir = tmpdir();
    struct istore *s = NULL;
    assert_int_equal(istore_open(dir, &s, NULL, 0), 0);
    assert_int_equal(istore_cool_set(s, "gone", "throttle", 1000000), 0);
    assert_int_equal(istore_cool_set(s, "api", "throttle", 5000000), 0);
    assert_int_equal(istore_cool_set(s, "old", "flag", 2000000), 0);
    assert_int_equal(istore_cool_prune(s, 4000000), 0);
    assert_int_equal(istore_cool_count(s), 1);
    assert_int_equal(istore_cool_prune(s, 4000000), 0); /* nothing to drop */
    istore_free(s);
    assert_int_equal(istore_open(dir, &s, NULL, 0), 0);
    assert_int_equal(istore_cool_count(s), 1);
    assert_string_equal(istore_cool_at(s, 0)->probe, "api");
    assert_int_equal(istore_cool_at(s, 0)->at_us, 5000000);
    istore_free(s);
    rmdir_all(dir);
}

/* Cooldown clocks survive a reopen; setting the same time again keeps one. */
static void test_cooldowns_kept(void **unused)
{
    (void)unused;
    char *dir = tmpdir();
    struct istore *s = NULL;
    assert_int_equal(istore_open(dir, &s, NULL, 0), 0);
    assert_int_equal(istore_cool_set(s, "api", "throttle", 1000000), 0);
    assert_int_equal(istore_cool_set(s, "api", "throttle", 1000100), 0);
    assert_int_equal(istore_cool_set(s, "api", "flag", 5000000), 0);
    assert_int_equal(istore_cool_set(s, "api", "flag", 9000000), 0);
    istore_free(s);
    assert_int_equal(istore_open(dir, &s, NULL, 0), 0);
    assert_int_equal(istore_cool_count(s), 2);
    for (size_t i = 0; i < 2; i++) {
        const struct istore_cool *c = istore_cool_at(s, i);
        assert_string_equal(c->probe, "api");
        if (strcmp(c->action, "throttle") == 0)
            assert_int_equal(c->at_us, 1000000);
        else
            assert_int_equal(c->at_us, 9000000);
    }
    assert_null(istore_cool_at(s, 2));
    istore_free(s);
    rmdir_all(dir);
}

static void test_damaged_file_set_aside(void **unused)
{
    (void)unused;
    char *dir = tmpdir(), path[512], err[600];
    struct istore *s;
    snprintf(path, sizeof path, "%s/incidents.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"incidents\":[{\"probe\":", f);
    fclose(f);
    assert_int_equal(istore_open(dir, &s, err, sizeof err), 0);
    assert_int_equal(istore_count(s), 0);
    assert_non_null(strstr(err, "moved to .corrupt"));
    snprintf(path, sizeof path, "%s/incidents.json.corrupt", dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    istore_free(s);
    rmdir_all(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_reopen_resume),
        cmocka_unit_test(test_force_resolve),
        cmocka_unit_test(test_rollback_defs_kept),
        cmocka_unit_test(test_cooldowns_kept),
        cmocka_unit_test(test_cooldowns_pruned),
        cmocka_unit_test(test_damaged_file_set_aside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
