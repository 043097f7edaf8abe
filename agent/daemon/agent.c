/* The agent's lifecycle: start-up, signals, reload, drain, shutdown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/time.h"
#include "agent/actions/actions.h"
#include "agent/daemon/agent_int.h"
#include "probes/run/result.h"
#include "agent/outbox/delivery.h"
#include "agent/fleet/peers.h"
#include "agent/config/sinks_config.h"
#include "schedules/shard.h"

#define TICK_MS 1000

static void on_tick(uv_timer_t *t)
{
    struct agent *a = t->data;
    agent_tick_escalations(a);
}

static void close_all(struct agent *a);

/* The drain ends when every run has finished and the spool is delivered, or
 * when drain_timeout passes (what is still spooled is replayed at the next
 * start: nothing is lost, only late). */
static void drain_check(uv_timer_t *t)
{
    struct agent *a = t->data;
    bool runs_done = a->in_flight == 0;
    bool delivered = !a->delivery || delivery_idle(a->delivery);
    bool actions_done = !a->actions || actions_in_flight(a->actions) == 0;
    if (runs_done && delivered && actions_done && peers_idle(a->peers)) {
        log_info(a->log, "drained: stopping");
        close_all(a);
        return;
    }
    if (a->drain_expired) {
        log_warn(a->log, "drain timeout: %zu runs still in flight, %llu events left in the spool for the next start",
                 a->in_flight, (unsigned long long)(a->spool ? spool_depth(a->spool) : 0));
        a->exit_code = runs_done ? 0 : 1;
        close_all(a);
        return;
    }
    uv_timer_start(&a->drain_timer, drain_check, 20, 0);
}

static void on_drain_deadline(uv_timer_t *t)
{
    struct agent *a = t->data;
    a->drain_expired = true;
    drain_check(&a->drain_timer);
}

void agent_stop(struct agent *a)
{
    if (a->draining)
        return;
    a->draining = true;
    log_info(a->log, "draining: %zu runs in flight, %llu events to deliver", a->in_flight,
             (unsigned long long)(a->spool ? spool_depth(a->spool) : 0));
    uv_timer_stop(&a->tick);
    agent_peers_drain(a);
    uv_timer_start(&a->drain_timer, drain_check, 0, 0);
    uv_timer_start(&a->drain_deadline, on_drain_deadline,
                   (uint64_t)(a->cfg.drain_timeout > 0 ? a->cfg.drain_timeout / 1000 : 10000), 0);
}

