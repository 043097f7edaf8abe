/* Commands: the configured argv spawned with uv_spawn in a process group of
 * its own, the event as TRIPLINE_* environment variables, stdout and stderr
 * captured (capped), SIGTERM then SIGKILL on timeout. */
#define _GNU_SOURCE /* close_range */
#include "agent/actions/actions_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACT_PATH_DEFAULT "/usr/local/bin:/usr/bin:/bin"
#define ACT_N_ENV (ACT_N_FIELDS + 2)

static void cmd_close_cb(uv_handle_t *h)
{
    struct act_run *run = h->data;
    if (--run->open_handles == 0)
        run->finish(run);
}

static void cmd_close_timer(struct act_run *run)
{
    if (run->timer_closed)
        return;
    run->timer_closed = true;
    uv_timer_stop(&run->timer);
    uv_close((uv_handle_t *)&run->timer, cmd_close_cb);
}

static void cmd_close_out(struct act_run *run)
{
    if (run->out_closed)
        return;
    run->out_closed = true;
    uv_read_stop((uv_stream_t *)&run->out);
    uv_close((uv_handle_t *)&run->out, cmd_close_cb);
}

/* The command's outcome, from how it ended. */
static void cmd_outcome(struct act_run *run)
{
    struct buf d;
    if (run->e.outcome)
        return;
    buf_init(&d, ACT_DETAIL_MAX);
    if (run->timed_out) {
        char tbuf[32];
        run->e.outcome = "timed_out";
        (void)buf_printf(&d, "timed out after %s, ", act_fmt_dur(tbuf, sizeof tbuf, (uint64_t)run->timeout));
        if (run->term_signal != 0)
            (void)buf_printf(&d, "killed by signal %d", run->term_signal);
        else
            (void)buf_printf(&d, "exit status %lld on SIGTERM", (long long)run->exit_status);
    } else if (run->term_signal != 0) {
        run->e.outcome = "failed";
        (void)buf_printf(&d, "killed by signal %d", run->term_signal);
    } else {
        run->e.outcome = run->exit_status == 0 ? "ok" : "failed";
        run->e.status = (long)run->exit_status;
        (void)buf_printf(&d, "exit status %lld", (long long)run->exit_status);
    }
    if (run->output_cut)
        (void)buf_puts(&d, " (output truncated)");
    run->e.detail = buf_take(&d);
    buf_free(&d);
    if (run->output.len > 0) {
        size_t n = run->output.len;
        run->e.output = buf_take(&run->output);
        act_text_keep(&run->e.output, n);
    }
}

static void cmd_maybe_done(struct act_run *run)
{
    if (run->exited && run->eof) {
        /* Terminated on timeout: whatever the leader left in its group
         * goes now, even when the leader went quietly. */
        if (run->phase == PH_TERM)
            act_cmd_kill(run, SIGKILL);
        act_orphan_forget(run);
        cmd_outcome(run);
        cmd_close_timer(run);
    }
}

void act_cmd_kill(struct act_run *run, int sig)
{
    /* The child leads its own process group (UV_PROCESS_DETACHED), so
     * whatever it started goes too. */
    if (run->pgid > 0)
        (void)uv_kill(-run->pgid, sig);
}

static void cmd_timer_cb(uv_timer_t *t)
{
    struct act_run *run = t->data;
    switch (run->phase) {
    case PH_RUN:
        run->timed_out = true;
        run->phase = PH_TERM;
        act_cmd_kill(run, SIGTERM);
        uv_timer_start(&run->timer, cmd_timer_cb, (uint64_t)(run->r->opts.kill_grace / 1000), 0);
        break;
    case PH_TERM:
        run->phase = PH_KILL;
        act_cmd_kill(run, SIGKILL);
        break;
    case PH_KILL:
        break;
    case PH_DRAIN:
        /* Exited, but something it left behind still holds the pipe. */
        run->eof = true;
        cmd_close_out(run);
        cmd_maybe_done(run);
        break;
    }
}

static void cmd_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct act_run *run = h->data;
    (void)suggested;
    b->base = run->rbuf;
    b->len = sizeof run->rbuf;
}

static void cmd_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct act_run *run = s->data;
    if (n > 0) {
        size_t room = run->output.max - run->output.len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        if (take < (size_t)n)
            run->output_cut = true;
        if (take > 0)
            (void)buf_append(&run->output, b->base, take);
        return;
    }
    if (n < 0) {
        run->eof = true;
        cmd_close_out(run);
        cmd_maybe_done(run);
    }
}

