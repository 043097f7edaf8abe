/* Actions: commands (uv_spawn, argv as configured) and webhooks (the transfer
 * engine) fired by escalation transitions, their rollbacks, cooldowns and the
 * per-incident timeline. Everything runs on the agent's loop thread. */
#include "agent/actions/actions.h"
#include "base/time.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "probes/redact/redact.h"
#include "probes/run/template.h"

#define ACT_KILL_GRACE_DEFAULT ((tl_usec)2 * 1000000)
#define ACT_DRAIN_DEFAULT ((tl_usec)1 * 1000000)
#define ACT_DETAIL_MAX 2048
#define ACT_PATH_DEFAULT "/usr/local/bin:/usr/bin:/bin"

enum act_kind { ACT_RUN, ACT_ROLLBACK };

/* One line of an incident's timeline. */
struct act_entry {
    char at[32];                 /* ISO 8601 UTC, when the run started */
    char *action;
    enum act_kind kind;
    const char *outcome;         /* ok, failed, timed_out, skipped, dry_run, error */
    char *detail;
    long status;                 /* exit status or HTTP status; -1 = none */
    char *output;                /* captured output or response snippet; may be NULL */
};

struct act_incident {
    char id[37];
    char *probe_id;
    char *region;
    bool resolved;               /* the resolution was seen */
    bool stale;                  /* superseded: freed once its runs end */
    int pending;                 /* runs in flight */
    struct act_entry ring[ACTIONS_TIMELINE_MAX];
    size_t head, n;              /* oldest entry at ring[head] */
    size_t dropped;
    struct strv fired;           /* actions that ran during the incident */
    struct act_incident *next;
};

/* When an action of a probe last ran, for its cooldown. */
struct act_cool {
    char *probe_id;
    char *action;
    uint64_t last_ns;            /* uv_hrtime() */
    struct act_cool *next;
};

/* The runs started by one actions_fire(). */
struct act_batch {
    int pending;
    actions_done_cb cb;
    void *arg;
};

struct actions {
    uv_loop_t *loop;
    struct transfer_engine *engine;
    struct actions_opts opts;
    struct act_incident *incidents;
    struct act_cool *cools;
    struct act_run *runs;        /* in flight */
    size_t in_flight;
    bool dying;
};

enum act_phase { PH_RUN, PH_TERM, PH_KILL, PH_DRAIN };

struct act_run {
    struct actions *r;
    struct act_incident *inc;
    struct act_batch *batch;
    struct act_entry e;          /* filled as the run goes, moved to the timeline at the end */
    bool is_command;
    /* command */
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    int open_handles;
    bool exited, eof, timed_out, timer_closed, out_closed;
    enum act_phase phase;
    int64_t exit_status;
    int term_signal;
    tl_usec timeout;
    struct buf output;
    bool output_cut;
    char rbuf[4096];             /* libuv reads into it; copied (capped) into output */
    /* webhook */
    char *what;                  /* "PUT http://..." for the detail */
    struct act_run *prev, *next;
};

static void incident_free(struct act_incident *inc);
static void runner_destroy(struct actions *r);

/* --- small helpers ------------------------------------------------------ */

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static char *fmt_dur(char *out, size_t len, uint64_t us)
{
    if (us >= 3600ULL * 1000000)
        snprintf(out, len, "%.1fh", (double)us / 3600e6);
    else if (us >= 60ULL * 1000000)
        snprintf(out, len, "%.1fm", (double)us / 60e6);
    else if (us >= 1000000)
        snprintf(out, len, "%.1fs", (double)us / 1e6);
    else
        snprintf(out, len, "%llums", (unsigned long long)(us / 1000));
    return out;
}

/* Output and response bodies are outside data headed for JSON: invalid
 * UTF-8, NULs and control characters (bar tab and newline) become '?'. */
static void text_clean(char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        bool ok = need != 9 && i + need < len && !(need == 1 && c < 0xC2) && !(need == 3 && c > 0xF4);
        for (size_t k = 1; ok && k <= need; k++)
            ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (!ok) {
            s[i++] = '?';
            continue;
        }
        if (need == 0 && (c < 0x20 || c == 0x7F) && c != '\n' && c != '\t')
            s[i] = '?';
        i += need + 1;
    }
}

/* What an action printed or a webhook answered goes on the timeline, into
 * events and /status: credentials in it are redacted by name. */
static void redact_output(char **out)
{
    char *clean = redact_body_text(NULL, *out);
    if (!clean)
        return;
    free(*out);
    *out = clean;
}

