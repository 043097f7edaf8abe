/* Probe table tests: load, reload keeping unchanged probes, a file kept
 * alive by a run in flight, and a broken file keeping its last good version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "agent/daemon/probe_table.h"

struct fixture {
    uv_loop_t loop;
    struct config cfg;
    struct scheduler *sched;
    struct strv files;
    struct probe_table *t;
    char dir[64];
    char path[128];
    int added, removed;
};

static void on_start(struct scheduler_entry *e, void *user, tl_usec scheduled)
{
    (void)user;
    (void)scheduled;
    scheduler_done(e); /* schedules are hours apart: not reached */
}

static void on_added(void *arg, struct probe_state *ps)
{
    (void)ps;
    ((struct fixture *)arg)->added++;
}

static void on_removed(void *arg, struct probe_state *ps)
{
    (void)ps;
    ((struct fixture *)arg)->removed++;
}

static void write_probes(struct fixture *fx, const char *text)
{
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define PROBE(id, path)                                                                                            \
    "- probe: " id "\n  schedule: {every: 1h}\n  steps: [{name: get, request: {url: \"http://127.0.0.1:9" path   \
    "\"}}]\n"

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    config_defaults(&fx->cfg);
    for (size_t i = 0; i < fx->cfg.n_probe_globs; i++)
        free(fx->cfg.probe_globs[i]);
    fx->cfg.n_probe_globs = 0;
    struct scheduler_opts so = {.start = on_start};
    assert_int_equal(scheduler_new(&fx->loop, &so, &fx->sched), 0);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/tripline-pt-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/probes.yaml", fx->dir);
    strv_init(&fx->files);
    strv_push(&fx->files, fx->path);
    write_probes(fx, PROBE("a", "/a") PROBE("b", "/b"));
    struct probe_table_opts o = {
        .cfg = &fx->cfg,
        .files = &fx->files,
        .sched = fx->sched,
        .log = log_default(),
        .added = on_added,
        .removed = on_removed,
        .hook_arg = fx,
    };
    assert_int_equal(probe_table_new(&o, &fx->t), 0);
    assert_int_equal(probe_table_load(fx->t, true), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    scheduler_free(fx->sched);
    probe_table_free(fx->t);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    unlink(fx->path);
    rmdir(fx->dir);
    strv_free(&fx->files);
    config_free(&fx->cfg);
    free(fx);
    return 0;
}

static void test_load(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(probe_table_count(fx->t), 2);
    assert_int_equal(fx->added, 2);
    struct probe_state *a = probe_table_find(fx->t, "a", fx->cfg.region);
    assert_non_null(a);
    assert_string_equal(a->probe->id, "a");
    assert_string_equal(a->host, "127.0.0.1:9");
    assert_int_equal(a->lf->refs, 1);
    assert_null(probe_table_find(fx->t, "c", fx->cfg.region));
}

static void test_reload_keeps_unchanged(void **state)
{
    struct fixture *fx = *state;
    struct probe_state *a = probe_table_find(fx->t, "a", fx->cfg.region);
    struct probe_state *b = probe_table_find(fx->t, "b", fx->cfg.region);
    a->runs = 7; /* state that must survive */
    write_probes(fx, PROBE("a", "/a") PROBE("b", "/changed") PROBE("c", "/c"));
    assert_int_equal(probe_table_load(fx->t, false), 0);
    assert_int_equal(probe_table_count(fx->t), 3);
    assert_ptr_equal(probe_table_find(fx->t, "a", fx->cfg.region), a);
    assert_int_equal(a->runs, 7);
    assert_ptr_not_equal(probe_table_find(fx->t, "b", fx->cfg.region), b); /* changed: afresh */
    assert_int_equal(fx->removed, 1);
    assert_int_equal(fx->added, 2 + 2);
    /* the log line's counts: b changed (not added -1 and removed), c added */
    struct probe_table_counts c;
    probe_table_last_counts(fx->t, &c);
    assert_int_equal(c.kept, 1);
    assert_int_equal(c.changed, 1);
    assert_int_equal(c.added, 1);
    assert_int_equal(c.removed, 0);
    write_probes(fx, PROBE("a", "/a2"));
    assert_int_equal(probe_table_load(fx->t, false), 0);
    probe_table_last_counts(fx->t, &c);
    assert_int_equal(c.changed, 1);
    assert_int_equal(c.added, 0);
    assert_int_equal(c.removed, 2);
}

static void test_removed_while_running(void **state)
{
    struct fixture *fx = *state;
    struct probe_state *a = probe_table_find(fx->t, "a", fx->cfg.region);
    probe_state_run_begin(a);
    struct lfile *lf = a->run_lf;
    assert_int_equal(lf->refs, 2);
    write_probes(fx, PROBE("b", "/b"));
    assert_int_equal(probe_table_load(fx->t, false), 0);
    assert_int_equal(probe_table_count(fx->t), 1);
    assert_null(probe_table_find(fx->t, "a", fx->cfg.region));
    /* the old file is out of the table but the run still holds it */
    assert_true(a->removed);
    assert_int_equal(lf->refs, 1);
    assert_string_equal(a->probe->id, "a");
    /* the run ends: the state and the file go (ASan checks both) */
    assert_true(probe_state_run_end(a));
}

static void test_broken_file_keeps_last_good(void **state)
{
    struct fixture *fx = *state;
    struct probe_state *a = probe_table_find(fx->t, "a", fx->cfg.region);
    write_probes(fx, "- probe: a\n  schedule: {every: nonsense}\n");
    assert_int_equal(probe_table_load(fx->t, false), TL_ESYNTAX);
    assert_int_equal(probe_table_count(fx->t), 2);
    assert_ptr_equal(probe_table_find(fx->t, "a", fx->cfg.region), a);
    assert_int_equal(a->lf->refs, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_file_keeps_last_good, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
