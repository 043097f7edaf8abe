/* Incidents across restarts and reloads: every open incident is kept in the
 * incident store (agent/incident/incident_store.h) and reconciled with the
 * probes loaded. An incident of an unchanged probe resumes under its id; one
 * whose probe was changed or removed is resolved with that reason and its
 * actions rolled back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/actions/action_orphans.h"
#include "agent/actions/actions.h"
#include "agent/daemon/agent_int.h"
#include "agent/endpoint/status.h"
#include "agent/incident/incident_store.h"
#include "base/time.h"
#include "base/uuid.h"

/* An open incident whose probe a reload took away: resolved once the reload
 * is over, with the old definition (held by lf) for its rollbacks. */
struct agent_orphan {
    struct esc_transition t;
    struct lfile *lf;
    const struct probe *probe;
    const char *region;
    struct agent_orphan *next;
};

/* A command of the last run still running at start-up was killed. */
static void orphan_killed(void *arg, const struct actions_orphan *o)
{
    struct agent *a = arg;
    static const char *const labels[] = {"probe", "action"};
    log_kv(a->log, LOG_WARN,
           LOG_FIELDS(LOG_STR("probe", o->probe), LOG_STR("incident", o->incident), LOG_STR("action", o->action),
                      LOG_STR("kind", o->kind)),
           "probe %s: %s %s of incident %s was still running from before the restart: killed its process group %d",
           o->probe, o->kind, o->action, o->incident, o->pgid);
    struct metric_family *f = metrics_counter(a->metrics, "tripline_action_orphans_killed_total",
                                              "Commands of a crashed run killed at start-up", labels, 2);
    struct metric *m = f ? metrics_series(f, (const char *const[]){o->probe, o->action}) : NULL;
    if (m)
        metric_inc(m);
}

/* A last run stamped in the future: the wall clock was set back since (or
 * ran ahead then). It ran no later than now, so its cooldown holds from now
 * (not never, not until the clock catches up), and the stamp kept becomes
 * now, so another restart does not push the end further. */
static void cool_from_future(struct agent *a, const struct istore_cool *c, int64_t now)
{
    char ahead[32];
    snprintf(ahead, sizeof ahead, "%.1fs", (double)(c->at_us - now) / 1e6);
    log_warn(a->log, "probe %s: the last run of %s is stamped %s in the future (the clock was set back?): its "
             "cooldown counts from now", c->probe, c->action, ahead);
    int rc = istore_cool_set(a->istore, c->probe, c->action, now); /* in place: c stays valid */
    if (rc)
        log_error(a->log, "cannot write the incident store (%s) after clamping a cooldown",
                  rc == TL_EIO ? istore_error(a->istore) : tl_strerror(rc));
}

int agent_incidents_open(struct agent *a)
{
    char err[600];
    /* before any action runs: an orphan and its rerun must never act at once */
    int rc = actions_orphans_reap(a->cfg.spool_dir, orphan_killed, a);
    if (rc < 0)
        log_error(a->log, "cannot read the records of running commands in %s (%s)", a->cfg.spool_dir,
                  tl_strerror(rc));
    rc = istore_open(a->cfg.spool_dir, &a->istore, err, sizeof err);
    if (rc)
        log_error(a->log, "cannot open the incident store in %s (%s)", a->cfg.spool_dir, tl_strerror(rc));
    else if (err[0])
        log_error(a->log, "damaged incident store: %s", err);
    else if (istore_count(a->istore))
        log_info(a->log, "resuming %zu open incidents of the last run", istore_count(a->istore));
    /* cooldowns go on from the last run's wall clock */
    int64_t now = tl_wall_us();
    for (size_t i = 0; rc == 0 && i < istore_cool_count(a->istore); i++) {
        const struct istore_cool *c = istore_cool_at(a->istore, i);
        if (c->at_us > now + 1000000)
            cool_from_future(a, c, now);
        if (a->actions && actions_cool_restore(a->actions, c->probe, c->action, now - c->at_us))
            log_error(a->log, "probe %s: out of memory restoring the cooldown of %s", c->probe, c->action);
    }
    return rc;
}

static void store_failed(struct agent *a, const char *probe, int rc)
{
    log_error(a->log, "probe %s: cannot write the incident store (%s): a restart would forget its incident", probe,
              rc == TL_EIO ? istore_error(a->istore) : tl_strerror(rc));
}

/* The cooldown clocks of the actions a transition named, kept. */
static void record_cools(struct agent *a, struct probe_state *ps, const struct esc_transition *t)
{
    int64_t now = tl_wall_us();
    for (size_t i = 0; a->actions && i < t->n_actions; i++) {
        tl_usec age;
        if (actions_cool_age(a->actions, ps->probe->id, t->actions[i], &age))
            continue;
        int rc = istore_cool_set(a->istore, ps->probe->id, t->actions[i], now - age);
        if (rc)
            store_failed(a, ps->probe->id, rc);
    }
}