/* A header value from a template must stay one header line: CR, LF and
 * other control characters become spaces. */
static void header_clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            *s = ' ';
}

static const struct action *find_action(const struct probe *p, const char *name)
{
    for (size_t i = 0; i < p->n_actions; i++)
        if (strcmp(p->actions[i].name, name) == 0)
            return &p->actions[i];
    return NULL;
}

static const char *kind_str(enum act_kind k)
{
    return k == ACT_ROLLBACK ? "rollback" : "run";
}

static void entry_clear(struct act_entry *e)
{
    free(e->action);
    free(e->detail);
    free(e->output);
    memset(e, 0, sizeof *e);
}

/* --- incidents and their timelines -------------------------------------- */

static struct act_incident *incident_find(const struct actions *r, const char *id)
{
    for (struct act_incident *inc = r->incidents; inc; inc = inc->next)
        if (strcmp(inc->id, id) == 0)
            return inc;
    return NULL;
}

static void incident_free(struct act_incident *inc)
{
    if (!inc)
        return;
    for (size_t i = 0; i < ACTIONS_TIMELINE_MAX; i++)
        entry_clear(&inc->ring[i]);
    strv_free(&inc->fired);
    free(inc->probe_id);
    free(inc->region);
    free(inc);
}

static void incident_unlink(struct actions *r, struct act_incident *inc)
{
    struct act_incident **pp = &r->incidents;
    while (*pp && *pp != inc)
        pp = &(*pp)->next;
    if (*pp)
        *pp = inc->next;
}

static bool same_place(const struct act_incident *inc, const char *probe_id, const char *region)
{
    return strcmp(inc->probe_id, probe_id) == 0 && (!region || strcmp(inc->region, region) == 0);
}

/* Drops every other incident of (probe, region) that keep is meant to
 * replace: at most one open or one last-resolved timeline per place. Those
 * with runs in flight are freed when their last run ends. */
static void incident_supersede(struct actions *r, const struct act_incident *keep)
{
    struct act_incident **pp = &r->incidents;
    while (*pp) {
        struct act_incident *inc = *pp;
        if (inc != keep && same_place(inc, keep->probe_id, keep->region)) {
            if (inc->pending == 0) {
                *pp = inc->next;
                incident_free(inc);
                continue;
            }
            inc->stale = true;
        }
        pp = &inc->next;
    }
}

static struct act_incident *incident_get(struct actions *r, const char *id, const char *probe_id,
                                         const char *region)
{
    struct act_incident *inc = incident_find(r, id);
    if (inc)
        return inc;
    inc = calloc(1, sizeof *inc);
    if (!inc)
        return NULL;
    snprintf(inc->id, sizeof inc->id, "%s", id);
    inc->probe_id = xstrdup(probe_id);
    inc->region = xstrdup(region);
    strv_init(&inc->fired);
    if (!inc->probe_id || !inc->region) {
        incident_free(inc);
        return NULL;
    }
    inc->next = r->incidents;
    r->incidents = inc;
    incident_supersede(r, inc);
    return inc;
}

/* Moves e into the timeline (e is left empty). The oldest entry goes when
 * the ring is full: a flapping action must not grow memory. */
static void timeline_push(struct act_incident *inc, struct act_entry *e)
{
    size_t slot;
    if (inc->n == ACTIONS_TIMELINE_MAX) {
        entry_clear(&inc->ring[inc->head]);
        slot = inc->head;
        inc->head = (inc->head + 1) % ACTIONS_TIMELINE_MAX;
        inc->dropped++;
    } else {
        slot = (inc->head + inc->n) % ACTIONS_TIMELINE_MAX;
        inc->n++;
    }
    inc->ring[slot] = *e;
    memset(e, 0, sizeof *e);
}

/* An entry that needs no run: skipped, dry run, or an error before starting. */
static void timeline_note(struct act_incident *inc, const char *action, enum act_kind kind,
                          const char *outcome, const char *detail)
{
    struct act_entry e = { .kind = kind, .outcome = outcome, .status = -1 };
    tl_iso8601_now(true, e.at);
    e.action = xstrdup(action);
    e.detail = xstrdup(detail);
    if (!e.action || !e.detail) {
        entry_clear(&e);
        return;
    }
    timeline_push(inc, &e);
}

/* A resolved incident whose runs have all ended is kept as the last
 * resolved timeline of its place; older ones go. */
static void incident_settle(struct actions *r, struct act_incident *inc)
{
    if (inc->pending > 0)
        return;
    if (inc->stale) {
        incident_unlink(r, inc);
        incident_free(inc);
    }
}

