/* The stdout / file sink: one compact line per event, rotation followed on
 * reload, write errors reported as "retry"; `stdout: line` short human lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
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

/* The line format writes to stdout: the test points fd 1 at a file meanwhile. */
static void test_line_format_is_one_short_line(void **state)
{
    char path[512], text[1024];
    struct sink *s = NULL;
    struct got g = {0};
    int saved, fd;

    (void)state;
    tmp_path(path, sizeof(path), "lines.txt");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    assert_int_equal(sink_stdout_new(&s, NULL, NULL, 0), 0);
    sink_stdout_set_lines(s);
    send1(s, "{\"dateTime\":\"2026-11-30T12:00:01Z\",\"probe\":\"health-api\",\"region\":\"eu\","
             "\"level\":\"warning\",\"transition\":\"opened\",\"bucket\":\"upstream\","
             "\"reason\":\"status_503\",\"evidence\":{\"big\":\"not shown\"}}", &g);
    send1(s, "{\"dateTime\":\"2026-11-30T12:00:05Z\",\"probe\":\"health-api\",\"region\":\"eu\","
             "\"level\":\"critical\",\"transition\":\"resolved\",\"bucket\":\"upstream\","
             "\"reason\":\"status_503\",\"timeline\":[{\"action\":\"restart\",\"kind\":\"run\","
             "\"outcome\":\"ok\"},{\"action\":\"restart\",\"kind\":\"rollback\",\"outcome\":\"failed\"}]}",
          &g);
    send1(s, "not json", &g);
    sink_free(s);
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    close(fd);
    assert_int_equal(g.calls, 3);
    assert_int_equal(g.res.outcome, SINK_RETRY);
    slurp(path, text, sizeof(text));
    assert_string_equal(text,
                        "2026-11-30T12:00:01Z health-api eu warning opened upstream/status_503\n"
                        "2026-11-30T12:00:05Z health-api eu critical resolved upstream/status_503"
                        " actions: restart run ok, restart rollback failed\n");
    remove_tmp(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretty_events_become_one_line),
        cmocka_unit_test(test_reload_follows_a_rotated_file),
        cmocka_unit_test(test_full_disk_is_a_retry),
        cmocka_unit_test(test_unopenable_path_fails_with_a_message),
        cmocka_unit_test(test_line_format_is_one_short_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