/* The definition to keep for the rollback of action: the probe's, else one
 * kept before (an action a reload took away still has to be undone); a new
 * object, NULL when there is none. */
static cJSON *rollback_def(const struct probe *p, const char *action, const cJSON *kept)
{
    cJSON *def = p ? actions_rollback_def(p, action) : NULL;
    const cJSON *old = kept ? cJSON_GetObjectItemCaseSensitive(kept, action) : NULL;
    return def ? def : old ? cJSON_Duplicate(old, 1) : NULL;
}

/* The rollback definitions of the actions fired, kept with the incident so
 * they can be undone when its probe is gone (actions_rollback_def). */
static int rollback_defs(const struct probe *p, const struct strv *fired, const cJSON *kept, cJSON **out)
{
    *out = cJSON_CreateObject();
    for (size_t i = 0; *out && i < fired->n; i++) {
        cJSON *def = cJSON_GetObjectItemCaseSensitive(*out, fired->v[i]) ? NULL
                                                                         : rollback_def(p, fired->v[i], kept);
        if (def && !cJSON_AddItemToObject(*out, fired->v[i], def)) {
            cJSON_Delete(def);
            return TL_ENOMEM;
        }
    }
    return *out ? 0 : TL_ENOMEM;
}

/* Writes the open incident of ps; extra: actions about to run (the intent,
 * so their rollbacks are owed even if the agent dies while they run). A
 * failure is logged unless quiet; the caller must not run extra then. */
static int record_open(struct agent *a, struct probe_state *ps, char *const *extra, size_t n_extra, bool quiet)
{
    struct istore_rec rec = {.probe = ps->probe->id, .region = (char *)ps->region, .def_hash = ps->probe->def_hash};
    int rc = 0;
    strv_init(&rec.fired);
    strv_init(&rec.running);
    if (!esc_snapshot(ps->esc, &rec.snap))
        goto out;
    rc = actions_fired(a->actions, rec.snap.incident_id, &rec.fired);
    const struct istore_rec *old = istore_find(a->istore, rec.probe, rec.region);
    /* still running from before: their outcomes are not known yet */
    for (size_t i = 0; rc == 0 && old && strcmp(old->snap.incident_id, rec.snap.incident_id) == 0 &&
                       i < old->running.n; i++)
        rc = strv_add(&rec.running, old->running.v[i]) ? TL_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < n_extra; i++)
        rc = strv_add(&rec.fired, extra[i]) || strv_add(&rec.running, extra[i]) ? TL_ENOMEM : 0;
    if (rc == 0)
        rc = rollback_defs(ps->probe, &rec.fired, old ? old->defs : NULL, &rec.defs);
    if (rc == 0)
        rc = istore_put(a->istore, &rec);
    if (rc && !quiet)
        store_failed(a, ps->probe->id, rc);
    struct istore_rec *in = rc ? NULL : istore_find(a->istore, rec.probe, rec.region);
    if (in)
        in->claimed = true;
out:
    strv_free(&rec.fired);
    strv_free(&rec.running);
    cJSON_Delete(rec.defs);
    return rc;
}

/* An action's outcome is known: no rerun after a restart. */
static void record_outcome(struct agent *a, const struct actions_report *rep)
{
    struct istore_rec *rec = istore_find(a->istore, rep->probe, rep->region);
    if (!rec || strcmp(rec->snap.incident_id, rep->incident_id) != 0)
        return;
    for (size_t i = 0; i < rec->running.n; i++) {
        if (strcmp(rec->running.v[i], rep->action) != 0)
            continue;
        free(rec->running.v[i]);
        rec->running.v[i] = rec->running.v[--rec->running.n];
        int rc = istore_sync(a->istore);
        if (rc)
            store_failed(a, rep->probe, rc);
        return;
    }
}

/* Actions a crash interrupted (started, no outcome kept) run again. */
static void rerun_unknown(struct agent *a, struct probe_state *ps, const struct istore_rec *rec)
{
    struct strv names;
    strv_init(&names);
    for (size_t i = 0; i < rec->running.n; i++) {
        if (strv_push(&names, rec->running.v[i]))
            goto out;
        log_warn(a->log, "probe %s: action %s of incident %s: outcome unknown after a restart, running it again",
                 ps->probe->id, rec->running.v[i], rec->snap.incident_id);
    }
    struct esc_transition t = {.kind = ESC_OPENED, .level = rec->snap.level, .at_us = tl_wall_us(),
                               .bucket = rec->snap.bucket, .n_actions = names.n, .actions = names.v};
    memcpy(t.incident_id, rec->snap.incident_id, sizeof t.incident_id);
    snprintf(t.reason, sizeof t.reason, "%s", rec->snap.reason);
    snprintf(t.step, sizeof t.step, "%s", rec->snap.step);
    struct action_fields f = {.region = ps->region, .bucket = bucket_str(rec->snap.bucket)};
    if (uuid_v4(t.event_id) || actions_rerun(a->actions, ps->probe, &t, &f))
        log_error(a->log, "probe %s: cannot run again the actions of %s", ps->probe->id, t.incident_id);
    else
        agent_followup_watch(a, ps->probe->id, ps->region, &t);
out:
    strv_free(&names);
}

