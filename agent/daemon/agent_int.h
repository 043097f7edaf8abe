/* Internals shared by agent/agent*.c; not an interface for other modules. */
#ifndef TRIPLINE_AGENT_INT_H
#define TRIPLINE_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "agent/daemon/agent.h"
#include "agent/incident/escalation.h"
#include "agent/endpoint/http.h"
#include "agent/log/log.h"
#include "agent/endpoint/metrics.h"
#include "agent/outbox/spool.h"
#include "probes/run/journey.h"
#include "schedules/scheduler.h"

/* One loaded probe file. Runs in flight hold a reference, so a reload can
 * retire a file's probes while they are still running. */
struct lfile {
    char *path;
    struct probe_set *set;
    int refs;                    /* 1 while current + 1 per run in flight */
};

struct probe_state {
    struct agent *agent;
    struct probe *probe;         /* in lf->set */
    const struct vantage *vantage; /* NULL: the agent's own region (agent/fleet/vantage.h) */
    const char *region;          /* the vantage's region or the agent's: every label */
    struct journey_env env;      /* the agent's with the vantage's egress; set at each start */
    struct lfile *lf;
    char *host;                  /* what the per-host limit counts its runs against */
    struct scheduler_entry *entry;
    struct esc_state *esc;
    struct run_result *last;     /* owned */
    bool running;
    bool removed;                /* freed when its run ends */
    bool mark;                   /* kept by the reload in progress */
    uint64_t runs, failures;
    struct lfile *run_lf;        /* the file the running run's probe came from */
    struct metric *m_success, *m_runs, *m_fail, *m_budget, *m_last_run, *m_level, *m_duration;
    struct metric *m_phase[5];
    struct metric *m_phase_hist[5]; /* shared by the probes of a region */
};

struct agent {
    uv_loop_t *loop;
    struct config cfg;
    struct logger *log;
    struct strv files;           /* probe files (from the CLI or the config's globs) */
    size_t n_lfiles;
    struct lfile **lfiles;       /* current files, in order */
    size_t n_states, cap_states;
    struct probe_state **states;
    struct transfer_engine *engine;
    struct journey_env env;
    struct scheduler *sched;
    struct http *http;
    struct metrics *metrics;
    struct spool *spool;
    struct delivery *delivery;
    struct actions *actions;
    struct peers *peers;         /* NULL without `peers:` (agent_peers.c) */
    struct peer_run *peer_waiting; /* peer runs waiting for a limiter slot */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t tick;             /* re-notification of open incidents */
    uv_timer_t drain_timer;      /* polls for the end of the drain */
    uv_timer_t drain_deadline;   /* drain_timeout */
    unsigned shard_i, shard_n;   /* cfg.shard parsed; shard_n 0: no sharding */
    bool draining;
    bool drain_expired;
    size_t in_flight;
    int exit_code;
    struct strv unspooled;       /* events the spool refused, retried every tick */
    int64_t started_at_us;
    /* agent-level metric handles */
    struct metric *m_lateness, *m_in_flight, *m_queued, *m_skipped, *m_missed, *m_probes, *m_reloads,
        *m_reload_errors, *m_events, *m_spool_depth, *m_spool_bytes, *m_spool_dropped, *m_unspooled, *m_events_lost;
    struct metric_family *f_success, *f_runs, *f_fail, *f_budget, *f_last_run, *f_level, *f_duration, *f_phase, *f_phase_hist,
        *f_events;
};

/* agent_probes.c: probe files, reload, per-probe state */
int agent_load_probes(struct agent *a, bool initial);
void agent_state_release(struct probe_state *ps);
/* A run in flight holds its probe's file; the last unref frees it. */
struct lfile *lfile_ref(struct lfile *lf);
void lfile_unref(struct lfile *lf);

/* agent_run.c: a run's start and end */
void agent_on_start(struct scheduler_entry *e, void *user, tl_usec scheduled);
void agent_tick_escalations(struct agent *a);
void agent_hold_unspooled(struct agent *a, const char *text);
void agent_emit_event(struct agent *a, struct probe_state *ps, const struct esc_transition *t);
void agent_event_spool(struct agent *a, cJSON *ev); /* takes ev */

/* agent_peers.c: second opinions (agent/fleet/peers.h) and POST /peer/run */
int agent_peers_init(struct agent *a);
/* Answers 503 to the peer runs still waiting for a slot. */
void agent_peers_drain(struct agent *a);

/* agent_status.c: /status, /healthz, metrics families */
int agent_metrics_init(struct agent *a);
void agent_probe_metrics(struct agent *a, struct probe_state *ps);
void agent_probe_metrics_drop(struct agent *a, const char *probe_id);
int agent_status_serve(void *arg, struct buf *body, const char **content_type);
int agent_healthz_serve(void *arg, struct buf *body, const char **content_type);
/* /metrics as a streamed route (agent/endpoint/http.h http_route_stream). */
int agent_metrics_open(void *arg, void **stream, const char **content_type);
int agent_metrics_next(void *stream, struct buf *out, size_t budget);
void agent_metrics_close(void *stream);

#endif
