/* One scheduled run in the agent: start it, and when it ends record the
 * result (metrics, log line, /status), feed escalation, and turn each
 * transition into an event on the spool. */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/err.h"
#include "base/time.h"
#include "agent/actions/actions.h"
#include "agent/daemon/agent_int.h"
#include "probes/run/result.h"
#include "agent/outbox/delivery.h"
#include "agent/incident/event.h"
#include "agent/fleet/peers.h"
#include "agent/fleet/vantage.h"
#include "schedules/cron.h"

/* Spools a built event, logs it and wakes the delivery. */
void agent_event_spool(struct agent *a, cJSON *ev)
{
    char *text = cJSON_PrintUnformatted(ev);
    const char *probe = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "probe"));
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "transition"));
    const char *event_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "eventId"));
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(ev, "secondOpinion");
    if (!text) {
        log_error(a->log, "probe %s: out of memory writing a %s event", probe ? probe : "?", kind ? kind : "?");
        cJSON_Delete(ev);
        return;
    }
    uint64_t seq = 0, dropped = 0;
    int rc = spool_append(a->spool, text, strlen(text), &seq, &dropped);
    if (dropped) {
        log_warn(a->log,
                 "spool over its bound (%zu bytes): dropped the %llu oldest undelivered events to keep the newest",
                 a->cfg.spool_max_bytes, (unsigned long long)dropped);
        metric_add(a->m_spool_dropped, (double)dropped);
    }
    if (rc) {
        /* Sinks read only the spool: keep the event in memory and append it
         * again every second until the spool takes it (disk full, EIO). */
        log_error(a->log, "probe %s: cannot spool event %s: %s; holding it in memory", probe ? probe : "?",
                  event_id ? event_id : "?", spool_error(a->spool));
        agent_hold_unspooled(a, text);
    }
#define EV_STR(o, k) cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive((o), (k)))
    log_kv(a->log, LOG_INFO,
           LOG_FIELDS(LOG_STR("probe", probe), LOG_STR("region", EV_STR(ev, "region")), LOG_STR("transition", kind),
                      LOG_STR("level", EV_STR(ev, "level")), LOG_STR("bucket", EV_STR(ev, "bucket")),
                      LOG_STR("incident", EV_STR(ev, "incidentId")), LOG_STR("event", event_id),
                      LOG_STR("second_opinion", EV_STR(so, "summary"))),
           "incident %s", kind ? kind : "?");
#undef EV_STR
    free(text);
    struct metric *m = kind ? metrics_series(a->f_events, (const char *const[]){kind}) : NULL;
    if (m)
        metric_inc(m);
    cJSON_Delete(ev);
    if (a->delivery)
        delivery_kick(a->delivery);
}

void agent_emit_event(struct agent *a, struct probe_state *ps, const struct esc_transition *t)
{
    cJSON *timeline = a->actions ? actions_timeline_json(a->actions, t->incident_id) : NULL;
    struct event_in in = {
        .probe = ps->probe,
        .t = t,
        .last = ps->last,
        .region = ps->region,
        .agent = a->cfg.name,
        .timeline = timeline,
    };
    cJSON *ev = event_build(&in);
    cJSON_Delete(timeline);
    if (!ev) {
        log_error(a->log, "probe %s: out of memory building a %s event", ps->probe->id, esc_kind_str(t->kind));
        return;
    }
    /* A new or worse incident waits for the peers' second opinion; every
     * event passes through the peers so none overtakes one waiting. */
    if (a->peers)
        peers_submit(a->peers, ev, ps->probe->id, ps->region, t->kind == ESC_OPENED || t->kind == ESC_ESCALATED);
    else
        agent_event_spool(a, ev);
}

