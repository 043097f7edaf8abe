#include "agent/incident/escalation.h"
#include "base/time.h"
#include "base/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define ESC_DEFAULT_FLAP_WINDOW (15 * 60 * (tl_usec)1000000)
#define ESC_DEFAULT_MAX_OBS 4096
#define ESC_RING_INITIAL 8
#define ESC_DEFAULT_RATIO_WINDOW ((tl_usec)600 * 1000000)
#define ESC_DEFAULT_MIN_RATIO 3
#define ESC_DEFAULT_RESOLVE 2

/* One observation as the window keeps it. */
struct esc_rec {
    int64_t t;
    bool ok;
    bool breached;
};

struct esc_state {
    const struct escalation *esc;
    struct esc_opts opts;
    enum esc_phase phase;
    enum level level;
    bool maintenance;
    bool flapping;
    int consec_fail;
    int consec_ok;
    int64_t failing_since;        /* wall */
    int64_t opened_at;            /* wall */
    int64_t wall_off;             /* wall - monotonic, from esc_set_wall_offset */
    int64_t last_notify;
    bool ever_resolved;
    int64_t resolved_at;
    char incident_id[37];
    /* The latest failure, for the transition's evidence. */
    enum bucket bucket;
    char reason[ESC_REASON_MAX];
    char corr[37];
    char step[ESC_STEP_MAX];
    /* The window: a ring of the latest observations, oldest at head. It
     * grows to opts.max_observations as observations come, so an idle
     * probe does not hold the whole window's memory. */
    struct esc_rec *ring;
    size_t cap;
    size_t head;
    size_t n;
    tl_usec max_window;
};

const char *esc_kind_str(enum esc_kind k)
{
    switch (k) {
    case ESC_OPENED: return "opened";
    case ESC_ESCALATED: return "escalated";
    case ESC_RENOTIFIED: return "renotified";
    case ESC_RESOLVED: return "resolved";
    case ESC_NONE: break;
    }
    return "none";
}

const char *esc_phase_str(enum esc_phase p)
{
    switch (p) {
    case ESC_PHASE_FAILING: return "failing";
    case ESC_PHASE_OPEN: return "open";
    case ESC_PHASE_OK: break;
    }
    return "ok";
}