/* --- batches and the end of a run --------------------------------------- */

static void batch_done(struct actions *r, struct act_batch *b)
{
    if (--b->pending > 0)
        return;
    if (b->cb && !r->dying)
        b->cb(b->arg);
    free(b);
}

static void run_unlink(struct actions *r, struct act_run *run)
{
    if (run->prev)
        run->prev->next = run->next;
    else
        r->runs = run->next;
    if (run->next)
        run->next->prev = run->prev;
    r->in_flight--;
}

/* Every run ends here, exactly once: its entry goes on the timeline. */
static void run_finish(struct act_run *run)
{
    struct actions *r = run->r;
    struct act_incident *inc = run->inc;

    run_unlink(r, run);
    timeline_push(inc, &run->e);
    inc->pending--;
    batch_done(r, run->batch);
    entry_clear(&run->e);
    buf_free(&run->output);
    free(run->what);
    free(run);
    incident_settle(r, inc);
    if (r->dying && r->in_flight == 0)
        runner_destroy(r);
}

static struct act_run *run_new(struct actions *r, struct act_incident *inc, struct act_batch *b,
                               const char *action, enum act_kind kind)
{
    struct act_run *run = calloc(1, sizeof *run);
    if (!run)
        return NULL;
    run->e.action = xstrdup(action);
    if (!run->e.action) {
        free(run);
        return NULL;
    }
    run->r = r;
    run->inc = inc;
    run->batch = b;
    run->e.kind = kind;
    run->e.status = -1;
    tl_iso8601_now(true, run->e.at);
    buf_init(&run->output, ACTIONS_OUTPUT_MAX);
    run->next = r->runs;
    if (r->runs)
        r->runs->prev = run;
    r->runs = run;
    r->in_flight++;
    inc->pending++;
    b->pending++;
    return run;
}

/* --- commands ----------------------------------------------------------- */

static void cmd_close_cb(uv_handle_t *h)
{
    struct act_run *run = h->data;
    if (--run->open_handles == 0)
        run_finish(run);
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
        (void)buf_printf(&d, "timed out after %s, ", fmt_dur(tbuf, sizeof tbuf, (uint64_t)run->timeout));
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
        text_clean(run->e.output, n);
        redact_output(&run->e.output);
    }
}

static void cmd_maybe_done(struct act_run *run)
{
    if (run->exited && run->eof) {
        cmd_outcome(run);
        cmd_close_timer(run);
    }
}

static void cmd_kill(struct act_run *run, int sig)
{
    /* The child leads its own process group (UV_PROCESS_DETACHED), so
     * whatever it started goes too. */
    if (run->proc.pid > 0)
        (void)uv_kill(-run->proc.pid, sig);
}

