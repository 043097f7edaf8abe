/* Action commands on their own: real child processes started through
 * act_cmd_start, their outcome, output, environment and timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/actions/actions_int.h"

#define MS ((tl_usec)1000)

struct env {
    uv_loop_t loop;
    struct actions *act;
    struct act_entry last;       /* the entry of the run that ended */
    int finished;
};

static struct env *cur;

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    struct actions_opts o = { .kill_grace = 300 * MS, .drain = 300 * MS };
    assert_int_equal(actions_new(&e->act, &e->loop, NULL, &o), 0);
    cur = e;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    act_entry_clear(&e->last);
    actions_free(e->act);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
    return 0;
}

/* Stands in for actions.c: keeps the entry, frees the run. */
static void finish(struct act_run *run)
{
    act_entry_clear(&cur->last);
    cur->last = run->e;
    memset(&run->e, 0, sizeof run->e);
    cur->finished++;
    buf_free(&run->output);
    free(run);
}

/* Runs argv (NULL-terminated) as a command with the given timeout. */
static void run_cmd(struct env *e, const char **argv, tl_usec timeout)
{
    static const char *const vals[ACT_N_FIELDS] = {
        "checkout", "eu", "page", "upstream", "503", "inc-1", "ev-1", "opened", "pay", "corr-1",
    };
    struct action a = { .timeout = timeout };
    struct action_do d = { .kind = ACTION_COMMAND, .argv = (char **)argv };
    struct act_run *run = calloc(1, sizeof *run);

    while (argv[d.argc])
        d.argc++;
    assert_non_null(run);
    run->r = e->act;
    run->finish = finish;
    run->e.status = -1;
    buf_init(&run->output, ACTIONS_OUTPUT_MAX);
    act_cmd_start(run, &a, &d, vals);
    while (e->finished == 0)
        assert_true(uv_run(&e->loop, UV_RUN_ONCE) || e->finished);
}

static void test_exit_status_and_output(void **state)
{
    struct env *e = *state;
    const char *argv[] = { "/bin/sh", "-c", "echo $TRIPLINE_PROBE $TRIPLINE_LEVEL; echo err >&2; exit 3",
                           NULL };
    run_cmd(e, argv, 0);
    assert_string_equal(e->last.outcome, "failed");
    assert_int_equal(e->last.status, 3);
    assert_string_equal(e->last.detail, "exit status 3");
    assert_string_equal(e->last.output, "checkout page\nerr\n");
}

static void test_ok_without_output(void **state)
{
    struct env *e = *state;
    const char *argv[] = { "/bin/true", NULL };
    run_cmd(e, argv, 0);
    assert_string_equal(e->last.outcome, "ok");
    assert_int_equal(e->last.status, 0);
    assert_null(e->last.output);
}

/* Only TRIPLINE_* and PATH reach the command: not the agent's secrets. */
static void test_environment_is_bare(void **state)
{
    struct env *e = *state;
    const char *argv[] = { "/usr/bin/env", NULL };
    setenv("TL_TEST_SECRET", "s3cret", 1);
    run_cmd(e, argv, 0);
    unsetenv("TL_TEST_SECRET");
    assert_string_equal(e->last.outcome, "ok");
    assert_null(strstr(e->last.output, "s3cret"));
    assert_non_null(strstr(e->last.output, "PATH="));
    assert_non_null(strstr(e->last.output, "TRIPLINE_CORRELATION_ID=corr-1\n"));
    assert_non_null(strstr(e->last.output, "TRIPLINE_INCIDENT_ID=inc-1\n"));
    /* its id, which finds it after a crash before its group was recorded */
    const char *id = strstr(e->last.output, "TRIPLINE_COMMAND_ID=");
    assert_non_null(id);
    assert_int_equal(strcspn(id + strlen("TRIPLINE_COMMAND_ID="), "\n"), 36);
}

/* Descriptors the agent holds without close-on-exec (a library's socketpair,
 * a plain open) do not reach the command: it sees only 0, 1 and 2. */
