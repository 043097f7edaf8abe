/* The agent's lifecycle: start-up, signals, reload, drain, shutdown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "base/err.h"
#include "base/nofile.h"
#include "base/time.h"
#include "agent/actions/actions.h"
#include "agent/daemon/agent_int.h"
#include "agent/daemon/events.h"
#include "agent/daemon/loop_lag.h"
#include "agent/daemon/config_diff.h"
#include "agent/daemon/runs.h"
#include "agent/endpoint/status.h"
#include "agent/endpoint/metrics.h"
#include "agent/outbox/delivery.h"
#include "agent/outbox/spool.h"
#include "agent/fleet/peers.h"
#include "agent/incident/incident_store.h"
#include "agent/config/sinks_config.h"
#include "schedules/shard.h"

#define TICK_MS 1000

/* The agent's libuv handles; each closes once, in close_all(). */
struct agent_handles {
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t tick;             /* re-notification of open incidents, held events */
    uv_timer_t drain_poll;       /* checks whether the drain is over */
    uv_timer_t drain_deadline;   /* drain_timeout */
    bool drain_expired;
    bool closed;
    int64_t started_at_us;
    struct strv files;           /* probe files from the CLI */
    unsigned shard_i, shard_n;   /* cfg.shard parsed; shard_n 0: no sharding */
    struct metric *m_reloads, *m_reload_errors;
    bool spool_down;             /* the spool would not open: events held in memory */
    struct loop_lag *lag;        /* the loop's own lag; closed with the handles */
    struct config file_cfg;      /* the config file as last loaded: what SIGHUP compares */
    bool has_file_cfg;
};

static void on_tick(uv_timer_t *t)
{
    agent_tick_escalations(t->data);
}

static void close_all(struct agent *a);

/* The drain ends when every run has finished and the spool is delivered, or
 * when drain_timeout passes (what is still spooled is replayed at the next
 * start: nothing is lost, only late). */
static void drain_check(uv_timer_t *t)
{
    struct agent *a = t->data;
    size_t in_flight = runs_in_flight(a->runs);
    bool delivered = !a->delivery || delivery_idle(a->delivery);
    bool actions_done = !a->actions || actions_in_flight(a->actions) == 0;
    if (in_flight == 0 && delivered && actions_done && peers_idle(a->peers)) {
        log_info(a->log, "drained: stopping");
        close_all(a);
        return;
    }
    if (a->handles->drain_expired) {
        log_warn(a->log, "drain timeout: %zu runs still in flight, %llu events left in the spool for the next start",
                 in_flight, (unsigned long long)(a->spool ? spool_depth(a->spool) : 0));
        a->exit_code = in_flight == 0 ? 0 : 1;
        close_all(a);
        return;
    }
    uv_timer_start(&a->handles->drain_poll, drain_check, 20, 0);
}

static void on_drain_deadline(uv_timer_t *t)
{
    struct agent *a = t->data;
    a->handles->drain_expired = true;
    drain_check(&a->handles->drain_poll);
}

/* systemd readiness protocol (Type=notify): a no-op when NOTIFY_SOCKET is unset. */
static void notify_systemd(const char *state)
{
    (void)sd_notify(0, state);
}

void agent_stop(struct agent *a)
{
    if (a->draining)
        return;
    a->draining = true;
    notify_systemd("STOPPING=1");
    log_info(a->log, "draining: %zu runs in flight, %llu events to deliver", runs_in_flight(a->runs),
             (unsigned long long)(a->spool ? spool_depth(a->spool) : 0));
    uv_timer_stop(&a->handles->tick);
    agent_peers_drain(a);
    uv_timer_start(&a->handles->drain_poll, drain_check, 0, 0);
    uv_timer_start(&a->handles->drain_deadline, on_drain_deadline,
                   (uint64_t)(a->cfg.drain_timeout > 0 ? a->cfg.drain_timeout / 1000 : 10000), 0);
}

/* Applies what the new file changed of the keys SIGHUP can apply; the
 * command line's own values (--listen, --region...) are not touched. */