static void cmd_timer_cb(uv_timer_t *t)
{
    struct act_run *run = t->data;
    switch (run->phase) {
    case PH_RUN:
        run->timed_out = true;
        run->phase = PH_TERM;
        cmd_kill(run, SIGTERM);
        uv_timer_start(&run->timer, cmd_timer_cb, (uint64_t)(run->r->opts.kill_grace / 1000), 0);
        break;
    case PH_TERM:
        run->phase = PH_KILL;
        cmd_kill(run, SIGKILL);
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
    if (!run->eof) {
        run->phase = PH_DRAIN;
        uv_timer_start(&run->timer, cmd_timer_cb, (uint64_t)(run->r->opts.drain / 1000), 0);
    }
    cmd_maybe_done(run);
}

#define ACT_N_ENV 11

/* The event as environment variables, plus PATH: nothing else of the
 * agent's environment (its secrets) reaches the command. */
static int cmd_env(char **env, const char *const vals[ACT_N_ENV - 1])
{
    static const char *const names[ACT_N_ENV - 1] = {
        "TRIPLINE_PROBE", "TRIPLINE_REGION", "TRIPLINE_LEVEL", "TRIPLINE_BUCKET",
        "TRIPLINE_REASON", "TRIPLINE_INCIDENT_ID", "TRIPLINE_EVENT_ID", "TRIPLINE_TRANSITION",
        "TRIPLINE_STEP", "TRIPLINE_CORRELATION_ID",
    };
    const char *path = getenv("PATH");
    struct buf b;
    int rc = 0;

    for (size_t i = 0; i < ACT_N_ENV; i++) {
        buf_init(&b, 64 * 1024);
        if (i < ACT_N_ENV - 1)
            rc = buf_printf(&b, "%s=%s", names[i], vals[i]);
        else
            rc = buf_printf(&b, "PATH=%s", path && *path ? path : ACT_PATH_DEFAULT);
        env[i] = rc ? NULL : buf_take(&b);
        buf_free(&b);
        if (!env[i])
            return TL_ENOMEM;
    }
    return 0;
}

static void cmd_start(struct act_run *run, const struct action *a, const struct action_do *d,
                      const char *const vals[ACT_N_ENV - 1])
{
    uv_process_options_t po;
    uv_stdio_container_t stdio[3];
    uv_file fds[2] = { -1, -1 };
    char *env[ACT_N_ENV + 1] = { 0 };
    char **args = NULL;
    uv_loop_t *loop = run->r->loop;
    char ebuf[256];
    int rc;

    run->is_command = true;
    run->timeout = a->timeout > 0 ? a->timeout : ACTIONS_TIMEOUT_DEFAULT;
    run->out.data = run;
    run->timer.data = run;
    run->proc.data = run;
    rc = uv_timer_init(loop, &run->timer);
    if (rc) {
        snprintf(ebuf, sizeof ebuf, "timer: %s", uv_strerror(rc));
        goto fail_early;
    }
    run->open_handles = 1;
    rc = uv_pipe_init(loop, &run->out, 0);
    if (rc) {
        snprintf(ebuf, sizeof ebuf, "pipe: %s", uv_strerror(rc));
        goto fail;
    }
    run->open_handles++;
    rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
    if (rc == 0)
        rc = uv_pipe_open(&run->out, fds[0]);
    if (rc) {
        snprintf(ebuf, sizeof ebuf, "pipe: %s", uv_strerror(rc));
        goto fail;
    }
    fds[0] = -1; /* owned by the pipe handle now */
    args = calloc(d->argc + 1, sizeof *args);
    if (!args || d->argc == 0 || cmd_env(env, vals) != 0) {
        snprintf(ebuf, sizeof ebuf, "%s", d->argc == 0 ? "empty argv" : "out of memory");
        goto fail;
    }
    /* The configured argv, element by element: nothing from the event is
     * ever spliced into it. */
    for (size_t i = 0; i < d->argc; i++)
        args[i] = d->argv[i];

    memset(&po, 0, sizeof po);
    stdio[0].flags = UV_IGNORE; /* /dev/null */
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fds[1];
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fds[1];
    po.file = args[0];
    po.args = args;
    po.env = env;
    po.stdio = stdio;
    po.stdio_count = 3;
    po.exit_cb = cmd_exit_cb;
    po.flags = UV_PROCESS_DETACHED;
    rc = uv_spawn(loop, &run->proc, &po);
    /* The child has its copy of the write end; ours must go or EOF never comes. */
    uv_fs_t creq;
    uv_fs_close(loop, &creq, fds[1], NULL);
    uv_fs_req_cleanup(&creq);
    fds[1] = -1;
    if (rc) {
        snprintf(ebuf, sizeof ebuf, "cannot start %s: %s", args[0], uv_strerror(rc));
        /* A failed uv_spawn still leaves an initialised handle to close. */
        run->open_handles++;
        uv_close((uv_handle_t *)&run->proc, cmd_close_cb);
        goto fail;
    }
    run->open_handles++;
    rc = uv_read_start((uv_stream_t *)&run->out, cmd_alloc_cb, cmd_read_cb);
    if (rc) {
        run->eof = true;
        cmd_close_out(run);
    }
    uv_timer_start(&run->timer, cmd_timer_cb, (uint64_t)(run->timeout / 1000), 0);
    goto out;

fail:
    run->e.outcome = "error";
    run->e.detail = xstrdup(ebuf);
    run->eof = true;
    run->exited = true;
    if (run->open_handles >= 2 && !run->out_closed) {
        run->out_closed = true;
        uv_close((uv_handle_t *)&run->out, cmd_close_cb);
    }
    cmd_close_timer(run);
    goto out;
fail_early:
    run->e.outcome = "error";
    run->e.detail = xstrdup(ebuf);
    run_finish(run);
out:
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0) {
            uv_fs_t req;
            uv_fs_close(loop, &req, fds[i], NULL);
            uv_fs_req_cleanup(&req);
        }
    }
    for (size_t i = 0; i < ACT_N_ENV; i++)
        free(env[i]);
    free(args);
}

/* --- webhooks ----------------------------------------------------------- */

struct hook_req {
    char *url;
    bool url_secret;
    size_t n_headers;
    struct http_header *headers;
    char *body;
    bool body_secret;
};