static void copy_capped(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static void compute_max_window(struct esc_state *st)
{
    st->max_window = 0;
    for (size_t i = 0; st->esc && i < st->esc->n_ladder; i++)
        if (st->esc->ladder[i].window > st->max_window)
            st->max_window = st->esc->ladder[i].window;
    /* Without a windowed rung the ratio in events covers the last 10
     * minutes: a busy probe must not keep 4,096 observations forever. */
    if (st->max_window <= 0)
        st->max_window = ESC_DEFAULT_RATIO_WINDOW;
}

int esc_new(const struct escalation *esc, const struct esc_opts *opts, struct esc_state **out)
{
    int rc = 0;
    struct esc_state *st = calloc(1, sizeof *st);
    if (!st) {
        rc = TL_ENOMEM;
        goto out;
    }
    st->esc = esc;
    if (opts)
        st->opts = *opts;
    if (st->opts.flap_window <= 0)
        st->opts.flap_window = ESC_DEFAULT_FLAP_WINDOW;
    if (st->opts.max_observations == 0)
        st->opts.max_observations = ESC_DEFAULT_MAX_OBS;
    if (st->opts.min_ratio_observations <= 0)
        st->opts.min_ratio_observations = ESC_DEFAULT_MIN_RATIO;
    st->cap = st->opts.max_observations < ESC_RING_INITIAL ? st->opts.max_observations : ESC_RING_INITIAL;
    st->ring = calloc(st->cap, sizeof *st->ring);
    if (!st->ring) {
        rc = TL_ENOMEM;
        goto out;
    }
    compute_max_window(st);
out:
    if (rc) {
        esc_free(st);
        st = NULL;
    }
    *out = st;
    return rc;
}

void esc_free(struct esc_state *st)
{
    if (!st)
        return;
    free(st->ring);
    free(st);
}

void esc_rebind(struct esc_state *st, const struct escalation *esc)
{
    st->esc = esc;
    compute_max_window(st);
}

enum esc_phase esc_phase(const struct esc_state *st) { return st->phase; }
enum level esc_level(const struct esc_state *st) { return st->phase == ESC_PHASE_OPEN ? st->level : LEVEL_NONE; }
bool esc_in_maintenance(const struct esc_state *st) { return st->maintenance; }

static const struct esc_rec *ring_at(const struct esc_state *st, size_t i)
{
    return &st->ring[(st->head + i) % st->cap];
}

/* Doubles the ring (up to max_observations), oldest first at index 0. When
 * memory is short the ring stays as it is and drops its oldest instead. */
static void ring_grow(struct esc_state *st)
{
    size_t cap = st->cap * 2 < st->opts.max_observations ? st->cap * 2 : st->opts.max_observations;
    struct esc_rec *r = malloc(cap * sizeof *r);
    if (!r)
        return;
    for (size_t i = 0; i < st->n; i++)
        r[i] = *ring_at(st, i);
    free(st->ring);
    st->ring = r;
    st->cap = cap;
    st->head = 0;
}

static void ring_push(struct esc_state *st, int64_t t, bool ok, bool breached)
{
    if (st->n == st->cap && st->cap < st->opts.max_observations)
        ring_grow(st);
    size_t cap = st->cap;
    size_t slot;
    if (st->n == cap) {
        /* Full: the oldest goes, which keeps memory bounded on any schedule. */
        slot = st->head;
        st->head = (st->head + 1) % cap;
    } else {
        slot = (st->head + st->n) % cap;
        st->n++;
    }
    st->ring[slot] = (struct esc_rec){ .t = t, .ok = ok, .breached = breached };
}

/* Drops what no rung's window (or the default ratio window) can see any more. */
static void ring_prune(struct esc_state *st, int64_t now)
{
    if (st->max_window <= 0)
        return;
    while (st->n > 0 && ring_at(st, 0)->t <= now - st->max_window) {
        st->head = (st->head + 1) % st->cap;
        st->n--;
    }
}

/* Counts observations in (now - window, now]; window 0 = all kept. */
static void window_counts(const struct esc_state *st, int64_t now, tl_usec window,
                          size_t *total, size_t *failed, size_t *breached)
{
    *total = *failed = *breached = 0;
    for (size_t i = st->n; i > 0; i--) {
        const struct esc_rec *r = ring_at(st, i - 1);
        if (window > 0 && r->t <= now - window)
            break;
        (*total)++;
        if (!r->ok)
            (*failed)++;
        if (r->breached)
            (*breached)++;
    }
}

/* A rung holds when any condition it sets holds; a rung with none never does. */
static bool rung_holds(const struct esc_state *st, const struct ladder_rung *r, int64_t now)
{
    if (r->consecutive_failures > 0 && st->consec_fail >= r->consecutive_failures)
        return true;
    size_t total, failed, breached;
    window_counts(st, now, r->window, &total, &failed, &breached);
    if (r->failure_ratio > 0 && total >= (size_t)st->opts.min_ratio_observations &&
        (double)failed >= r->failure_ratio * (double)total)
        return true;
    if (r->budget_breaches > 0 && breached >= (size_t)r->budget_breaches)
        return true;
    return false;
}

/* The highest level whose rung holds, and that rung. */
static enum level target_level(const struct esc_state *st, int64_t now, const struct ladder_rung **rung)
{
    enum level best = LEVEL_NONE;
    *rung = NULL;
    for (size_t i = 0; st->esc && i < st->esc->n_ladder; i++) {
        const struct ladder_rung *r = &st->esc->ladder[i];
        if (r->level > best && rung_holds(st, r, now)) {
            best = r->level;
            *rung = r;
        }
    }
    return best;
}

static int resolve_successes(const struct esc_state *st)
{
    return st->esc && st->esc->resolve_successes > 0 ? st->esc->resolve_successes : ESC_DEFAULT_RESOLVE;
}

/* The latest failure, for a transition or a snapshot. */
static void latest_failure(const struct esc_state *st, enum bucket *bucket, char reason[ESC_REASON_MAX],
                           char corr[37], char step[ESC_STEP_MAX])
{
    *bucket = st->bucket;
    memcpy(reason, st->reason, ESC_REASON_MAX);
    memcpy(corr, st->corr, 37);
    memcpy(step, st->step, ESC_STEP_MAX);
}

static int emit(struct esc_state *st, enum esc_kind kind, enum level prev, const struct ladder_rung *rung,
                int64_t now, struct esc_transition *out)
{
    int rc = uuid_v4(out->event_id);
    if (rc)
        return rc;
    out->kind = kind;
    out->level = st->level;
    out->prev_level = prev;
    memcpy(out->incident_id, st->incident_id, sizeof out->incident_id);
    out->at_us = now + st->wall_off;
    out->opened_at_us = st->opened_at;
    out->failing_since_us = st->failing_since;
    latest_failure(st, &out->bucket, out->reason, out->correlation_id, out->step);
    out->consecutive_failures = st->consec_fail;
    size_t total, failed, breached;
    window_counts(st, now, st->max_window, &total, &failed, &breached);
    out->window_observations = total;
    out->failure_ratio = total ? (double)failed / (double)total : 0.0;
    out->flapping = st->flapping;
    out->resolution = kind == ESC_RESOLVED ? "recovered" : NULL;
    out->rung = rung;
    out->n_actions = rung ? rung->n_actions : 0;
    out->actions = rung ? rung->actions : NULL;
    st->last_notify = now;
    return 1;
}

static int resolve(struct esc_state *st, int64_t now, struct esc_transition *out)
{
    int rc = emit(st, ESC_RESOLVED, st->level, NULL, now, out);
    if (rc < 0)
        return rc;
    st->phase = ESC_PHASE_OK;
    st->level = LEVEL_NONE;
    st->ever_resolved = true;
    st->resolved_at = now;
    /* Flap damping: the next incident must earn its full condition
     * from observations made after this resolution. */
    st->n = 0;
    st->head = 0;
    return rc;
}

/* Decides what the counters now mean. Called after every observation and
 * when maintenance ends; never while in maintenance. */
static int evaluate(struct esc_state *st, int64_t now, struct esc_transition *out)
{
    const struct ladder_rung *rung;
    if (st->phase == ESC_PHASE_OPEN) {
        if (st->consec_ok >= resolve_successes(st))
            return resolve(st, now, out);
        if (st->consec_fail == 0)
            return 0;
        enum level target = target_level(st, now, &rung);
        if (target <= st->level)
            return 0;
        enum level prev = st->level;
        st->level = target;
        return emit(st, ESC_ESCALATED, prev, rung, now, out);
    }
    if (st->consec_fail == 0) {
        /* A transient failure is forgotten once the probe is healthy again. */
        if (st->phase == ESC_PHASE_FAILING && st->consec_ok >= resolve_successes(st))
            st->phase = ESC_PHASE_OK;
        return 0;
    }
    enum level target = target_level(st, now, &rung);
    if (target == LEVEL_NONE)
        return 0;
    int rc = uuid_v4(st->incident_id);
    if (rc)
        return rc;
    st->phase = ESC_PHASE_OPEN;
    st->level = target;
    st->opened_at = now + st->wall_off;
    st->flapping = st->ever_resolved && now - st->resolved_at <= st->opts.flap_window;
    return emit(st, ESC_OPENED, LEVEL_NONE, rung, now, out);
}

int esc_observe(struct esc_state *st, const struct esc_obs *obs, int64_t now_us,
                struct esc_transition *out)
{
    ring_prune(st, now_us);
    ring_push(st, now_us, obs->ok, obs->budget_breached);
    if (obs->ok) {
        st->consec_fail = 0;
        st->consec_ok++;
    } else {
        st->consec_ok = 0;
        st->consec_fail++;
        if (st->phase == ESC_PHASE_OK) {
            st->phase = ESC_PHASE_FAILING;
            st->failing_since = now_us + st->wall_off;
        }
        st->bucket = obs->bucket;
        copy_capped(st->reason, sizeof st->reason, obs->reason);
        copy_capped(st->corr, sizeof st->corr, obs->correlation_id);
        copy_capped(st->step, sizeof st->step, obs->step);
    }
    if (st->maintenance)
        return 0;
    return evaluate(st, now_us, out);
}

bool esc_wants_tick(const struct esc_state *st)
{
    return st->phase == ESC_PHASE_OPEN && st->esc && st->esc->renotify > 0;
}

int esc_tick(struct esc_state *st, int64_t now_us, struct esc_transition *out)
{
    if (st->maintenance || st->phase != ESC_PHASE_OPEN || !st->esc || st->esc->renotify <= 0)
        return 0;
    if (now_us - st->last_notify < st->esc->renotify)
        return 0;
    ring_prune(st, now_us);
    return emit(st, ESC_RENOTIFIED, st->level, NULL, now_us, out);
}

int esc_set_maintenance(struct esc_state *st, bool on, int64_t now_us, struct esc_transition *out)
{
    bool was = st->maintenance;
    st->maintenance = on;
    if (on || !was)
        return 0;
    ring_prune(st, now_us);
    return evaluate(st, now_us, out);
}

bool esc_snapshot(const struct esc_state *st, struct esc_snapshot *out)
{
    if (st->phase != ESC_PHASE_OPEN)
        return false;
    memcpy(out->incident_id, st->incident_id, sizeof out->incident_id);
    out->level = st->level;
    out->opened_at_us = st->opened_at;
    out->failing_since_us = st->failing_since;
    out->consecutive_failures = st->consec_fail;
    out->flapping = st->flapping;
    latest_failure(st, &out->bucket, out->reason, out->correlation_id, out->step);
    return true;
}

void esc_resume(struct esc_state *st, const struct esc_snapshot *snap, int64_t now_us)
{
    memcpy(st->incident_id, snap->incident_id, sizeof st->incident_id);
    st->incident_id[sizeof st->incident_id - 1] = '\0';
    st->phase = ESC_PHASE_OPEN;
    st->level = snap->level;
    st->opened_at = snap->opened_at_us;
    st->failing_since = snap->failing_since_us;
    st->consec_fail = snap->consecutive_failures;
    st->consec_ok = 0;
    st->flapping = snap->flapping;
    st->bucket = snap->bucket;
    copy_capped(st->reason, sizeof st->reason, snap->reason);
    copy_capped(st->step, sizeof st->step, snap->step);
    copy_capped(st->corr, sizeof st->corr, snap->correlation_id);
    /* The restart does not renotify at once: the last notice was before it. */
    st->last_notify = now_us;
}

int esc_force_resolve(struct esc_state *st, const char *why, int64_t now_us, struct esc_transition *out)
{
    if (st->phase != ESC_PHASE_OPEN)
        return 0;
    int rc = resolve(st, now_us, out);
    if (rc == 1)
        out->resolution = why;
    return rc;
}

void esc_set_wall_offset(struct esc_state *st, int64_t wall_minus_mono)
{
    st->wall_off = wall_minus_mono;
}

tl_usec esc_clock_now(struct esc_state *st)
{
    tl_usec mono = tl_mono_us();
    st->wall_off = tl_wall_us() - mono;
    return mono;
}

int esc_renotify_now(struct esc_state *st, int64_t now_us, struct esc_transition *out)
{
    if (st->phase != ESC_PHASE_OPEN || st->maintenance)
        return 0;
    return emit(st, ESC_RENOTIFIED, st->level, NULL, now_us, out);
}
