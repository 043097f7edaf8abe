/* Actions: the webhooks and commands a ladder level fires, their rollbacks on
 * resolution, and the incident timeline that records every run.
 *
 * A command is spawned with its configured argv exactly (no shell, nothing
 * interpolated); the event reaches it only through TRIPLINE_* environment
 * variables. A webhook's method, URL, headers and JSON string leaves are
 * templates rendered against the event fields. Each run, skip and dry run is
 * appended to the incident's timeline, which /status and events read as JSON.
 * See docs/actions.md.
 */
#ifndef TRIPLINE_ACTIONS_H
#define TRIPLINE_ACTIONS_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "agent/incident/escalation.h"
#include "base/buf.h"
#include "probes/probe.h"
#include "probes/http/transfer.h"


/* Bounds of what is kept. */
#define ACTIONS_TIMELINE_MAX 50        /* entries per incident (the oldest are dropped) */
#define ACTIONS_OUTPUT_MAX 4096        /* bytes of a command's stdout+stderr kept */
#define ACTIONS_RESPONSE_MAX 512       /* bytes of a webhook's response body kept */
#define ACTIONS_TIMEOUT_DEFAULT ((tl_usec)10 * 1000000)

/* The event fields an action sees besides what the transition holds. NULL
 * members fall back to the transition (reason, step, correlation_id) or to
 * "" (region, bucket). Strings are borrowed for the call. */
struct action_fields {
    const char *region;
    const char *bucket;          /* bucket_str() of the transition's bucket */
    const char *reason;
    const char *step;
    const char *correlation_id;
};

struct actions;

/* What became of one run, rollback, skip or dry run (strings borrowed). */
struct actions_report {
    const char *probe, *region, *incident_id, *action;
    const char *kind;            /* run, rollback */
    const char *outcome;         /* ok, failed, timed_out, skipped, dry_run, error, unknown */
    const char *detail;
};

struct actions_opts {
    tl_usec kill_grace;          /* SIGTERM -> SIGKILL after a timeout; default 2 s */
    tl_usec drain;               /* wait for output after the command exited; default 1 s */
    /* Called as each timeline entry is written: its log line and counter. */
    void (*report)(void *arg, const struct actions_report *rep);
    void *report_arg;
    /* Where running commands are recorded for actions_orphans_reap()
     * (action_orphans.h); borrowed; NULL = not recorded. */
    const char *state_dir;
};

/* engine is borrowed and must outlive the runner's webhooks in flight.
 * opts may be NULL. */
int actions_new(struct actions **out, uv_loop_t *loop, struct transfer_engine *engine,
                const struct actions_opts *opts);
/* Commands still running are killed (SIGKILL to their process group); the
 * runner itself is freed once its handles are closed and its webhooks in
 * flight have ended, so run the loop before freeing the engine. Done
 * callbacks of unfinished batches are not called. NULL is a no-op. */
void actions_free(struct actions *r);
/* Runs (commands and webhooks) not yet finished. */
size_t actions_in_flight(const struct actions *r);

/* Called once when every run started by one actions_fire() has ended. */
typedef void (*actions_done_cb)(void *arg);

/* Acts on one escalation transition of probe p:
 *  - opened / escalated: runs each action named in t->actions (looked up in
 *    p->actions), unless it ran (or dry-ran) less than its cooldown ago;
 *  - resolved: runs, once, the rollback of every action that ran during this
 *    incident (t->incident_id), whatever its cooldown;
 *  - renotified: nothing.
 * p and f are only read during the call. Returns 0 (cb, if not NULL, is then
 * called exactly once, possibly before actions_fire returns when nothing had
 * to run), or a negative TL_E* code (cb is not called). */
int actions_fire(struct actions *r, const struct probe *p, const struct esc_transition *t,
                 const struct action_fields *f, actions_done_cb cb, void *arg);

/* Runs again the actions t names (opened/escalated) of an incident whose
 * outcome a crash lost: an `unknown` entry on the timeline says so, and the
 * cooldown does not hold them back. */
int actions_rerun(struct actions *r, const struct probe *p, const struct esc_transition *t,
                  const struct action_fields *f);
/* The actions that ran during an incident (their rollbacks are owed), copied
 * into out (initialised by the caller). 0 also when the incident is unknown. */
int actions_fired(const struct actions *r, const char *incident_id, struct strv *out);
/* Takes action off the list of those that ran during the incident: its
 * rollback is run elsewhere (from a definition kept on disk), not by the
 * incident's resolution. TL_ENOTFOUND when it is not on it. */
int actions_forget(struct actions *r, const char *incident_id, const char *action);
/* An incident carried over a restart (incident_store.h): its rollbacks owed
 * run at its resolution as if its actions had run in this process. */
int actions_resume(struct actions *r, const char *incident_id, const char *probe_id, const char *region,
                   const struct strv *fired);

/* The definition of the rollback of action in p as a new JSON object, to be
 * kept on disk with a rollback owed (action_def.c): the command's argv, or
 * the webhook's method, URL, headers and body as templates (never rendered:
 * env. and file: values are read again when it runs), with the probe's vars,
 * its timeout and dry_run. A value written literally under a credential's
 * name is left out and named in "withheld". NULL when the action has no
 * rollback (or out of memory). */
cJSON *actions_rollback_def(const struct probe *p, const char *action);
/* A probe (freed with probe_free) holding only the action named `action`,
 * whose rollback is def, for actions_fire(resolved) when its own probe is
 * gone. TL_ESYNTAX with the reason in err when def cannot run (a part
 * withheld, a damaged definition). */
int actions_def_probe(const cJSON *def, const char *probe_id, const char *action, struct probe **out, char *err,
                      size_t errlen);

/* How long ago (probe, action) last ran or dry-ran, its cooldown clock:
 * TL_ENOTFOUND when it has not in this process. */
int actions_cool_age(const struct actions *r, const char *probe_id, const char *action, tl_usec *age);
/* Sets that clock to `ago` before now: a cooldown carried over a restart.
 * A negative ago (a run stamped in the future: the clock was set back)
 * counts as now: the cooldown holds in full. */
int actions_cool_restore(struct actions *r, const char *probe_id, const char *action, tl_usec ago);
/* Runs of the incident still in flight: 0 once every outcome is on its
 * timeline (the report of the last one sees 0). */
size_t actions_pending(const struct actions *r, const char *incident_id);
/* The timeline of an incident as a new JSON array of entries
 * {at, action, kind: run|rollback, outcome, detail[, status][, output]},
 * oldest first; NULL when the incident is not (or no longer) known. */
cJSON *actions_timeline_json(const struct actions *r, const char *incident_id);
/* For /status: the open incident of (probe, region), else the last resolved
 * one, as {incident_id, state: open|resolved, dropped, timeline: [...]};
 * NULL when neither is known. region may be NULL (any region). */
cJSON *actions_probe_json(const struct actions *r, const char *probe_id, const char *region);

#endif