static void cmd_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct act_run *run = p->data;
    run->exited = true;
    run->exit_status = exit_status;
    run->term_signal = term_signal;
    uv_close((uv_handle_t *)&run->proc, cmd_close_cb);
    /* After SIGTERM the grace timer keeps running: when it fires, the whole
     * group gets SIGKILL, children that ignore SIGTERM included. */
    if (!run->eof && run->phase != PH_TERM) {
        run->phase = PH_DRAIN;
        uv_timer_start(&run->timer, cmd_timer_cb, (uint64_t)(run->r->opts.drain / 1000), 0);
    }
    cmd_maybe_done(run);
}

/* The command's id (its record's, action_orphans.c), the event as
 * environment variables, plus PATH: nothing else of the agent's
 * environment (its secrets) reaches the command. The id comes first: a
 * restart looks for it in /proc/PID/environ. */
static int cmd_env(char **env, const char *id, const char *const *vals)
{
    static const char *const names[ACT_N_FIELDS] = {
        "TRIPLINE_PROBE", "TRIPLINE_REGION", "TRIPLINE_LEVEL", "TRIPLINE_BUCKET",
        "TRIPLINE_REASON", "TRIPLINE_INCIDENT_ID", "TRIPLINE_EVENT_ID", "TRIPLINE_TRANSITION",
        "TRIPLINE_STEP", "TRIPLINE_CORRELATION_ID",
    };
    const char *path = getenv("PATH");
    struct buf b;
    int rc = 0;

    for (size_t i = 0; i < ACT_N_ENV; i++) {
        buf_init(&b, 64 * 1024);
        if (i == 0)
            rc = buf_printf(&b, "TRIPLINE_COMMAND_ID=%s", id);
        else if (i <= ACT_N_FIELDS)
            rc = buf_printf(&b, "%s=%s", names[i - 1], vals[i - 1]);
        else
            rc = buf_printf(&b, "PATH=%s", path && *path ? path : ACT_PATH_DEFAULT);
        env[i] = rc ? NULL : buf_take(&b);
        buf_free(&b);
        if (!env[i])
            return TL_ENOMEM;
    }
    return 0;
}

/* The timer and the pipe the output comes through; fds[1] is left for the
 * child's stdout and stderr. open_handles counts what must be closed. */
static int cmd_handles(struct act_run *run, uv_file fds[2], char *ebuf, size_t len)
{
    uv_loop_t *loop = run->r->loop;
    int rc = uv_timer_init(loop, &run->timer);
    if (rc) {
        snprintf(ebuf, len, "timer: %s", uv_strerror(rc));
        return TL_ESTART;
    }
    run->open_handles = 1;
    rc = uv_pipe_init(loop, &run->out, 0);
    if (rc) {
        snprintf(ebuf, len, "pipe: %s", uv_strerror(rc));
        return TL_ESTART;
    }
    run->open_handles++;
    rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
    if (rc == 0)
        rc = uv_pipe_open(&run->out, fds[0]);
    if (rc) {
        snprintf(ebuf, len, "pipe: %s", uv_strerror(rc));
        return TL_ESTART;
    }
    fds[0] = -1; /* owned by the pipe handle now */
    return 0;
}

static void fd_close(uv_loop_t *loop, uv_file *fd)
{
    uv_fs_t req;
    if (*fd < 0)
        return;
    uv_fs_close(loop, &req, *fd, NULL);
    uv_fs_req_cleanup(&req);
    *fd = -1;
}

/* Marks every descriptor above stderr close-on-exec, so a command inherits
 * none of the agent's: the agent opens its own with O_CLOEXEC, but libraries
 * (curl, TLS, resolvers) may not. */
static void cmd_cloexec_all(void)
{
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    DIR *d = opendir("/proc/self/fd"); /* kernels before 5.11 */
    if (!d)
        return;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        char *end = NULL;
        long fd = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end || fd < 3 || fd == dirfd(d))
            continue;
        int fl = fcntl((int)fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC))
            (void)fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
    }
    closedir(d);
}

/* Spawns the configured argv with its output on *wfd, which is closed here:
 * the child has its copy, and ours must go or EOF never comes. */
