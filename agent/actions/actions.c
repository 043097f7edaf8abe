/* Actions: the registry of runs in flight, cooldowns, and the state machine
 * that turns escalation transitions into runs (opened/escalated) and
 * rollbacks (resolved). Commands are in action_process.c, webhooks in
 * action_webhook.c, timelines in action_timeline.c. Everything runs on the
 * agent's loop thread. */
#include "agent/actions/actions_int.h"
#include "base/time.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACT_KILL_GRACE_DEFAULT ((tl_usec)2 * 1000000)
#define ACT_DRAIN_DEFAULT ((tl_usec)1 * 1000000)

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

static void runner_destroy(struct actions *r);

static const struct action *find_action(const struct probe *p, const char *name)
{
    for (size_t i = 0; i < p->n_actions; i++)
        if (strcmp(p->actions[i].name, name) == 0)
            return &p->actions[i];
    return NULL;
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

static void report(struct actions *r, const struct act_incident *inc, const struct act_entry *e)
{
    if (!r->opts.report)
        return;
    struct actions_report rep = {
        .probe = inc->probe_id, .region = inc->region, .incident_id = inc->id, .action = e->action,
        .kind = e->kind == ACT_ROLLBACK ? "rollback" : "run", .outcome = e->outcome, .detail = e->detail,
    };
    r->opts.report(r->opts.report_arg, &rep);
}

/* An entry that needs no run, reported like a run's. */
static void note(struct actions *r, struct act_incident *inc, const char *action, enum act_kind kind,
                 const char *outcome, const char *detail)
{
    struct act_entry e = {.action = (char *)action, .kind = kind, .outcome = outcome, .detail = (char *)detail};
    act_timeline_note(inc, action, kind, outcome, detail);
    report(r, inc, &e);
}

/* Every run ends here, exactly once: its entry goes on the timeline. */
static void run_finish(struct act_run *run)
{
    struct actions *r = run->r;
    struct act_incident *inc = run->inc;

    run_unlink(r, run);
    /* The entry is on the timeline and the run no longer pending when it is
     * reported: the report of the last run can send the whole timeline. */
    inc->pending--;
    report(r, inc, act_timeline_push(inc, &run->e));
    batch_done(r, run->batch);
    act_entry_clear(&run->e);
    buf_free(&run->output);
    free(run->what);
    free(run);
    act_incident_settle(r, inc);
    if (r->dying && r->in_flight == 0)
        runner_destroy(r);
}

static struct act_run *run_new(struct actions *r, struct act_incident *inc, struct act_batch *b,
                               const char *action, enum act_kind kind)
{
    struct act_run *run = calloc(1, sizeof *run);
    if (!run)
        return NULL;
    run->e.action = act_strdup(action);
    if (!run->e.action) {
        free(run);
        return NULL;
    }
    run->r = r;
    run->finish = run_finish;
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

/* --- firing ------------------------------------------------------------- */

/* What a dry run records. */
static char *dry_detail(const struct action_do *d, const struct tpl_vars *vs)
{
    struct buf b;
    char *out = NULL;

    buf_init(&b, ACT_DETAIL_MAX + 256);
    if (d->kind == ACTION_COMMAND)
        act_cmd_dry(d, &b);
    else
        act_hook_dry(d, vs, &b);
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

int actions_cool_age(const struct actions *r, const char *probe_id, const char *action, tl_usec *age)
{
    for (const struct act_cool *c = r ? r->cools : NULL; c; c = c->next)
        if (c->last_ns && strcmp(c->probe_id, probe_id) == 0 && strcmp(c->action, action) == 0) {
            *age = (tl_usec)((uv_hrtime() - c->last_ns) / 1000);
            return 0;
        }
    return TL_ENOTFOUND;
}

int actions_cool_restore(struct actions *r, const char *probe_id, const char *action, tl_usec ago)
{
    struct act_cool *c = r ? cool_get(r, probe_id, action) : NULL;
    uint64_t now = uv_hrtime();
    if (!c)
        return TL_ENOMEM;
    /* a run in the future (a clock set back) ran no later than now; one
     * older than this process's clock: as old as the clock allows */
    if (ago < 0)
        ago = 0;
    c->last_ns = (uint64_t)ago * 1000 < now ? now - (uint64_t)ago * 1000 : 1;
    return 0;
}

struct fire_ctx {
    struct actions *r;
    const struct probe *p;
    struct act_incident *inc;
    struct act_batch *batch;
    const char *const *vals;
    const struct tpl_vars *vs;
};

static void fire_one(struct fire_ctx *fc, const char *name, enum act_kind kind)
{
    const struct action *a = find_action(fc->p, name);
    const struct action_do *d;
    struct act_run *run;
    char detail[256];

    if (!a) {
        snprintf(detail, sizeof detail, "no action named %s in probe %s", name, fc->p->id);
        note(fc->r, fc->inc, name, kind, "error", detail);
        return;
    }
    if (kind == ACT_RUN) {
        struct act_cool *c = cool_get(fc->r, fc->p->id, name);
        uint64_t now = uv_hrtime();
        if (!c) {
            note(fc->r, fc->inc, name, kind, "error", "out of memory");
            return;
        }
        /* The cooldown stops a flapping incident from toggling a flag on
         * every transition; it counts from the last run, dry or real. */
        if (a->cooldown > 0 && c->last_ns != 0 && now - c->last_ns < (uint64_t)a->cooldown * 1000) {
            char ago[32], cd[32];
            snprintf(detail, sizeof detail, "cooldown: last ran %s ago, cooldown %s",
                     act_fmt_dur(ago, sizeof ago, (now - c->last_ns) / 1000),
                     act_fmt_dur(cd, sizeof cd, (uint64_t)a->cooldown));
            note(fc->r, fc->inc, name, kind, "skipped", detail);
            return;
        }
        c->last_ns = now;
        if (strv_add(&fc->inc->fired, name) != 0) {
            note(fc->r, fc->inc, name, kind, "error", "out of memory");
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
        note(fc->r, fc->inc, name, kind, "dry_run", s ? s : "would run");
        free(s);
        return;
    }
    run = run_new(fc->r, fc->inc, fc->batch, name, kind);
    if (!run) {
        note(fc->r, fc->inc, name, kind, "error", "out of memory");
        return;
    }
    if (d->kind == ACTION_COMMAND)
        act_cmd_start(run, a, d, fc->vals);
    else
        act_hook_start(run, a, d, fc->vs);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Event fields as template variables, then the probe's own vars (a webhook
 * URL may well be "{{ flags }}/checkout"). A var that cannot be rendered is
 * left out: a template that uses it then fails with its name. */
static int fire_vars(struct tpl_vars *vs, const struct probe *p, const char *const vals[ACT_N_FIELDS])
{
    static const char *const names[ACT_N_FIELDS] = {
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
    for (size_t i = 0; i < ACT_N_FIELDS; i++)
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
    const char *vals[ACT_N_FIELDS];
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
    fc.inc = act_incident_get(r, t->incident_id, p->id, vals[1]);
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

int actions_rerun(struct actions *r, const struct probe *p, const struct esc_transition *t,
                  const struct action_fields *f)
{
    const char *region = f && f->region ? f->region : "";
    struct act_incident *inc = r && p && t ? act_incident_get(r, t->incident_id, p->id, region) : NULL;
    if (!inc)
        return TL_ENOMEM;
    for (size_t i = 0; i < t->n_actions; i++) {
        struct act_cool *c = cool_get(r, p->id, t->actions[i]);
        /* it may well have run: its cooldown must not hold back the rerun */
        if (c)
            c->last_ns = 0;
        note(r, inc, t->actions[i], ACT_RUN, "unknown", "the agent stopped while it ran: run again");
    }
    return actions_fire(r, p, t, f, NULL, NULL);
}

int actions_fired(const struct actions *r, const char *incident_id, struct strv *out)
{
    const struct act_incident *inc = r ? act_incident_find(r, incident_id) : NULL;
    for (size_t i = 0; inc && i < inc->fired.n; i++)
        if (strv_add(out, inc->fired.v[i]))
            return TL_ENOMEM;
    return 0;
}

int actions_forget(struct actions *r, const char *incident_id, const char *action)
{
    struct act_incident *inc = r ? act_incident_find(r, incident_id) : NULL;
    for (size_t i = 0; inc && i < inc->fired.n; i++) {
        if (strcmp(inc->fired.v[i], action) != 0)
            continue;
        free(inc->fired.v[i]);
        inc->fired.v[i] = inc->fired.v[--inc->fired.n];
        return 0;
    }
    return TL_ENOTFOUND;
}

int actions_resume(struct actions *r, const char *incident_id, const char *probe_id, const char *region,
                   const struct strv *fired)
{
    if (!r || r->dying)
        return TL_EINVAL;
    struct act_incident *inc = act_incident_get(r, incident_id, probe_id, region ? region : "");
    if (!inc)
        return TL_ENOMEM;
    for (size_t i = 0; i < fired->n; i++)
        if (strv_add(&inc->fired, fired->v[i]))
            return TL_ENOMEM;
    return 0;
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
        act_incident_free(inc);
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
            act_cmd_kill(run, SIGKILL);
        }
    }
}

size_t actions_in_flight(const struct actions *r)
{
    return r ? r->in_flight : 0;
}
