/* The probe table: the probe files a running agent has loaded, one state per
 * (probe, vantage) that runs here, and the reload that swaps files while
 * keeping the schedule phase and escalation state of unchanged probes.
 *
 * A file is reference counted: the table holds one reference while the file
 * is current, and each run in flight holds one (probe_state_run_begin/_end),
 * so a reload can retire a file whose probes are still running. */
#ifndef TRIPLINE_PROBE_TABLE_H
#define TRIPLINE_PROBE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/log/log.h"
#include "base/buf.h"
#include "base/err.h"
#include "probes/run/journey.h"
#include "schedules/scheduler.h"

struct agent;
struct esc_state;
struct probe_metrics; /* the endpoint's per-probe series (agent/endpoint/status.h) */
struct run_result;
struct vantage;

/* One loaded probe file. */
struct lfile {
    char *path;
    struct probe_set *set;
    int refs;                    /* 1 while current + 1 per run in flight */
};

struct lfile *lfile_ref(struct lfile *lf);
/* The last unref frees the file and its probes. */
void lfile_unref(struct lfile *lf);

struct probe_state {
    struct agent *agent;         /* the table's owner */
    struct probe *probe;         /* in lf->set */
    const struct vantage *vantage; /* NULL: the agent's own region (agent/fleet/vantage.h) */
    const char *region;          /* the vantage's region or the agent's: every label */
    struct journey_env env;      /* the agent's with the vantage's egress; set at each start */
    struct lfile *lf;
    char *host;                  /* what the per-host limit counts its runs against */
    struct scheduler_entry *entry;
    struct esc_state *esc;
    struct run_result *last;     /* owned */
    struct probe_metrics *metrics; /* owned (plain memory), filled by the added hook */
    bool running;
    bool removed;                /* freed when its run ends */
    bool mark;                   /* kept by the reload in progress */
    uint64_t runs, failures, agent_faults; /* failures: the API's; agent_faults: bucket agent */
    struct lfile *run_lf;        /* the file the running run's probe came from */
    size_t tick_pos;             /* 1 + its index in the agent's tick set; 0 = not in it (agent_run.c) */
};

struct probe_table_opts {
    const struct config *cfg;    /* globs, region, vantages, shard (parsed by the caller) */
    unsigned shard_i, shard_n;   /* shard_n 0: no sharding */
    const struct strv *files;    /* not NULL: these files instead of the config's globs */
    struct scheduler *sched;     /* each state gets an entry; user = the state */
    struct logger *log;
    struct agent *owner;         /* copied into each state */
    /* A state was added (create its metric series) / removed (drop them). */
    void (*added)(void *arg, struct probe_state *ps);
    void (*removed)(void *arg, struct probe_state *ps);
    void *hook_arg;
};

struct probe_table;

int probe_table_new(const struct probe_table_opts *o, struct probe_table **out);
/* Loads (initial) or reloads the files. Every file loads on its own: a file
 * with errors keeps its last good version. TL_ESYNTAX when a file or probe
 * was rejected (the others are in), TL_ENOMEM. */
int probe_table_load(struct probe_table *t, bool initial);
/* What the last load did, as its log line says: probes kept as they were,
 * changed (restarted afresh), added (new ids), removed (ids gone). */
struct probe_table_counts {
    size_t kept, changed, added, removed, other_regions;
    int errors;
};
void probe_table_last_counts(const struct probe_table *t, struct probe_table_counts *out);
/* The files the last load rejected (at start-up too: the agent starts with
 * the others): path, first error, and whether a last good version runs.
 * Valid until the next load. Returns false past the end. */
bool probe_table_rejected(const struct probe_table *t, size_t i, const char **path, const char **error,
                          bool *last_good);
/* The argument of the added/removed hooks, when it is made after the table. */
void probe_table_set_hook_arg(struct probe_table *t, void *arg);
size_t probe_table_count(const struct probe_table *t);
struct probe_state *probe_table_at(const struct probe_table *t, size_t i);
/* The state of probe id in region, else through its first vantage. */
struct probe_state *probe_table_find(const struct probe_table *t, const char *id, const char *region);
/* Frees the states and drops the table's file references (runs in flight
 * keep theirs). The scheduler must be freed first or still own the entries. */
void probe_table_free(struct probe_table *t);

/* A run of ps starts: it holds ps's current file until the run ends. */
void probe_state_run_begin(struct probe_state *ps);
/* The run ended (after scheduler_done): drops its file reference and frees
 * ps when a reload removed it meanwhile. True when ps was freed. */
bool probe_state_run_end(struct probe_state *ps);

#endif