static void handle_transition(struct agent *a, struct probe_state *ps, const struct esc_transition *t)
{
    /* Actions first, so the event carries what they did on its timeline. */
    if (a->actions) {
        struct action_fields f = {.region = ps->region, .bucket = bucket_str(t->bucket)};
        if (actions_fire(a->actions, ps->probe, t, &f, NULL, NULL) < 0)
            log_error(a->log, "probe %s: cannot fire the actions of %s", ps->probe->id, t->incident_id);
    }
    agent_emit_event(a, ps, t);
}

static void log_result(struct agent *a, const struct run_result *r)
{
    enum log_level lvl = r->ok ? LOG_INFO : LOG_WARN;
    if (!log_enabled(a->log, lvl))
        return;
    const char *step = r->failed_step >= 0 ? r->steps[r->failed_step].name : "";
    const char *why = r->failed_step >= 0 && r->steps[r->failed_step].failures.n
                          ? r->steps[r->failed_step].failures.v[0]
                          : r->failures.n ? r->failures.v[0] : "";
    long status = r->failed_step >= 0 ? r->steps[r->failed_step].status : 0;
    log_write(a->log, lvl,
              LOG_FIELDS(LOG_STR("probe", r->probe_id), LOG_STR("region", r->region), LOG_BOOL("ok", r->ok),
                         LOG_STR("bucket", r->ok ? "" : bucket_str(r->bucket)),
                         LOG_STR("reason", r->reason ? r->reason : ""), LOG_STR("step", step),
                         LOG_INT("status", status), LOG_FLOAT("duration_ms", (double)r->duration / 1000.0)),
              "%s", r->ok ? "probe ok" : why);
}

static void sync_maintenance(struct agent *a, struct probe_state *ps, int64_t now);

static void on_run_done(struct run_result *r, void *arg)
{
    struct probe_state *ps = arg;
    struct agent *a = ps->agent;
    struct lfile *lf = ps->run_lf;
    ps->run_lf = NULL;
    ps->running = false;
    a->in_flight--;
    metric_set(a->m_in_flight, (double)a->in_flight);

    if (ps->removed) {
        /* removed by a reload while it ran: the result has no one to go to */
        run_result_free(r);
        scheduler_done(ps->entry);
        agent_state_release(ps);
        lfile_unref(lf);
        return;
    }
    ps->runs++;
    if (!r->ok)
        ps->failures++;
    log_result(a, r);
    run_result_free(ps->last);
    ps->last = r;
    /* The run's result borrows the probe it ran; after a reload that may be
     * an older definition, which the lfile reference kept alive until now. */
    r->probe = NULL;
    agent_probe_metrics(a, ps);

    const char *cid = NULL, *step = NULL;
    if (r->failed_step >= 0) {
        cid = r->steps[r->failed_step].correlation_id;
        step = r->steps[r->failed_step].name;
    }
    struct esc_obs obs = {
        .ok = r->ok,
        .bucket = r->bucket,
        .reason = r->reason,
        .budget_breached = r->budget_breached,
        .correlation_id = cid,
        .step = step,
    };
    struct esc_transition t;
    int64_t now = tl_wall_us();
    sync_maintenance(a, ps, now);
    int rc = esc_observe(ps->esc, &obs, now, &t);
    if (rc == 1)
        handle_transition(a, ps, &t);
    else if (rc < 0)
        log_error(a->log, "probe %s: escalation failed (%s)", ps->probe->id, tl_strerror(rc));
    metric_set(ps->m_level, (double)esc_level(ps->esc));

    if (ps->entry)
        scheduler_done(ps->entry);
    lfile_unref(lf);
}

