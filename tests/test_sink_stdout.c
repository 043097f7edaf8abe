/* The stdout / file sink: one compact line per event, rotation followed on
 * reload, write errors reported as "retry". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/sinks/sink.h"

struct got {
    int calls;
    struct sink_result res;
};

static void done(const struct sink_result *res, void *arg)
{
    struct got *g = arg;

    g->calls++;
    g->res = *res;
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    char dir[256];

    snprintf(dir, sizeof(dir), "%s/tripline-stdout-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(out, cap, "%s/%s", dir, name);
}

static void remove_tmp(const char *path)
{
    char dir[512];
    char *slash;

    unlink(path);
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        rmdir(dir);
    }
}

static size_t slurp(const char *path, char *out, size_t cap)
{
    FILE *fp = fopen(path, "r");
    size_t n;

    if (!fp)
        return 0;
    n = fread(out, 1, cap - 1, fp);
    out[n] = '\0';
    fclose(fp);
    return n;
}

static void send1(struct sink *s, const char *ev, struct got *g)
{
    const char *evs[] = {ev};
    size_t lens[] = {strlen(ev)};

    assert_int_equal(sink_send(s, evs, lens, 1, done, g), 0);
}

static void test_pretty_events_become_one_line(void **state)
{
    char path[512], text[512];
    struct sink *s = NULL;
    struct got g = {0};

    (void)state;
    tmp_path(path, sizeof(path), "events.jsonl");
    assert_int_equal(sink_stdout_new(&s, path, NULL, 0), 0);
    assert_string_equal(sink_kind(s), "stdout");
    send1(s, "{\"a\":1}", &g);
    send1(s, "{\n  \"b\": [1,\n 2]\n}", &g);
    assert_int_equal(g.calls, 2);
    assert_int_equal(g.res.outcome, SINK_DELIVERED);
    slurp(path, text, sizeof(text));
    assert_string_equal(text, "{\"a\":1}\n{\"b\":[1,2]}\n");
    sink_free(s);
    remove_tmp(path);
}

static void test_reload_follows_a_rotated_file(void **state)
{
    char path[512], moved[600], text[512];
    struct sink *s = NULL;
    struct got g = {0};

    (void)state;
    tmp_path(path, sizeof(path), "events.jsonl");
    snprintf(moved, sizeof(moved), "%s.1", path);
    assert_int_equal(sink_stdout_new(&s, path, NULL, 0), 0);
    send1(s, "{\"old\":1}", &g);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(sink_reload(s), 0);
    send1(s, "{\"new\":1}", &g);
    slurp(path, text, sizeof(text));
    assert_string_equal(text, "{\"new\":1}\n");
    slurp(moved, text, sizeof(text));
    assert_string_equal(text, "{\"old\":1}\n");
    sink_free(s);
    unlink(moved);
    remove_tmp(path);
}

static void test_full_disk_is_a_retry(void **state)
{
    struct sink *s = NULL;
    struct got g = {0};

    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    assert_int_equal(sink_stdout_new(&s, "/dev/full", NULL, 0), 0);
    send1(s, "{\"a\":1}", &g);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.res.outcome, SINK_RETRY);
    assert_non_null(strstr(g.res.reason, "write to /dev/full"));
    sink_free(s);
}

static void test_unopenable_path_fails_with_a_message(void **state)
{
    struct sink *s = (struct sink *)1;
    char err[256] = "";

    (void)state;
    assert_int_equal(sink_stdout_new(&s, "/nonexistent-dir/x.jsonl", err, sizeof(err)), TL_EIO);
    assert_null(s);
    assert_non_null(strstr(err, "cannot open /nonexistent-dir/x.jsonl"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretty_events_become_one_line),
        cmocka_unit_test(test_reload_follows_a_rotated_file),
        cmocka_unit_test(test_full_disk_is_a_retry),
        cmocka_unit_test(test_unopenable_path_fails_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
