/* Scheduled runs (runs.h). */
#include "agent/daemon/runs.h"

#include <stdlib.h>
#include <string.h>

#include "agent/daemon/agent_int.h"
#include "agent/endpoint/status.h"
#include "agent/fleet/vantage.h"
#include "probes/run/result.h"

struct runs {
    size_t in_flight;
    struct metric *m_lateness, *m_in_flight;
};

int runs_new(struct metrics *m, struct runs **out)
{
    static const double lat_bounds[] = {0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1};
    struct runs *r = calloc(1, sizeof(*r));
    *out = NULL;
    if (!r)
        return TL_ENOMEM;
    struct metric_family *late = metrics_histogram(
        m, "tripline_schedule_lateness_seconds", "Delay between a run's scheduled and actual start", NULL, 0,
        lat_bounds, sizeof(lat_bounds) / sizeof(lat_bounds[0]));
    struct metric_family *inf = metrics_gauge(m, "tripline_runs_in_flight", "Probe runs going now", NULL, 0);
    r->m_lateness = late ? metrics_series(late, NULL) : NULL;
    r->m_in_flight = inf ? metrics_series(inf, NULL) : NULL;
    if (!r->m_lateness || !r->m_in_flight) {
        free(r);
        return TL_ENOMEM;
    }
    *out = r;
    return 0;
}

void runs_free(struct runs *r)
{
    free(r);
}

size_t runs_in_flight(const struct runs *r)
{
    return r ? r->in_flight : 0;
}

static void count(struct runs *r, int delta)
{
    r->in_flight = (size_t)((ptrdiff_t)r->in_flight + delta);
    metric_set(r->m_in_flight, (double)r->in_flight);
}

static bool same_str(const char *x, const char *y)
{
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

/* A run is logged at warn/info only when the probe's state changes: its first
 * failure, a different failure, or its recovery; a healthy run and a repeat of
 * the last failure are debug lines (/status and /metrics count every run). */
static enum log_level run_level(const struct run_result *r, const struct run_result *prev)
{
    if (r->ok)
        return prev && !prev->ok ? LOG_INFO : LOG_DEBUG;
    if (!prev || prev->ok || prev->bucket != r->bucket || !same_str(prev->reason, r->reason))
        return LOG_WARN;
    return LOG_DEBUG;
}

static void log_result(struct agent *a, const struct run_result *r, const struct run_result *prev)
{
    enum log_level lvl = run_level(r, prev);
    if (!log_enabled(a->log, lvl))
        return;
    const char *step = r->failed_step >= 0 ? r->steps[r->failed_step].name : "";
    const char *why = r->failed_step >= 0 && r->steps[r->failed_step].failures.n
                          ? r->steps[r->failed_step].failures.v[0]
                          : r->failures.n ? r->failures.v[0] : "";
    const char *ok_msg = lvl == LOG_INFO ? "probe recovered" : "probe ok";
    long status = r->failed_step >= 0 ? r->steps[r->failed_step].status : 0;
    log_write(a->log, lvl,
              LOG_FIELDS(LOG_STR("probe", r->probe_id), LOG_STR("region", r->region), LOG_BOOL("ok", r->ok),
                         LOG_STR("bucket", r->ok ? "" : bucket_str(r->bucket)),
                         LOG_STR("reason", r->reason ? r->reason : ""), LOG_STR("step", step),
                         LOG_INT("status", status), LOG_FLOAT("duration_ms", (double)r->duration / 1000.0)),
              "%s%s", bucket_is_agent(r->bucket) ? "agent fault, not escalated: " : "", r->ok ? ok_msg : why);
}

static void on_run_done(struct run_result *r, void *arg)
{
    struct probe_state *ps = arg;
    struct agent *a = ps->agent;
    count(a->runs, -1);
    if (ps->removed) {
        /* removed by a reload while it ran: the result has no one to go to */
        run_result_free(r);
        goto out;
    }
    ps->runs++;
    if (bucket_is_agent(r->bucket))
        ps->agent_faults++;
    else if (!r->ok)
        ps->failures++;
    log_result(a, r, ps->last);
    run_result_free(ps->last);
    ps->last = r;
    /* The run's result borrows the probe it ran; after a reload that may be
     * an older definition, which the run's file reference kept alive. */
    r->probe = NULL;
    status_probe_record(a->status, ps);
    agent_escalate(a, ps, r);
out:
    if (ps->entry)
        scheduler_done(ps->entry);
    probe_state_run_end(ps);
}

void runs_on_start(struct scheduler_entry *e, void *user, tl_usec scheduled)
{
    struct probe_state *ps = user;
    struct agent *a = ps->agent;
    tl_usec late = scheduler_now() - scheduled;
    metric_observe(a->runs->m_lateness, (double)(late > 0 ? late : 0) / 1e6);
    if (a->draining) {
        scheduler_done(e);
        return;
    }
    probe_state_run_begin(ps);
    count(a->runs, 1);
    /* the agent's env may have changed since the last run (--var overrides) */
    vantage_env(&ps->env, &a->env, ps->vantage);
    if (journey_start(&ps->env, ps->probe, on_run_done, ps)) {
        log_error(a->log, "probe %s: cannot start a run (out of memory)", ps->probe->id);
        count(a->runs, -1);
        scheduler_done(e);
        probe_state_run_end(ps);
    }
}