static void apply_config(struct agent *a, const struct config *o, const struct config *n)
{
    if (o->concurrency != n->concurrency || o->per_host != n->per_host) {
        a->cfg.concurrency = n->concurrency;
        a->cfg.per_host = n->per_host;
        scheduler_set_limits(a->sched, (unsigned)n->concurrency, (unsigned)n->per_host);
    }
    if (o->body_max != n->body_max)
        a->cfg.body_max = a->env.body_max = n->body_max;
    if (o->log_level != n->log_level)
        log_set_level(a->log, a->cfg.log_level = n->log_level);
    if (o->drain_timeout != n->drain_timeout)
        a->cfg.drain_timeout = n->drain_timeout;
}

/* Re-reads the config file: applies the reloadable keys and names, in one
 * line, the changed keys that only a restart applies. */
static void reload_config(struct agent *a)
{
    struct agent_handles *h = a->handles;
    struct config nc;
    struct strv errors;
    struct buf restart, applied;
    if (!h->has_file_cfg)
        return;
    config_defaults(&nc);
    strv_init(&errors);
    buf_init(&restart, 4096);
    buf_init(&applied, 4096);
    if (config_load(&nc, a->cfg.file, &errors)) {
        log_warn(a->log, "config %s not reloaded (%s); the running config is kept", a->cfg.file,
                 errors.n ? errors.v[0] : "unreadable");
        goto out;
    }
    if (config_diff(&h->file_cfg, &nc, &restart, &applied)) {
        log_warn(a->log, "config %s not reloaded (out of memory)", a->cfg.file);
        goto out;
    }
    if (restart.len)
        log_kv(a->log, LOG_WARN, LOG_FIELDS(LOG_STR("keys", restart.data)),
               "config changed keys that need a restart to apply: %s", restart.data);
    if (applied.len)
        log_kv(a->log, LOG_INFO, LOG_FIELDS(LOG_STR("keys", applied.data)), "config applied: %s", applied.data);
    apply_config(a, &h->file_cfg, &nc);
    config_free(&h->file_cfg);
    h->file_cfg = nc;
    memset(&nc, 0, sizeof(nc)); /* its strings belong to file_cfg now */
out:
    config_free(&nc);
    strv_free(&errors);
    buf_free(&restart);
    buf_free(&applied);
}

