/* The incident state machine, path by path, with a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/incident/escalation.h"

#define SEC ((int64_t)1000000)

static char *warn_actions[] = { "slack" };
static char *crit_actions[] = { "page", "failover" };

/* warning: 2 consecutive failures; critical: 60% failed over 5 minutes. */
static struct ladder_rung ladder_wc[] = {
    { .level = LEVEL_WARNING, .consecutive_failures = 2, .n_actions = 1, .actions = warn_actions },
    { .level = LEVEL_CRITICAL, .failure_ratio = 0.6, .window = 300 * SEC, .n_actions = 2, .actions = crit_actions },
};

static struct escalation esc_wc = {
    .n_ladder = 2, .ladder = ladder_wc, .resolve_successes = 2, .renotify = 60 * SEC,
};

static const struct esc_obs OK = { .ok = true };
static const struct esc_obs FAIL = {
    .ok = false, .bucket = BUCKET_UPSTREAM, .reason = "timeout",
    .correlation_id = "0b7c6a55-0d7e-4b8e-9d36-2f3c1b9e7a10", .step = "checkout",
};

static struct esc_state *mk(const struct escalation *esc, const struct esc_opts *opts)
{
    struct esc_state *st = NULL;
    assert_int_equal(esc_new(esc, opts, &st), 0);
    assert_non_null(st);
    return st;
}

/* Feeds one observation and returns the transition kind (ESC_NONE if none). */
static enum esc_kind feed(struct esc_state *st, const struct esc_obs *o, int64_t t, struct esc_transition *tr)
{
    memset(tr, 0, sizeof *tr);
    int rc = esc_observe(st, o, t, tr);
    assert_true(rc == 0 || rc == 1);
    return rc == 1 ? tr->kind : ESC_NONE;
}

