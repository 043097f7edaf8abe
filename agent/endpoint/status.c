/* What the agent shows (status.h): /metrics, /status, /healthz. */
#include "agent/endpoint/status.h"
#include "agent/endpoint/status_tls.h"

#include <stdlib.h>
#include <string.h>

#include "agent/actions/actions.h"
#include "agent/daemon/probe_table.h"
#include "agent/incident/escalation.h"
#include "agent/log/log.h"
#include "agent/outbox/delivery.h"
#include "agent/outbox/spool.h"
#include "base/secret.h"
#include "base/time.h"
#include "probes/run/result.h"
#include "schedules/scheduler.h"

static const char *const PROBE_LABELS[] = {"probe", "region"};
static const char *const PHASE_LABELS[] = {"probe", "region", "phase"};
static const char *const FAIL_LABELS[] = {"probe", "region", "bucket"};
static const char *const SINK_LABELS[] = {"sink"};
/* The spool names sinks_config gives the sinks; delivery_stats refuses the absent ones. */
static const char *const SINK_NAMES[] = {"service", "alertmanager", "file", "stdout"};

struct status {
    struct status_sources src;
    struct metrics *metrics;
    struct metric_family *f_success, *f_runs, *f_fail, *f_budget, *f_last_run, *f_level, *f_duration, *f_phase,
        *f_phase_hist;
    struct metric *m_queued, *m_skipped, *m_skipped_late, *m_missed, *m_probes, *m_spool_depth, *m_spool_bytes, *m_rejected;
    struct metric *m_corrupt_bytes, *m_corrupt_records;
    struct metric_family *f_agent_faults;
    struct metric_family *f_tls_not_after;
    struct metric_family *f_step_retries, *f_passed_after_retry;
    uint64_t agent_faults[REASON_COUNT]; /* runs in bucket agent, by reason */
    /* The last region's per-phase histograms (never removed): probes added
     * in a row mostly share a region, and a lookup costs ~460 instructions. */
    char *hist_region;
    struct metric *hist[PHASE_COUNT];
};

/* One probe's series: one-time lookups, so a run's end does no label search. */
struct probe_metrics {
    struct metric *success, *runs, *budget, *last_run, *level, *duration;
    struct metric *phase[PHASE_COUNT];
    struct metric *phase_hist[PHASE_COUNT]; /* shared by the probes of a region */
    struct metric *passed_after_retry;
    uint64_t retried;                       /* runs in which a step was tried again */
};

/* Per probe: one duration histogram and the last run's phases as gauges;
 * per-phase histograms are per region, not per probe, so that /metrics
 * stays small at 10,000 probes (a histogram is ~12 lines). */
static int probe_families(struct status *st)
{
    struct metrics *m = st->metrics;
    static const double dur_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    static const double probe_bounds[] = {0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 10};
    st->f_success = metrics_gauge(m, "tripline_probe_success", "1 when the probe's last run passed, else 0",
                                  PROBE_LABELS, 2);
    st->f_runs = metrics_counter(m, "tripline_probe_runs_total", "Probe runs completed", PROBE_LABELS, 2);
    st->f_fail = metrics_counter(m, "tripline_probe_failures_total", "Failed probe runs by triage bucket",
                                 FAIL_LABELS, 3);
    st->f_budget = metrics_counter(m, "tripline_probe_budget_breaches_total",
                                   "Probe runs that exceeded a latency budget", PROBE_LABELS, 2);
    st->f_last_run = metrics_gauge(m, "tripline_probe_last_run_timestamp_seconds",
                                   "Unix time when the probe's last run ended", PROBE_LABELS, 2);
    st->f_level = metrics_gauge(m, "tripline_probe_escalation_level",
                                "Open incident level: 0 none, 1 notice, 2 warning, 3 critical", PROBE_LABELS, 2);
    st->f_duration = metrics_histogram(m, "tripline_probe_duration_seconds", "Duration of whole probe runs",
                                       PROBE_LABELS, 2, probe_bounds, sizeof(probe_bounds) / sizeof(probe_bounds[0]));
    st->f_phase = metrics_gauge(m, "tripline_probe_phase_duration_seconds",
                                "Per-phase request timings of the last run, summed over its steps", PHASE_LABELS, 3);
    st->f_phase_hist = metrics_histogram(m, "tripline_phase_duration_seconds",
                                         "Per-phase request timings of every run in a region, summed over steps",
                                         (const char *const[]){"region", "phase"}, 2, dur_bounds,
                                         sizeof(dur_bounds) / sizeof(dur_bounds[0]));
    st->f_agent_faults = metrics_counter(m, "tripline_agent_faults_total",
                                         "Runs the agent could not make (bucket agent), by reason",
                                         (const char *const[]){"reason"}, 1);
    st->f_tls_not_after = status_tls_family(m);
    if (!st->f_tls_not_after || !st->f_success || !st->f_runs || !st->f_fail || !st->f_budget || !st->f_last_run || !st->f_level ||
        !st->f_duration || !st->f_phase || !st->f_phase_hist || !st->f_agent_faults)
        return TL_ENOMEM;
    return 0;
}

