/* What a running agent shows: /metrics (Prometheus), /status (JSON) and
 * /healthz. The status module owns the per-probe metric families and each
 * probe's series (created when the probe table adds a probe, dropped when it
 * removes one) and the scrape-time mirrors of the scheduler, spool and sinks.
 * It reads the other modules through the pointers in status_sources, which
 * must outlive its routes (the agent frees the endpoint first). */
#ifndef TRIPLINE_STATUS_H
#define TRIPLINE_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/endpoint/http.h"
#include "agent/endpoint/metrics.h"
#include "base/err.h"

struct actions;
struct delivery;
struct probe_state;
struct probe_table;
struct scheduler;
struct spool;
struct status;

struct status_sources {
    const struct config *cfg;    /* name, region */
    int64_t started_at_us;       /* wall clock */
    const bool *draining;        /* /healthz answers 503 while true */
    const bool *spool_down;      /* /healthz answers "degraded" while true; may be NULL */
    struct probe_table *probes;
    struct scheduler *sched;
    struct spool *spool;         /* may be NULL */
    struct delivery *delivery;   /* may be NULL */
    struct actions *actions;     /* may be NULL */
};

/* Registers the metric families in m. */
int status_new(struct metrics *m, const struct status_sources *src, struct status **out);
void status_free(struct status *st);
/* Adds the /metrics, /status and /healthz routes. */
int status_routes(struct status *st, struct http *http);

/* Probe table hooks (probe_table_opts added/removed; arg is the status). */
void status_probe_added(void *st, struct probe_state *ps);
void status_probe_removed(void *st, struct probe_state *ps);
/* Records ps->last, the run that just ended, and the escalation level. */
void status_probe_record(struct status *st, struct probe_state *ps);
void status_probe_level(struct probe_state *ps, int level);

#endif
