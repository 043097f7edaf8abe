/* What the agent shows: /metrics (Prometheus), /status (JSON), /healthz. */
#include <stdlib.h>
#include <string.h>

#include "agent/actions/actions.h"
#include "base/time.h"
#include "agent/daemon/agent_int.h"
#include "agent/outbox/delivery.h"

static const char *const PHASES[5] = {"dns", "connect", "tls", "ttfb", "total"};
static const char *const PROBE_LABELS[] = {"probe", "region"};
static const char *const PHASE_LABELS[] = {"probe", "region", "phase"};
static const char *const FAIL_LABELS[] = {"probe", "region", "bucket"};
static const char *const SINK_LABELS[] = {"sink"};
/* The spool names sinks_config gives the sinks; delivery_stats refuses the absent ones. */
static const char *const SINK_NAMES[] = {"service", "alertmanager", "file", "stdout"};

int agent_metrics_init(struct agent *a)
{
    struct metrics *m = a->metrics;
    static const double lat_bounds[] = {0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1};
    static const double dur_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    a->f_success = metrics_gauge(m, "tripline_probe_success", "1 when the probe's last run passed, else 0",
                                 PROBE_LABELS, 2);
    a->f_runs = metrics_counter(m, "tripline_probe_runs_total", "Probe runs completed", PROBE_LABELS, 2);
    a->f_fail = metrics_counter(m, "tripline_probe_failures_total", "Failed probe runs by triage bucket",
                                FAIL_LABELS, 3);
    a->f_budget = metrics_counter(m, "tripline_probe_budget_breaches_total",
                                  "Probe runs that exceeded a latency budget", PROBE_LABELS, 2);
    a->f_last_run = metrics_gauge(m, "tripline_probe_last_run_timestamp_seconds",
                                  "Unix time when the probe's last run ended", PROBE_LABELS, 2);
    a->f_level = metrics_gauge(m, "tripline_probe_escalation_level",
                               "Open incident level: 0 none, 1 notice, 2 warning, 3 critical", PROBE_LABELS, 2);
    /* Per probe: one duration histogram and the last run's phases as gauges;
     * per-phase histograms are per region, not per probe, so that /metrics
     * stays small at 10,000 probes (a histogram is ~12 lines). */
    static const double probe_bounds[] = {0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 10};
    a->f_duration = metrics_histogram(m, "tripline_probe_duration_seconds", "Duration of whole probe runs",
                                      PROBE_LABELS, 2, probe_bounds, sizeof(probe_bounds) / sizeof(probe_bounds[0]));
    a->f_phase = metrics_gauge(m, "tripline_probe_phase_duration_seconds",
                               "Per-phase request timings of the last run, summed over its steps", PHASE_LABELS, 3);
    a->f_phase_hist = metrics_histogram(m, "tripline_phase_duration_seconds",
                                        "Per-phase request timings of every run in a region, summed over steps",
                                        (const char *const[]){"region", "phase"}, 2, dur_bounds,
                                        sizeof(dur_bounds) / sizeof(dur_bounds[0]));
    a->f_events = metrics_counter(m, "tripline_events_total", "Escalation events emitted by transition",
                                  (const char *const[]){"transition"}, 1);
    struct metric_family *late = metrics_histogram(
        m, "tripline_schedule_lateness_seconds", "Delay between a run's scheduled and actual start", NULL, 0,
        lat_bounds, sizeof(lat_bounds) / sizeof(lat_bounds[0]));
    struct metric_family *inf = metrics_gauge(m, "tripline_runs_in_flight", "Probe runs going now", NULL, 0);
    struct metric_family *q = metrics_gauge(m, "tripline_runs_queued", "Probe runs waiting for a concurrency slot",
                                            NULL, 0);
    struct metric_family *sk = metrics_counter(m, "tripline_runs_skipped_total",
                                               "Runs skipped because the previous run was still going", NULL, 0);
    struct metric_family *mi = metrics_counter(m, "tripline_runs_missed_total",
                                               "Due times passed over after the loop stalled", NULL, 0);
    struct metric_family *np = metrics_gauge(m, "tripline_probes", "Probes scheduled in this region", NULL, 0);
    struct metric_family *rl = metrics_counter(m, "tripline_reloads_total", "Probe file reloads", NULL, 0);
    struct metric_family *re = metrics_counter(m, "tripline_reload_errors_total",
                                               "Reloads where a file was rejected (its last good version kept)",
                                               NULL, 0);
    struct metric_family *sd = metrics_gauge(m, "tripline_spool_depth",
                                             "Events not yet delivered to the slowest sink", NULL, 0);
    struct metric_family *sb = metrics_gauge(m, "tripline_spool_bytes", "Bytes in spool segment files", NULL, 0);
    struct metric_family *sx = metrics_counter(m, "tripline_spool_dropped_total",
                                               "Events dropped because the spool passed its bound", NULL, 0);
    /* per-sink delivery counters (docs/sinks.md), refreshed from delivery_stats at scrape */
    struct metric_family *dd = metrics_counter(m, "tripline_sink_delivered_events_total",
                                               "Events a sink delivered", SINK_LABELS, 1);
    struct metric_family *dl = metrics_counter(m, "tripline_sink_dead_lettered_events_total",
                                               "Events a sink rejected for good, in dead-letter-<sink>.jsonl",
                                               SINK_LABELS, 1);
    struct metric_family *dr = metrics_counter(m, "tripline_sink_retries_total",
                                               "Sends that ended in retry later", SINK_LABELS, 1);
    struct metric_family *df = metrics_gauge(m, "tripline_sink_consecutive_failures",
                                             "Failed sends in a row (0 once one succeeds)", SINK_LABELS, 1);
    struct metric_family *uh = metrics_gauge(m, "tripline_events_unspooled",
                                             "Events the spool refused (disk full, I/O error), held in memory and retried",
                                             NULL, 0);
    struct metric_family *ul = metrics_counter(m, "tripline_events_lost_total",
                                               "Events lost: refused by the spool and past the in-memory bound", NULL,
                                               0);
    struct metric_family *info = metrics_gauge(m, "tripline_agent_info", "Agent identity", (const char *const[]){
                                                   "version", "region", "agent"}, 3);
    if (!a->f_success || !a->f_runs || !a->f_fail || !a->f_budget || !a->f_last_run || !a->f_level ||
        !a->f_duration || !a->f_phase || !a->f_phase_hist || !a->f_events || !late || !inf || !q || !sk || !mi || !np || !rl || !re ||
        !sd || !sb || !sx || !dd || !dl || !dr || !df || !uh || !ul || !info)
        return -1;
    a->m_lateness = metrics_series(late, NULL);
    a->m_in_flight = metrics_series(inf, NULL);
    a->m_queued = metrics_series(q, NULL);
    a->m_skipped = metrics_series(sk, NULL);
    a->m_missed = metrics_series(mi, NULL);
    a->m_probes = metrics_series(np, NULL);
    a->m_reloads = metrics_series(rl, NULL);
    a->m_reload_errors = metrics_series(re, NULL);
    a->m_spool_depth = metrics_series(sd, NULL);
    a->m_spool_bytes = metrics_series(sb, NULL);
    a->m_spool_dropped = metrics_series(sx, NULL);
    a->m_unspooled = metrics_series(uh, NULL);
    a->m_events_lost = metrics_series(ul, NULL);
    struct metric *mi_info = metrics_series(info, (const char *const[]){TRIPLINE_VERSION, a->cfg.region, a->cfg.name});
    if (mi_info)
        metric_set(mi_info, 1);
    return 0;
}

