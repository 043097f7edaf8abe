/* The agent: the daemon behind `tripline run`. One struct holds the loop's
 * whole world (config, probe files, scheduler, transfer engine, escalation
 * state, spool, sinks, endpoint, metrics, logs); nothing is global.
 *
 * Lifecycle: agent_new() loads the config's probe files and binds the
 * endpoint; agent_run() runs the loop until SIGTERM/SIGINT, then drains
 * in-flight runs and the spool within drain_timeout. SIGHUP reloads the probe
 * files: unchanged probes keep their schedule phase and escalation state, a
 * file with errors keeps its last good version. */
#ifndef TRIPLINE_AGENT_H
#define TRIPLINE_AGENT_H

#include <stdint.h>

#include <uv.h>

#include "agent/config/config.h"

struct agent;
struct tpl_vars;

/* cfg is moved into the agent (the caller must not free it). probe_files,
 * when not NULL, replaces the config's probe globs (the CLI's FILES). */
int agent_new(uv_loop_t *loop, struct config *cfg, const struct strv *probe_files, struct agent **out);
/* Runs until stopped; returns the process exit code. */
int agent_run(struct agent *a);
/* Reloads the probe files now (what SIGHUP does). */
void agent_reload(struct agent *a);
/* Starts the drain (what SIGTERM does). */
void agent_stop(struct agent *a);
void agent_free(struct agent *a);
/* --var NAME=VALUE overrides for every run from now on (not copied). */
void agent_set_overrides(struct agent *a, const struct tpl_vars *overrides);
/* The endpoint's bound port (useful with port 0). */
uint16_t agent_port(const struct agent *a);

#endif
