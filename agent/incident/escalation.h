/* Escalation: the incident state machine of one probe in one region.
 *
 * ok -> failing (transient: recorded, never notified) -> open at a ladder
 * level (opened; raised later = escalated; never lowered while open) ->
 * resolved after resolve_successes consecutive successes -> ok.
 *
 * The machine is pure apart from the UUIDs it draws (OpenSSL RAND_bytes): it
 * is fed observations and the time, and returns at most one transition per
 * call. Every now_us below is on the monotonic clock (tl_mono_us), so windows,
 * renotify and flap damping ignore wall clock steps; the wall times of a
 * transition are now_us plus the offset of esc_set_wall_offset(). The integrator turns a transition into an event, spools it, and runs
 * the rung's actions (and, on resolution, their rollbacks).
 * See docs/internals/escalation.md.
 */
#ifndef TRIPLINE_ESCALATION_H
#define TRIPLINE_ESCALATION_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probes/probe.h"
#include "probes/triage/triage.h"


/* One run of the probe, reduced to what escalation reads. Strings are
 * borrowed for the call and copied (capped) when kept. */
struct esc_obs {
    bool ok;
    enum bucket bucket;          /* BUCKET_NONE when ok */
    const char *reason;          /* triage reason, NULL when ok */
    bool budget_breached;
    const char *correlation_id;  /* of the failing request, may be NULL */
    const char *step;            /* name of the failing step, may be NULL */
};

enum esc_kind { ESC_NONE = 0, ESC_OPENED, ESC_ESCALATED, ESC_RENOTIFIED, ESC_RESOLVED };
const char *esc_kind_str(enum esc_kind k); /* "opened", ... */

enum esc_phase { ESC_PHASE_OK = 0, ESC_PHASE_FAILING, ESC_PHASE_OPEN };
const char *esc_phase_str(enum esc_phase p);

#define ESC_REASON_MAX 64
#define ESC_STEP_MAX 128

struct esc_transition {
    enum esc_kind kind;
    enum level level;             /* the incident's level after the transition */
    enum level prev_level;        /* LEVEL_NONE on opened */
    char incident_id[37];         /* UUID v4, the same for every transition of an incident */
    char event_id[37];            /* UUID v4, fresh per transition: the idempotency key */
    int64_t at_us;                /* wall: when it happened (now_us + the wall offset) */
    int64_t opened_at_us;         /* wall: when the incident opened */
    int64_t failing_since_us;     /* wall: when the failing streak leading to it began */
    enum bucket bucket;           /* of the latest failure */
    char reason[ESC_REASON_MAX];  /* of the latest failure */
    char correlation_id[37];      /* of the latest failing request ("" if none) */
    char step[ESC_STEP_MAX];      /* of the latest failing request ("" if none) */
    int consecutive_failures;
    double failure_ratio;         /* failed / all observations in the window, 0..1 */
    size_t window_observations;   /* how many the ratio is over */
    bool flapping;                /* opened soon after the previous resolution */
    /* Why a resolved incident ended: "recovered", or "probe_removed" /
     * "probe_changed" from esc_force_resolve(); NULL on other kinds. */
    const char *resolution;
    /* Actions to fire: the target rung's on opened/escalated, none otherwise.
     * Borrowed from the escalation the state was made from. */
    const struct ladder_rung *rung;
    size_t n_actions;
    char *const *actions;
};

struct esc_opts {
    tl_usec flap_window;          /* opened within this after a resolution = flapping; default 15 min */
    size_t max_observations;      /* ring size of the window; default 4096 */
    int min_ratio_observations;   /* a ratio needs this many in its window; default 3 */
};

struct esc_state;

/* esc (the probe's ladder) is borrowed: it must outlive the state, or be
 * swapped with esc_rebind() when the probe set is reloaded. opts may be NULL. */
int esc_new(const struct escalation *esc, const struct esc_opts *opts, struct esc_state **out);
void esc_free(struct esc_state *st);
/* Points the state at a reloaded, unchanged ladder; the incident carries on. */
void esc_rebind(struct esc_state *st, const struct escalation *esc);

/* The wall clock minus the monotonic clock now (tl_wall_us() - tl_mono_us()):
 * the integrator sets it before each call, so a step of the wall clock moves
 * only the timestamps. 0 until set (then wall and monotonic times coincide). */
void esc_set_wall_offset(struct esc_state *st, int64_t wall_minus_mono);
/* Reads both clocks (the only function here that does), sets the offset and
 * returns the monotonic now_us to pass to the next call. */
tl_usec esc_clock_now(struct esc_state *st);

/* Records one observation at now_us. Returns 1 and fills *out when a
 * transition happened, 0 when none, a negative TL_E* code on failure. */
int esc_observe(struct esc_state *st, const struct esc_obs *obs, int64_t now_us,
                struct esc_transition *out);
/* Re-notification of an open incident once `renotify` has passed since the
 * last notification. Same return convention. */
int esc_tick(struct esc_state *st, int64_t now_us, struct esc_transition *out);
/* Whether esc_tick can ever do anything for st as it is now: an open
 * incident under a policy that renotifies. */
bool esc_wants_tick(const struct esc_state *st);
/* While on, observations are still counted but nothing is emitted. Turning it
 * off re-evaluates the state at now_us (and may emit). Same return convention. */
int esc_set_maintenance(struct esc_state *st, bool on, int64_t now_us, struct esc_transition *out);

/* What an open incident needs to go on after a restart (incident_store.h). */
struct esc_snapshot {
    char incident_id[37];
    enum level level;
    int64_t opened_at_us;         /* wall */
    int64_t failing_since_us;     /* wall */
    int consecutive_failures;
    bool flapping;
    /* the latest failure: resolved events carry the labels it opened with */
    enum bucket bucket;
    char reason[ESC_REASON_MAX];
    char step[ESC_STEP_MAX];
    char correlation_id[37];
};

/* Fills *out and returns true when an incident is open. */
bool esc_snapshot(const struct esc_state *st, struct esc_snapshot *out);
/* Reopens a stored incident under its id; the probe's next runs carry it on
 * (resolve_successes successes resolve it). now_us starts its renotify clock. */
void esc_resume(struct esc_state *st, const struct esc_snapshot *snap, int64_t now_us);
/* A renotified transition of the open incident now (after a restart, so the
 * sinks hear of it at once). Same return convention; 0 when nothing is open
 * or in maintenance (which silences every notification). */
int esc_renotify_now(struct esc_state *st, int64_t now_us, struct esc_transition *out);
/* Resolves the open incident whatever the observations say (its probe was
 * removed or changed); why is a static string kept in out->resolution.
 * Same return convention as esc_observe(); 0 when nothing is open. */
int esc_force_resolve(struct esc_state *st, const char *why, int64_t now_us, struct esc_transition *out);

enum esc_phase esc_phase(const struct esc_state *st);
enum level esc_level(const struct esc_state *st);  /* LEVEL_NONE unless open */
bool esc_in_maintenance(const struct esc_state *st);

#endif