/* Retries (retry: in probe files) stay visible: a pass on a retry is a pass
 * that counts here. */
static int retry_families(struct status *st)
{
    st->f_step_retries = metrics_counter(st->metrics, "tripline_step_retries_total",
                                         "Tries of a step after its first failed (retry:)",
                                         (const char *const[]){"probe", "region", "step"}, 3);
    st->f_passed_after_retry = metrics_counter(st->metrics, "tripline_runs_passed_after_retry_total",
                                               "Runs that passed only because a step passed on a retry",
                                               PROBE_LABELS, 2);
    return st->f_step_retries && st->f_passed_after_retry ? 0 : TL_ENOMEM;
}

static void record_retries(struct status *st, struct probe_metrics *pm, const struct probe_state *ps,
                           const struct run_result *r)
{
    bool retried = false;
    for (size_t i = 0; i < r->n_steps; i++) {
        const struct step_result *s = &r->steps[i];
        if (s->attempts <= 1)
            continue;
        retried = true;
        struct metric *m = metrics_series(st->f_step_retries, (const char *const[]){ps->probe->id, ps->region,
                                                                                   s->name});
        if (m)
            metric_add(m, (double)(s->attempts - 1));
    }
    if (retried)
        pm->retried++;
    if (retried && r->ok)
        metric_inc(pm->passed_after_retry);
}

/* Per-sink delivery counters (docs/sinks.md), refreshed from delivery_stats at scrape. */
static int sink_families(struct metrics *m)
{
    struct metric_family *dd = metrics_counter(m, "tripline_sink_delivered_events_total",
                                               "Events a sink delivered", SINK_LABELS, 1);
    struct metric_family *dl = metrics_counter(m, "tripline_sink_dead_lettered_events_total",
                                               "Events a sink rejected for good, in dead-letter-<sink>.jsonl",
                                               SINK_LABELS, 1);
    struct metric_family *dr = metrics_counter(m, "tripline_sink_retries_total",
                                               "Sends that ended in retry later", SINK_LABELS, 1);
    struct metric_family *da = metrics_counter(m, "tripline_sink_auth_failures_total",
                                               "Sends refused with 401 or 403 (retried, not dead-lettered)",
                                               SINK_LABELS, 1);
    struct metric_family *df = metrics_gauge(m, "tripline_sink_consecutive_failures",
                                             "Failed sends in a row (0 once one succeeds)", SINK_LABELS, 1);
    return dd && dl && dr && da && df ? 0 : TL_ENOMEM;
}

/* One unlabelled series of a new family (NULL when out of memory). */
static struct metric *single(struct metric_family *f)
{
    return f ? metrics_series(f, NULL) : NULL;
}

