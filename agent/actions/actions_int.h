/* Inside agent/actions: what actions.c (the registry, cooldowns and the
 * fire/rollback state machine) shares with action_timeline.c (incidents and
 * their timelines), action_process.c (commands) and action_webhook.c
 * (webhooks). Dependencies run one way: actions.c uses the other three, the
 * runners use the timeline, and a run ends through its finish callback so
 * the runners never call back into actions.c. */
#ifndef TRIPLINE_ACTIONS_INT_H
#define TRIPLINE_ACTIONS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/actions/actions.h"
#include "base/buf.h"
#include "probes/run/template.h"

#define ACT_DETAIL_MAX 2048
#define ACT_N_FIELDS 10              /* event fields: TRIPLINE_* variables, template vars */

enum act_kind { ACT_RUN, ACT_ROLLBACK };

/* One line of an incident's timeline. */
struct act_entry {
    char at[32];                 /* ISO 8601 UTC, when the run started */
    char *action;
    enum act_kind kind;
    const char *outcome;         /* ok, failed, timed_out, skipped, dry_run, error, unknown */
    char *detail;
    long status;                 /* exit status or HTTP status; -1 = none */
    char *output;                /* captured output or response snippet; may be NULL */
};

struct act_incident {
    char id[37];
    char *probe_id;
    char *region;
    bool resolved;               /* the resolution was seen */
    bool stale;                  /* superseded: freed once its runs end */
    int pending;                 /* runs in flight */
    struct act_entry ring[ACTIONS_TIMELINE_MAX];
    size_t head, n;              /* oldest entry at ring[head] */
    size_t dropped;
    struct strv fired;           /* actions that ran during the incident */
    struct act_incident *next;
};

struct actions {
    uv_loop_t *loop;
    struct transfer_engine *engine;
    struct actions_opts opts;
    struct act_incident *incidents;
    struct act_cool *cools;
    struct act_run *runs;        /* in flight */
    size_t in_flight;
    bool dying;
};

enum act_phase { PH_RUN, PH_TERM, PH_KILL, PH_DRAIN };

/* One command or webhook in flight. */
struct act_run {
    struct actions *r;
    struct act_incident *inc;
    struct act_batch *batch;
    struct act_entry e;          /* filled as the run goes, moved to the timeline at the end */
    void (*finish)(struct act_run *run); /* called exactly once when the run has ended */
    bool is_command;
    /* command */
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    int open_handles;
    bool exited, eof, timed_out, timer_closed, out_closed;
    enum act_phase phase;
    int pgid;                    /* the command's process group; 0 before the spawn */
    int64_t exit_status;
    int term_signal;
    tl_usec timeout;
    struct buf output;
    bool output_cut;
    char rbuf[4096];             /* libuv reads into it; copied (capped) into output */
    /* webhook */
    char *what;                  /* "PUT http://..." for the detail */
    struct act_run *prev, *next;
    char *orphan_rec;            /* the command's record (action_orphans.c); NULL = none */
    char orphan_id[37];          /* its id: the record's, and TRIPLINE_COMMAND_ID in its environment */
};

/* action_timeline.c: helpers for what goes on a timeline. */
char *act_strdup(const char *s);                       /* NULL is "" */
char *act_fmt_dur(char *out, size_t len, uint64_t us); /* "1.5s", "250ms" */
/* Outside text (output, a response body) made fit for JSON and redacted;
 * *text holds len bytes and a NUL. */
void act_text_keep(char **text, size_t len);
void act_entry_clear(struct act_entry *e);

/* action_timeline.c: incidents. */
struct act_incident *act_incident_find(const struct actions *r, const char *id);
/* Finds or creates the incident; a new one supersedes the others of its
 * (probe, region). NULL when out of memory. */
struct act_incident *act_incident_get(struct actions *r, const char *id, const char *probe_id,
                                      const char *region);
/* Frees a superseded incident once its last run has ended. */
void act_incident_settle(struct actions *r, struct act_incident *inc);
void act_incident_free(struct act_incident *inc);
/* Moves e into the timeline (e is left empty) and returns where it went;
 * the oldest entry goes when full. */
struct act_entry *act_timeline_push(struct act_incident *inc, struct act_entry *e);
/* An entry that needs no run: skipped, dry run, or an error before starting. */
void act_timeline_note(struct act_incident *inc, const char *action, enum act_kind kind,
                       const char *outcome, const char *detail);

/* action_process.c: commands. vals are the ACT_N_FIELDS event fields. */
void act_cmd_start(struct act_run *run, const struct action *a, const struct action_do *d,
                   const char *const *vals);
/* Signals the command's whole process group. */
void act_cmd_kill(struct act_run *run, int sig);
/* "would run [argv]" into b, for a dry run. */
void act_cmd_dry(const struct action_do *d, struct buf *b);

/* action_orphans.c: the record of a running command (when the runner has a
 * state_dir). _intent draws the command's id and writes its record before
 * the spawn, so a crash right after the spawn still leaves one (the command
 * is then found by the id in its environment); _record adds the process
 * group and its start time once spawned; _forget removes it when it ends
 * or could not start. */
int act_orphan_intent(struct act_run *run);
int act_orphan_record(struct act_run *run);
void act_orphan_forget(struct act_run *run);

/* action_webhook.c: webhooks. */
void act_hook_start(struct act_run *run, const struct action *a, const struct action_do *d,
                    const struct tpl_vars *vs);
/* "would send METHOD URL BODY" (or "would fail: why") into b, for a dry run. */
void act_hook_dry(const struct action_do *d, const struct tpl_vars *vs, struct buf *b);

#endif
