/* The incident store: the open incidents of a running agent, kept in the
 * spool directory (incidents.json) so that a restart, a reload or a crash
 * carries them on under the same incidentId.
 *
 * Every change rewrites the whole (small) file: a new file is written and
 * fsynced, then renamed over the old one and the directory fsynced, so a
 * crash leaves either the old or the new state, never a torn one. */
#ifndef TRIPLINE_INCIDENT_STORE_H
#define TRIPLINE_INCIDENT_STORE_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "agent/incident/escalation.h"
#include "base/buf.h"

/* One open incident of (probe, region). */
struct istore_rec {
    char *probe;
    char *region;
    uint64_t def_hash;           /* the probe's definition when it opened */
    struct esc_snapshot snap;
    struct strv fired;           /* actions run: their rollbacks are owed */
    struct strv running;         /* actions started whose outcome is not known yet */
    /* The rollback definitions of the actions fired (action name ->
     * actions_rollback_def()), so they can be undone when the probe is
     * gone; NULL or {} when none has one. */
    cJSON *defs;
    bool claimed;                /* taken by a running probe since the load */
};

/* A rollback owed by a resolved incident, kept until it has succeeded. */
struct istore_owed {
    char *probe;
    char *region;
    char incident_id[37];
    enum level level;
    char *action;
    int attempts;                /* failed runs so far */
    int64_t next_at_us;          /* wall clock: when to run it again */
    cJSON *def;                  /* actions_rollback_def(); NULL in a file of an older version */
    bool running;                /* in this process (not kept) */
};

/* When an action of a probe last ran (wall clock): its cooldown goes on
 * across restarts. */
struct istore_cool {
    char *probe;
    char *action;
    int64_t at_us;
};

struct istore;

/* Opens dir/incidents.json (none yet: an empty store). A file that cannot
 * be parsed is moved aside to incidents.json.corrupt and the store starts
 * empty: *err (may be NULL) then says so and 0 is returned. */
int istore_open(const char *dir, struct istore **out, char *err, size_t errlen);
void istore_free(struct istore *s);

size_t istore_count(const struct istore *s);
struct istore_rec *istore_at(struct istore *s, size_t i);
struct istore_rec *istore_find(struct istore *s, const char *probe, const char *region);
/* Inserts or replaces the record of (rec->probe, rec->region), copied, and
 * writes the file. */
int istore_put(struct istore *s, const struct istore_rec *rec);
/* Drops the record of (probe, region), if any, and writes the file. */
int istore_del(struct istore *s, const char *probe, const char *region);
size_t istore_owed_count(const struct istore *s);
struct istore_owed *istore_owed_at(struct istore *s, size_t i);
struct istore_owed *istore_owed_find(struct istore *s, const char *incident_id, const char *action);
/* Records a rollback owed (once per incident and action) and writes the file. */
int istore_owe(struct istore *s, const struct istore_owed *o);
/* The rollback succeeded (or is given up): drops it and writes the file. */
int istore_paid(struct istore *s, const char *incident_id, const char *action);
/* Writes the file after a change made through istore_owed_at/_find. */
int istore_sync(struct istore *s);
/* Why the last write failed ("cannot write DIR/incidents.json.tmp: No
 * space left on device"), for the log. Every write that fails keeps the
 * change in memory: the next write that works carries it. */
const char *istore_error(const struct istore *s);

size_t istore_cool_count(const struct istore *s);
const struct istore_cool *istore_cool_at(const struct istore *s, size_t i);
/* Records when (probe, action) last ran and writes the file (unless that
 * time is already kept). */
int istore_cool_set(struct istore *s, const char *probe, const char *action, int64_t at_us);
/* Drops the clocks set before before_us (their cooldown is over, whatever
 * the action: the caller passes now minus the longest cooldown it knows)
 * and writes the file when any went. Without it the entries of probes
 * removed or renamed over the years would grow the file until it was too
 * big to read and was moved aside, open incidents and all. */
int istore_cool_prune(struct istore *s, int64_t before_us);

/* Frees the members of a record that is not in a store. */
void istore_rec_clear(struct istore_rec *r);

#endif