/* Creates the probe's series on first call (one-time lookups), then records
 * its last result. */
void agent_probe_metrics(struct agent *a, struct probe_state *ps)
{
    const char *lv[] = {ps->probe->id, ps->region};
    if (!ps->m_success) {
        ps->m_success = metrics_series(a->f_success, lv);
        ps->m_runs = metrics_series(a->f_runs, lv);
        ps->m_budget = metrics_series(a->f_budget, lv);
        ps->m_last_run = metrics_series(a->f_last_run, lv);
        ps->m_level = metrics_series(a->f_level, lv);
        ps->m_duration = metrics_series(a->f_duration, lv);
        for (int i = 0; i < 5; i++) {
            ps->m_phase[i] = metrics_series(a->f_phase, (const char *const[]){ps->probe->id, ps->region,
                                                                               PHASES[i]});
            ps->m_phase_hist[i] = metrics_series(a->f_phase_hist, (const char *const[]){ps->region, PHASES[i]});
        }
    }
    const struct run_result *r = ps->last;
    if (!r)
        return;
    metric_set(ps->m_success, r->ok ? 1 : 0);
    metric_inc(ps->m_runs);
    metric_set(ps->m_last_run, (double)(r->started_at_us + r->duration) / 1e6);
    metric_observe(ps->m_duration, (double)r->duration / 1e6);
    if (r->budget_breached)
        metric_inc(ps->m_budget);
    if (!r->ok) {
        struct metric *f = metrics_series(a->f_fail, (const char *const[]){ps->probe->id, ps->region,
                                                                          bucket_str(r->bucket)});
        if (f)
            metric_inc(f);
    }
    tl_usec sum[5] = {0};
    for (size_t i = 0; i < r->n_steps; i++) {
        if (!r->steps[i].ran)
            continue;
        sum[0] += r->steps[i].timings.dns;
        sum[1] += r->steps[i].timings.connect;
        sum[2] += r->steps[i].timings.tls;
        sum[3] += r->steps[i].timings.ttfb;
        sum[4] += r->steps[i].timings.total;
    }
    for (int i = 0; i < 5; i++) {
        metric_set(ps->m_phase[i], (double)sum[i] / 1e6);
        metric_observe(ps->m_phase_hist[i], (double)sum[i] / 1e6);
    }
}