static bool has_rollback(const struct probe *p, const char *name)
{
    for (size_t i = 0; i < p->n_actions; i++)
        if (strcmp(p->actions[i].name, name) == 0)
            return p->actions[i].has_rollback;
    return false;
}

/* A rollback of the same action still owed by an earlier incident of the
 * probe (not running now) is paid by this one: both undo the same thing,
 * and two must not race. */
static void supersede_owed(struct agent *a, const char *region, const struct istore_owed *by)
{
    for (size_t i = istore_owed_count(a->istore); i-- > 0;) {
        struct istore_owed *o = istore_owed_at(a->istore, i);
        if (o->running || strcmp(o->incident_id, by->incident_id) == 0 || strcmp(o->probe, by->probe) != 0 ||
            strcmp(o->region, region) != 0 || strcmp(o->action, by->action) != 0)
            continue;
        log_info(a->log, "probe %s: rollback %s owed by incident %s is run by incident %s instead", o->probe,
                 o->action, o->incident_id, by->incident_id);
        int rc = istore_paid(a->istore, o->incident_id, o->action);
        if (rc)
            store_failed(a, by->probe, rc);
    }
}

/* The intent of a resolution: every rollback it is about to run is owed
 * until it has succeeded, across restarts. Each one owed carries its
 * definition, so a restart can run it whether or not a probe file still
 * holds it. p is NULL when the probe is gone: the definitions kept with the
 * incident (defs) are all there is. */
static void owe_rollbacks(struct agent *a, const char *id, const struct probe *p, const char *region,
                          const struct esc_transition *t, const cJSON *defs)
{
    struct strv fired;
    strv_init(&fired);
    int rc = a->actions ? actions_fired(a->actions, t->incident_id, &fired) : 0;
    for (size_t i = 0; rc == 0 && i < fired.n; i++) {
        bool kept = defs && cJSON_GetObjectItemCaseSensitive(defs, fired.v[i]);
        if (!(p && has_rollback(p, fired.v[i])) && !kept)
            continue;
        struct istore_owed o = {.probe = (char *)id, .region = (char *)region, .level = t->level,
                                .action = fired.v[i], .def = rollback_def(p, fired.v[i], defs)};
        memcpy(o.incident_id, t->incident_id, sizeof o.incident_id);
        rc = istore_owe(a->istore, &o);
        cJSON_Delete(o.def);
        if (rc == 0)
            supersede_owed(a, region, &o);
        struct istore_owed *in = istore_owed_find(a->istore, t->incident_id, fired.v[i]);
        if (in && p && has_rollback(p, fired.v[i]))
            in->running = true; /* its outcome comes through agent_action_report */
    }
    if (rc)
        store_failed(a, id, rc);
    strv_free(&fired);
}

/* --- actions held until their intent is on disk --------------------------
 * An action runs only once incidents.json says it is about to (a crash
 * while it runs then reruns it, and its rollback is owed). When that cannot
 * be written (a full disk), the action is held: an error names it, a
 * counter counts it, and each tick tries the write again; the action runs
 * once it works, unless its incident has ended by then. */
struct agent_held {
    char *probe, *region;
    char incident_id[37];
    enum esc_kind kind;
    struct strv actions;
    struct agent_held *next;
};

static struct agent_held *held_find(struct agent *a, const char *incident_id)
{
    struct agent_held *h = a->held;
    while (h && strcmp(h->incident_id, incident_id) != 0)
        h = h->next;
    return h;
}

static void held_free(struct agent_held *h)
{
    free(h->probe);
    free(h->region);
    strv_free(&h->actions);
    free(h);
}

/* The held actions of t's incident, new if none; NULL when out of memory. */
static struct agent_held *held_get(struct agent *a, struct probe_state *ps, const struct esc_transition *t)
{
    struct agent_held *h = held_find(a, t->incident_id);
    if (h)
        return h;
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    strv_init(&h->actions);
    memcpy(h->incident_id, t->incident_id, sizeof h->incident_id);
    h->kind = t->kind;
    h->probe = strdup(ps->probe->id);
    h->region = strdup(ps->region);
    if (!h->probe || !h->region) {
        held_free(h);
        return NULL;
    }
    h->next = a->held;
    a->held = h;
    return h;
}