static int cmd_spawn(struct act_run *run, const struct action_do *d, const char *const *vals,
                     uv_file *wfd, char *ebuf, size_t len)
{
    uv_process_options_t po;
    uv_stdio_container_t stdio[3];
    char *env[ACT_N_ENV + 1] = { 0 };
    char **args = calloc(d->argc + 1, sizeof *args);
    int rc = TL_ENOMEM;

    /* Recorded before it exists: a crash right after the spawn still
     * leaves a record. Without one it still runs. */
    (void)act_orphan_intent(run);
    if (!args || d->argc == 0 || cmd_env(env, run->orphan_id, vals) != 0) {
        act_orphan_forget(run);
        snprintf(ebuf, len, "%s", d->argc == 0 ? "empty argv" : "out of memory");
        goto out;
    }
    /* The configured argv, element by element: nothing from the event is
     * ever spliced into it. */
    for (size_t i = 0; i < d->argc; i++)
        args[i] = d->argv[i];
    memset(&po, 0, sizeof po);
    stdio[0].flags = UV_IGNORE; /* /dev/null */
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = *wfd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = *wfd;
    po.file = args[0];
    po.args = args;
    po.env = env;
    po.stdio = stdio;
    po.stdio_count = 3;
    po.exit_cb = cmd_exit_cb;
    po.flags = UV_PROCESS_DETACHED;
    cmd_cloexec_all();
    rc = uv_spawn(run->r->loop, &run->proc, &po);
    if (rc == 0) {
        run->pgid = run->proc.pid; /* kept: the handle may be closed before the group is gone */
        /* Without its process group the record still finds it by its id. */
        (void)act_orphan_record(run);
    } else {
        act_orphan_forget(run);
    }
    fd_close(run->r->loop, wfd);
    /* A failed uv_spawn still leaves an initialised handle to close. */
    run->open_handles++;
    if (rc) {
        snprintf(ebuf, len, "cannot start %s: %s", args[0], uv_strerror(rc));
        uv_close((uv_handle_t *)&run->proc, cmd_close_cb);
        rc = TL_ESTART;
    }
out:
    for (size_t i = 0; i < ACT_N_ENV; i++)
        free(env[i]);
    free(args);
    return rc;
}

/* A command that could not start: its entry says why, once whatever handles
 * it had are closed. */
static void cmd_fail(struct act_run *run, const char *why)
{
    run->e.outcome = "error";
    run->e.detail = act_strdup(why);
    if (run->open_handles == 0) {
        run->finish(run);
        return;
    }
    run->eof = true;
    run->exited = true;
    if (run->open_handles >= 2 && !run->out_closed) {
        run->out_closed = true;
        uv_close((uv_handle_t *)&run->out, cmd_close_cb);
    }
    cmd_close_timer(run);
}

void act_cmd_start(struct act_run *run, const struct action *a, const struct action_do *d,
                   const char *const *vals)
{
    uv_loop_t *loop = run->r->loop;
    uv_file fds[2] = { -1, -1 };
    char ebuf[256];

    run->is_command = true;
    run->timeout = a->timeout > 0 ? a->timeout : ACTIONS_TIMEOUT_DEFAULT;
    run->out.data = run;
    run->timer.data = run;
    run->proc.data = run;
    if (cmd_handles(run, fds, ebuf, sizeof ebuf) != 0 ||
        cmd_spawn(run, d, vals, &fds[1], ebuf, sizeof ebuf) != 0) {
        cmd_fail(run, ebuf);
        goto out;
    }
    if (uv_read_start((uv_stream_t *)&run->out, cmd_alloc_cb, cmd_read_cb) != 0) {
        run->eof = true;
        cmd_close_out(run);
    }
    uv_timer_start(&run->timer, cmd_timer_cb, (uint64_t)(run->timeout / 1000), 0);
out:
    fd_close(loop, &fds[0]);
    fd_close(loop, &fds[1]);
}

void act_cmd_dry(const struct action_do *d, struct buf *b)
{
    cJSON *arr = cJSON_CreateArray();
    char *s = NULL;
    for (size_t i = 0; arr && i < d->argc; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(d->argv[i]));
    s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    if (s)
        (void)buf_printf(b, "would run %.*s", ACT_DETAIL_MAX, s);
    free(s);
    cJSON_Delete(arr);
}