static int mirror_families(struct status *st)
{
    struct metrics *m = st->metrics;
    st->m_queued = single(metrics_gauge(m, "tripline_runs_queued", "Probe runs waiting for a concurrency slot",
                                        NULL, 0));
    struct metric_family *sk = metrics_counter(
        m, "tripline_runs_skipped_total",
        "Runs skipped: the previous run was still going (overlap) or the run could not start within its interval (late)",
        (const char *const[]){"reason"}, 1);
    st->m_skipped = sk ? metrics_series(sk, (const char *const[]){"overlap"}) : NULL;
    st->m_skipped_late = sk ? metrics_series(sk, (const char *const[]){"late"}) : NULL;
    st->m_missed = single(metrics_counter(m, "tripline_runs_missed_total",
                                          "Due times passed over after the loop stalled", NULL, 0));
    st->m_probes = single(metrics_gauge(m, "tripline_probes", "Probes scheduled in this region", NULL, 0));
    st->m_rejected = single(metrics_gauge(m, "tripline_probe_files_rejected",
                                          "Probe files the last load rejected (see /status files)", NULL, 0));
    st->m_spool_depth = single(metrics_gauge(m, "tripline_spool_depth",
                                             "Events not yet delivered to the slowest sink", NULL, 0));
    st->m_spool_bytes = single(metrics_gauge(m, "tripline_spool_bytes", "Bytes in spool segment files", NULL, 0));
    st->m_corrupt_bytes = single(metrics_counter(m, "tripline_spool_corrupt_bytes_total",
                                                 "Damaged spool bytes moved aside to <segment>.corrupt", NULL, 0));
    st->m_corrupt_records = single(metrics_counter(m, "tripline_spool_corrupt_records_total",
                                                   "Events lost to spool damage", NULL, 0));
    struct metric_family *info = metrics_gauge(m, "tripline_agent_info", "Agent identity",
                                               (const char *const[]){"version", "region", "agent"}, 3);
    const struct config *cfg = st->src.cfg;
    struct metric *mi_info = info ? metrics_series(info, (const char *const[]){TRIPLINE_VERSION, cfg->region,
                                                                              cfg->name})
                                  : NULL;
    if (!st->m_queued || !st->m_skipped || !st->m_skipped_late || !st->m_missed || !st->m_probes || !st->m_spool_depth ||
        !st->m_spool_bytes || !mi_info || !st->m_rejected || !st->m_corrupt_bytes || !st->m_corrupt_records)
        return TL_ENOMEM;
    metric_set(mi_info, 1);
    return 0;
}

int status_new(struct metrics *m, const struct status_sources *src, struct status **out)
{
    int rc = TL_ENOMEM;
    struct status *st = calloc(1, sizeof(*st));
    *out = NULL;
    if (!st)
        goto out;
    st->src = *src;
    st->metrics = m;
    if ((rc = probe_families(st)) || (rc = mirror_families(st)) || (rc = sink_families(m)) ||
        (rc = retry_families(st)))
        goto out;
    *out = st;
    st = NULL;
out:
    free(st);
    return rc;
}

void status_free(struct status *st)
{
    if (st)
        free(st->hist_region);
    free(st);
}

void status_probe_added(void *arg, struct probe_state *ps)
{
    struct status *st = arg;
    const char *lv[] = {ps->probe->id, ps->region};
    struct probe_metrics *pm = calloc(1, sizeof(*pm));
    if (!pm)
        return; /* the probe runs without series */
    pm->success = metrics_series(st->f_success, lv);
    pm->runs = metrics_series(st->f_runs, lv);
    pm->budget = metrics_series(st->f_budget, lv);
    pm->last_run = metrics_series(st->f_last_run, lv);
    pm->level = metrics_series(st->f_level, lv);
    pm->duration = metrics_series(st->f_duration, lv);
    pm->passed_after_retry = metrics_series(st->f_passed_after_retry, lv);
    bool same = st->hist_region && ps->region && strcmp(st->hist_region, ps->region) == 0;
    if (!same) {
        free(st->hist_region);
        st->hist_region = ps->region ? strdup(ps->region) : NULL;
    }
    for (int i = 0; i < PHASE_COUNT; i++) {
        pm->phase[i] = metrics_series(st->f_phase, (const char *const[]){ps->probe->id, ps->region, phase_str((enum phase)i)});
        if (!same)
            st->hist[i] = metrics_series(st->f_phase_hist, (const char *const[]){ps->region, phase_str((enum phase)i)});
        pm->phase_hist[i] = st->hist[i];
    }
    free(ps->metrics);
    ps->metrics = pm;
}