static void hold(struct agent *a, struct probe_state *ps, const struct esc_transition *t)
{
    static const char *const labels[] = {"probe", "action"};
    struct agent_held *h = held_get(a, ps, t);
    struct metric_family *f = metrics_counter(a->metrics, "tripline_actions_held_total",
                                              "Actions not run when due because their intent could not be "
                                              "written to incidents.json (they run once it can)",
                                              labels, 2);
    for (size_t i = 0; i < t->n_actions; i++) {
        bool kept = h && strv_add(&h->actions, t->actions[i]) == 0;
        log_kv(a->log, LOG_ERROR,
               LOG_FIELDS(LOG_STR("probe", ps->probe->id), LOG_STR("region", ps->region),
                          LOG_STR("incident", t->incident_id), LOG_STR("action", t->actions[i])),
               "probe %s: action %s of incident %s not run: its intent could not be written to the incident store "
               "(%s); %s",
               ps->probe->id, t->actions[i], t->incident_id, istore_error(a->istore),
               kept ? "it runs once the store can be written" : "out of memory: it will not run");
        struct metric *m = f ? metrics_series(f, (const char *const[]){ps->probe->id, t->actions[i]}) : NULL;
        if (m)
            metric_inc(m);
    }
}

/* The incident of held actions ended before they could run: nothing ran,
 * nothing is owed. */
static void held_drop(struct agent *a, const char *incident_id, const char *why)
{
    struct agent_held **pp = &a->held;
    while (*pp && strcmp((*pp)->incident_id, incident_id) != 0)
        pp = &(*pp)->next;
    struct agent_held *h = *pp;
    if (!h)
        return;
    *pp = h->next;
    for (size_t i = 0; i < h->actions.n; i++)
        log_warn(a->log, "probe %s: action %s of incident %s held since its intent could not be written: not run, "
                 "%s", h->probe, h->actions.v[i], h->incident_id, why);
    held_free(h);
}

/* Runs held actions whose intent is on disk now. */
static void held_run(struct agent *a, struct probe_state *ps, struct agent_held *h)
{
    struct esc_snapshot snap;
    if (!esc_snapshot(ps->esc, &snap))
        return;
    struct esc_transition t = {.kind = h->kind, .level = snap.level, .at_us = tl_wall_us(), .bucket = snap.bucket,
                               .opened_at_us = snap.opened_at_us, .failing_since_us = snap.failing_since_us,
                               .n_actions = h->actions.n, .actions = h->actions.v};
    memcpy(t.incident_id, h->incident_id, sizeof t.incident_id);
    snprintf(t.reason, sizeof t.reason, "%s", snap.reason);
    snprintf(t.step, sizeof t.step, "%s", snap.step);
    snprintf(t.correlation_id, sizeof t.correlation_id, "%s", snap.correlation_id);
    for (size_t i = 0; i < h->actions.n; i++)
        log_kv(a->log, LOG_WARN,
               LOG_FIELDS(LOG_STR("probe", h->probe), LOG_STR("region", h->region),
                          LOG_STR("incident", h->incident_id), LOG_STR("action", h->actions.v[i])),
               "probe %s: action %s of incident %s: its intent is on disk now, running it", h->probe,
               h->actions.v[i], h->incident_id);
    struct action_fields f = {.region = ps->region, .bucket = bucket_str(snap.bucket)};
    if (uuid_v4(t.event_id) || actions_fire(a->actions, ps->probe, &t, &f, NULL, NULL) < 0) {
        log_error(a->log, "probe %s: cannot fire the actions of %s", h->probe, h->incident_id);
        return;
    }
    (void)record_open(a, ps, NULL, 0, false);
    record_cools(a, ps, &t);
    agent_followup_watch(a, h->probe, h->region, &t);
}

static bool still_open(struct probe_state *ps, const char *incident_id);

/* Each tick: the held actions whose intent can be written now run. */
static void held_retry(struct agent *a)
{
    struct agent_held **pp = &a->held;
    while (*pp) {
        struct agent_held *h = *pp;
        struct probe_state *ps = probe_table_find(a->probes, h->probe, h->region);
        if (!ps || !still_open(ps, h->incident_id)) {
            held_drop(a, h->incident_id, "the incident ended first");
            continue;
        }
        if (record_open(a, ps, h->actions.v, h->actions.n, true) != 0) {
            pp = &h->next;
            continue;
        }
        *pp = h->next;
        held_run(a, ps, h);
        held_free(h);
    }
}

bool agent_incidents_before(struct agent *a, struct probe_state *ps, const struct esc_transition *t)
{
    if (!a->istore)
        return true;
    if (t->kind == ESC_OPENED || t->kind == ESC_ESCALATED) {
        /* after the actions held before them, never ahead */
        bool held = held_find(a, t->incident_id) != NULL;
        if (!held && record_open(a, ps, t->actions, t->n_actions, false) == 0)
            return true;
        if (t->n_actions == 0)
            return true;
        hold(a, ps, t);
        return false;
    }
    if (t->kind == ESC_RESOLVED) {
        held_drop(a, t->incident_id, "the incident resolved first");
        owe_rollbacks(a, ps->probe->id, ps->probe, ps->region, t, NULL);
    }
    return true;
}

