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
    struct metrics *metrics;
    struct spool *spool;
    struct delivery *delivery;
    struct actions *actions;
    struct peers *peers;         /* NULL without `peers:` (agent_peers.c) */
    struct peer_run *peer_waiting; /* peer runs waiting for a limiter slot */
    struct agent_handles *handles; /* signals, tick, drain timers (agent.c) */
    bool draining;
    int exit_code;
};

/* agent_run.c: a run's result to escalation, events, the one-second tick */
void agent_escalate(struct agent *a, struct probe_state *ps, const struct run_result *r);
void agent_tick_escalations(struct agent *a);
void agent_emit_event(struct agent *a, struct probe_state *ps, const struct esc_transition *t);

/* agent_peers.c: second opinions (agent/fleet/peers.h) and POST /peer/run */
int agent_peers_init(struct agent *a);
/* Answers 503 to the peer runs still waiting for a slot. */
void agent_peers_drain(struct agent *a);

#endif