static void assert_uuid4(const char *s)
{
    assert_int_equal(strlen(s), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(s[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", s[i]));
    }
    assert_int_equal(s[14], '4');
    assert_non_null(strchr("89ab", s[19]));
}

static void transient_failure_not_escalated(void **state)
{
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    assert_int_equal(feed(st, &OK, 0, &tr), ESC_NONE);
    assert_int_equal(feed(st, &FAIL, 10 * SEC, &tr), ESC_NONE);
    assert_int_equal(esc_phase(st), ESC_PHASE_FAILING);
    assert_int_equal(esc_level(st), LEVEL_NONE);
    assert_int_equal(feed(st, &OK, 20 * SEC, &tr), ESC_NONE);
    assert_int_equal(esc_phase(st), ESC_PHASE_FAILING);
    assert_int_equal(feed(st, &OK, 30 * SEC, &tr), ESC_NONE);
    assert_int_equal(esc_phase(st), ESC_PHASE_OK);
    /* A lone failure again: the streak starts over, still nothing. */
    assert_int_equal(feed(st, &FAIL, 40 * SEC, &tr), ESC_NONE);
    assert_int_equal(feed(st, &OK, 50 * SEC, &tr), ESC_NONE);
    esc_free(st);
}

static void consecutive_failures_open_warning(void **state)
{
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    for (int i = 0; i < 5; i++)
        assert_int_equal(feed(st, &OK, i * 10 * SEC, &tr), ESC_NONE);
    assert_int_equal(feed(st, &FAIL, 50 * SEC, &tr), ESC_NONE);
    assert_int_equal(feed(st, &FAIL, 60 * SEC, &tr), ESC_OPENED);
    assert_int_equal(tr.level, LEVEL_WARNING);
    assert_int_equal(tr.prev_level, LEVEL_NONE);
    assert_int_equal(tr.consecutive_failures, 2);
    assert_int_equal(tr.bucket, BUCKET_UPSTREAM);
    assert_string_equal(tr.reason, "timeout");
    assert_string_equal(tr.step, "checkout");
    assert_string_equal(tr.correlation_id, FAIL.correlation_id);
    assert_int_equal(tr.failing_since_us, 50 * SEC);
    assert_int_equal(tr.opened_at_us, 60 * SEC);
    assert_int_equal(tr.at_us, 60 * SEC);
    assert_int_equal(tr.window_observations, 7);
    assert_true(tr.failure_ratio > 2.0 / 7 - 1e-9 && tr.failure_ratio < 2.0 / 7 + 1e-9);
    assert_false(tr.flapping);
    assert_int_equal(tr.n_actions, 1);
    assert_string_equal(tr.actions[0], "slack");
    assert_uuid4(tr.incident_id);
    assert_uuid4(tr.event_id);
    assert_int_equal(esc_phase(st), ESC_PHASE_OPEN);
    assert_int_equal(esc_level(st), LEVEL_WARNING);
    /* Still failing at the same level: no new transition. */
    assert_int_equal(feed(st, &FAIL, 70 * SEC, &tr), ESC_NONE);
    esc_free(st);
}

static void ratio_escalates_to_critical_never_lowered(void **state)
{
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    int64_t t = 0;
    for (int i = 0; i < 4; i++, t += 10 * SEC)
        assert_int_equal(feed(st, &OK, t, &tr), ESC_NONE);
    assert_int_equal(feed(st, &FAIL, t, &tr), ESC_NONE);
    t += 10 * SEC;
    assert_int_equal(feed(st, &FAIL, t, &tr), ESC_OPENED); /* 2/6 failed */
    char incident[37];
    memcpy(incident, tr.incident_id, sizeof incident);
    t += 10 * SEC;
    /* 3/7, 4/8, 5/9 stay under 60%; 6/10 reaches it. */
    for (int i = 0; i < 3; i++, t += 10 * SEC)
        assert_int_equal(feed(st, &FAIL, t, &tr), ESC_NONE);
    assert_int_equal(feed(st, &FAIL, t, &tr), ESC_ESCALATED);
    assert_int_equal(tr.level, LEVEL_CRITICAL);
    assert_int_equal(tr.prev_level, LEVEL_WARNING);
    assert_string_equal(tr.incident_id, incident);
    assert_int_equal(tr.consecutive_failures, 6);
    assert_true(tr.failure_ratio > 0.6 - 1e-9 && tr.failure_ratio < 0.6 + 1e-9);
    assert_int_equal(tr.n_actions, 2);
    assert_string_equal(tr.actions[0], "page");
    assert_string_equal(tr.actions[1], "failover");
    assert_int_equal(tr.opened_at_us, 50 * SEC);
    /* The ratio falls with a success, then a failure: the level stays critical. */
    t += 10 * SEC;
    assert_int_equal(feed(st, &OK, t, &tr), ESC_NONE);
    t += 10 * SEC;
    assert_int_equal(feed(st, &FAIL, t, &tr), ESC_NONE);
    assert_int_equal(esc_level(st), LEVEL_CRITICAL);
    esc_free(st);
}

static void resolves_after_n_successes(void **state)
{
    struct escalation warn_only = esc_wc;
    warn_only.n_ladder = 1;
    struct esc_state *st = mk(&warn_only, NULL);
    struct esc_transition tr;
    feed(st, &FAIL, 0, &tr);
    assert_int_equal(feed(st, &FAIL, 10 * SEC, &tr), ESC_OPENED);
    char incident[37];
    memcpy(incident, tr.incident_id, sizeof incident);
    assert_int_equal(feed(st, &OK, 20 * SEC, &tr), ESC_NONE);
    /* A failure in between restarts the count. */
    assert_int_equal(feed(st, &FAIL, 30 * SEC, &tr), ESC_NONE);
    assert_int_equal(feed(st, &OK, 40 * SEC, &tr), ESC_NONE);
    assert_int_equal(esc_phase(st), ESC_PHASE_OPEN);
    assert_int_equal(feed(st, &OK, 50 * SEC, &tr), ESC_RESOLVED);
    assert_int_equal(tr.prev_level, LEVEL_WARNING);
    assert_string_equal(tr.incident_id, incident);
    assert_int_equal(tr.opened_at_us, 10 * SEC);
    assert_int_equal(tr.failing_since_us, 0);
    assert_int_equal(tr.consecutive_failures, 0);
    assert_string_equal(tr.reason, "timeout");
    assert_int_equal(tr.n_actions, 0);
    assert_int_equal(esc_phase(st), ESC_PHASE_OK);
    assert_int_equal(esc_level(st), LEVEL_NONE);
    assert_int_equal(feed(st, &OK, 60 * SEC, &tr), ESC_NONE);
    esc_free(st);
}

static void renotify_timing(void **state)
{
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    /* Nothing open: tick never emits. */
    assert_int_equal(esc_tick(st, 1000 * SEC, &tr), 0);
    feed(st, &FAIL, 0, &tr);
    assert_int_equal(feed(st, &FAIL, 10 * SEC, &tr), ESC_OPENED);
    char incident[37], first_event[37];
    memcpy(incident, tr.incident_id, sizeof incident);
    memcpy(first_event, tr.event_id, sizeof first_event);
    assert_int_equal(esc_tick(st, 69 * SEC, &tr), 0);
    memset(&tr, 0, sizeof tr);
    assert_int_equal(esc_tick(st, 70 * SEC, &tr), 1);
    assert_int_equal(tr.kind, ESC_RENOTIFIED);
    assert_int_equal(tr.level, LEVEL_WARNING);
    assert_int_equal(tr.prev_level, LEVEL_WARNING);
    assert_string_equal(tr.incident_id, incident);
    assert_string_not_equal(tr.event_id, first_event);
    assert_int_equal(tr.n_actions, 0);
    assert_int_equal(esc_tick(st, 100 * SEC, &tr), 0);
    assert_int_equal(esc_tick(st, 130 * SEC, &tr), 1);
    /* After resolution the re-notification stops. */
    feed(st, &OK, 140 * SEC, &tr);
    assert_int_equal(feed(st, &OK, 150 * SEC, &tr), ESC_RESOLVED);
    assert_int_equal(esc_tick(st, 1000 * SEC, &tr), 0);
    esc_free(st);
}

/* The machine runs on the monotonic clock: wall clock steps (an NTP jump, an
 * operator's date) move the timestamps of transitions, never renotify or the
 * windows. */
static void wall_clock_steps_move_only_timestamps(void **state)
{
    const int64_t wall = 1800000000 * SEC, hour = 3600 * SEC;
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    esc_set_wall_offset(st, wall);
    feed(st, &FAIL, 0, &tr);
    assert_int_equal(feed(st, &FAIL, 10 * SEC, &tr), ESC_OPENED);
    assert_true(tr.at_us == wall + 10 * SEC);
    assert_true(tr.opened_at_us == wall + 10 * SEC);
    assert_true(tr.failing_since_us == wall);
    /* An hour backwards: renotify still comes 60 s after the last notice. */
    esc_set_wall_offset(st, wall - hour);
    assert_int_equal(esc_tick(st, 69 * SEC, &tr), 0);
    assert_int_equal(esc_tick(st, 70 * SEC, &tr), 1);
    assert_int_equal(tr.kind, ESC_RENOTIFIED);
    assert_true(tr.at_us == wall - hour + 70 * SEC);
    assert_true(tr.opened_at_us == wall + 10 * SEC);
    /* An hour forwards: the 5-minute window still holds all three failures. */
    esc_set_wall_offset(st, wall + hour);
    assert_int_equal(feed(st, &FAIL, 80 * SEC, &tr), ESC_ESCALATED);
    assert_int_equal(tr.level, LEVEL_CRITICAL);
    assert_int_equal(tr.window_observations, 3);
    assert_true(tr.at_us == wall + hour + 80 * SEC);
    esc_free(st);
}

static void renotify_never_when_zero(void **state)
{
    struct escalation esc = esc_wc;
    esc.renotify = 0;
    struct esc_state *st = mk(&esc, NULL);
    struct esc_transition tr;
    feed(st, &FAIL, 0, &tr);
    assert_int_equal(feed(st, &FAIL, 10 * SEC, &tr), ESC_OPENED);
    assert_int_equal(esc_tick(st, 100000 * SEC, &tr), 0);
    esc_free(st);
}

static void maintenance_silences_then_reevaluates(void **state)
{
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    assert_int_equal(esc_set_maintenance(st, true, 0, &tr), 0);
    assert_true(esc_in_maintenance(st));
    for (int i = 0; i < 5; i++)
        assert_int_equal(feed(st, &FAIL, i * 10 * SEC, &tr), ESC_NONE);
    assert_int_equal(esc_phase(st), ESC_PHASE_FAILING);
    assert_int_equal(esc_tick(st, 1000 * SEC, &tr), 0);
    /* Measurement went on: leaving maintenance opens straight at critical. */
    memset(&tr, 0, sizeof tr);
    assert_int_equal(esc_set_maintenance(st, false, 50 * SEC, &tr), 1);
    assert_int_equal(tr.kind, ESC_OPENED);
    assert_int_equal(tr.level, LEVEL_CRITICAL);
    assert_int_equal(tr.consecutive_failures, 5);
    assert_int_equal(tr.failing_since_us, 0);

    /* A resolution that happens during maintenance is announced after it. */
    assert_int_equal(esc_set_maintenance(st, true, 60 * SEC, &tr), 0);
    assert_int_equal(feed(st, &OK, 70 * SEC, &tr), ESC_NONE);
    assert_int_equal(feed(st, &OK, 80 * SEC, &tr), ESC_NONE);
    assert_int_equal(esc_phase(st), ESC_PHASE_OPEN);
    memset(&tr, 0, sizeof tr);
    assert_int_equal(esc_set_maintenance(st, false, 90 * SEC, &tr), 1);
    assert_int_equal(tr.kind, ESC_RESOLVED);
    assert_int_equal(esc_phase(st), ESC_PHASE_OK);
    /* Leaving maintenance twice does nothing more. */
    assert_int_equal(esc_set_maintenance(st, false, 95 * SEC, &tr), 0);
    esc_free(st);
}

static void maintenance_ends_healthy_emits_nothing(void **state)
{
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    esc_set_maintenance(st, true, 0, &tr);
    feed(st, &FAIL, 10 * SEC, &tr);
    feed(st, &FAIL, 20 * SEC, &tr);
    feed(st, &OK, 30 * SEC, &tr);
    assert_int_equal(esc_set_maintenance(st, false, 40 * SEC, &tr), 0);
    assert_int_equal(esc_phase(st), ESC_PHASE_FAILING);
    esc_free(st);
}

/* A restart resumes an incident and renotifies it at once, but not inside
 * a maintenance window: that would page from a silenced probe. */
static void renotify_now_silent_in_maintenance(void **state)
{
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    (void)state;
    feed(st, &FAIL, 0, &tr);
    assert_int_equal(feed(st, &FAIL, 10 * SEC, &tr), ESC_OPENED);
    struct esc_snapshot snap;
    assert_true(esc_snapshot(st, &snap));
    esc_free(st);

    st = mk(&esc_wc, NULL);
    esc_resume(st, &snap, 20 * SEC);
    assert_int_equal(esc_set_maintenance(st, true, 20 * SEC, &tr), 0);
    assert_int_equal(esc_renotify_now(st, 20 * SEC, &tr), 0);
    assert_int_equal(esc_set_maintenance(st, false, 30 * SEC, &tr), 0);
    memset(&tr, 0, sizeof tr);
    assert_int_equal(esc_renotify_now(st, 30 * SEC, &tr), 1);
    assert_int_equal(tr.kind, ESC_RENOTIFIED);
    assert_string_equal(tr.incident_id, snap.incident_id);
    esc_free(st);
}

static void flapping_marked_and_damped(void **state)
{
    struct esc_opts opts = { .flap_window = 600 * SEC };
    struct esc_state *st = mk(&esc_wc, &opts);
    struct esc_transition tr;
    feed(st, &FAIL, 0, &tr);
    assert_int_equal(feed(st, &FAIL, 10 * SEC, &tr), ESC_OPENED);
    assert_false(tr.flapping);
    char first[37];
    memcpy(first, tr.incident_id, sizeof first);
    feed(st, &OK, 20 * SEC, &tr);
    assert_int_equal(feed(st, &OK, 30 * SEC, &tr), ESC_RESOLVED);
    /* One failure after a resolution is not an incident... */
    assert_int_equal(feed(st, &FAIL, 40 * SEC, &tr), ESC_NONE);
    /* ...the rung's full condition is, and it is marked flapping. */
    assert_int_equal(feed(st, &FAIL, 50 * SEC, &tr), ESC_OPENED);
    assert_true(tr.flapping);
    assert_string_not_equal(tr.incident_id, first);
    assert_int_equal(tr.failing_since_us, 40 * SEC);
    feed(st, &OK, 60 * SEC, &tr);
    assert_int_equal(feed(st, &OK, 70 * SEC, &tr), ESC_RESOLVED);
    assert_true(tr.flapping);
    /* Long after the flap window: a normal incident again. */
    feed(st, &FAIL, 1000 * SEC, &tr);
    assert_int_equal(feed(st, &FAIL, 1010 * SEC, &tr), ESC_OPENED);
    assert_false(tr.flapping);
    esc_free(st);
}

static void ratio_needs_fresh_window_after_resolution(void **state)
{
    /* Only a ratio rung: without clearing the window at resolution, the old
     * failures would reopen the incident on the first new failure. */
    struct ladder_rung rung = { .level = LEVEL_WARNING, .failure_ratio = 0.5, .window = 3600 * SEC };
    struct escalation esc = { .n_ladder = 1, .ladder = &rung, .resolve_successes = 2 };
    struct esc_state *st = mk(&esc, NULL);
    struct esc_transition tr;
    feed(st, &FAIL, 0, &tr);
    feed(st, &FAIL, 10 * SEC, &tr);
    assert_int_equal(feed(st, &FAIL, 20 * SEC, &tr), ESC_OPENED);
    feed(st, &OK, 30 * SEC, &tr);
    assert_int_equal(feed(st, &OK, 40 * SEC, &tr), ESC_RESOLVED);
    assert_int_equal(feed(st, &FAIL, 50 * SEC, &tr), ESC_NONE);
    assert_int_equal(feed(st, &OK, 60 * SEC, &tr), ESC_NONE);
    assert_int_equal(feed(st, &FAIL, 70 * SEC, &tr), ESC_OPENED); /* 2 of 3 */
    assert_int_equal(tr.window_observations, 3);
    esc_free(st);
}

static void ratio_window_expires_old_observations(void **state)
{
    struct ladder_rung rung = { .level = LEVEL_NOTICE, .failure_ratio = 0.5, .window = 60 * SEC };
    struct escalation esc = { .n_ladder = 1, .ladder = &rung };
    struct esc_state *st = mk(&esc, NULL);
    struct esc_transition tr;
    assert_int_equal(feed(st, &FAIL, 0, &tr), ESC_NONE);        /* 1 observation: too few */
    assert_int_equal(feed(st, &FAIL, 10 * SEC, &tr), ESC_NONE); /* 2: too few */
    assert_int_equal(feed(st, &OK, 100 * SEC, &tr), ESC_NONE);
    /* Without expiry this would be 3 of 4; in the window it is 1 of 2. */
    assert_int_equal(feed(st, &FAIL, 110 * SEC, &tr), ESC_NONE);
    assert_int_equal(feed(st, &FAIL, 120 * SEC, &tr), ESC_OPENED);
    assert_int_equal(tr.level, LEVEL_NOTICE);
    assert_int_equal(tr.window_observations, 3);
    esc_free(st);
}

static void budget_breaches_over_window(void **state)
{
    struct ladder_rung rung = { .level = LEVEL_NOTICE, .budget_breaches = 2, .window = 60 * SEC };
    struct escalation esc = { .n_ladder = 1, .ladder = &rung };
    struct esc_state *st = mk(&esc, NULL);
    struct esc_transition tr;
    struct esc_obs slow = { .ok = false, .bucket = BUCKET_BUDGET, .reason = "ttfb", .budget_breached = true };
    assert_int_equal(feed(st, &slow, 0, &tr), ESC_NONE);
    assert_int_equal(feed(st, &OK, 30 * SEC, &tr), ESC_NONE);
    /* The first breach has left the window. */
    assert_int_equal(feed(st, &slow, 70 * SEC, &tr), ESC_NONE);
    assert_int_equal(feed(st, &slow, 80 * SEC, &tr), ESC_OPENED);
    assert_int_equal(tr.bucket, BUCKET_BUDGET);
    assert_string_equal(tr.reason, "ttfb");
    esc_free(st);
}

static void ids_unique_incident_stable(void **state)
{
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    char events[8][37];
    int n = 0;
    int64_t t = 0;
    feed(st, &FAIL, t, &tr);
    t += 10 * SEC;
    assert_int_equal(feed(st, &FAIL, t, &tr), ESC_OPENED);
    char incident[37];
    memcpy(incident, tr.incident_id, sizeof incident);
    memcpy(events[n++], tr.event_id, 37);
    enum esc_kind k = ESC_NONE;
    while (k != ESC_ESCALATED) {
        t += 10 * SEC;
        assert_true(t < 1000 * SEC);
        k = feed(st, &FAIL, t, &tr);
    }
    assert_string_equal(tr.incident_id, incident);
    memcpy(events[n++], tr.event_id, 37);
    assert_int_equal(esc_tick(st, t + 60 * SEC, &tr), 1);
    assert_string_equal(tr.incident_id, incident);
    memcpy(events[n++], tr.event_id, 37);
    feed(st, &OK, t + 70 * SEC, &tr);
    assert_int_equal(feed(st, &OK, t + 80 * SEC, &tr), ESC_RESOLVED);
    assert_string_equal(tr.incident_id, incident);
    memcpy(events[n++], tr.event_id, 37);
    for (int i = 0; i < n; i++) {
        assert_uuid4(events[i]);
        assert_string_not_equal(events[i], incident);
        for (int j = i + 1; j < n; j++)
            assert_string_not_equal(events[i], events[j]);
    }
    esc_free(st);
}

static void window_memory_is_bounded(void **state)
{
    struct esc_opts opts = { .max_observations = 8 };
    struct ladder_rung rung = { .level = LEVEL_WARNING, .failure_ratio = 0.9, .window = 100000 * SEC };
    struct escalation esc = { .n_ladder = 1, .ladder = &rung };
    struct esc_state *st = mk(&esc, &opts);
    struct esc_transition tr;
    int64_t t = 0;
    for (int i = 0; i < 100; i++, t += SEC)
        assert_int_equal(feed(st, &OK, t, &tr), ESC_NONE);
    /* Only the last 8 count: 7 failures make 7/8 < 0.9, the 8th makes 8/8. */
    for (int i = 0; i < 7; i++, t += SEC)
        assert_int_equal(feed(st, &FAIL, t, &tr), ESC_NONE);
    assert_int_equal(feed(st, &FAIL, t, &tr), ESC_OPENED);
    assert_int_equal(tr.window_observations, 8);
    esc_free(st);
}

static void rebind_keeps_incident(void **state)
{
    struct esc_state *st = mk(&esc_wc, NULL);
    struct esc_transition tr;
    feed(st, &FAIL, 0, &tr);
    assert_int_equal(feed(st, &FAIL, 10 * SEC, &tr), ESC_OPENED);
    char incident[37];
    memcpy(incident, tr.incident_id, sizeof incident);
    struct escalation copy = esc_wc;
    esc_rebind(st, &copy);
    assert_int_equal(esc_level(st), LEVEL_WARNING);
    feed(st, &OK, 20 * SEC, &tr);
    assert_int_equal(feed(st, &OK, 30 * SEC, &tr), ESC_RESOLVED);
    assert_string_equal(tr.incident_id, incident);
    esc_free(st);
}

static void names(void **state)
{
    assert_string_equal(esc_kind_str(ESC_OPENED), "opened");
    assert_string_equal(esc_kind_str(ESC_ESCALATED), "escalated");
    assert_string_equal(esc_kind_str(ESC_RENOTIFIED), "renotified");
    assert_string_equal(esc_kind_str(ESC_RESOLVED), "resolved");
    assert_string_equal(esc_phase_str(ESC_PHASE_FAILING), "failing");
    esc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transient_failure_not_escalated),
        cmocka_unit_test(consecutive_failures_open_warning),
        cmocka_unit_test(renotify_now_silent_in_maintenance),
        cmocka_unit_test(ratio_escalates_to_critical_never_lowered),
        cmocka_unit_test(resolves_after_n_successes),
        cmocka_unit_test(renotify_timing),
        cmocka_unit_test(wall_clock_steps_move_only_timestamps),
        cmocka_unit_test(renotify_never_when_zero),
        cmocka_unit_test(maintenance_silences_then_reevaluates),
        cmocka_unit_test(maintenance_ends_healthy_emits_nothing),
        cmocka_unit_test(flapping_marked_and_damped),
        cmocka_unit_test(ratio_needs_fresh_window_after_resolution),
        cmocka_unit_test(ratio_window_expires_old_observations),
        cmocka_unit_test(budget_breaches_over_window),
        cmocka_unit_test(ids_unique_incident_stable),
        cmocka_unit_test(window_memory_is_bounded),
        cmocka_unit_test(rebind_keeps_incident),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