void agent_incidents_after(struct agent *a, struct probe_state *ps, const struct esc_transition *t)
{
    if (!a->istore)
        return;
    if (t->kind == ESC_RESOLVED) {
        int rc = istore_del(a->istore, ps->probe->id, ps->region);
        if (rc)
            store_failed(a, ps->probe->id, rc);
    } else if (t->kind == ESC_OPENED || t->kind == ESC_ESCALATED) {
        (void)record_open(a, ps, NULL, 0, false);
        record_cools(a, ps, t);
    }
}

static void rollback_again(struct agent *a, struct istore_owed *o, int64_t now, bool first);

/* Rolls back and reports an incident resolved without its probe recovering.
 * p is NULL when the probe's definition is gone; defs (may be NULL) are the
 * rollback definitions kept with the incident: an action p does not hold
 * (any more) is rolled back with the one kept. */
static void resolve_now(struct agent *a, const char *id, const struct probe *p, const char *region,
                        const struct esc_transition *t, const cJSON *kept)
{
    cJSON *defs = kept ? cJSON_Duplicate(kept, 1) : NULL; /* kept may be in the record deleted below */
    log_warn(a->log, "probe %s: incident %s resolved: %s", id, t->incident_id, t->resolution);
    owe_rollbacks(a, id, p, region, t, defs);
    /* those p cannot run go with their kept definition (rollback_again) */
    for (size_t i = 0; a->actions && i < istore_owed_count(a->istore); i++) {
        const struct istore_owed *o = istore_owed_at(a->istore, i);
        if (strcmp(o->incident_id, t->incident_id) == 0 && !o->running)
            actions_forget(a->actions, t->incident_id, o->action);
    }
    if (a->actions && p) {
        struct action_fields f = {.region = region, .bucket = bucket_str(t->bucket)};
        if (actions_fire(a->actions, p, t, &f, NULL, NULL) < 0)
            log_error(a->log, "probe %s: cannot roll back the actions of %s", id, t->incident_id);
    }
    for (size_t i = istore_owed_count(a->istore); a->actions && i-- > 0;) {
        struct istore_owed *o = istore_owed_at(a->istore, i);
        if (o && strcmp(o->incident_id, t->incident_id) == 0 && !o->running)
            rollback_again(a, o, tl_wall_us(), true);
    }
    cJSON_Delete(defs);
    agent_emit_event_for(a, id, p, region, NULL, t);
    agent_followup_watch(a, id, region, t);
    int rc = istore_del(a->istore, id, region);
    if (rc)
        store_failed(a, id, rc);
}

static void resume(struct agent *a, struct probe_state *ps, struct istore_rec *rec)
{
    tl_usec now = esc_clock_now(ps->esc);
    rec->claimed = true;
    esc_resume(ps->esc, &rec->snap, now);
    if (a->actions && actions_resume(a->actions, rec->snap.incident_id, ps->probe->id, ps->region, &rec->fired))
        log_error(a->log, "probe %s: out of memory restoring the rollbacks of %s", ps->probe->id,
                  rec->snap.incident_id);
    if (rec->def_hash != ps->probe->def_hash) {
        struct esc_transition t;
        /* resolve_now deletes rec: nothing of it is read after this */
        if (esc_force_resolve(ps->esc, "probe_changed", now, &t) == 1)
            resolve_now(a, ps->probe->id, ps->probe, ps->region, &t, rec->defs);
        return;
    }
    log_kv(a->log, LOG_INFO,
           LOG_FIELDS(LOG_STR("probe", ps->probe->id), LOG_STR("region", ps->region),
                      LOG_STR("incident", rec->snap.incident_id), LOG_STR("level", level_str(rec->snap.level))),
           "resumed an open incident");
    status_probe_level(ps, (int)esc_level(ps->esc));
    /* The sinks hear of it at once: Alertmanager fires it again before its
     * resolve_timeout, whatever the downtime was. Not inside a maintenance
     * window, which silences escalation: a restart there must not page. */
    agent_sync_maintenance(a, ps);
    struct esc_transition t;
    if (esc_renotify_now(ps->esc, now, &t) == 1)
        agent_emit_event(a, ps, &t);
    if (a->actions && rec->running.n)
        rerun_unknown(a, ps, rec);
}

void agent_probe_added(void *arg, struct probe_state *ps)
{
    struct agent *a = arg;
    status_probe_added(a->status, ps);
    struct istore_rec *rec = istore_find(a->istore, ps->probe->id, ps->region);
    if (rec && !rec->claimed)
        resume(a, ps, rec);
    agent_tick_consider(a, ps);
}

void agent_probe_removed(void *arg, struct probe_state *ps)
{
    struct agent *a = arg;
    struct agent_orphan *o = NULL;
    agent_tick_forget(a, ps);
    status_probe_removed(a->status, ps);
    if (esc_phase(ps->esc) != ESC_PHASE_OPEN || !(o = calloc(1, sizeof *o)))
        goto out;
    /* removed or changed: which one is known once the reload is over */
    if (esc_force_resolve(ps->esc, "probe_removed", esc_clock_now(ps->esc), &o->t) != 1)
        goto out;
    o->lf = lfile_ref(ps->lf);
    o->probe = ps->probe;
    o->region = ps->region;
    o->next = a->orphans;
    a->orphans = o;
    o = NULL;
out:
    free(o);
}