void status_probe_removed(void *arg, struct probe_state *ps)
{
    struct status *st = arg;
    struct metric_family *fams[] = {st->f_success, st->f_runs, st->f_fail, st->f_budget, st->f_last_run,
                                    st->f_level, st->f_duration, st->f_phase, st->f_tls_not_after,
                                    st->f_step_retries, st->f_passed_after_retry};
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
        metrics_remove_matching(fams[i], 0, ps->probe->id);
    /* the series are gone: a run still in flight must not touch them */
    free(ps->metrics);
    ps->metrics = NULL;
}

void status_probe_level(struct probe_state *ps, int level)
{
    if (ps->metrics)
        metric_set(ps->metrics->level, (double)level);
}

static void record_phases(struct probe_metrics *pm, const struct run_result *r)
{
    tl_usec sum[PHASE_COUNT] = {0};
    for (size_t i = 0; i < r->n_steps; i++) {
        if (!r->steps[i].ran)
            continue;
        sum[0] += r->steps[i].timings.dns;
        sum[1] += r->steps[i].timings.connect;
        sum[2] += r->steps[i].timings.tls;
        sum[3] += r->steps[i].timings.ttfb;
        sum[4] += r->steps[i].timings.total;
    }
    for (int i = 0; i < PHASE_COUNT; i++) {
        metric_set(pm->phase[i], (double)sum[i] / 1e6);
        metric_observe(pm->phase_hist[i], (double)sum[i] / 1e6);
    }
}

/* A run the agent could not make: neither a success nor an API failure. */
static void agent_fault(struct status *st, const struct verdict *v)
{
    if ((unsigned)v->reason < REASON_COUNT)
        st->agent_faults[v->reason]++;
    struct metric *f = metrics_series(st->f_agent_faults, (const char *const[]){verdict_reason(v)});
    if (f)
        metric_inc(f);
}

void status_probe_record(struct status *st, struct probe_state *ps)
{
    struct probe_metrics *pm = ps->metrics;
    const struct run_result *r = ps->last;
    if (!pm || !r)
        return;
    metric_inc(pm->runs);
    record_retries(st, pm, ps, r);
    if (bucket_is_agent(r->bucket)) {
        agent_fault(st, &r->verdict);
        return;
    }
    metric_set(pm->success, r->ok ? 1 : 0);
    metric_set(pm->last_run, (double)(r->started_at_us + r->duration) / 1e6);
    metric_observe(pm->duration, (double)r->duration / 1e6);
    if (r->budget_breached)
        metric_inc(pm->budget);
    if (!r->ok) {
        struct metric *f = metrics_series(st->f_fail, (const char *const[]){ps->probe->id, ps->region,
                                                                           bucket_str(r->bucket)});
        if (f)
            metric_inc(f);
    }
    record_phases(pm, r);
    status_tls_record(st->f_tls_not_after, ps->probe->id, ps->region, r);
}

/* Counters follow the delivery's own totals, like the scheduler's. */
static void follow(struct metrics *m, const char *family, const char *sink, double v, bool counter)
{
    struct metric *s = metrics_series(metrics_find(m, family), (const char *const[]){sink});
    if (!s)
        return;
    if (counter)
        metric_add(s, v - metric_value(s));
    else
        metric_set(s, v);
}

static void sink_metrics(struct status *st)
{
    for (size_t i = 0; st->src.delivery && i < sizeof(SINK_NAMES) / sizeof(SINK_NAMES[0]); i++) {
        struct delivery_stats ds;
        if (delivery_stats(st->src.delivery, SINK_NAMES[i], &ds) != 0)
            continue;
        follow(st->metrics, "tripline_sink_delivered_events_total", SINK_NAMES[i], (double)ds.delivered, true);
        follow(st->metrics, "tripline_sink_dead_lettered_events_total", SINK_NAMES[i], (double)ds.dead_lettered,
               true);
        follow(st->metrics, "tripline_sink_retries_total", SINK_NAMES[i], (double)ds.retried, true);
        follow(st->metrics, "tripline_sink_auth_failures_total", SINK_NAMES[i], (double)ds.auth_failures, true);
        follow(st->metrics, "tripline_sink_consecutive_failures", SINK_NAMES[i], (double)ds.failures, false);
    }
}