void agent_on_start(struct scheduler_entry *e, void *user, tl_usec scheduled)
{
    struct probe_state *ps = user;
    struct agent *a = ps->agent;
    tl_usec late = scheduler_now() - scheduled;
    metric_observe(a->m_lateness, (double)(late > 0 ? late : 0) / 1e6);
    if (a->draining) {
        scheduler_done(e);
        return;
    }
    ps->running = true;
    ps->run_lf = lfile_ref(ps->lf);
    a->in_flight++;
    metric_set(a->m_in_flight, (double)a->in_flight);
    /* the agent's env may have changed since the last run (--var overrides) */
    vantage_env(&ps->env, &a->env, ps->vantage);
    if (journey_start(&ps->env, ps->probe, on_run_done, ps)) {
        log_error(a->log, "probe %s: cannot start a run (out of memory)", ps->probe->id);
        ps->running = false;
        a->in_flight--;
        lfile_unref(ps->run_lf);
        ps->run_lf = NULL;
        scheduler_done(e);
    }
}

/* A maintenance window is open when its cron fired less than `duration`
 * ago: the first firing after (now - duration) is not in the future. */
static bool in_maintenance(const struct probe *p, int64_t now)
{
    for (size_t i = 0; i < p->escalation.n_maintenance; i++) {
        const struct maintenance *m = &p->escalation.maintenance[i];
        struct cron c;
        char err[128];
        if (!m->cron || cron_parse(&c, m->cron, err, sizeof(err)))
            continue; /* the loader checked it; nothing to do if it cannot parse */
        int64_t f = cron_next(&c, now - m->duration);
        if (f >= 0 && f <= now)
            return true;
    }
    return false;
}

static void sync_maintenance(struct agent *a, struct probe_state *ps, int64_t now)
{
    if (!ps->probe->escalation.n_maintenance)
        return;
    bool on = in_maintenance(ps->probe, now);
    if (on == esc_in_maintenance(ps->esc))
        return;
    log_info(a->log, "probe %s: maintenance window %s", ps->probe->id, on ? "opened" : "closed");
    /* measurement goes on; only escalation is silenced */
    struct esc_transition t;
    if (esc_set_maintenance(ps->esc, on, now, &t) == 1)
        handle_transition(a, ps, &t);
}

#define UNSPOOLED_MAX 10000

void agent_hold_unspooled(struct agent *a, const char *text)
{
    if (a->unspooled.n >= UNSPOOLED_MAX) {
        /* bounded: the oldest held event goes, and it is counted as lost */
        free(a->unspooled.v[0]);
        memmove(a->unspooled.v, a->unspooled.v + 1, (a->unspooled.n - 1) * sizeof(char *));
        a->unspooled.n--;
        metric_inc(a->m_events_lost);
    }
    if (strv_push(&a->unspooled, text))
        metric_inc(a->m_events_lost);
    metric_set(a->m_unspooled, (double)a->unspooled.n);
}

/* Appends held events, oldest first, until the spool refuses again. */
static void retry_unspooled(struct agent *a)
{
    size_t done = 0;
    while (done < a->unspooled.n) {
        uint64_t seq = 0, dropped = 0;
        const char *t = a->unspooled.v[done];
        if (spool_append(a->spool, t, strlen(t), &seq, &dropped))
            break;
        if (dropped)
            metric_add(a->m_spool_dropped, (double)dropped);
        free(a->unspooled.v[done]);
        done++;
    }
    if (!done)
        return;
    memmove(a->unspooled.v, a->unspooled.v + done, (a->unspooled.n - done) * sizeof(char *));
    a->unspooled.n -= done;
    metric_set(a->m_unspooled, (double)a->unspooled.n);
    log_info(a->log, "spooled %zu held events (%zu still held)", done, a->unspooled.n);
    if (a->delivery)
        delivery_kick(a->delivery);
}

void agent_tick_escalations(struct agent *a)
{
    if (a->unspooled.n)
        retry_unspooled(a);
    int64_t now = tl_wall_us();
    for (size_t i = 0; i < a->n_states; i++) {
        struct probe_state *ps = a->states[i];
        struct esc_transition t;
        sync_maintenance(a, ps, now);
        if (esc_tick(ps->esc, now, &t) == 1)
            handle_transition(a, ps, &t);
    }
}