/* A stored incident no loaded probe claimed: its probe is gone, or no longer
 * runs in that region (the agent's region or vantages changed). In the latter
 * case the loaded definition rolls its actions back; without one they cannot
 * be, and the timeline says so. */
static void resolve_unclaimed(struct agent *a, struct istore_rec *rec)
{
    struct esc_state *st = NULL;
    struct esc_transition t;
    struct probe_state *ps = probe_table_find(a->probes, rec->probe, rec->region);
    const struct probe *p = ps ? ps->probe : NULL;
    char *probe = strdup(rec->probe), *region = strdup(rec->region);
    if (!probe || !region || esc_new(NULL, NULL, &st)) {
        rec->claimed = true; /* left in the store: the next start tries again */
        goto out;
    }
    esc_resume(st, &rec->snap, esc_clock_now(st));
    if (a->actions)
        actions_resume(a->actions, rec->snap.incident_id, probe, region, &rec->fired);
    for (size_t i = 0; !p && i < rec->fired.n; i++)
        if (!cJSON_GetObjectItemCaseSensitive(rec->defs, rec->fired.v[i]))
            log_error(a->log, "probe %s: action %s of incident %s cannot be rolled back: the probe is gone", probe,
                      rec->fired.v[i], rec->snap.incident_id);
    /* resolve_now deletes rec: it reads a copy of its definitions */
    if (esc_force_resolve(st, "probe_removed", esc_clock_now(st), &t) == 1)
        resolve_now(a, probe, p, region, &t, rec->defs);
    rec = NULL;
out:
    esc_free(st);
    free(probe);
    free(region);
}

/* Whether every probe file loaded (or runs its last good version): only then
 * is a stored incident that no probe claimed one of a probe gone, and not
 * one of a probe in a file rejected since the start (a typo made while the
 * agent was stopped), which resumes once its file loads. */
static bool all_files_loaded(const struct agent *a)
{
    const char *path, *error;
    bool last_good;
    for (size_t i = 0; probe_table_rejected(a->probes, i, &path, &error, &last_good); i++)
        if (!last_good)
            return false;
    return true;
}

/* Cooldown clocks older than the longest cooldown of any loaded action say
 * nothing any more (their probe may be long gone): the store drops them.
 * Only once every file loaded, so a probe of a rejected file keeps its. */
static void prune_cools(struct agent *a)
{
    tl_usec longest = 0;
    for (size_t i = 0; i < probe_table_count(a->probes); i++) {
        const struct probe *p = probe_table_at(a->probes, i)->probe;
        for (size_t k = 0; k < p->n_actions; k++)
            if (p->actions[k].cooldown > longest)
                longest = p->actions[k].cooldown;
    }
    int rc = istore_cool_prune(a->istore, tl_wall_us() - longest);
    if (rc)
        log_error(a->log, "cannot write the incident store (%s) after dropping old cooldowns", tl_strerror(rc));
}

void agent_incidents_reconcile(struct agent *a, bool initial)
{
    while (a->orphans) {
        struct agent_orphan *o = a->orphans;
        a->orphans = o->next;
        if (probe_table_find(a->probes, o->probe->id, o->region))
            o->t.resolution = "probe_changed";
        resolve_now(a, o->probe->id, o->probe, o->region, &o->t, NULL);
        lfile_unref(o->lf);
        free(o);
    }
    if (initial)
        agent_incidents_retry(a);
    bool gone = all_files_loaded(a);
    for (size_t i = 0; i < istore_count(a->istore);) {
        struct istore_rec *rec = istore_at(a->istore, i);
        if (rec->claimed || !gone) {
            if (!rec->claimed && initial)
                log_warn(a->log, "probe %s: incident %s is kept open until every probe file loads (one was rejected)",
                         rec->probe, rec->snap.incident_id);
            i++;
            continue;
        }
        resolve_unclaimed(a, rec);
    }
    if (gone)
        prune_cools(a);
}

#define OWED_BACKOFF_MAX_US ((int64_t)300 * 1000000)

/* A rollback owed ended: paid, or due again after a backoff (1 s doubling
 * to 5 min). */
static void rollback_outcome(struct agent *a, const struct actions_report *rep, bool bad)
{
    struct istore_owed *o = istore_owed_find(a->istore, rep->incident_id, rep->action);
    if (!o)
        return;
    int rc;
    if (!bad) {
        rc = istore_paid(a->istore, rep->incident_id, rep->action);
    } else {
        o->running = false;
        o->attempts++;
        int64_t backoff = (int64_t)1000000 << (o->attempts < 9 ? o->attempts - 1 : 8);
        o->next_at_us = tl_wall_us() + (backoff < OWED_BACKOFF_MAX_US ? backoff : OWED_BACKOFF_MAX_US);
        rc = istore_sync(a->istore);
    }
    if (rc)
        store_failed(a, rep->probe, rc);
}