/* A /metrics slice stops after this long even short of its bytes, so that
 * with the sending (HTTP_PUMP_US in all) a scrape never holds the loop long
 * on a slow or busy machine. */
#define STATUS_METRICS_SLICE_US 1000u

static uint64_t status_mono_us(void *arg)
{
    (void)arg;
    return (uint64_t)tl_mono_us();
}

/* The gauges and counters that mirror other modules are refreshed once, when
 * a scrape starts; the body then streams from a registry cursor. */
static int metrics_open(void *arg, void **stream, const char **content_type)
{
    struct status *st = arg;
    struct scheduler_stats ss;
    scheduler_stats(st->src.sched, &ss);
    metric_set(st->m_queued, (double)ss.queued);
    /* counters follow the scheduler's own totals */
    metric_add(st->m_skipped, (double)(ss.skipped - ss.skipped_late) - metric_value(st->m_skipped));
    metric_add(st->m_skipped_late, (double)ss.skipped_late - metric_value(st->m_skipped_late));
    metric_add(st->m_missed, (double)ss.missed - metric_value(st->m_missed));
    metric_set(st->m_probes, (double)probe_table_count(st->src.probes));
    size_t rejected = 0;
    const char *path, *error;
    bool last_good;
    while (probe_table_rejected(st->src.probes, rejected, &path, &error, &last_good))
        rejected++;
    metric_set(st->m_rejected, (double)rejected);
    if (st->src.spool) {
        metric_set(st->m_spool_depth, (double)spool_depth(st->src.spool));
        metric_set(st->m_spool_bytes, (double)spool_bytes(st->src.spool));
        double cb = (double)spool_corrupt_bytes(st->src.spool), cr = (double)spool_corrupt_records(st->src.spool);
        metric_add(st->m_corrupt_bytes, cb - metric_value(st->m_corrupt_bytes));
        metric_add(st->m_corrupt_records, cr - metric_value(st->m_corrupt_records));
    }
    sink_metrics(st);
    *stream = metrics_cursor_new(st->metrics);
    metrics_cursor_clock(*stream, status_mono_us, NULL, STATUS_METRICS_SLICE_US);
    *content_type = METRICS_CONTENT_TYPE;
    return *stream ? 0 : -1;
}

static int metrics_next(void *stream, struct buf *out, size_t budget)
{
    return metrics_cursor_next(stream, out, budget);
}

static void metrics_close(void *stream)
{
    metrics_cursor_free(stream);
}

static int healthz_serve(void *arg, struct buf *body, const char **content_type)
{
    struct status *st = arg;
    *content_type = "text/plain; charset=utf-8";
    if (*st->src.draining) {
        buf_puts(body, "draining\n");
        return 503;
    }
    if (st->src.spool_down && *st->src.spool_down) {
        /* still measuring and serving, so not a failure a restart would fix */
        buf_puts(body, "degraded: spool unavailable, events held in memory and not delivered\n");
        return 200;
    }
    buf_puts(body, "ok\n");
    return 200;
}

static cJSON *schedule_json(const struct schedule *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (s->cron)
        cJSON_AddStringToObject(o, "cron", s->cron);
    else
        cJSON_AddNumberToObject(o, "every_ms", (double)s->every / 1000.0);
    cJSON_AddNumberToObject(o, "timeout_ms", (double)s->timeout / 1000.0);
    if (s->jitter)
        cJSON_AddNumberToObject(o, "jitter_ms", (double)s->jitter / 1000.0);
    return o;
}

