/* Actions: real child processes and a real loopback HTTP server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "agent/actions/actions.h"

#define MS ((tl_usec)1000)
#define SEC (1000 * MS)

/* A reason an attacker could plant in a response body the agent quotes. */
#define HOSTILE "x; rm -rf / $(touch %s/pwned) \"--evil `id` '\n$HOME"

struct env {
    uv_loop_t loop;
    struct transfer_engine *engine;
    struct actions *act;
    char dir[64];
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    assert_int_equal(transfer_engine_new(&e->engine, &e->loop, NULL), 0);
    struct actions_opts o = { .kill_grace = 300 * MS, .drain = 500 * MS };
    assert_int_equal(actions_new(&e->act, &e->loop, e->engine, &o), 0);
    snprintf(e->dir, sizeof e->dir, "/tmp/tl-actions-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    *state = e;
    return 0;
}

static void rm_dir(const char *dir)
{
    static const char *const names[] = { "runs", "rollbacks", "other", "out", "out2", "env",
                                         "pwned", "touched" };
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int teardown(void **state)
{
    struct env *e = *state;
    actions_free(e->act);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    transfer_engine_free(e->engine);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    rm_dir(e->dir);
    free(e);
    return 0;
}

static void done_cb(void *arg)
{
    (*(int *)arg)++;
}

/* Fires t and runs the loop until its batch is done. */
static void fire(struct env *e, const struct probe *p, const struct esc_transition *t,
                 const struct action_fields *f)
{
    int done = 0;
    assert_int_equal(actions_fire(e->act, p, t, f, done_cb, &done), 0);
    while (done == 0)
        assert_true(uv_run(&e->loop, UV_RUN_ONCE) != 0 || done != 0);
    assert_int_equal(done, 1);
    assert_int_equal(actions_in_flight(e->act), 0);
}

static struct esc_transition mk_tr(enum esc_kind kind, enum level lvl, const char *incident,
                                   size_t n_actions, char *const *actions)
{
    struct esc_transition t;
    memset(&t, 0, sizeof t);
    t.kind = kind;
    t.level = lvl;
    snprintf(t.incident_id, sizeof t.incident_id, "%s", incident);
    snprintf(t.event_id, sizeof t.event_id, "e%035d", (int)kind);
    snprintf(t.reason, sizeof t.reason, "timeout");
    snprintf(t.step, sizeof t.step, "login");
    t.n_actions = n_actions;
    t.actions = actions;
    return t;
}

static char *slurp(const char *dir, const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool exists(const char *dir, const char *name)
{
    char p[128];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* A command action "/bin/sh -c SCRIPT FILE": SCRIPT appends a line to $0. */
static void mk_cmd(struct action_do *d, char **argv, const char *file, char *path_buf)
{
    snprintf(path_buf, 128, "%s", file);
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = "printf '%s %s %s\\n' \"$TRIPLINE_TRANSITION\" \"$TRIPLINE_LEVEL\" \"$TRIPLINE_PROBE\" >> \"$0\"";
    argv[3] = path_buf;
    d->kind = ACTION_COMMAND;
    d->argc = 4;
    d->argv = argv;
}

static cJSON *entry(cJSON *tl, int i)
{
    cJSON *o = cJSON_GetArrayItem(tl, i);
    assert_non_null(o);
    return o;
}

static const char *str(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static const char INC1[] = "11111111-1111-4111-8111-111111111111";
static const char INC2[] = "22222222-2222-4222-8222-222222222222";

/* Opened fires the action once; escalated within the cooldown skips it (on
 * the timeline); resolved fires the rollback once, and only once. */
static void test_cooldown_and_rollback(void **state)
{
    struct env *e = *state;
    char *rargv[4], *bargv[4], *oargv[4];
    char p1[128], p2[128], p3[128], f[128];
    struct action acts[2];
    memset(acts, 0, sizeof acts);
    acts[0].name = "flag-off";
    snprintf(f, sizeof f, "%s/runs", e->dir);
    mk_cmd(&acts[0].run, rargv, f, p1);
    acts[0].has_rollback = true;
    snprintf(f, sizeof f, "%s/rollbacks", e->dir);
    mk_cmd(&acts[0].rollback, bargv, f, p2);
    acts[0].cooldown = 3600 * SEC;
    /* Without a cooldown an action fires on every escalation. */
    acts[1].name = "page";
    snprintf(f, sizeof f, "%s/other", e->dir);
    mk_cmd(&acts[1].run, oargv, f, p3);
    struct probe p = { .id = "checkout", .n_actions = 2, .actions = acts };
    char *names[] = { "flag-off", "page" };
    struct action_fields fl = { .region = "eu-west", .bucket = "upstream" };

    struct esc_transition t = mk_tr(ESC_OPENED, LEVEL_WARNING, INC1, 2, names);
    fire(e, &p, &t, &fl);
    char *runs = slurp(e->dir, "runs");
    assert_string_equal(runs, "opened warning checkout\n");
    free(runs);

    t = mk_tr(ESC_ESCALATED, LEVEL_CRITICAL, INC1, 2, names);
    fire(e, &p, &t, &fl);
    runs = slurp(e->dir, "runs");
    assert_int_equal(count_lines(runs), 1);
    free(runs);
    char *other = slurp(e->dir, "other");
    assert_string_equal(other, "opened warning checkout\nescalated critical checkout\n");
    free(other);
    assert_false(exists(e->dir, "rollbacks"));

    /* A re-notification runs nothing. */
    t = mk_tr(ESC_RENOTIFIED, LEVEL_CRITICAL, INC1, 0, NULL);
    fire(e, &p, &t, &fl);

    cJSON *st = actions_probe_json(e->act, "checkout", "eu-west");
    assert_non_null(st);
    assert_string_equal(str(st, "state"), "open");
    assert_string_equal(str(st, "incident_id"), INC1);
    cJSON_Delete(st);

    t = mk_tr(ESC_RESOLVED, LEVEL_CRITICAL, INC1, 0, NULL);
    fire(e, &p, &t, &fl);
    fire(e, &p, &t, &fl); /* a duplicate resolution rolls nothing back twice */
    char *rb = slurp(e->dir, "rollbacks");
    assert_string_equal(rb, "resolved critical checkout\n");
    free(rb);

    cJSON *tl = actions_timeline_json(e->act, INC1);
    assert_non_null(tl);
    assert_int_equal(cJSON_GetArraySize(tl), 5);
    /* The two runs of "opened" end in either order. */
    assert_string_not_equal(str(entry(tl, 0), "action"), str(entry(tl, 1), "action"));
    for (int i = 0; i < 2; i++) {
        assert_string_equal(str(entry(tl, i), "kind"), "run");
        assert_string_equal(str(entry(tl, i), "outcome"), "ok");
        assert_string_equal(str(entry(tl, i), "detail"), "exit status 0");
        assert_int_equal(cJSON_GetObjectItem(entry(tl, i), "status")->valueint, 0);
    }
    assert_string_equal(str(entry(tl, 2), "action"), "flag-off");
    assert_string_equal(str(entry(tl, 2), "outcome"), "skipped");
    assert_non_null(strstr(str(entry(tl, 2), "detail"), "cooldown"));
    assert_string_equal(str(entry(tl, 3), "action"), "page");
    assert_string_equal(str(entry(tl, 3), "outcome"), "ok");
    assert_string_equal(str(entry(tl, 4), "action"), "flag-off");
    assert_string_equal(str(entry(tl, 4), "kind"), "rollback");
    assert_string_equal(str(entry(tl, 4), "outcome"), "ok");
    assert_true(strlen(str(entry(tl, 4), "at")) == 24);
    cJSON_Delete(tl);

    st = actions_probe_json(e->act, "checkout", NULL);
    assert_non_null(st);
    assert_string_equal(str(st, "state"), "resolved");
    cJSON_Delete(st);

    /* A new incident within the cooldown: the action is skipped, so there is
     * nothing to roll back; the old timeline gives way to the new one. */
    t = mk_tr(ESC_OPENED, LEVEL_WARNING, INC2, 1, names);
    fire(e, &p, &t, &fl);
    t = mk_tr(ESC_RESOLVED, LEVEL_WARNING, INC2, 0, NULL);
    fire(e, &p, &t, &fl);
    runs = slurp(e->dir, "runs");
    assert_int_equal(count_lines(runs), 1);
    free(runs);
    rb = slurp(e->dir, "rollbacks");
    assert_int_equal(count_lines(rb), 1);
    free(rb);
    assert_null(actions_timeline_json(e->act, INC1));
    tl = actions_timeline_json(e->act, INC2);
    assert_int_equal(cJSON_GetArraySize(tl), 1);
    assert_string_equal(str(entry(tl, 0), "outcome"), "skipped");
    cJSON_Delete(tl);
}

/* dry_run records what would run, and runs nothing. */
static void test_dry_run(void **state)
{
    struct env *e = *state;
    char f[128], f2[256];
    snprintf(f, sizeof f, "%s/touched", e->dir);
    char *argv[] = { "/usr/bin/touch", f };
    struct action a;
    memset(&a, 0, sizeof a);
    a.name = "touch-it";
    a.dry_run = true;
    a.run.kind = ACTION_COMMAND;
    a.run.argc = 2;
    a.run.argv = argv;
    a.has_rollback = true;
    a.rollback.kind = ACTION_WEBHOOK;
    a.rollback.method = "PUT";
    char err[128];
    int off;
    /* Port 9 on loopback: nothing may be sent, so nothing may answer. */
    assert_int_equal(tpl_parse(&a.rollback.url, "http://127.0.0.1:9/flags/{{ probe }}", err,
                               sizeof err, &off), 0);
    a.rollback.json = cJSON_Parse("{\"enabled\": true, \"why\": \"{{ reason }}\"}");
    struct probe p = { .id = "search", .n_actions = 1, .actions = &a };
    char *names[] = { "touch-it" };

    struct esc_transition t = mk_tr(ESC_OPENED, LEVEL_CRITICAL, INC1, 1, names);
    fire(e, &p, &t, NULL);
    t = mk_tr(ESC_RESOLVED, LEVEL_CRITICAL, INC1, 0, NULL);
    fire(e, &p, &t, NULL);
    assert_false(exists(e->dir, "touched"));

    cJSON *tl = actions_timeline_json(e->act, INC1);
    assert_int_equal(cJSON_GetArraySize(tl), 2);
    assert_string_equal(str(entry(tl, 0), "outcome"), "dry_run");
    snprintf(f2, sizeof f2, "would run [\"/usr/bin/touch\",\"%s\"]", f);
    assert_string_equal(str(entry(tl, 0), "detail"), f2);
    assert_string_equal(str(entry(tl, 1), "kind"), "rollback");
    assert_string_equal(str(entry(tl, 1), "outcome"), "dry_run");
    assert_string_equal(str(entry(tl, 1), "detail"),
                        "would send PUT http://127.0.0.1:9/flags/search {\"enabled\":true,\"why\":\"timeout\"}");
    cJSON_Delete(tl);
    tpl_free(&a.rollback.url);
    cJSON_Delete(a.rollback.json);
}

/* A command past its timeout is killed: SIGTERM, then SIGKILL if it
 * ignores that, and the timeline says so. */
static void test_timeout_kills(void **state)
{
    struct env *e = *state;
    char *sleep_argv[] = { "sleep", "30" };
    char *stubborn_argv[] = { "/bin/sh", "-c", "trap '' TERM; echo started; sleep 30; echo never" };
    struct action acts[2];
    memset(acts, 0, sizeof acts);
    acts[0].name = "sleepy";
    acts[0].run.kind = ACTION_COMMAND;
    acts[0].run.argc = 2;
    acts[0].run.argv = sleep_argv;
    acts[0].timeout = 200 * MS;
    acts[1].name = "stubborn";
    acts[1].run.kind = ACTION_COMMAND;
    acts[1].run.argc = 3;
    acts[1].run.argv = stubborn_argv;
    acts[1].timeout = 2 * SEC; /* time for the shell to set its trap, even on a busy machine */
    struct probe p = { .id = "slow", .n_actions = 2, .actions = acts };
    char *names[] = { "sleepy", "stubborn" };

    uint64_t t0 = uv_hrtime();
    struct esc_transition t = mk_tr(ESC_OPENED, LEVEL_WARNING, INC1, 2, names);
    fire(e, &p, &t, NULL);
    /* Far below the 30 s the commands wanted. */
    assert_true(uv_hrtime() - t0 < (uint64_t)20 * 1000000000);

    cJSON *tl = actions_timeline_json(e->act, INC1);
    assert_int_equal(cJSON_GetArraySize(tl), 2);
    for (int i = 0; i < 2; i++) {
        cJSON *o = entry(tl, i);
        assert_string_equal(str(o, "outcome"), "timed_out");
        if (strcmp(str(o, "action"), "sleepy") == 0) {
            assert_non_null(strstr(str(o, "detail"), "signal 15"));
        } else {
            assert_non_null(strstr(str(o, "detail"), "signal 9"));
            assert_string_equal(str(o, "output"), "started\n");
        }
    }
    cJSON_Delete(tl);
}

/* A hostile event field reaches the command byte for byte, as an
 * environment variable, and never changes its argv; the agent's own
 * environment stays out. */
static void test_hostile_field_stays_data(void **state)
{
    struct env *e = *state;
    char script[512], reason[256];
    snprintf(script, sizeof script,
             "printf \"%%s\\n\" \"$0\" \"$@\" > %s/out; printf \"%%s\" \"$TRIPLINE_REASON\" > %s/out2;"
             " env > %s/env",
             e->dir, e->dir, e->dir);
    snprintf(reason, sizeof reason, HOSTILE, e->dir);
    char *argv[] = { "/bin/sh", "-c", script, "argA", "argB" };
    struct action a;
    memset(&a, 0, sizeof a);
    a.name = "hook";
    a.run.kind = ACTION_COMMAND;
    a.run.argc = 5;
    a.run.argv = argv;
    struct probe p = { .id = "checkout", .n_actions = 1, .actions = &a };
    char *names[] = { "hook" };
    struct action_fields fl = { .region = "us-east", .bucket = "server", .reason = reason,
                                .step = "pay; reboot", .correlation_id = "$(id)" };
    assert_int_equal(setenv("TRIPLINE_TEST_AGENT_SECRET", "hunter2", 1), 0);

    struct esc_transition t = mk_tr(ESC_OPENED, LEVEL_CRITICAL, INC1, 1, names);
    fire(e, &p, &t, &fl);
    unsetenv("TRIPLINE_TEST_AGENT_SECRET");

    char *out = slurp(e->dir, "out");
    assert_string_equal(out, "argA\nargB\n");
    free(out);
    char *out2 = slurp(e->dir, "out2");
    assert_non_null(out2);
    assert_string_equal(out2, reason);
    free(out2);
    assert_false(exists(e->dir, "pwned"));

    char *env = slurp(e->dir, "env");
    assert_non_null(env);
    assert_non_null(strstr(env, "TRIPLINE_PROBE=checkout\n"));
    assert_non_null(strstr(env, "TRIPLINE_REGION=us-east\n"));
    assert_non_null(strstr(env, "TRIPLINE_LEVEL=critical\n"));
    assert_non_null(strstr(env, "TRIPLINE_BUCKET=server\n"));
    assert_non_null(strstr(env, "TRIPLINE_STEP=pay; reboot\n"));
    assert_non_null(strstr(env, "TRIPLINE_CORRELATION_ID=$(id)\n"));
    assert_non_null(strstr(env, "TRIPLINE_TRANSITION=opened\n"));
    assert_non_null(strstr(env, "TRIPLINE_INCIDENT_ID=11111111-1111-4111-8111-111111111111\n"));
    assert_non_null(strstr(env, "PATH="));
    assert_null(strstr(env, "hunter2"));
    free(env);

    cJSON *tl = actions_timeline_json(e->act, INC1);
    assert_string_equal(str(entry(tl, 0), "outcome"), "ok");
    cJSON_Delete(tl);
}

/* A cooldown clock carried over a restart: a past run counts from when it
 * ran; one stamped in the future (the clock set back) counts from now,
 * never as no cooldown. */
static void test_cool_restore(void **state)
{
    struct env *e = *state;
    tl_usec age = -1;
    assert_int_equal(actions_cool_age(e->act, "api", "throttle", &age), TL_ENOTFOUND);
    assert_int_equal(actions_cool_restore(e->act, "api", "throttle", 5 * SEC), 0);
    assert_int_equal(actions_cool_age(e->act, "api", "throttle", &age), 0);
    assert_true(age >= 5 * SEC && age < 60 * SEC);
    assert_int_equal(actions_cool_restore(e->act, "api", "throttle", -7200 * SEC), 0);
    assert_int_equal(actions_cool_age(e->act, "api", "throttle", &age), 0);
    assert_true(age >= 0 && age < 60 * SEC);
}

/* A command that cannot start is an error on the timeline, not a crash. */
static void test_spawn_failure(void **state)
{
    struct env *e = *state;
    char *argv[] = { "/nonexistent/tripline-no-such-command", "x" };
    struct action a;
    memset(&a, 0, sizeof a);
    a.name = "ghost";
    a.run.kind = ACTION_COMMAND;
    a.run.argc = 2;
    a.run.argv = argv;
    struct probe p = { .id = "checkout", .n_actions = 1, .actions = &a };
    char *names[] = { "ghost", "undefined" };
    struct esc_transition t = mk_tr(ESC_OPENED, LEVEL_WARNING, INC1, 2, names);
    fire(e, &p, &t, NULL);
    cJSON *tl = actions_timeline_json(e->act, INC1);
    assert_int_equal(cJSON_GetArraySize(tl), 2);
    /* "undefined" is recorded at once; the spawn error when its handles close. */
    for (int i = 0; i < 2; i++) {
        cJSON *o = entry(tl, i);
        assert_string_equal(str(o, "outcome"), "error");
        if (strcmp(str(o, "action"), "ghost") == 0)
            assert_non_null(strstr(str(o, "detail"), "cannot start"));
        else
            assert_non_null(strstr(str(o, "detail"), "no action named undefined"));
    }
    cJSON_Delete(tl);
}

/* --- webhooks against a loopback libmicrohttpd server -------------------- */

struct hit {
    char method[16];
    char url[256];
    char reason_hdr[256];
    bool injected;
    char ctype[64];
    char body[1024];
};

struct srv {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    int n;
    struct hit hits[8];
};

struct upload {
    char body[1024];
    size_t len;
};

static enum MHD_Result srv_access(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    struct srv *s = cls;
    struct upload *u = *con_cls;
    (void)version;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u)
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*data_size > 0) {
        size_t room = sizeof u->body - 1 - u->len;
        size_t n = *data_size < room ? *data_size : room;
        memcpy(u->body + u->len, data, n);
        u->len += n;
        *data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    int status = 500;
    if (s->n < 8) {
        struct hit *h = &s->hits[s->n++];
        const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "incident");
        const char *r = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Reason");
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        snprintf(h->method, sizeof h->method, "%s", method);
        snprintf(h->url, sizeof h->url, "%s?incident=%s", url, q ? q : "");
        snprintf(h->reason_hdr, sizeof h->reason_hdr, "%s", r ? r : "");
        h->injected = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Injected") != NULL;
        snprintf(h->ctype, sizeof h->ctype, "%s", ct ? ct : "");
        snprintf(h->body, sizeof h->body, "%s", u->body);
        /* Turning the flag off works; turning it back on is refused. */
        status = strstr(u->body, "\"enabled\":false") ? 202 : 503;
    }
    pthread_mutex_unlock(&s->mu);
    static const char reply[] = "{\"issues\":[]}\0\x01\xff";
    struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof reply - 1, (void *)reply,
                                                                MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void srv_done(void *cls, struct MHD_Connection *c, void **con_cls,
                     enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static unsigned srv_start(struct srv *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, srv_access, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, srv_done, NULL, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    return info->port;
}

static void srv_stop(struct srv *s)
{
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
}

/* A port on loopback with nothing listening behind it. */
static unsigned closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    socklen_t len = sizeof sa;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void mk_hook(struct action_do *d, const char *url, const char *json)
{
    char err[128];
    int off;
    memset(d, 0, sizeof *d);
    d->kind = ACTION_WEBHOOK;
    d->method = "PUT";
    assert_int_equal(tpl_parse(&d->url, url, err, sizeof err, &off), 0);
    d->n_headers = 1;
    d->headers = calloc(1, sizeof *d->headers);
    assert_non_null(d->headers);
    d->headers[0].name = "X-Reason";
    assert_int_equal(tpl_parse(&d->headers[0].value, "{{ reason }}", err, sizeof err, &off), 0);
    d->json = cJSON_Parse(json);
    assert_non_null(d->json);
}

static void free_hook(struct action_do *d)
{
    tpl_free(&d->url);
    tpl_free(&d->headers[0].value);
    free(d->headers);
    cJSON_Delete(d->json);
}

/* A webhook reaches a real server with its templates rendered, and the
 * status it got (or the transport error) lands on the timeline. */
static void test_webhook(void **state)
{
    struct env *e = *state;
    struct srv s;
    unsigned port = srv_start(&s);
    char url[256], dead[256], reason[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/flags/{{ probe }}?incident={{ incident_id }}", port);
    snprintf(dead, sizeof dead, "http://127.0.0.1:%u/flags/x", closed_port());
    /* Quotes must survive JSON; CR LF must not make a second header. */
    snprintf(reason, sizeof reason, "status_503 \"quoted\"\r\nX-Injected: 1");

    struct action acts[2];
    memset(acts, 0, sizeof acts);
    acts[0].name = "checkout-off";
    mk_hook(&acts[0].run, url, "{\"enabled\": false, \"why\": \"{{ reason }}\", \"n\": [1, \"{{ level }}\"]}");
    acts[0].has_rollback = true;
    mk_hook(&acts[0].rollback, url, "{\"enabled\": true}");
    acts[0].timeout = 30 * SEC;
    acts[1].name = "nobody-home";
    mk_hook(&acts[1].run, dead, "{\"enabled\": false}");
    acts[1].timeout = 30 * SEC;
    struct probe p = { .id = "checkout", .n_actions = 2, .actions = acts };
    char *names[] = { "checkout-off", "nobody-home" };
    struct action_fields fl = { .region = "eu-west", .reason = reason };

    struct esc_transition t = mk_tr(ESC_OPENED, LEVEL_CRITICAL, INC1, 2, names);
    fire(e, &p, &t, &fl);
    t = mk_tr(ESC_RESOLVED, LEVEL_CRITICAL, INC1, 0, NULL);
    fire(e, &p, &t, &fl);

    pthread_mutex_lock(&s.mu);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.hits[0].method, "PUT");
    assert_string_equal(s.hits[0].url, "/flags/checkout?incident=11111111-1111-4111-8111-111111111111");
    assert_string_equal(s.hits[0].reason_hdr, "status_503 \"quoted\"  X-Injected: 1");
    assert_false(s.hits[0].injected);
    assert_string_equal(s.hits[0].ctype, "application/json");
    cJSON *body = cJSON_Parse(s.hits[0].body);
    assert_non_null(body);
    assert_string_equal(str(body, "why"), reason);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(body, "enabled")));
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(body, "n"), 1)->valuestring, "critical");
    cJSON_Delete(body);
    assert_string_equal(s.hits[1].body, "{\"enabled\":true}");
    pthread_mutex_unlock(&s.mu);

    cJSON *tl = actions_timeline_json(e->act, INC1);
    assert_int_equal(cJSON_GetArraySize(tl), 3);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        cJSON *o = entry(tl, i);
        const char *a = str(o, "action"), *k = str(o, "kind");
        if (strcmp(a, "checkout-off") == 0 && strcmp(k, "run") == 0) {
            assert_string_equal(str(o, "outcome"), "ok");
            assert_int_equal(cJSON_GetObjectItem(o, "status")->valueint, 202);
            /* The body's NUL and bad bytes are masked, not cut at. */
            assert_string_equal(str(o, "output"), "{\"issues\":[]}???");
            assert_non_null(strstr(str(o, "detail"), "HTTP 202 from PUT http://127.0.0.1:"));
            seen |= 1;
        } else if (strcmp(a, "checkout-off") == 0) {
            assert_string_equal(k, "rollback");
            assert_string_equal(str(o, "outcome"), "failed");
            assert_int_equal(cJSON_GetObjectItem(o, "status")->valueint, 503);
            seen |= 2;
        } else {
            assert_string_equal(a, "nobody-home");
            assert_string_equal(str(o, "outcome"), "failed");
            assert_non_null(strstr(str(o, "detail"), "transport error"));
            assert_null(cJSON_GetObjectItem(o, "status"));
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);
    cJSON_Delete(tl);

    srv_stop(&s);
    free_hook(&acts[0].run);
    free_hook(&acts[0].rollback);
    free_hook(&acts[1].run);
}

/* Freeing the runner with a command still running kills it and leaves the
 * loop clean (the teardown checks uv_loop_close). */
static void test_free_while_running(void **state)
{
    struct env *e = *state;
    char *argv[] = { "sleep", "30" };
    struct action a;
    memset(&a, 0, sizeof a);
    a.name = "sleepy";
    a.run.kind = ACTION_COMMAND;
    a.run.argc = 2;
    a.run.argv = argv;
    a.timeout = 60 * SEC;
    struct probe p = { .id = "slow", .n_actions = 1, .actions = &a };
    char *names[] = { "sleepy" };
    int done = 0;
    struct esc_transition t = mk_tr(ESC_OPENED, LEVEL_WARNING, INC1, 1, names);
    assert_int_equal(actions_fire(e->act, &p, &t, NULL, done_cb, &done), 0);
    assert_int_equal(actions_in_flight(e->act), 1);
    uint64_t t0 = uv_hrtime();
    actions_free(e->act);
    e->act = NULL;
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_true(uv_hrtime() - t0 < (uint64_t)20 * 1000000000);
    assert_int_equal(done, 0);
}

/* The timeline keeps the last ACTIONS_TIMELINE_MAX entries. */
static void test_timeline_bounded(void **state)
{
    struct env *e = *state;
    char *argv[] = { "true" };
    struct action a;
    memset(&a, 0, sizeof a);
    a.name = "noop";
    a.dry_run = true;
    a.run.kind = ACTION_COMMAND;
    a.run.argc = 1;
    a.run.argv = argv;
    struct probe p = { .id = "flappy", .n_actions = 1, .actions = &a };
    char *names[] = { "noop" };
    for (int i = 0; i < ACTIONS_TIMELINE_MAX + 7; i++) {
        struct esc_transition t = mk_tr(i == 0 ? ESC_OPENED : ESC_ESCALATED, LEVEL_WARNING, INC1, 1, names);
        fire(e, &p, &t, NULL);
    }
    cJSON *st = actions_probe_json(e->act, "flappy", NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(st, "timeline")), ACTIONS_TIMELINE_MAX);
    assert_int_equal(cJSON_GetObjectItem(st, "dropped")->valueint, 7);
    cJSON_Delete(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cooldown_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cool_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_field_stays_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeline_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