/* Runs one owed rollback (again, unless first) with its probe's current
 * definition, or, when no probe file holds it any more, with the
 * definition kept with it. */
static void rollback_again(struct agent *a, struct istore_owed *o, int64_t now, bool first)
{
    struct probe_state *ps = probe_table_find(a->probes, o->probe, o->region);
    const struct probe *p = ps && has_rollback(ps->probe, o->action) ? ps->probe : NULL;
    struct probe *kept = NULL;
    char why[512] = "";
    if (!ps && !all_files_loaded(a))
        return; /* its probe may be in the file rejected: it waits for it */
    if (!p && o->def && actions_def_probe(o->def, o->probe, o->action, &kept, why, sizeof why) == 0) {
        p = kept;
        log_warn(a->log, "probe %s: rollback %s of incident %s: the probe no longer holds it, running it from the "
                 "definition kept with it", o->probe, o->action, o->incident_id);
    }
    if (!p) {
        log_error(a->log, "probe %s: rollback %s of incident %s is owed but its probe or action is gone%s%s: given up",
                  o->probe, o->action, o->incident_id, why[0] ? " and its kept definition cannot run: " : "", why);
        istore_paid(a->istore, o->incident_id, o->action);
        return;
    }
    if (o->attempts == 0 && !first)
        log_warn(a->log, "probe %s: rollback %s of incident %s: outcome unknown after a restart, running it again",
                 o->probe, o->action, o->incident_id);
    struct esc_transition t = {.kind = ESC_RESOLVED, .level = o->level, .prev_level = o->level, .at_us = now,
                               .resolution = "recovered"};
    memcpy(t.incident_id, o->incident_id, sizeof t.incident_id);
    /* A run that ends at once (a dry run, an error) pays or reschedules o
     * from inside actions_fire: nothing of o is read after it. */
    char *probe = strdup(o->probe), *region = strdup(o->region), *action = strdup(o->action);
    struct strv one = {.v = &action, .n = 1};
    struct action_fields f = {.region = region, .bucket = "none"};
    o->running = true;
    if (!probe || !region || !action || uuid_v4(t.event_id) ||
        actions_resume(a->actions, o->incident_id, o->probe, o->region, &one)) {
        o->running = false;
        log_error(a->log, "probe %s: cannot run rollback %s of incident %s", o->probe, o->action, o->incident_id);
    } else if (actions_fire(a->actions, p, &t, &f, NULL, NULL)) {
        log_error(a->log, "probe %s: cannot run rollback %s of incident %s", probe, action, t.incident_id);
    } else {
        agent_followup_watch(a, probe, region, &t);
    }
    free(probe);
    free(region);
    free(action);
    probe_free(kept);
}

/* A later incident of the probe is open: the mitigation this rollback would
 * undo is that incident's too (it ran the action again, or skipped it inside
 * its cooldown). The rollback waits until that incident resolves. */
static bool owed_held(struct agent *a, const struct istore_owed *o)
{
    struct probe_state *ps = probe_table_find(a->probes, o->probe, o->region);
    struct esc_snapshot snap;
    return ps && esc_snapshot(ps->esc, &snap) && strcmp(snap.incident_id, o->incident_id) != 0;
}

void agent_incidents_retry(struct agent *a)
{
    if (a->istore && a->actions)
        held_retry(a);
    int64_t now = tl_wall_us();
    /* rollback_again may drop entries: walk from the end. A next attempt
     * further off than the longest backoff was set under a wall clock since
     * stepped back (or one that ran ahead before a restart): due now. */
    for (size_t i = istore_owed_count(a->istore); a->actions && i-- > 0;) {
        struct istore_owed *o = istore_owed_at(a->istore, i);
        if (o && !o->running && (o->next_at_us <= now || o->next_at_us - now > OWED_BACKOFF_MAX_US) &&
            !owed_held(a, o))
            rollback_again(a, o, now, false);
    }
}

/* A transition whose actions are still running: once the last has ended, a
 * follow-up event carries their outcomes (the transition's own event only
 * had the timeline known when it was sent). */
struct agent_followup {
    struct esc_transition t;     /* pointers into the probe cleared */
    char *probe, *region;
    struct agent_followup *next;
};