static void agent_json(const struct status *st, cJSON *o)
{
    const struct status_sources *src = &st->src;
    char when[TL_ISO8601_LEN];
    tl_iso8601(src->started_at_us, true, when);
    cJSON_AddStringToObject(o, "agent", src->cfg->name);
    cJSON_AddStringToObject(o, "region", src->cfg->region);
    cJSON_AddStringToObject(o, "version", TRIPLINE_VERSION);
    cJSON_AddStringToObject(o, "started_at", when);
    cJSON_AddBoolToObject(o, "draining", *src->draining);
    struct scheduler_stats ss;
    scheduler_stats(src->sched, &ss);
    cJSON *sch = cJSON_AddObjectToObject(o, "scheduler");
    if (sch) {
        cJSON_AddNumberToObject(sch, "started", (double)ss.started);
        cJSON_AddNumberToObject(sch, "skipped", (double)ss.skipped);
        cJSON_AddNumberToObject(sch, "skipped_late", (double)ss.skipped_late);
        cJSON_AddNumberToObject(sch, "in_flight", (double)ss.in_flight);
        cJSON_AddNumberToObject(sch, "queued", (double)ss.queued);
        cJSON_AddNumberToObject(sch, "lateness_p99_ms", (double)ss.lateness_p99 / 1000.0);
    }
    cJSON *sp = src->spool ? cJSON_AddObjectToObject(o, "spool") : NULL;
    if (sp) {
        cJSON_AddNumberToObject(sp, "depth", (double)spool_depth(src->spool));
        cJSON_AddNumberToObject(sp, "bytes", (double)spool_bytes(src->spool));
        cJSON_AddNumberToObject(sp, "dropped", (double)spool_dropped(src->spool));
    }
    cJSON *af = cJSON_AddObjectToObject(o, "agent_faults");
    for (int r = 0; af && r < REASON_COUNT; r++)
        if (st->agent_faults[r])
            cJSON_AddNumberToObject(af, reason_str((enum reason)r), (double)st->agent_faults[r]);
}

static void escalation_json(const struct status *st, const struct probe_state *ps, cJSON *p)
{
    cJSON *esc = cJSON_AddObjectToObject(p, "escalation");
    if (!esc)
        return;
    cJSON_AddStringToObject(esc, "phase", esc_phase_str(esc_phase(ps->esc)));
    cJSON_AddStringToObject(esc, "level", level_str(esc_level(ps->esc)));
    cJSON_AddBoolToObject(esc, "maintenance", esc_in_maintenance(ps->esc));
    cJSON *inc = st->src.actions ? actions_probe_json(st->src.actions, ps->probe->id, ps->region) : NULL;
    if (inc)
        cJSON_AddItemToObject(esc, "incident", inc);
}

static cJSON *probe_json(const struct status *st, const struct probe_state *ps)
{
    cJSON *p = cJSON_CreateObject();
    if (!p)
        return NULL;
    cJSON_AddStringToObject(p, "probe", ps->probe->id);
    cJSON_AddStringToObject(p, "region", ps->region);
    if (ps->vantage)
        cJSON_AddStringToObject(p, "vantage", ps->vantage->region);
    cJSON_AddStringToObject(p, "file", ps->probe->file ? ps->probe->file : "");
    cJSON_AddItemToObject(p, "schedule", schedule_json(&ps->probe->schedule));
    cJSON_AddNumberToObject(p, "runs", (double)ps->runs);
    cJSON_AddNumberToObject(p, "failures", (double)ps->failures);
    cJSON_AddNumberToObject(p, "agent_faults", (double)ps->agent_faults);
    cJSON_AddNumberToObject(p, "skipped", ps->entry ? (double)scheduler_entry_skipped(ps->entry) : 0);
    cJSON_AddBoolToObject(p, "running", ps->running);
    status_tls_json(p, ps->last);
    cJSON_AddNumberToObject(p, "retried", ps->metrics ? (double)ps->metrics->retried : 0);
    if (ps->last)
        cJSON_AddItemToObject(p, "last", run_result_json(ps->last));
    else
        cJSON_AddNullToObject(p, "last");
    escalation_json(st, ps, p);
    return p;
}

/* Probe files the last load rejected: at start-up the agent runs without
 * them, on reload with their last good version; either way visible here. */
