/* The agent's own struct, shared by the daemon's files (agent.c, agent_run.c,
 * runs.c) and agent/fleet/agent_peers.c; not an interface for other modules.
 * Each concern keeps its state in its own module: probe_table.h (files,
 * probe states, reload), runs.h (scheduled runs), events.h (events to the
 * spool), agent/endpoint/status.h (/status, /healthz, /metrics). */
#ifndef TRIPLINE_AGENT_INT_H
#define TRIPLINE_AGENT_INT_H

#include <stdbool.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "agent/daemon/agent.h"
#include "agent/daemon/probe_table.h"
#include "agent/incident/escalation.h"
#include "agent/endpoint/http.h"
#include "agent/log/log.h"
#include "probes/run/journey.h"
#include "schedules/scheduler.h"

struct agent {
    uv_loop_t *loop;
    struct config cfg;
    struct logger *log;
    struct journey_env env;      /* every run's, before its vantage */
    struct probe_table *probes;
    struct runs *runs;
    struct events *events;
    struct status *status;
    struct scheduler *sched;     /* owns the limiter every kind of run shares */
    struct transfer_engine *engine;
    struct http *http;
    struct http *peer_http;      /* peers.listen: /peer/run's own server, or NULL */
    struct metrics *metrics;
    struct spool *spool;
    struct delivery *delivery;
    struct actions *actions;
    struct peers *peers;         /* NULL without `peers:` (agent_peers.c) */
    struct istore *istore;       /* open incidents across restarts (agent_incidents.c) */
    struct agent_orphan *orphans; /* incidents a reload took the probe of */
    struct agent_followup *followups; /* transitions whose actions still run */
    struct agent_held *held;     /* actions whose intent could not be written yet */
    struct peer_run *peer_waiting; /* peer runs waiting for a limiter slot */
    struct agent_handles *handles; /* signals, tick, drain timers (agent.c) */
    /* The probes the once-a-second tick visits (agent_run.c): those with
     * maintenance windows or an open incident that renotifies. */
    struct probe_state **tickers;
    size_t n_tickers, cap_tickers;
    bool draining;
    int exit_code;
};

/* agent_run.c: a run's result to escalation, events, the one-second tick */
void agent_escalate(struct agent *a, struct probe_state *ps, const struct run_result *r);
void agent_tick_escalations(struct agent *a);
/* Puts ps in the tick set when it has something time-driven (after its
 * escalation state may have opened an incident, or when it is added);
 * agent_tick_forget takes it out (when it is removed). */
void agent_tick_consider(struct agent *a, struct probe_state *ps);
void agent_tick_forget(struct agent *a, struct probe_state *ps);
/* Opens or closes ps's maintenance window by the wall clock now (a restart
 * must know it before it says anything about an incident it resumes). */
void agent_sync_maintenance(struct agent *a, struct probe_state *ps);
void agent_emit_event(struct agent *a, struct probe_state *ps, const struct esc_transition *t);
/* The same for a probe that may have no state any more (last may be NULL)
 * or no definition (p NULL: a probe removed while the agent was down). */
void agent_emit_event_for(struct agent *a, const char *probe_id, const struct probe *p, const char *region,
                          const struct run_result *last, const struct esc_transition *t);

/* A follow-up event of t: kind "updated" or "rollback_failed". */
void agent_emit_follow_up(struct agent *a, const char *probe_id, const struct probe *p, const char *region,
                          const struct esc_transition *t, const char *kind, bool active);

/* agent_incidents.c: open incidents kept in the spool directory */
int agent_incidents_open(struct agent *a);
/* Around a transition's actions: the intent, then what ran (or resolved).
 * _before returns false when the transition's actions must not run now:
 * their intent could not be written (they are held and run once it can;
 * rollbacks always run). */
bool agent_incidents_before(struct agent *a, struct probe_state *ps, const struct esc_transition *t);
void agent_incidents_after(struct agent *a, struct probe_state *ps, const struct esc_transition *t);
/* The probe table's hooks (arg: the agent): resume / set aside incidents. */
void agent_probe_added(void *arg, struct probe_state *ps);
void agent_probe_removed(void *arg, struct probe_state *ps);
/* After a load: resolves what a reload took away, and after the first load
 * the stored incidents of probes no longer loaded. */
void agent_incidents_reconcile(struct agent *a, bool initial);
/* After actions_fire(t): a follow-up event goes once its runs have ended. */
void agent_followup_watch(struct agent *a, const char *probe, const char *region, const struct esc_transition *t);
/* The incident is the one open now for the probe in region. */
bool agent_incident_open(struct agent *a, const char *probe, const char *region, const char *incident_id);
/* Drops the follow-ups still waiting (shutdown). */
void agent_incidents_close(struct agent *a);
/* Runs again the rollbacks owed that failed or whose outcome a crash lost,
 * and the actions held until their intent could be written. */
void agent_incidents_retry(struct agent *a);
/* actions_opts.report (arg: the agent): logs and counts every action run. */
struct actions_report;
void agent_action_report(void *arg, const struct actions_report *rep);

/* agent_peers.c: second opinions (agent/fleet/peers.h) and POST /peer/run */
int agent_peers_init(struct agent *a);
/* Answers 503 to the peer runs still waiting for a slot. */
void agent_peers_drain(struct agent *a);

#endif