void agent_reload(struct agent *a)
{
    if (a->draining)
        return;
    log_info(a->log, "reloading probe files");
    metric_inc(a->m_reloads);
    if (agent_load_probes(a, false))
        metric_inc(a->m_reload_errors);
    if (a->delivery && delivery_reload(a->delivery))
        log_warn(a->log, "a sink could not re-read its token or key; it keeps the old ones");
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

static void close_all(struct agent *a)
{
    uv_timer_stop(&a->drain_timer);
    uv_timer_stop(&a->drain_deadline);
    uv_timer_stop(&a->tick);
    uv_signal_stop(&a->sig_term);
    uv_signal_stop(&a->sig_int);
    uv_signal_stop(&a->sig_hup);
    uv_close((uv_handle_t *)&a->drain_timer, close_cb);
    uv_close((uv_handle_t *)&a->drain_deadline, close_cb);
    uv_close((uv_handle_t *)&a->tick, close_cb);
    uv_close((uv_handle_t *)&a->sig_term, close_cb);
    uv_close((uv_handle_t *)&a->sig_int, close_cb);
    uv_close((uv_handle_t *)&a->sig_hup, close_cb);
    http_free(a->http);
    a->http = NULL;
    actions_free(a->actions);
    a->actions = NULL;
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
    return mkdir(path, 0750) && errno != EEXIST ? -1 : 0;
}

static void delivery_log(void *arg, enum log_level level, const char *sink, const char *msg)
{
    struct agent *a = arg;
    log_kv(a->log, level, LOG_FIELDS(LOG_STR("sink", sink)), "%s", msg);
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
    if (mkdir_p(a->cfg.spool_dir)) {
        log_error(a->log, "spool: cannot create %s: %s", a->cfg.spool_dir, strerror(errno));
        sinks_config_free(&sc);
        return -1;
    }
    struct spool_opts so = {.max_bytes = a->cfg.spool_max_bytes};
    char err[512];
    rc = spool_open(a->cfg.spool_dir, &so, (const char *const *)sc.names, sc.n, &a->spool, err, sizeof(err));
    if (rc) {
        log_error(a->log, "spool: %s", err);
        sinks_config_free(&sc);
        return -1;
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
    /* events spooled before a crash or a drain timeout go out first */
    delivery_kick(a->delivery);
    return 0;
}

int agent_new(uv_loop_t *loop, struct config *cfg, const struct strv *probe_files, struct agent **out)
{
    struct agent *a = calloc(1, sizeof(*a));
    if (!a)
        return -1;
    a->loop = loop;
    a->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    a->started_at_us = tl_wall_us();
    strv_init(&a->files);
    strv_init(&a->unspooled);
    a->log = log_default();
    log_set_level(a->log, a->cfg.log_level);
    if (probe_files && probe_files->n) {
        for (size_t i = 0; i < probe_files->n; i++)
            strv_push(&a->files, probe_files->v[i]);
        /* files on the command line replace the config's globs */
        for (size_t i = 0; i < a->cfg.n_probe_globs; i++)
            free(a->cfg.probe_globs[i]);
        a->cfg.n_probe_globs = 0;
    }
    int rc = -1;
    if (a->cfg.shard && shard_parse(a->cfg.shard, &a->shard_i, &a->shard_n)) {
        log_error(a->log, "bad shard \"%s\" (expected i/n with 0 <= i < n)", a->cfg.shard);
        goto fail;
    }
    a->metrics = metrics_new();
    if (!a->metrics || agent_metrics_init(a))
        goto fail;
    struct transfer_engine_opts eo = {.ca_file = a->cfg.ca_file};
    if (transfer_engine_new(&a->engine, loop, &eo))
        goto fail;
    a->env = (struct journey_env){
        .engine = a->engine,
        .region = a->cfg.region,
        .agent_name = a->cfg.name,
        .body_max = a->cfg.body_max,
    };
    struct scheduler_opts so = {
        .max_in_flight = (unsigned)a->cfg.concurrency,
        .max_per_host = (unsigned)a->cfg.per_host,
        .start = agent_on_start,
    };
    if (scheduler_new(loop, &so, &a->sched))
        goto fail;
    if (actions_new(&a->actions, loop, a->engine, NULL))
        goto fail;
    if (open_spool_and_sinks(a))
        goto fail;
    if (agent_load_probes(a, true) && a->n_states == 0) {
        log_error(a->log, "no probe could be loaded");
        goto fail;
    }
    struct http_opts ho = {.listen = a->cfg.listen, .log = a->log};
    rc = http_new(loop, &ho, &a->http);
    if (rc) {
        log_error(a->log, "cannot listen on %s (%s)", a->cfg.listen, tl_strerror(rc));
        rc = -1;
        goto fail;
    }
    http_route_stream(a->http, "/metrics", agent_metrics_open, agent_metrics_next, agent_metrics_close, a);
    http_route(a->http, "/status", agent_status_serve, a);
    http_route(a->http, "/healthz", agent_healthz_serve, a);
    if (agent_peers_init(a))
        goto fail;
    uv_timer_init(loop, &a->tick);
    uv_timer_init(loop, &a->drain_timer);
    uv_timer_init(loop, &a->drain_deadline);
    a->tick.data = a->drain_timer.data = a->drain_deadline.data = a;
    uv_timer_start(&a->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_init(loop, &a->sig_term);
    uv_signal_init(loop, &a->sig_int);
    uv_signal_init(loop, &a->sig_hup);
    a->sig_term.data = a->sig_int.data = a->sig_hup.data = a;
    uv_signal_start(&a->sig_term, on_signal, SIGTERM);
    uv_signal_start(&a->sig_int, on_signal, SIGINT);
    uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
    log_kv(a->log, LOG_INFO,
           LOG_FIELDS(LOG_STR("region", a->cfg.region), LOG_STR("agent", a->cfg.name),
                      LOG_STR("listen", a->cfg.listen), LOG_INT("port", http_port(a->http)),
                      LOG_INT("probes", a->n_states), LOG_STR("version", TRIPLINE_VERSION)),
           "tripline started");
    *out = a;
    return 0;
fail:
    agent_free(a);
    return rc ? rc : -1;
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

void agent_free(struct agent *a)
{
    if (!a)
        return;
    if (!uv_is_closing((uv_handle_t *)&a->tick) && a->tick.loop)
        close_all(a);
    http_free(a->http);
    actions_free(a->actions);
    delivery_free(a->delivery);
    scheduler_free(a->sched);
    peers_free(a->peers);
    a->peers = NULL;
    transfer_engine_free(a->engine);
    uv_run(a->loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < a->n_states; i++)
        agent_state_release(a->states[i]);
    free(a->states);
    for (size_t i = 0; i < a->n_lfiles; i++)
        lfile_unref(a->lfiles[i]);
    free(a->lfiles);
    spool_free(a->spool);
    metrics_free(a->metrics);
    if (a->unspooled.n)
        log_error(a->log, "%zu events were never accepted by the spool and are lost", a->unspooled.n);
    strv_free(&a->unspooled);
    strv_free(&a->files);
    config_free(&a->cfg);
    free(a);
}
