/* A run's hand-off to escalation: its result is observed, maintenance
 * windows are followed, and each transition fires the probe's actions and
 * becomes an event, spooled at once (events.h); with peers on, their second
 * opinion follows as an `updated` event of the same incident. */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/err.h"
#include "base/time.h"
#include "base/uuid.h"
#include "agent/actions/actions.h"
#include "agent/daemon/agent_int.h"
#include "agent/daemon/events.h"
#include "agent/endpoint/status.h"
#include "probes/run/result.h"
#include "agent/incident/event.h"
#include "agent/fleet/peers.h"
#include "schedules/cron.h"

void agent_emit_event(struct agent *a, struct probe_state *ps, const struct esc_transition *t)
{
    agent_emit_event_for(a, ps->probe->id, ps->probe, ps->region, ps->last, t);
}

/* The follow-up that carries the peers' second opinion: built now, with a
 * new eventId, it waits in the peers for their answers (the event it
 * follows is already in the spool, so a crash loses only the opinion). */
static void ask_peers(struct agent *a, const struct event_in *in)
{
    struct esc_transition t = *in->t;
    struct event_in fu = *in;
    fu.t = &t;
    fu.follow_up = "updated";
    fu.active = true; /* set again when it leaves (agent_peers.c) */
    cJSON *ev = uuid_v4(t.event_id) ? NULL : event_build(&fu);
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(ev, "message");
    char title[512];
    snprintf(title, sizeof(title), "%s in %s: second opinion from the peers", in->probe_id, in->region);
    if (!ev || !msg || !cJSON_ReplaceItemInObjectCaseSensitive(msg, "title", cJSON_CreateString(title))) {
        log_error(a->log, "probe %s: out of memory: no second opinion for %s", in->probe_id, t.incident_id);
        cJSON_Delete(ev);
        return;
    }
    peers_submit(a->peers, ev, in->probe_id, in->region, true);
}

static void emit(struct agent *a, struct event_in *in)
{
    const struct esc_transition *t = in->t;
    cJSON *timeline = a->actions ? actions_timeline_json(a->actions, t->incident_id) : NULL;
    in->agent = a->cfg.name;
    in->timeline = timeline;
    cJSON *ev = event_build(in);
    if (!ev) {
        log_error(a->log, "probe %s: out of memory building a %s event", in->probe_id, esc_kind_str(t->kind));
        goto out;
    }
    /* Spooled first, whatever the peers say later: a new or worse incident
     * asks them, and their answer travels as a follow-up. */
    events_spool(a->events, ev);
    if (a->peers && !in->follow_up && (t->kind == ESC_OPENED || t->kind == ESC_ESCALATED))
        ask_peers(a, in);
out:
    cJSON_Delete(timeline);
}

void agent_emit_event_for(struct agent *a, const char *probe_id, const struct probe *p, const char *region,
                          const struct run_result *last, const struct esc_transition *t)
{
    struct event_in in = {.probe_id = probe_id, .probe = p, .t = t, .last = last, .region = region};
    emit(a, &in);
}

void agent_emit_follow_up(struct agent *a, const char *probe_id, const struct probe *p, const char *region,
                          const struct esc_transition *t, const char *kind, bool active)
{
    struct event_in in = {.probe_id = probe_id, .probe = p, .t = t, .region = region, .follow_up = kind,
                          .active = active};
    emit(a, &in);
}

static void handle_transition(struct agent *a, struct probe_state *ps, const struct esc_transition *t)
{
    /* Actions first, so the event carries the timeline known now; what
     * they did once they end goes in a follow-up event. The incident store
     * records them before they run (none runs unless it could) and after. */
    bool may_act = agent_incidents_before(a, ps, t);
    if (a->actions && may_act) {
        struct action_fields f = {.region = ps->region, .bucket = bucket_str(t->bucket)};
        if (actions_fire(a->actions, ps->probe, t, &f, NULL, NULL) < 0)
            log_error(a->log, "probe %s: cannot fire the actions of %s", ps->probe->id, t->incident_id);
    }
    /* The event is spooled before a resolved incident leaves the store: a
     * crash in between repeats the resolution rather than losing it. */
    agent_emit_event(a, ps, t);
    agent_incidents_after(a, ps, t);
    agent_followup_watch(a, ps->probe->id, ps->region, t);
}

static void sync_maintenance(struct agent *a, struct probe_state *ps, int64_t wall, tl_usec now);