static void hook_req_free(struct hook_req *h)
{
    free(h->url);
    for (size_t i = 0; i < h->n_headers; i++) {
        free(h->headers[i].name);
        free(h->headers[i].value);
    }
    free(h->headers);
    free(h->body);
    memset(h, 0, sizeof *h);
}

/* Renders every string leaf of a JSON body that holds a template. */
static int hook_render_json(cJSON *v, const struct tpl_vars *vs, bool *secret, char *err,
                            size_t errlen)
{
    cJSON *c;
    if (cJSON_IsString(v) && v->valuestring && tpl_has_placeholders(v->valuestring)) {
        struct tpl t = { 0 };
        int off = 0;
        char *s = NULL;
        bool sec = false;
        if (tpl_parse(&t, v->valuestring, err, errlen, &off) != 0)
            return -1;
        s = tpl_render_str(&t, vs, TPL_ESC_NONE, &sec, err, errlen);
        tpl_free(&t);
        if (!s)
            return -1;
        *secret = *secret || sec;
        if (!cJSON_SetValuestring(v, s)) {
            free(s);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(s);
        return 0;
    }
    cJSON_ArrayForEach(c, v) {
        if (hook_render_json(c, vs, secret, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int hook_render(const struct action_do *d, const struct tpl_vars *vs, struct hook_req *h,
                       char *err, size_t errlen)
{
    bool has_ctype = false;
    cJSON *json = NULL;
    int rc = -1;

    h->url = tpl_render_str(&d->url, vs, TPL_ESC_URL, &h->url_secret, err, errlen);
    if (!h->url)
        goto out;
    h->headers = calloc(d->n_headers + 1, sizeof *h->headers);
    if (!h->headers) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < d->n_headers; i++) {
        struct http_header *hh = &h->headers[h->n_headers];
        hh->name = xstrdup(d->headers[i].name);
        hh->value = tpl_render_str(&d->headers[i].value, vs, TPL_ESC_NONE, NULL, err, errlen);
        h->n_headers++;
        if (!hh->name || !hh->value)
            goto out;
        header_clean(hh->value);
        if (strcasecmp(hh->name, "Content-Type") == 0)
            has_ctype = true;
    }
    if (d->json) {
        json = cJSON_Duplicate(d->json, 1);
        if (!json) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (hook_render_json(json, vs, &h->body_secret, err, errlen) != 0)
            goto out;
        h->body = cJSON_PrintUnformatted(json);
        if (!h->body) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (!has_ctype) {
            struct http_header *hh = &h->headers[h->n_headers];
            hh->name = xstrdup("Content-Type");
            hh->value = xstrdup("application/json");
            h->n_headers++;
            if (!hh->name || !hh->value)
                goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(json);
    return rc;
}

/* "PUT http://host/path" as it may be written: a URL rendered from a
 * secret is shown as its template, others lose userinfo and credentials. */
static char *hook_what(const struct action_do *d, const struct hook_req *h)
{
    struct redactor red;
    struct buf b;
    char *url;
    char *out = NULL;

    redactor_init(&red);
    url = h->url_secret ? xstrdup(d->url.src) : redact_url(&red, h->url);
    redactor_free(&red);
    if (!url)
        return NULL;
    buf_init(&b, ACT_DETAIL_MAX);
    if (buf_printf(&b, "%s %s", d->method ? d->method : "POST", url) != TL_ENOMEM)
        out = buf_take(&b);
    buf_free(&b);
    free(url);
    return out;
}

static void hook_done_cb(struct response *resp, void *arg)
{
    struct act_run *run = arg;
    struct buf d;

    buf_init(&d, ACT_DETAIL_MAX);
    if (resp->status > 0 && resp->fail == TRANSFER_OK) {
        run->e.status = resp->status;
        run->e.outcome = resp->status >= 200 && resp->status <= 299 ? "ok" : "failed";
        (void)buf_printf(&d, "HTTP %ld from %s", resp->status, run->what);
        if (resp->body.len > 0) {
            size_t n = resp->body.len < ACTIONS_RESPONSE_MAX ? resp->body.len : ACTIONS_RESPONSE_MAX;
            run->e.output = malloc(n + 1);
            if (run->e.output) {
                memcpy(run->e.output, resp->body.data, n);
                run->e.output[n] = '\0';
                text_clean(run->e.output, n);
                redact_output(&run->e.output);
            }
        }
    } else {
        run->e.outcome = "failed";
        (void)buf_printf(&d, "%s: %s (%s)",
                         resp->fail == TRANSFER_CURL ? "transport error" : transfer_fail_str(resp->fail),
                         resp->error[0] ? resp->error : "no response", run->what);
    }
    run->e.detail = buf_take(&d);
    buf_free(&d);
    response_free(resp);
    free(resp);
    run_finish(run);
}

static void hook_start(struct act_run *run, const struct action *a, const struct action_do *d,
                       const struct tpl_vars *vs)
{
    struct hook_req h = { 0 };
    struct transfer_session *s = NULL;
    struct transfer_req req;
    char err[256] = "";

    if (hook_render(d, vs, &h, err, sizeof err) != 0) {
        run->e.outcome = "error";
        run->e.detail = strdup(err[0] ? err : "cannot render the request");
        goto fail;
    }
    run->what = hook_what(d, &h);
    if (!run->what || transfer_session_new(&s, run->r->engine) != 0) {
        run->e.outcome = "error";
        run->e.detail = strdup("out of memory");
        goto fail;
    }
    memset(&req, 0, sizeof req);
    req.method = d->method ? d->method : "POST";
    req.url = h.url;
    req.n_headers = h.n_headers;
    req.headers = h.headers;
    req.body = h.body;
    req.body_len = h.body ? strlen(h.body) : 0;
    req.timeout = a->timeout > 0 ? a->timeout : ACTIONS_TIMEOUT_DEFAULT;
    req.body_max = 64 * 1024;
    if (transfer_start(s, &req, hook_done_cb, run) != 0) {
        run->e.outcome = "error";
        run->e.detail = strdup("cannot start the request");
        goto fail;
    }
    /* The session lives on while its transfer is in flight. */
    transfer_session_free(s);
    hook_req_free(&h);
    return;
fail:
    transfer_session_free(s);
    hook_req_free(&h);
    run_finish(run);
}

/* --- firing ------------------------------------------------------------- */

/* What a dry run records. */
static char *dry_detail(const struct action_do *d, const struct tpl_vars *vs)
{
    struct buf b;
    char *out = NULL;

    buf_init(&b, ACT_DETAIL_MAX + 256);
    if (d->kind == ACTION_COMMAND) {
        cJSON *arr = cJSON_CreateArray();
        char *s = NULL;
        for (size_t i = 0; arr && i < d->argc; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(d->argv[i]));
        s = arr ? cJSON_PrintUnformatted(arr) : NULL;
        if (s)
            (void)buf_printf(&b, "would run %.*s", ACT_DETAIL_MAX, s);
        free(s);
        cJSON_Delete(arr);
    } else {
        struct hook_req h = { 0 };
        char err[256] = "";
        if (hook_render(d, vs, &h, err, sizeof err) != 0) {
            (void)buf_printf(&b, "would fail: %s", err);
        } else {
            char *what = hook_what(d, &h);
            (void)buf_printf(&b, "would send %s", what ? what : "?");
            if (h.body)
                (void)buf_printf(&b, " %.*s", ACT_DETAIL_MAX / 2,
                                 h.body_secret ? REDACTED : h.body);
            free(what);
        }
        hook_req_free(&h);
    }
    if (b.len > 0)
        out = buf_take(&b);
    buf_free(&b);
    return out;
}

static struct act_cool *cool_get(struct actions *r, const char *probe_id, const char *action)
{
    struct act_cool *c;
    for (c = r->cools; c; c = c->next)
        if (strcmp(c->probe_id, probe_id) == 0 && strcmp(c->action, action) == 0)
            return c;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->probe_id = strdup(probe_id);
    c->action = strdup(action);
    if (!c->probe_id || !c->action) {
        free(c->probe_id);
        free(c->action);
        free(c);
        return NULL;
    }
    c->next = r->cools;
    r->cools = c;
    return c;
}

struct fire_ctx {
    struct actions *r;
    const struct probe *p;
    struct act_incident *inc;
    struct act_batch *batch;
    const char *const *vals;
    const struct tpl_vars *vs;
};

static bool strv_has(const struct strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return true;
    return false;
}

static void fire_one(struct fire_ctx *fc, const char *name, enum act_kind kind)
{
    const struct action *a = find_action(fc->p, name);
    const struct action_do *d;
    struct act_run *run;
    char detail[256];

    if (!a) {
        snprintf(detail, sizeof detail, "no action named %s in probe %s", name, fc->p->id);
        timeline_note(fc->inc, name, kind, "error", detail);
        return;
    }
    if (kind == ACT_RUN) {
        struct act_cool *c = cool_get(fc->r, fc->p->id, name);
        uint64_t now = uv_hrtime();
        if (!c) {
            timeline_note(fc->inc, name, kind, "error", "out of memory");
            return;
        }
        /* The cooldown stops a flapping incident from toggling a flag on
         * every transition; it counts from the last run, dry or real. */
        if (a->cooldown > 0 && c->last_ns != 0 && now - c->last_ns < (uint64_t)a->cooldown * 1000) {
            char ago[32], cd[32];
            snprintf(detail, sizeof detail, "cooldown: last ran %s ago, cooldown %s",
                     fmt_dur(ago, sizeof ago, (now - c->last_ns) / 1000),
                     fmt_dur(cd, sizeof cd, (uint64_t)a->cooldown));
            timeline_note(fc->inc, name, kind, "skipped", detail);
            return;
        }
        c->last_ns = now;
        if (!strv_has(&fc->inc->fired, name) && strv_push(&fc->inc->fired, name) != 0) {
            timeline_note(fc->inc, name, kind, "error", "out of memory");
            return;
        }
        d = &a->run;
    } else {
        if (!a->has_rollback)
            return;
        d = &a->rollback;
    }
    if (a->dry_run) {
        char *s = dry_detail(d, fc->vs);
        timeline_note(fc->inc, name, kind, "dry_run", s ? s : "would run");
        free(s);
        return;
    }
    run = run_new(fc->r, fc->inc, fc->batch, name, kind);
    if (!run) {
        timeline_note(fc->inc, name, kind, "error", "out of memory");
        return;
    }
    if (d->kind == ACTION_COMMAND)
        cmd_start(run, a, d, fc->vals);
    else
        hook_start(run, a, d, fc->vs);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Event fields as template variables, then the probe's own vars (a webhook
 * URL may well be "{{ flags }}/checkout"). A var that cannot be rendered is
 * left out: a template that uses it then fails with its name. */
static int fire_vars(struct tpl_vars *vs, const struct probe *p, const char *const vals[10])
{
    static const char *const names[10] = {
        "probe", "region", "level", "bucket", "reason", "incident_id", "event_id",
        "transition", "step", "correlation_id",
    };
    char err[256];
    for (size_t i = 0; i < p->n_vars; i++) {
        bool secret = false;
        char *v = tpl_render_str(&p->vars[i].value, vs, TPL_ESC_NONE, &secret, err, sizeof err);
        if (!v)
            continue;
        int rc = tpl_vars_set(vs, p->vars[i].name, v, secret || p->vars[i].secret);
        free(v);
        if (rc)
            return TL_ENOMEM;
    }
    for (size_t i = 0; i < 10; i++)
        if (tpl_vars_set(vs, names[i], vals[i], false) != 0)
            return TL_ENOMEM;
    return 0;
}

int actions_fire(struct actions *r, const struct probe *p, const struct esc_transition *t,
                 const struct action_fields *f, actions_done_cb cb, void *arg)
{
    static const struct action_fields none = { 0 };
    struct tpl_vars vs;
    struct act_batch *b = NULL;
    struct fire_ctx fc;
    const char *vals[10];
    int rc = TL_EINVAL;

    tpl_vars_init(&vs);
    if (!r || !p || !t || r->dying || !t->incident_id[0])
        goto out;
    if (t->kind != ESC_OPENED && t->kind != ESC_ESCALATED && t->kind != ESC_RESOLVED) {
        if (cb)
            cb(arg);
        rc = 0;
        goto out;
    }
    if (!f)
        f = &none;
    vals[0] = p->id;
    vals[1] = or_empty(f->region);
    vals[2] = level_str(t->level);
    vals[3] = or_empty(f->bucket);
    vals[4] = f->reason ? f->reason : t->reason;
    vals[5] = t->incident_id;
    vals[6] = t->event_id;
    vals[7] = esc_kind_str(t->kind);
    vals[8] = f->step ? f->step : t->step;
    vals[9] = f->correlation_id ? f->correlation_id : t->correlation_id;
    rc = TL_ENOMEM;
    if (fire_vars(&vs, p, vals) != 0)
        goto out;
    b = calloc(1, sizeof *b);
    if (!b)
        goto out;
    /* The batch holds one count of its own until every run is started, so
     * a run that ends at once cannot complete it early. */
    b->pending = 1;
    b->cb = cb;
    b->arg = arg;
    fc.r = r;
    fc.p = p;
    fc.batch = b;
    fc.vals = vals;
    fc.vs = &vs;
    fc.inc = incident_get(r, t->incident_id, p->id, vals[1]);
    if (!fc.inc)
        goto out;
    if (t->kind == ESC_RESOLVED) {
        struct strv fired = fc.inc->fired;
        /* Each rollback runs once per resolution: the list is emptied first. */
        strv_init(&fc.inc->fired);
        fc.inc->resolved = true;
        for (size_t i = 0; i < fired.n; i++)
            fire_one(&fc, fired.v[i], ACT_ROLLBACK);
        strv_free(&fired);
    } else {
        for (size_t i = 0; i < t->n_actions; i++)
            fire_one(&fc, t->actions[i], ACT_RUN);
    }
    batch_done(r, b);
    b = NULL;
    rc = 0;
out:
    free(b);
    tpl_vars_free(&vs);
    return rc;
}

/* --- timeline as JSON --------------------------------------------------- */

static cJSON *timeline_json(const struct act_incident *inc)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < inc->n; i++) {
        const struct act_entry *e = &inc->ring[(inc->head + i) % ACTIONS_TIMELINE_MAX];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddStringToObject(o, "at", e->at);
        cJSON_AddStringToObject(o, "action", e->action);
        cJSON_AddStringToObject(o, "kind", kind_str(e->kind));
        cJSON_AddStringToObject(o, "outcome", e->outcome ? e->outcome : "error");
        cJSON_AddStringToObject(o, "detail", e->detail ? e->detail : "");
        if (e->status >= 0)
            cJSON_AddNumberToObject(o, "status", (double)e->status);
        if (e->output)
            cJSON_AddStringToObject(o, "output", e->output);
    }
    return arr;
}

cJSON *actions_timeline_json(const struct actions *r, const char *incident_id)
{
    const struct act_incident *inc;
    if (!r || !incident_id)
        return NULL;
    inc = incident_find(r, incident_id);
    return inc ? timeline_json(inc) : NULL;
}

cJSON *actions_probe_json(const struct actions *r, const char *probe_id, const char *region)
{
    const struct act_incident *best = NULL;
    cJSON *o, *tl;

    if (!r || !probe_id)
        return NULL;
    /* The open incident wins over the last resolved one. */
    for (const struct act_incident *inc = r->incidents; inc; inc = inc->next) {
        if (inc->stale || !same_place(inc, probe_id, region))
            continue;
        if (!best || (best->resolved && !inc->resolved))
            best = inc;
    }
    if (!best)
        return NULL;
    o = cJSON_CreateObject();
    tl = timeline_json(best);
    if (!o || !tl) {
        cJSON_Delete(o);
        cJSON_Delete(tl);
        return NULL;
    }
    cJSON_AddStringToObject(o, "incident_id", best->id);
    cJSON_AddStringToObject(o, "region", best->region);
    cJSON_AddStringToObject(o, "state", best->resolved ? "resolved" : "open");
    cJSON_AddNumberToObject(o, "dropped", (double)best->dropped);
    cJSON_AddItemToObject(o, "timeline", tl);
    return o;
}

/* --- the runner --------------------------------------------------------- */

int actions_new(struct actions **out, uv_loop_t *loop, struct transfer_engine *engine,
                const struct actions_opts *opts)
{
    struct actions *r;

    *out = NULL;
    if (!loop)
        return TL_EINVAL;
    r = calloc(1, sizeof *r);
    if (!r)
        return TL_ENOMEM;
    r->loop = loop;
    r->engine = engine;
    if (opts)
        r->opts = *opts;
    if (r->opts.kill_grace <= 0)
        r->opts.kill_grace = ACT_KILL_GRACE_DEFAULT;
    if (r->opts.drain <= 0)
        r->opts.drain = ACT_DRAIN_DEFAULT;
    *out = r;
    return 0;
}

static void runner_destroy(struct actions *r)
{
    while (r->incidents) {
        struct act_incident *inc = r->incidents;
        r->incidents = inc->next;
        incident_free(inc);
    }
    while (r->cools) {
        struct act_cool *c = r->cools;
        r->cools = c->next;
        free(c->probe_id);
        free(c->action);
        free(c);
    }
    free(r);
}

void actions_free(struct actions *r)
{
    if (!r || r->dying)
        return;
    r->dying = true;
    if (r->in_flight == 0) {
        runner_destroy(r);
        return;
    }
    /* Running commands are killed now; their handles close as the loop
     * runs, and the last run to end frees the runner. */
    for (struct act_run *run = r->runs; run; run = run->next) {
        if (run->is_command && !run->exited) {
            run->phase = PH_KILL;
            cmd_kill(run, SIGKILL);
        }
    }
}

size_t actions_in_flight(const struct actions *r)
{
    return r ? r->in_flight : 0;
}