static void test_no_inherited_descriptors(void **state)
{
    struct env *e = *state;
    int sv[2];
    int leak = open("/dev/null", O_RDONLY);
    assert_true(leak > 2);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    const char *argv[] = { "/bin/sh", "-c", "ls /proc/$$/fd; true", NULL };
    run_cmd(e, argv, 0);
    close(leak);
    close(sv[0]);
    close(sv[1]);
    assert_string_equal(e->last.outcome, "ok");
    assert_string_equal(e->last.output, "0\n1\n2\n");
}

static void test_timeout_sigterm(void **state)
{
    struct env *e = *state;
    const char *argv[] = { "/bin/sleep", "5", NULL };
    run_cmd(e, argv, 200 * MS);
    assert_string_equal(e->last.outcome, "timed_out");
    assert_non_null(strstr(e->last.detail, "timed out after 200ms, killed by signal 15"));
}

/* A command that ignores SIGTERM gets SIGKILL after the grace period. */
static void test_timeout_sigkill(void **state)
{
    struct env *e = *state;
    const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; sleep 5", NULL };
    run_cmd(e, argv, 200 * MS);
    assert_string_equal(e->last.outcome, "timed_out");
    assert_non_null(strstr(e->last.detail, "killed by signal 9"));
}

/* The leader exits on SIGTERM, its child ignores it and holds the output
 * pipe: after the grace period the whole group gets SIGKILL, the child too. */
static void test_timeout_kills_the_group(void **state)
{
    struct env *e = *state;
    char pidfile[] = "/tmp/tl-act-pg.XXXXXX", cmd[256], stat[64], buf[64] = "";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "(trap '' TERM; exec sleep 30) & echo $! >%s; wait", pidfile);
    const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    run_cmd(e, argv, 200 * MS);
    assert_string_equal(e->last.outcome, "timed_out");
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    unlink(pidfile);
    long pid = strtol(buf, NULL, 10);
    assert_true(pid > 0);
    /* gone, or a zombie waiting for a reaper: not running */
    snprintf(stat, sizeof stat, "/proc/%ld/stat", pid);
    for (int i = 0; i < 500; i++) { /* 10 s at most: loaded, and still short of its 30 s */
        char st[512] = "";
        f = fopen(stat, "r");
        if (!f)
            return;
        size_t n = fread(st, 1, sizeof st - 1, f);
        fclose(f);
        st[n] = '\0';
        char *close_paren = strrchr(st, ')');
        if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z')
            return;
        usleep(20000);
    }
    kill((pid_t)pid, SIGKILL);
    fail_msg("the child that ignored SIGTERM outlived its command");
}

static void test_output_capped(void **state)
{
    struct env *e = *state;
    const char *argv[] = { "/bin/sh", "-c", "head -c 10000 /dev/zero | tr '\\0' x", NULL };
    run_cmd(e, argv, 0);
    assert_string_equal(e->last.outcome, "ok");
    assert_non_null(strstr(e->last.detail, "(output truncated)"));
    assert_int_equal(strlen(e->last.output), ACTIONS_OUTPUT_MAX);
}

static void test_cannot_start(void **state)
{
    struct env *e = *state;
    const char *argv[] = { "/nonexistent/tool", NULL };
    run_cmd(e, argv, 0);
    assert_string_equal(e->last.outcome, "error");
    assert_non_null(strstr(e->last.detail, "cannot start /nonexistent/tool"));
}

static void test_empty_argv(void **state)
{
    struct env *e = *state;
    const char *argv[] = { NULL };
    run_cmd(e, argv, 0);
    assert_string_equal(e->last.outcome, "error");
    assert_string_equal(e->last.detail, "empty argv");
}

static void test_dry_run_detail(void **state)
{
    char *argv[] = { "/bin/echo", "a \"b\"", NULL };
    struct action_do d = { .kind = ACTION_COMMAND, .argc = 2, .argv = argv };
    struct buf b;
    (void)state;
    buf_init(&b, 1024);
    act_cmd_dry(&d, &b);
    assert_non_null(b.data);
    assert_string_equal(b.data, "would run [\"/bin/echo\",\"a \\\"b\\\"\"]");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_status_and_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ok_without_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_is_bare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_inherited_descriptors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_sigterm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_argv, setup, teardown),
        cmocka_unit_test(test_dry_run_detail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