static struct agent_followup **followup_find(struct agent *a, const char *incident_id)
{
    struct agent_followup **pp = &a->followups;
    while (*pp && strcmp((*pp)->t.incident_id, incident_id) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void followup_free(struct agent_followup *f)
{
    free(f->probe);
    free(f->region);
    free(f);
}

void agent_followup_watch(struct agent *a, const char *probe, const char *region, const struct esc_transition *t)
{
    if (!a->actions || actions_pending(a->actions, t->incident_id) == 0)
        return;
    struct agent_followup **pp = followup_find(a, t->incident_id), *f = *pp;
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f || !(f->probe = strdup(probe)) || !(f->region = strdup(region))) {
            log_error(a->log, "probe %s: out of memory: the outcomes of its actions will not be sent", probe);
            if (f)
                followup_free(f);
            return;
        }
        *pp = f;
    }
    /* a later transition of the same incident (escalated, resolved) wins */
    if (!(f->t.kind == ESC_RESOLVED && t->kind != ESC_RESOLVED)) {
        f->t = *t;
        f->t.rung = NULL;
        f->t.n_actions = 0;
        f->t.actions = NULL;
    }
}

/* The first failure of a rollback owed by the incident: a stuck mitigation.
 * Later failures of its retries say nothing new. */
static int rollback_stuck(struct agent *a, const char *incident_id)
{
    int stuck = 0;
    for (size_t i = 0; i < istore_owed_count(a->istore); i++) {
        const struct istore_owed *o = istore_owed_at(a->istore, i);
        if (o && strcmp(o->incident_id, incident_id) == 0 && o->attempts > 0)
            stuck = stuck == 1 || o->attempts == 1 ? 1 : 2;
    }
    return stuck;
}

static bool still_open(struct probe_state *ps, const char *incident_id)
{
    struct esc_snapshot snap;
    return ps && esc_snapshot(ps->esc, &snap) && strcmp(snap.incident_id, incident_id) == 0;
}

bool agent_incident_open(struct agent *a, const char *probe, const char *region, const char *incident_id)
{
    return probe && region && incident_id && still_open(probe_table_find(a->probes, probe, region), incident_id);
}

static void followup_send(struct agent *a, struct agent_followup *f)
{
    struct probe_state *ps = probe_table_find(a->probes, f->probe, f->region);
    int stuck = a->istore ? rollback_stuck(a, f->t.incident_id) : 0;
    if (stuck == 2)
        return;
    f->t.at_us = tl_wall_us();
    if (uuid_v4(f->t.event_id)) {
        log_error(a->log, "probe %s: no event id for the outcomes of its actions", f->probe);
        return;
    }
    const char *kind = stuck ? "rollback_failed" : "updated";
    bool active = stuck || (f->t.kind != ESC_RESOLVED && still_open(ps, f->t.incident_id));
    agent_emit_follow_up(a, f->probe, ps ? ps->probe : NULL, f->region, &f->t, kind, active);
}

static void followup_check(struct agent *a, const char *incident_id)
{
    struct agent_followup **pp = followup_find(a, incident_id), *f = *pp;
    if (!f || actions_pending(a->actions, incident_id) > 0)
        return;
    *pp = f->next;
    followup_send(a, f);
    followup_free(f);
}

void agent_incidents_close(struct agent *a)
{
    while (a->held) {
        struct agent_held *h = a->held;
        a->held = h->next;
        held_free(h);
    }
    while (a->followups) {
        struct agent_followup *f = a->followups;
        a->followups = f->next;
        followup_free(f);
    }
}

/* Every action run, rollback, skip and dry run: a log line and a count. A
 * failed rollback leaves a mitigation applied: an error. */
void agent_action_report(void *arg, const struct actions_report *rep)
{
    struct agent *a = arg;
    static const char *const labels[] = {"probe", "action", "kind", "outcome"};
    bool bad = strcmp(rep->outcome, "failed") == 0 || strcmp(rep->outcome, "timed_out") == 0 ||
               strcmp(rep->outcome, "error") == 0;
    bool rollback = strcmp(rep->kind, "rollback") == 0;
    log_kv(a->log, bad ? (rollback ? LOG_ERROR : LOG_WARN) : LOG_INFO,
           LOG_FIELDS(LOG_STR("probe", rep->probe), LOG_STR("region", rep->region),
                      LOG_STR("incident", rep->incident_id), LOG_STR("action", rep->action),
                      LOG_STR("kind", rep->kind), LOG_STR("outcome", rep->outcome),
                      LOG_STR("detail", rep->detail ? rep->detail : "")),
           "%s %s", rollback ? "rollback" : "action", bad && rollback ? "failed: the mitigation may still be applied"
                                                                        : rep->outcome);
    struct metric_family *f = metrics_counter(a->metrics, "tripline_action_runs_total",
                                              "Action runs, rollbacks, skips and dry runs by outcome", labels, 4);
    struct metric *m = f ? metrics_series(f, (const char *const[]){rep->probe, rep->action, rep->kind, rep->outcome})
                         : NULL;
    if (m)
        metric_inc(m);
    if (rollback)
        rollback_outcome(a, rep, bad);
    else if (a->istore && strcmp(rep->outcome, "unknown") != 0)
        record_outcome(a, rep);
    followup_check(a, rep->incident_id);
}