void agent_escalate(struct agent *a, struct probe_state *ps, const struct run_result *r)
{
    /* The agent's own fault says nothing about the API: the ladder sees
     * neither a failure nor a success (the run is counted in status.c). */
    if (bucket_is_agent(r->bucket))
        return;
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
    tl_usec now = esc_clock_now(ps->esc); /* windows on the monotonic clock */
    sync_maintenance(a, ps, tl_wall_us(), now);
    int rc = esc_observe(ps->esc, &obs, now, &t);
    if (rc == 1)
        handle_transition(a, ps, &t);
    else if (rc < 0)
        log_error(a->log, "probe %s: escalation failed (%s)", ps->probe->id, tl_strerror(rc));
    status_probe_level(ps, (int)esc_level(ps->esc));
    agent_tick_consider(a, ps);
}

/* A maintenance window is open when its cron fired less than `duration`
 * ago: the first firing after (now - duration) is not in the future. The
 * cron was compiled at load; this runs every tick and parses nothing. */
static bool in_maintenance(const struct probe *p, int64_t now)
{
    for (size_t i = 0; i < p->escalation.n_maintenance; i++) {
        const struct maintenance *m = &p->escalation.maintenance[i];
        int64_t f = cron_next(&m->compiled, now - m->duration);
        if (f >= 0 && f <= now)
            return true;
    }
    return false;
}

static void sync_maintenance(struct agent *a, struct probe_state *ps, int64_t wall, tl_usec now)
{
    if (!ps->probe->escalation.n_maintenance)
        return;
    bool on = in_maintenance(ps->probe, wall);
    if (on == esc_in_maintenance(ps->esc))
        return;
    log_info(a->log, "probe %s: maintenance window %s", ps->probe->id, on ? "opened" : "closed");
    /* measurement goes on; only escalation is silenced */
    struct esc_transition t;
    if (esc_set_maintenance(ps->esc, on, now, &t) == 1)
        handle_transition(a, ps, &t);
}

void agent_sync_maintenance(struct agent *a, struct probe_state *ps)
{
    sync_maintenance(a, ps, tl_wall_us(), esc_clock_now(ps->esc));
}

/* --- the tick set -----------------------------------------------------
 * Only maintenance windows and renotification are time-driven; everything
 * else a probe's escalation does happens when one of its runs ends. The
 * tick visits the probes that have either, not all of them: a walk over
 * every probe touched three cold cache lines per probe every second (at
 * 10,000 probes all of the agent's growth in D1 misses over 1,000 probes,
 * callgrind --cache-sim at 50 checks/s), and grows with the probe count. */

static bool wants_tick(const struct probe_state *ps)
{
    return ps->probe->escalation.n_maintenance > 0 || esc_wants_tick(ps->esc);
}

void agent_tick_consider(struct agent *a, struct probe_state *ps)
{
    if (ps->tick_pos || ps->removed || !wants_tick(ps))
        return;
    if (a->n_tickers == a->cap_tickers) {
        size_t cap = a->cap_tickers ? 2 * a->cap_tickers : 16;
        struct probe_state **v = realloc(a->tickers, cap * sizeof *v);
        if (!v) {
            log_error(a->log, "probe %s: out of memory: its maintenance windows and renotifications wait for its runs",
                      ps->probe->id);
            return;
        }
        a->tickers = v;
        a->cap_tickers = cap;
    }
    a->tickers[a->n_tickers++] = ps;
    ps->tick_pos = a->n_tickers;
}

void agent_tick_forget(struct agent *a, struct probe_state *ps)
{
    if (!ps->tick_pos)
        return;
    size_t i = ps->tick_pos - 1;
    struct probe_state *last = a->tickers[--a->n_tickers];
    a->tickers[i] = last;
    last->tick_pos = i + 1;
    ps->tick_pos = 0;
}

void agent_tick_escalations(struct agent *a)
{
    events_retry(a->events);
    agent_incidents_retry(a);
    /* The clocks once per tick, not per probe. */
    int64_t wall = tl_wall_us();
    tl_usec now = tl_mono_us();
    for (size_t i = 0; i < a->n_tickers;) {
        struct probe_state *ps = a->tickers[i];
        struct esc_transition t;
        esc_set_wall_offset(ps->esc, wall - now);
        sync_maintenance(a, ps, wall, now);
        if (esc_tick(ps->esc, now, &t) == 1)
            handle_transition(a, ps, &t);
        if (wants_tick(ps)) {
            i++;
        } else {
            agent_tick_forget(a, ps); /* the last one moves into i */
        }
    }
}