static void files_json(const struct status *st, cJSON *o)
{
    cJSON *files = cJSON_AddObjectToObject(o, "files");
    cJSON *rej = files ? cJSON_AddArrayToObject(files, "rejected") : NULL;
    const char *path, *error;
    bool last_good;
    for (size_t i = 0; rej && probe_table_rejected(st->src.probes, i, &path, &error, &last_good); i++) {
        cJSON *f = cJSON_CreateObject();
        if (!f)
            break;
        cJSON_AddStringToObject(f, "file", path);
        cJSON_AddStringToObject(f, "error", error);
        cJSON_AddBoolToObject(f, "last_good", last_good);
        cJSON_AddItemToArray(rej, f);
    }
}

/* /status goes out in slices like /metrics: at 100,000 probes the body is
 * ~24 MB, and building it at once held the loop for seconds. The bytes are
 * those of the one JSON object it always was: the agent's fields, then
 * "probes" one element at a time. A reload between slices may skip or
 * repeat a probe in that one body; the next GET sees the new table. */
#define STATUS_SLICE_US 1000
#define STATUS_CLOCK_EVERY 4 /* probes between two reads of the clock */

struct status_cursor {
    struct status *st;
    size_t next;   /* the next probe's index */
    bool started;  /* the agent's fields are out */
};

static int status_open(void *arg, void **stream, const char **content_type)
{
    struct status_cursor *c = calloc(1, sizeof(*c));
    if (!c)
        return TL_ENOMEM;
    c->st = arg;
    *stream = c;
    *content_type = "application/json";
    return 0;
}

/* The agent's object without its closing brace, then "probes":[ */
static int status_head(struct status *st, struct buf *out)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return TL_ENOMEM;
    agent_json(st, o);
    files_json(st, o);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = text ? 0 : TL_ENOMEM;
    size_t len = text ? strlen(text) : 0;
    if (!rc && len >= 2)
        rc = buf_append(out, text, len - 1);
    if (!rc)
        rc = buf_puts(out, len > 2 ? ",\"probes\":[" : "\"probes\":[");
    free(text);
    return rc;
}

static int status_next(void *stream, struct buf *out, size_t budget)
{
    struct status_cursor *c = stream;
    int rc = 0;
    if (!c->started) {
        c->started = true;
        if ((rc = status_head(c->st, out)))
            return rc;
    }
    size_t n = probe_table_count(c->st->src.probes), first = c->next, start = out->len;
    /* a probe's JSON costs tens of µs: bytes alone let a slice hold the loop
     * for tens of ms, so a slice ends on time too (and is then sent whole) */
    tl_usec t0 = tl_mono_us();
    while (c->next < n && out->len - start < budget) {
        if (c->next > first && (c->next - first) % STATUS_CLOCK_EVERY == 0 && tl_mono_us() - t0 >= STATUS_SLICE_US)
            break;
        cJSON *p = probe_json(c->st, probe_table_at(c->st->src.probes, c->next));
        char *text = p ? cJSON_PrintUnformatted(p) : NULL;
        cJSON_Delete(p);
        if (!text)
            return TL_ENOMEM;
        rc = buf_puts(out, c->next ? "," : "");
        if (!rc)
            rc = buf_puts(out, text);
        free(text);
        if (rc)
            return rc;
        c->next++;
    }
    if (c->next < n)
        return 0;
    return buf_puts(out, "]}\n") ? TL_ENOMEM : 1;
}

static void status_close(void *stream)
{
    free(stream);
}

/* /status shows evidence, addresses and action output: with
 * endpoint.status_token_file it wants that bearer token. */
static int status_token(struct status *st, struct http *http)
{
    struct secret tok = {0};
    char err[512];
    int rc = secret_read(st->src.cfg->status_token_file, SECRET_TOKEN, &tok, err, sizeof(err));
    if (rc)
        log_error(log_default(), "endpoint: %s", err);
    else
        rc = http_route_token(http, "/status", (const char *)tok.data, tok.len);
    secret_free(&tok);
    return rc;
}

int status_routes(struct status *st, struct http *http)
{
    int rc = http_route_stream(http, "/metrics", metrics_open, metrics_next, metrics_close, st);
    if (!rc)
        rc = http_route_stream(http, "/status", status_open, status_next, status_close, st);
    if (!rc && st->src.cfg->status_token_file)
        rc = status_token(st, http);
    if (!rc)
        rc = http_route(http, "/healthz", healthz_serve, st);
    return rc;
}