void agent_reload(struct agent *a)
{
    if (a->draining)
        return;
    reload_config(a);
    log_info(a->log, "reloading probe files");
    notify_systemd("RELOADING=1");
    metric_inc(a->handles->m_reloads);
    if (probe_table_load(a->probes, false))
        metric_inc(a->handles->m_reload_errors);
    agent_incidents_reconcile(a, false);
    if (a->delivery && delivery_reload(a->delivery))
        log_warn(a->log, "a sink could not re-read its token or key; it keeps the old ones");
    notify_systemd("READY=1");
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct agent *a = s->data;
    if (signum == SIGHUP)
        agent_reload(a);
    else
        agent_stop(a);
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void close_handles(struct agent_handles *h)
{
    uv_handle_t *all[] = {(uv_handle_t *)&h->drain_poll, (uv_handle_t *)&h->drain_deadline,
                          (uv_handle_t *)&h->tick,       (uv_handle_t *)&h->sig_term,
                          (uv_handle_t *)&h->sig_int,    (uv_handle_t *)&h->sig_hup};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        uv_close(all[i], close_cb);
    loop_lag_close(h->lag);
    h->lag = NULL;
    h->closed = true;
}

static void close_all(struct agent *a)
{
    close_handles(a->handles);
    http_free(a->http);
    a->http = NULL;
    http_free(a->peer_http);
    a->peer_http = NULL;
    actions_free(a->actions);
    a->actions = NULL;
    events_forget_delivery(a->events);
    delivery_free(a->delivery);
    a->delivery = NULL;
    /* Unconditionally: after a drain timeout the engine drops the runs still
     * in flight without calling back, so no scheduler_done() can follow, and
     * a live scheduler timer would keep the loop (and the process) running. */
    scheduler_free(a->sched);
    a->sched = NULL;
    peers_free(a->peers); /* before the engine: its transfers die unanswered */
    a->peers = NULL;
    transfer_engine_free(a->engine);
    a->engine = NULL;
}

static int mkdir_p(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    /* the spool holds events with evidence: its owner only */
    return mkdir(path, 0700) && errno != EEXIST ? -1 : 0;
}

static void delivery_log(void *arg, enum log_level level, const char *sink, const char *msg)
{
    struct agent *a = arg;
    log_kv(a->log, level, LOG_FIELDS(LOG_STR("sink", sink)), "%s", msg);
}

/* A spool that will not open (an unwritable folder) does not stop the
 * agent: it goes on measuring and serving, holds events in memory (events.h)
 * and says so at start, every minute, in a metric and on /healthz. A spool
 * another agent holds does: its incidents, owed rollbacks and running
 * commands are that agent's, and this one would resume, rewrite and kill
 * them (TL_EBUSY). */
static int open_spool(struct agent *a, const struct sinks_config *sc)
{
    char err[512];
    if (mkdir_p(a->cfg.spool_dir))
        snprintf(err, sizeof(err), "cannot create %s: %s", a->cfg.spool_dir, strerror(errno));
    else {
        struct spool_opts so = {.max_bytes = a->cfg.spool_max_bytes};
        int rc = spool_open(a->cfg.spool_dir, &so, (const char *const *)sc->names, sc->n, &a->spool, err,
                            sizeof(err));
        if (rc == TL_EBUSY) {
            a->spool = NULL;
            log_error(a->log, "%s: another agent runs on this spool folder; not starting, as its state "
                              "(open incidents, rollbacks owed, running commands) is that agent's", err);
            return rc;
        }
        if (rc == 0) {
            if (spool_corrupt_bytes(a->spool) > 0)
                log_error(a->log, "spool: %llu damaged bytes moved aside to *.corrupt, %llu events lost with them",
                          (unsigned long long)spool_corrupt_bytes(a->spool),
                          (unsigned long long)spool_corrupt_records(a->spool));
            return 0;
        }
    }
    a->spool = NULL;
    a->handles->spool_down = true;
    log_error(a->log,
              "spool: %s; measuring goes on, but events are only held in memory (at most %d) and NOT delivered "
              "until the agent restarts with a usable spool",
              err, EVENTS_HELD_MAX);
    return TL_EIO;
}

static int open_spool_and_sinks(struct agent *a)
{
    struct sinks_config sc;
    int rc = sinks_config_build(&sc, &a->cfg, a->loop, a->engine);
    if (rc) {
        log_error(a->log, "sinks: %s", sc.err);
        sinks_config_free(&sc);
        return -1;
    }
    rc = open_spool(a, &sc);
    if (rc) {
        sinks_config_free(&sc);
        if (rc == TL_EBUSY)
            return -1;
        goto events;
    }
    struct delivery_opts dopts = {
        .batch_max = a->cfg.has_service && a->cfg.service.batch_max ? a->cfg.service.batch_max : 100,
        .dead_letter_dir = a->cfg.spool_dir,
        .log = delivery_log,
        .log_arg = a,
    };
    rc = delivery_new(&a->delivery, a->loop, a->spool, &dopts);
    for (size_t i = 0; rc == 0 && i < sc.n; i++) {
        rc = delivery_add(a->delivery, sc.names[i], sc.sinks[i]);
        if (rc == 0)
            sc.sinks[i] = NULL; /* the delivery owns it now */
    }
    sinks_config_free(&sc);
    if (rc) {
        log_error(a->log, "delivery: cannot start (%s)", tl_strerror(rc));
        return -1;
    }
events:;
    struct events_opts eo = {
        .spool = a->spool,
        .delivery = a->delivery,
        .log = a->log,
        .metrics = a->metrics,
        .spool_max_bytes = a->cfg.spool_max_bytes,
    };
    if (events_new(&eo, &a->events))
        return -1;
    /* events spooled before a crash or a drain timeout go out first */
    if (a->delivery)
        delivery_kick(a->delivery);
    return 0;
}

/* The config, the CLI's files, the shard and the logger: no I/O yet. */
static int agent_setup(struct agent *a, const struct strv *probe_files)
{
    struct agent_handles *h = a->handles;
    h->started_at_us = tl_wall_us();
    strv_init(&h->files);
    a->log = log_default();
    log_set_level(a->log, a->cfg.log_level);
    if (probe_files && probe_files->n) {
        for (size_t i = 0; i < probe_files->n; i++)
            if (strv_push(&h->files, probe_files->v[i]))
                return TL_ENOMEM;
        /* files on the command line replace the config's globs */
        for (size_t i = 0; i < a->cfg.n_probe_globs; i++)
            free(a->cfg.probe_globs[i]);
        a->cfg.n_probe_globs = 0;
    }
    if (a->cfg.shard && shard_parse(a->cfg.shard, &h->shard_i, &h->shard_n)) {
        log_error(a->log, "bad shard \"%s\" (expected i/n with 0 <= i < n)", a->cfg.shard);
        return TL_EINVAL;
    }
    if (a->cfg.file) {
        /* The file as loaded, before the command line's overrides. */
        struct strv errors;
        strv_init(&errors);
        config_defaults(&h->file_cfg);
        h->has_file_cfg = config_load(&h->file_cfg, a->cfg.file, &errors) == 0;
        strv_free(&errors);
    }
    struct metric_family *rl = metrics_counter(a->metrics, "tripline_reloads_total", "Probe file reloads", NULL, 0);
    struct metric_family *re = metrics_counter(a->metrics, "tripline_reload_errors_total",
                                               "Reloads where a file was rejected (its last good version kept)",
                                               NULL, 0);
    h->m_reloads = rl ? metrics_series(rl, NULL) : NULL;
    h->m_reload_errors = re ? metrics_series(re, NULL) : NULL;
    return h->m_reloads && h->m_reload_errors ? 0 : TL_ENOMEM;
}

/* The engine, the scheduler (and its limiter), actions, spool and sinks. */
static int start_engines(struct agent *a)
{
    struct transfer_engine_opts eo = {.ca_file = a->cfg.ca_file};
    if (runs_new(a->metrics, &a->runs) || transfer_engine_new(&a->engine, a->loop, &eo))
        return -1;
    a->env = (struct journey_env){
        .engine = a->engine,
        .region = a->cfg.region,
        .agent_name = a->cfg.name,
        .body_max = a->cfg.body_max,
    };
    struct scheduler_opts so = {
        .max_in_flight = (unsigned)a->cfg.concurrency,
        .max_per_host = (unsigned)a->cfg.per_host,
        .start = runs_on_start,
    };
    struct actions_opts ao = {.report = agent_action_report, .report_arg = a, .state_dir = a->cfg.spool_dir};
    if (scheduler_new(a->loop, &so, &a->sched) || actions_new(&a->actions, a->loop, a->engine, &ao))
        return -1;
    return open_spool_and_sinks(a);
}

/* The probe table and the status module that labels its probes' series. */
static int load_probes(struct agent *a)
{
    struct agent_handles *h = a->handles;
    struct status_sources src = {
        .cfg = &a->cfg,
        .started_at_us = h->started_at_us,
        .draining = &a->draining,
        .spool_down = &h->spool_down,
        .sched = a->sched,
        .spool = a->spool,
        .delivery = a->delivery,
        .actions = a->actions,
    };
    struct probe_table_opts po = {
        .cfg = &a->cfg,
        .shard_i = h->shard_i,
        .shard_n = h->shard_n,
        .files = &h->files,
        .sched = a->sched,
        .log = a->log,
        .owner = a,
        .added = agent_probe_added,
        .removed = agent_probe_removed,
    };
    if (agent_incidents_open(a) || probe_table_new(&po, &a->probes))
        return -1;
    src.probes = a->probes;
    if (status_new(a->metrics, &src, &a->status))
        return -1;
    probe_table_set_hook_arg(a->probes, a);
    if (probe_table_load(a->probes, true) && probe_table_count(a->probes) == 0) {
        log_error(a->log, "no probe could be loaded");
        return -1;
    }
    agent_incidents_reconcile(a, true);
    return 0;
}

/* The listen addresses and the peers' key, taken before the probes load:
 * an agent that cannot start must not have resumed incidents or started
 * actions and rollbacks (only to kill them on its way out). Nothing is
 * served before the loop runs. */
static int start_listener(struct agent *a)
{
    struct http_opts ho = {.listen = a->cfg.listen, .log = a->log};
    int rc = http_new(a->loop, &ho, &a->http);
    if (rc) {
        log_error(a->log, "cannot listen on %s (%s)", a->cfg.listen, tl_strerror(rc));
        return rc;
    }
    return agent_peers_init(a);
}

static int start_endpoint(struct agent *a)
{
    return status_routes(a->status, a->http) ? -1 : 0;
}

static void start_handles(struct agent *a)
{
    struct agent_handles *h = a->handles;
    uv_timer_init(a->loop, &h->tick);
    uv_timer_init(a->loop, &h->drain_poll);
    uv_timer_init(a->loop, &h->drain_deadline);
    h->tick.data = h->drain_poll.data = h->drain_deadline.data = a;
    uv_timer_start(&h->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_init(a->loop, &h->sig_term);
    uv_signal_init(a->loop, &h->sig_int);
    uv_signal_init(a->loop, &h->sig_hup);
    h->sig_term.data = h->sig_int.data = h->sig_hup.data = a;
    uv_signal_start(&h->sig_term, on_signal, SIGTERM);
    uv_signal_start(&h->sig_int, on_signal, SIGINT);
    uv_signal_start(&h->sig_hup, on_signal, SIGHUP);
}

/* The loop's lag; runs ask it whether a timeout was the agent's own. */
static int start_lag(struct agent *a)
{
    if (loop_lag_new(a->loop, a->metrics, a->log, a->sched, &a->handles->lag))
        return TL_ENOMEM;
    a->env.stalled = loop_lag_stalled;
    a->env.stalled_arg = a->handles->lag;
    return 0;
}

/* Said once, at start (base/nofile.h; the systemd unit sets
 * LimitNOFILE=65536): runs past the limit fail as agent/fd_limit, never as
 * the target's. */
static void raise_nofile(struct agent *a)
{
    unsigned long long limit;
    if (tl_nofile_raise((unsigned long)a->cfg.concurrency, &limit))
        log_warn(a->log,
                 "the descriptor limit is %llu, below limits.concurrency (%d) + %d: runs past it fail as "
                 "agent/fd_limit; raise LimitNOFILE (ulimit -n) or lower limits.concurrency",
                 limit, a->cfg.concurrency, TL_NOFILE_RESERVE);
}

int agent_new(uv_loop_t *loop, struct config *cfg, const struct strv *probe_files, struct agent **out)
{
    /* No core dumps and no ptrace by other users: the process holds keys
     * and tokens in memory from here on. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct agent *a = calloc(1, sizeof(*a));
    if (!a)
        return -1;
    a->loop = loop;
    a->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    int rc = -1;
    a->handles = calloc(1, sizeof(*a->handles));
    a->metrics = metrics_new();
    if (!a->handles || !a->metrics || agent_setup(a, probe_files))
        goto fail;
    raise_nofile(a);
    if (start_engines(a) || start_lag(a))
        goto fail;
    rc = start_listener(a);
    if (rc || load_probes(a))
        goto fail;
    if ((rc = start_endpoint(a)))
        goto fail;
    start_handles(a);
    log_kv(a->log, LOG_INFO,
           LOG_FIELDS(LOG_STR("region", a->cfg.region), LOG_STR("agent", a->cfg.name),
                      LOG_STR("listen", a->cfg.listen), LOG_INT("port", http_port(a->http)),
                      LOG_INT("probes", probe_table_count(a->probes)), LOG_STR("version", TRIPLINE_VERSION)),
           "tripline started");
    *out = a;
    return 0;
fail:
    agent_free(a);
    return rc < 0 ? rc : -1;
}

int agent_run(struct agent *a)
{
    uv_run(a->loop, UV_RUN_DEFAULT);
    return a->exit_code;
}

uint16_t agent_port(const struct agent *a)
{
    return a->http ? http_port(a->http) : 0;
}

void agent_set_overrides(struct agent *a, const struct tpl_vars *overrides)
{
    a->env.overrides = overrides;
}

void agent_free(struct agent *a)
{
    if (!a)
        return;
    if (a->handles && a->handles->tick.loop && !a->handles->closed)
        close_all(a);
    http_free(a->http);
    http_free(a->peer_http);
    agent_incidents_close(a);
    actions_free(a->actions);
    events_forget_delivery(a->events);
    delivery_free(a->delivery);
    scheduler_free(a->sched);
    peers_free(a->peers);
    a->peers = NULL;
    transfer_engine_free(a->engine);
    if (a->handles) {
        loop_lag_close(a->handles->lag); /* a start that failed early */
        a->handles->lag = NULL;
    }
    uv_run(a->loop, UV_RUN_DEFAULT);
    probe_table_free(a->probes);
    free(a->tickers); /* pointers into the states just freed */
    runs_free(a->runs);
    events_free(a->events);
    status_free(a->status);
    istore_free(a->istore);
    spool_free(a->spool);
    metrics_free(a->metrics);
    if (a->handles) {
        strv_free(&a->handles->files);
        if (a->cfg.file)
            config_free(&a->handles->file_cfg);
    }
    free(a->handles);
    config_free(&a->cfg);
    free(a);
}