void agent_probe_metrics_drop(struct agent *a, const char *probe_id)
{
    struct metric_family *fams[] = {a->f_success, a->f_runs, a->f_fail, a->f_budget, a->f_last_run,
                                    a->f_level, a->f_duration, a->f_phase};
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
        metrics_remove_matching(fams[i], 0, probe_id);
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

static void sink_metrics(struct agent *a)
{
    for (size_t i = 0; a->delivery && i < sizeof(SINK_NAMES) / sizeof(SINK_NAMES[0]); i++) {
        struct delivery_stats ds;
        if (delivery_stats(a->delivery, SINK_NAMES[i], &ds) != 0)
            continue;
        follow(a->metrics, "tripline_sink_delivered_events_total", SINK_NAMES[i], (double)ds.delivered, true);
        follow(a->metrics, "tripline_sink_dead_lettered_events_total", SINK_NAMES[i], (double)ds.dead_lettered,
               true);
        follow(a->metrics, "tripline_sink_retries_total", SINK_NAMES[i], (double)ds.retried, true);
        follow(a->metrics, "tripline_sink_consecutive_failures", SINK_NAMES[i], (double)ds.failures, false);
    }
}

/* The gauges and counters that mirror other modules are refreshed once, when
 * a scrape starts; the body then streams from a registry cursor. */
int agent_metrics_open(void *arg, void **stream, const char **content_type)
{
    struct agent *a = arg;
    struct scheduler_stats st;
    scheduler_stats(a->sched, &st);
    metric_set(a->m_queued, (double)st.queued);
    /* counters follow the scheduler's own totals */
    metric_add(a->m_skipped, (double)st.skipped - metric_value(a->m_skipped));
    metric_add(a->m_missed, (double)st.missed - metric_value(a->m_missed));
    if (a->spool) {
        metric_set(a->m_spool_depth, (double)spool_depth(a->spool));
        metric_set(a->m_spool_bytes, (double)spool_bytes(a->spool));
    }
    sink_metrics(a);
    *stream = metrics_cursor_new(a->metrics);
    *content_type = METRICS_CONTENT_TYPE;
    return *stream ? 0 : -1;
}

int agent_metrics_next(void *stream, struct buf *out, size_t budget)
{
    return metrics_cursor_next(stream, out, budget);
}

void agent_metrics_close(void *stream)
{
    metrics_cursor_free(stream);
}

int agent_healthz_serve(void *arg, struct buf *body, const char **content_type)
{
    struct agent *a = arg;
    *content_type = "text/plain; charset=utf-8";
    if (a->draining) {
        buf_puts(body, "draining\n");
        return 503;
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

int agent_status_serve(void *arg, struct buf *body, const char **content_type)
{
    struct agent *a = arg;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return 500;
    char when[TL_ISO8601_LEN];
    tl_iso8601(a->started_at_us, true, when);
    cJSON_AddStringToObject(o, "agent", a->cfg.name);
    cJSON_AddStringToObject(o, "region", a->cfg.region);
    cJSON_AddStringToObject(o, "version", TRIPLINE_VERSION);
    cJSON_AddStringToObject(o, "started_at", when);
    cJSON_AddBoolToObject(o, "draining", a->draining);
    struct scheduler_stats st;
    scheduler_stats(a->sched, &st);
    cJSON *sch = cJSON_AddObjectToObject(o, "scheduler");
    if (sch) {
        cJSON_AddNumberToObject(sch, "started", (double)st.started);
        cJSON_AddNumberToObject(sch, "skipped", (double)st.skipped);
        cJSON_AddNumberToObject(sch, "in_flight", (double)st.in_flight);
        cJSON_AddNumberToObject(sch, "queued", (double)st.queued);
        cJSON_AddNumberToObject(sch, "lateness_p99_ms", (double)st.lateness_p99 / 1000.0);
    }
    if (a->spool) {
        cJSON *sp = cJSON_AddObjectToObject(o, "spool");
        if (sp) {
            cJSON_AddNumberToObject(sp, "depth", (double)spool_depth(a->spool));
            cJSON_AddNumberToObject(sp, "bytes", (double)spool_bytes(a->spool));
            cJSON_AddNumberToObject(sp, "dropped", (double)spool_dropped(a->spool));
        }
    }
    cJSON *probes = cJSON_AddArrayToObject(o, "probes");
    for (size_t i = 0; probes && i < a->n_states; i++) {
        struct probe_state *ps = a->states[i];
        cJSON *p = cJSON_CreateObject();
        if (!p)
            break;
        cJSON_AddStringToObject(p, "probe", ps->probe->id);
        cJSON_AddStringToObject(p, "region", ps->region);
        if (ps->vantage)
            cJSON_AddStringToObject(p, "vantage", ps->vantage->region);
        cJSON_AddStringToObject(p, "file", ps->probe->file ? ps->probe->file : "");
        cJSON_AddItemToObject(p, "schedule", schedule_json(&ps->probe->schedule));
        cJSON_AddNumberToObject(p, "runs", (double)ps->runs);
        cJSON_AddNumberToObject(p, "failures", (double)ps->failures);
        cJSON_AddNumberToObject(p, "skipped", ps->entry ? (double)scheduler_entry_skipped(ps->entry) : 0);
        cJSON_AddBoolToObject(p, "running", ps->running);
        if (ps->last) {
            cJSON *last = run_result_json(ps->last);
            cJSON_AddItemToObject(p, "last", last);
        } else {
            cJSON_AddNullToObject(p, "last");
        }
        cJSON *esc = cJSON_AddObjectToObject(p, "escalation");
        if (esc) {
            cJSON_AddStringToObject(esc, "phase", esc_phase_str(esc_phase(ps->esc)));
            cJSON_AddStringToObject(esc, "level", level_str(esc_level(ps->esc)));
            cJSON_AddBoolToObject(esc, "maintenance", esc_in_maintenance(ps->esc));
            cJSON *inc = a->actions ? actions_probe_json(a->actions, ps->probe->id, ps->region) : NULL;
            if (inc)
                cJSON_AddItemToObject(esc, "incident", inc);
        }
        cJSON_AddItemToArray(probes, p);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return 500;
    int rc = buf_puts(body, text);
    buf_puts(body, "\n");
    free(text);
    *content_type = "application/json";
    return rc ? 500 : 200;
}
