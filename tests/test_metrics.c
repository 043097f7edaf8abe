/* Tests of agent/endpoint/metrics.c: exact text exposition for a small registry,
 * naming rules, series handles and removal, and promtool's verdict on a
 * rendered sample (the format Prometheus itself parses). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/endpoint/metrics.h"
#include "agent/endpoint/metrics_int.h"

static char *render(const struct metrics *m)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(metrics_render(m, &b), 0);
    return buf_take(&b);
}

static void test_render_exact(void **state)
{
    struct metrics *m = metrics_new();
    assert_non_null(m);
    const char *runs_l[] = {"probe", "region", "result"};
    struct metric_family *runs = metrics_counter(m, "tripline_probe_runs_total",
                                                 "Probe runs by result.", runs_l, 3);
    const char *inflight_help = "Runs in flight \\ now.\nSecond line.";
    struct metric_family *inflight = metrics_gauge(m, "tripline_runs_in_flight", inflight_help,
                                                   NULL, 0);
    const char *dur_l[] = {"probe"};
    const double bounds[] = {0.005, 0.1, 1};
    struct metric_family *dur = metrics_histogram(m, "tripline_probe_duration_seconds",
                                                  "Journey duration.", dur_l, 1, bounds, 3);
    assert_non_null(runs);
    assert_non_null(inflight);
    assert_non_null(dur);

    const char *ok[] = {"checkout", "eu-west", "success"};
    const char *odd[] = {"we\"ird\\pro\nbe", "eu-west", "failure"};
    struct metric *s_ok = metrics_series(runs, ok);
    struct metric *s_odd = metrics_series(runs, odd);
    metric_inc(s_ok);
    metric_inc(s_ok);
    metric_add(s_ok, 0.5);
    metric_add(s_ok, -10); /* a counter never goes down */
    metric_inc(s_odd);
    struct metric *g = metrics_series(inflight, NULL);
    metric_set(g, 7);
    metric_add(g, -2);
    const char *co[] = {"checkout"};
    struct metric *h = metrics_series(dur, co);
    metric_observe(h, 0.005); /* on a bound: counted in that bucket (le) */
    metric_observe(h, 0.05);
    metric_observe(h, 0.25);
    metric_observe(h, 3);
    metric_observe(h, NAN); /* ignored */

    char *text = render(m);
    const char *want =
        "# HELP tripline_probe_runs_total Probe runs by result.\n"
        "# TYPE tripline_probe_runs_total counter\n"
        "tripline_probe_runs_total{probe=\"checkout\",region=\"eu-west\",result=\"success\"} 2.5\n"
        "tripline_probe_runs_total{probe=\"we\\\"ird\\\\pro\\nbe\",region=\"eu-west\","
        "result=\"failure\"} 1\n"
        "# HELP tripline_runs_in_flight Runs in flight \\\\ now.\\nSecond line.\n"
        "# TYPE tripline_runs_in_flight gauge\n"
        "tripline_runs_in_flight 5\n"
        "# HELP tripline_probe_duration_seconds Journey duration.\n"
        "# TYPE tripline_probe_duration_seconds histogram\n"
        "tripline_probe_duration_seconds_bucket{probe=\"checkout\",le=\"0.005\"} 1\n"
        "tripline_probe_duration_seconds_bucket{probe=\"checkout\",le=\"0.1\"} 2\n"
        "tripline_probe_duration_seconds_bucket{probe=\"checkout\",le=\"1\"} 3\n"
        "tripline_probe_duration_seconds_bucket{probe=\"checkout\",le=\"+Inf\"} 4\n"
        "tripline_probe_duration_seconds_sum{probe=\"checkout\"} 3.305\n"
        "tripline_probe_duration_seconds_count{probe=\"checkout\"} 4\n";
    assert_string_equal(text, want);
    free(text);
    assert_int_equal(metric_count(h), 4);
    metrics_free(m);
}

static void test_special_values_and_empty_family(void **state)
{
    struct metrics *m = metrics_new();
    struct metric_family *g = metrics_gauge(m, "tripline_cert_expiry_seconds", "x", NULL, 0);
    struct metric_family *e = metrics_gauge(m, "tripline_empty", "No series yet.", NULL, 0);
    assert_non_null(e);
    metric_set(metrics_series(g, NULL), INFINITY);
    char *text = render(m);
    assert_string_equal(text, "# HELP tripline_cert_expiry_seconds x\n"
                              "# TYPE tripline_cert_expiry_seconds gauge\n"
                              "tripline_cert_expiry_seconds +Inf\n"
                              "# HELP tripline_empty No series yet.\n"
                              "# TYPE tripline_empty gauge\n");
    free(text);
    metric_set(metrics_series(g, NULL), 0.1);
    text = render(m);
    /* shortest text that reads back as the same double */
    assert_non_null(strstr(text, "tripline_cert_expiry_seconds 0.1\n"));
    free(text);
    metric_set(metrics_series(g, NULL), 1.0 / 3.0);
    text = render(m);
    assert_non_null(strstr(text, "tripline_cert_expiry_seconds 0.33333333333333331\n"));
    free(text);
    metrics_free(m);
}

static void test_naming_rules(void **state)
{
    struct metrics *m = metrics_new();
    const char *le[] = {"le"};
    const char *dunder[] = {"__x"};
    const char *dup[] = {"a", "a"};
    const char *bad[] = {"a-b"};
    const double b2[] = {1, 2};
    const double desc[] = {2, 1};
    const double inf[] = {1, INFINITY};
    /* counters end in _total, nothing else does */
    assert_null(metrics_counter(m, "tripline_runs", "h", NULL, 0));
    assert_null(metrics_gauge(m, "tripline_runs_total", "h", NULL, 0));
    assert_null(metrics_histogram(m, "tripline_x_total", "h", NULL, 0, b2, 2));
    /* valid characters */
    assert_null(metrics_gauge(m, "9lives", "h", NULL, 0));
    assert_null(metrics_gauge(m, "tripline-x", "h", NULL, 0));
    assert_null(metrics_gauge(m, "", "h", NULL, 0));
    assert_null(metrics_gauge(m, "tripline_x", NULL, NULL, 0));
    assert_null(metrics_gauge(m, "tripline_x", "h", bad, 1));
    assert_null(metrics_gauge(m, "tripline_x", "h", dunder, 1));
    assert_null(metrics_gauge(m, "tripline_x", "h", dup, 2));
    /* histograms: le is reserved, bounds increase and are finite */
    assert_null(metrics_histogram(m, "tripline_h_seconds", "h", le, 1, b2, 2));
    assert_null(metrics_histogram(m, "tripline_h_seconds", "h", NULL, 0, desc, 2));
    assert_null(metrics_histogram(m, "tripline_h_seconds", "h", NULL, 0, inf, 2));
    assert_null(metrics_histogram(m, "tripline_h_count", "h", NULL, 0, b2, 2));
    assert_non_null(metrics_gauge(m, "tripline:x_ratio", "colons are allowed", NULL, 0));

    /* registering again with the same shape returns the same family */
    const char *p[] = {"probe"};
    struct metric_family *h = metrics_histogram(m, "tripline_h_seconds", "h", p, 1, b2, 2);
    assert_non_null(h);
    assert_ptr_equal(metrics_histogram(m, "tripline_h_seconds", "h", p, 1, b2, 2), h);
    assert_ptr_equal(metrics_find(m, "tripline_h_seconds"), h);
    assert_null(metrics_find(m, "tripline_nope"));
    /* a different shape under the same name is refused */
    assert_null(metrics_histogram(m, "tripline_h_seconds", "h", NULL, 0, b2, 2));
    assert_null(metrics_gauge(m, "tripline_h_seconds", "h", p, 1));
    /* and so is a name a histogram already puts out */
    assert_null(metrics_gauge(m, "tripline_h_seconds_count", "h", NULL, 0));
    /* a histogram whose _count would be an existing gauge is refused too */
    assert_non_null(metrics_gauge(m, "tripline_q_count", "h", NULL, 0));
    assert_null(metrics_histogram(m, "tripline_q", "h", NULL, 0, b2, 2));
    metrics_free(m);
}

static void test_histogram_name_clash(void **state)
{
    struct metrics *m = metrics_new();
    const double b[] = {1};
    assert_non_null(metrics_gauge(m, "tripline_lag_seconds_sum", "h", NULL, 0));
    /* its _sum series would collide with the gauge above */
    assert_null(metrics_histogram(m, "tripline_lag_seconds", "h", NULL, 0, b, 1));
    metrics_free(m);
}

static void test_series_handles_and_removal(void **state)
{
    struct metrics *m = metrics_new();
    const char *l[] = {"probe", "region"};
    struct metric_family *f = metrics_counter(m, "tripline_x_total", "h", l, 2);
    const char *a[] = {"a", "eu"};
    const char *a2[] = {"a", "us"};
    const char *b[] = {"b", "eu"};
    const char *missing[] = {"b", NULL};
    struct metric *sa = metrics_series(f, a);
    assert_non_null(sa);
    /* the same label values give the same handle; values are copied */
    char copy[] = "a";
    const char *acopy[] = {copy, "eu"};
    assert_ptr_equal(metrics_series(f, acopy), sa);
    assert_null(metrics_series(f, missing));
    assert_null(metrics_series(f, NULL));
    /* many series: the table grows and every handle is still found */
    char name[32];
    struct metric *many[200];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        const char *v[] = {name, "eu"};
        many[i] = metrics_series(f, v);
        assert_non_null(many[i]);
        metric_add(many[i], i);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        const char *v[] = {name, "eu"};
        assert_ptr_equal(metrics_series(f, v), many[i]);
        assert_true(metric_value(many[i]) == i);
    }
    for (int i = 0; i < 200; i++)
        metrics_remove(many[i]);

    metric_inc(metrics_series(f, a2));
    metric_inc(metrics_series(f, b));
    metric_inc(sa);
    metrics_remove(sa);
    char *text = render(m);
    assert_null(strstr(text, "probe=\"a\",region=\"eu\""));
    assert_non_null(strstr(text, "probe=\"a\",region=\"us\""));
    assert_non_null(strstr(text, "probe=\"b\",region=\"eu\""));
    free(text);
    /* a removed series comes back at zero */
    sa = metrics_series(f, a);
    assert_true(metric_value(sa) == 0);
    /* removing every series of probe "a" (a probe dropped on reload) */
    assert_int_equal(metrics_remove_matching(f, 0, "a"), 2);
    assert_int_equal(metrics_remove_matching(f, 0, "a"), 0);
    assert_int_equal(metrics_remove_matching(f, 5, "a"), 0);
    text = render(m);
    assert_string_equal(text, "# HELP tripline_x_total h\n"
                              "# TYPE tripline_x_total counter\n"
                              "tripline_x_total{probe=\"b\",region=\"eu\"} 1\n");
    free(text);
    metrics_free(m);
}

static void test_updates_respect_type(void **state)
{
    struct metrics *m = metrics_new();
    const double b[] = {1};
    struct metric *c = metrics_series(metrics_counter(m, "tripline_c_total", "h", NULL, 0), NULL);
    struct metric *h =
        metrics_series(metrics_histogram(m, "tripline_h_seconds", "h", NULL, 0, b, 1), NULL);
    metric_set(c, 100); /* set is for gauges */
    assert_true(metric_value(c) == 0);
    metric_observe(c, 1);
    assert_true(metric_value(c) == 0);
    metric_add(h, 5); /* add is not for histograms */
    assert_true(metric_value(h) == 0);
    metric_inc(NULL); /* a NULL handle (failed lookup) is harmless */
    metric_observe(NULL, 1);
    metrics_remove(NULL);
    metrics_free(m);
    metrics_free(NULL);
}

static void test_serve_handler(void **state)
{
    struct metrics *m = metrics_new();
    metric_set(metrics_series(metrics_gauge(m, "tripline_up", "h", NULL, 0), NULL), 1);
    struct buf b;
    buf_init(&b, 1 << 16);
    const char *ct = NULL;
    assert_int_equal(metrics_serve(m, &b, &ct), 200);
    assert_string_equal(ct, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(b.data, "tripline_up 1\n"));
    /* a body over its cap is a 500, not a truncated scrape */
    buf_free(&b);
    buf_init(&b, 10);
    assert_int_equal(metrics_serve(m, &b, &ct), 500);
    buf_free(&b);
    metrics_free(m);
}

/* Runs promtool check metrics on text; returns its exit status and leaves
 * what it printed in out. */
static int promtool_check(const char *text, char *out, size_t outsz)
{
    char in_path[] = "/tmp/tripline_metrics_XXXXXX";
    int fd = mkstemp(in_path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char out_path[] = "/tmp/tripline_promtool_XXXXXX";
    int ofd = mkstemp(out_path);
    assert_true(ofd >= 0);
    close(ofd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s 2>&1", in_path, out_path);
    int st = system(cmd);
    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, outsz - 1, f);
    out[n] = '\0';
    fclose(f);
    unlink(in_path);
    unlink(out_path);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* A registry shaped like the agent's: labelled counters, histograms with
 * many buckets, label-less families, escapes in help and label values. */
static struct metrics *sample_registry(void)
{
    struct metrics *m = metrics_new();
    assert_non_null(m);
    const char *pr[] = {"probe", "region", "result"};
    const char *ph[] = {"probe", "region", "phase"};
    const char *pe[] = {"probe", "region"};
    const double lat[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    struct metric_family *runs = metrics_counter(m, "tripline_probe_runs_total",
                                                 "Probe runs by result.", pr, 3);
    struct metric_family *phase = metrics_histogram(
        m, "tripline_probe_phase_duration_seconds",
        "Duration of each phase of a request (dns, connect, tls, ttfb, total).", ph, 3, lat, 12);
    struct metric_family *level = metrics_gauge(
        m, "tripline_escalation_level", "Open escalation level: 0 ok, 1 notice, 2 warning, 3 critical.",
        pe, 2);
    struct metric_family *breach = metrics_counter(m, "tripline_budget_breaches_total",
                                                   "Latency budgets exceeded.", pe, 2);
    struct metric_family *spool = metrics_gauge(m, "tripline_spool_bytes",
                                                "Bytes of events waiting in the spool.", NULL, 0);
    struct metric_family *late = metrics_histogram(
        m, "tripline_schedule_lateness_seconds", "How late runs start \"after\" their slot.\\",
        NULL, 0, lat, 12);
    assert_non_null(runs);
    assert_non_null(phase);
    assert_non_null(level);
    assert_non_null(breach);
    assert_non_null(spool);
    assert_non_null(late);
    const char *probes[] = {"checkout", "login", "we\"ird\\na\nme"};
    const char *regions[] = {"eu-west", "us-east"};
    const char *phases[] = {"dns", "connect", "tls", "ttfb", "total"};
    for (int p = 0; p < 3; p++) {
        for (int r = 0; r < 2; r++) {
            const char *ok[] = {probes[p], regions[r], "success"};
            const char *ko[] = {probes[p], regions[r], "failure"};
            const char *pr2[] = {probes[p], regions[r]};
            metric_add(metrics_series(runs, ok), 10 + p);
            metric_add(metrics_series(runs, ko), r);
            metric_set(metrics_series(level, pr2), p);
            metric_inc(metrics_series(breach, pr2));
            for (int k = 0; k < 5; k++) {
                const char *v[] = {probes[p], regions[r], phases[k]};
                struct metric *s = metrics_series(phase, v);
                for (int i = 0; i < 20; i++)
                    metric_observe(s, 0.0007 * (i + 1) * (k + 1) * (p + 1));
            }
        }
    }
    metric_set(metrics_series(spool, NULL), 4096);
    metric_observe(metrics_series(late, NULL), 0.0003);
    metric_observe(metrics_series(late, NULL), 20);
    return m;
}

/* Drains a cursor with the given budget, checking the contract of every
 * call: whole lines, and "more" never with nothing. */
static char *render_streamed(struct metrics *m, size_t budget, size_t *calls)
{
    struct metrics_cursor *c = metrics_cursor_new(m);
    assert_non_null(c);
    struct buf all, piece;
    buf_init(&all, 1 << 22);
    buf_init(&piece, 1 << 20);
    int rc = 0;
    *calls = 0;
    do {
        buf_reset(&piece);
        rc = metrics_cursor_next(c, &piece, budget);
        assert_true(rc == 0 || rc == 1);
        if (rc == 0)
            assert_true(piece.len > 0);
        if (piece.len)
            assert_int_equal(piece.data[piece.len - 1], '\n');
        assert_int_equal(buf_append(&all, piece.data ? piece.data : "", piece.len), 0);
        (*calls)++;
    } while (rc == 0);
    /* done stays done */
    buf_reset(&piece);
    assert_int_equal(metrics_cursor_next(c, &piece, budget), 1);
    assert_int_equal(piece.len, 0);
    buf_free(&piece);
    metrics_cursor_free(c);
    return buf_take(&all);
}

static void test_cursor_matches_render(void **state)
{
    struct metrics *m = sample_registry();
    /* an empty family renders its header only, in both ways */
    assert_non_null(metrics_gauge(m, "tripline_empty", "No series yet.", NULL, 0));
    char *whole = render(m);
    const size_t budgets[] = {0, 1, 7, 100, 1000, 4096, 1 << 20};
    size_t prev_calls = SIZE_MAX;
    for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
        size_t calls = 0;
        char *streamed = render_streamed(m, budgets[i], &calls);
        assert_string_equal(streamed, whole);
        /* smaller budgets take more calls; one call does it all for a big one */
        assert_true(calls <= prev_calls);
        prev_calls = calls;
        free(streamed);
    }
    assert_int_equal(prev_calls, 1);
    /* an empty registry: done at once, nothing written */
    struct metrics *e = metrics_new();
    size_t calls = 0;
    char *none = render_streamed(e, 10, &calls);
    assert_string_equal(none, "");
    assert_int_equal(calls, 1);
    free(none);
    metrics_free(e);
    free(whole);
    metrics_free(m);
}

static int next_piece(struct metrics_cursor *c, struct buf *all)
{
    return metrics_cursor_next(c, all, 1);
}

/* A reload between two slices of one scrape: series go (the one the cursor
 * stands on, one behind it, one ahead of it), a series and a family come. */
static void test_cursor_survives_changes(void **state)
{
    struct metrics *m = metrics_new();
    const char *l[] = {"probe"};
    struct metric_family *a = metrics_counter(m, "a_total", "A.", l, 1);
    struct metric_family *b = metrics_gauge(m, "b", "B.", NULL, 0);
    struct metric *s[6];
    const char *ids[] = {"p0", "p1", "p2", "p3", "p4", "p5"};
    for (int i = 0; i < 5; i++) {
        s[i] = metrics_series(a, (const char *const[]){ids[i]});
        metric_add(s[i], i);
    }
    metric_set(metrics_series(b, NULL), 9);
    struct metrics_cursor *c = metrics_cursor_new(m);
    struct metrics_cursor *c2 = metrics_cursor_new(m); /* a second scrape, same spot */
    struct buf all, all2;
    buf_init(&all, 1 << 16);
    buf_init(&all2, 1 << 16);
    /* budget 1: one unit per call: the header, then p0 */
    assert_int_equal(next_piece(c, &all), 0);
    assert_int_equal(next_piece(c, &all), 0);
    assert_int_equal(next_piece(c2, &all2), 0);
    assert_int_equal(next_piece(c2, &all2), 0);
    assert_string_equal(all.data, "# HELP a_total A.\n# TYPE a_total counter\na_total{probe=\"p0\"} 0\n");
    metrics_remove(s[0]);
    metrics_remove(s[1]); /* the next one for both cursors */
    assert_int_equal(metrics_remove_matching(a, 0, "p3"), 1);
    s[5] = metrics_series(a, (const char *const[]){ids[5]});
    metric_add(s[5], 5);
    struct metric_family *cf = metrics_gauge(m, "c", "C.", NULL, 0);
    metric_set(metrics_series(cf, NULL), 1);
    int rc = 0;
    while (rc == 0)
        rc = next_piece(c, &all);
    assert_int_equal(rc, 1);
    const char *want = "# HELP a_total A.\n# TYPE a_total counter\n"
                       "a_total{probe=\"p0\"} 0\n"
                       "a_total{probe=\"p2\"} 2\n"
                       "a_total{probe=\"p4\"} 4\n"
                       "a_total{probe=\"p5\"} 5\n"
                       "# HELP b B.\n# TYPE b gauge\nb 9\n"
                       "# HELP c C.\n# TYPE c gauge\nc 1\n";
    assert_string_equal(all.data, want);
    /* the other cursor was moved too; removing the last series of a family
     * while a cursor stands on it ends that family cleanly */
    assert_int_equal(next_piece(c2, &all2), 0); /* p2 */
    metrics_remove(s[4]);
    metrics_remove(s[5]);
    rc = 0;
    while (rc == 0)
        rc = next_piece(c2, &all2);
    assert_int_equal(rc, 1);
    assert_string_equal(all2.data, "# HELP a_total A.\n# TYPE a_total counter\n"
                                   "a_total{probe=\"p0\"} 0\n"
                                   "a_total{probe=\"p2\"} 2\n"
                                   "# HELP b B.\n# TYPE b gauge\nb 9\n"
                                   "# HELP c C.\n# TYPE c gauge\nc 1\n");
    metrics_cursor_free(c);
    metrics_cursor_free(c2);
    buf_free(&all);
    buf_free(&all2);
    metrics_free(m);
}

/* A cursor may outlive its registry (a scrape cut by shutdown): it fails
 * then, and freeing it touches nothing freed. A full output buffer is an
 * error that leaves whole lines only. */
static void test_cursor_errors(void **state)
{
    struct metrics *m = sample_registry();
    struct buf small;
    buf_init(&small, 300);
    struct metrics_cursor *c = metrics_cursor_new(m);
    struct metrics_cursor *other = metrics_cursor_new(m);
    assert_true(metrics_cursor_next(c, &small, 1 << 20) < 0);
    assert_true(small.len > 0 && small.len <= 300);
    assert_int_equal(small.data[small.len - 1], '\n');
    assert_int_equal(metrics_cursor_next(other, NULL, 10), TL_EINVAL);
    metrics_free(m);
    buf_reset(&small);
    assert_true(metrics_cursor_next(c, &small, 10) < 0);
    assert_int_equal(small.len, 0);
    metrics_cursor_free(c);
    metrics_cursor_free(other);
    metrics_cursor_free(NULL);
    assert_null(metrics_cursor_new(NULL));
    buf_free(&small);
}

static void test_promtool_accepts_rendered_sample(void **state)
{
    struct metrics *m = sample_registry();
    char *text = render(m);
    char out[8192];
    int rc = promtool_check(text, out, sizeof(out));
    if (rc != 0 || out[0])
        fprintf(stderr, "promtool (exit %d):\n%s\n--- input ---\n%s", rc, out, text);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "");
    /* what a streamed scrape sends is the same text */
    size_t calls = 0;
    char *streamed = render_streamed(m, 512, &calls);
    assert_string_equal(streamed, text);
    assert_true(calls > 10);
    free(streamed);
    free(text);
    metrics_free(m);
}

/* The harness must be able to fail: promtool flags a hand-written bad
 * sample (a counter without _total, an abbreviated unit). */
static void test_promtool_flags_bad_sample(void **state)
{
    char out[4096];
    int rc = promtool_check("# HELP foo_ms x\n# TYPE foo_ms counter\nfoo_ms 1\n", out, sizeof(out));
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "_total"));
}

/* The exposition's number text before it was written by hand: the
 * reference every value must still match byte for byte. */
static void number_reference(double v, char *out, size_t n)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
    } else if (isinf(v)) {
        snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, n, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, n, "%.17g", v);
    }
}

static void check_number(double v)
{
    char want[64], got[METRICS_NUM_MAX + 1];
    number_reference(v, want, sizeof(want));
    size_t n = metrics_put_number(got, v);
    assert_true(n <= METRICS_NUM_MAX);
    got[n] = '\0';
    if (strcmp(got, want) != 0)
        fprintf(stderr, "value %a: got %s, want %s\n", v, got, want);
    assert_string_equal(got, want);
}

/* xorshift64: the same values on every run */
static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_number_text(void **state)
{
    const double fixed[] = {0.0, -0.0, 1, -1, 0.5, 0.1, 0.2, 0.3, 0.1 + 0.2, 1e-4, 1.5e-4, 1e-5, 9.99e-5,
                            1e-7, 123456789012345.0, 999999999999999.0, 1e15, 1e16, 9007199254740992.0,
                            9007199254740993.0, 1e300, -1e-300, 5e-324, 2.5, 0.005, 0.0025, 1718000000.123456,
                            1718000000.5, 0.000001, 0.0000015, 4096, 1e14 + 0.5, 3.14159265358979,
                            NAN, INFINITY, -INFINITY, 0.1 * 3, 1.0 / 3, 2.0 / 3, 100.0 / 7};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_number(fixed[i]);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 100000; i++) {
        uint64_t r = next_rand(&x);
        /* µs and ns turned into seconds, as the agent's durations and
         * timestamps are; their sums; small integers; any bit pattern */
        check_number((double)(r % 100000000) / 1e6);
        check_number((double)(1700000000000000ULL + r % 100000000000000ULL) / 1e6);
        check_number((double)(r % 1000000000000ULL) / 1e9);
        check_number((double)(r % 5000) / 1e6 + (double)(r >> 40) / 1e6);
        check_number((double)(int64_t)(r % 2000001) - 1000000.0);
        double any;
        memcpy(&any, &r, sizeof(any));
        check_number(any);
        check_number((double)(r % 1000) * 1e-9);
    }
}

/* A label value too long for the stack scratch takes the other path, with
 * the same text. */
static void test_long_label_value(void **state)
{
    struct metrics *m = metrics_new();
    char id[1500];
    for (size_t i = 0; i < sizeof(id) - 1; i++)
        id[i] = i % 100 == 7 ? '"' : (char)('a' + i % 26);
    id[sizeof(id) - 1] = '\0';
    const char *l[] = {"probe"};
    struct metric_family *f = metrics_gauge(m, "tripline_long", "Long.", l, 1);
    metric_set(metrics_series(f, (const char *const[]){id}), 0.25);
    metric_set(metrics_series(f, (const char *const[]){"short"}), 2);
    struct buf want;
    buf_init(&want, 1 << 16);
    assert_int_equal(buf_puts(&want, "# HELP tripline_long Long.\n# TYPE tripline_long gauge\ntripline_long{probe=\""), 0);
    for (const char *p = id; *p; p++)
        assert_int_equal(*p == '"' ? buf_puts(&want, "\\\"") : buf_append(&want, p, 1), 0);
    assert_int_equal(buf_puts(&want, "\"} 0.25\ntripline_long{probe=\"short\"} 2\n"), 0);
    char *text = render(m);
    assert_string_equal(text, want.data);
    size_t calls = 0;
    char *streamed = render_streamed(m, 1, &calls);
    assert_string_equal(streamed, want.data);
    free(streamed);
    free(text);
    buf_free(&want);
    metrics_free(m);
}

/* A fake clock: every read moves it on by step µs. */
struct fake_clock {
    uint64_t now, step;
    unsigned reads;
};

static uint64_t fake_now(void *arg)
{
    struct fake_clock *fc = arg;
    fc->reads++;
    fc->now += fc->step;
    return fc->now;
}

/* A time-bounded cursor returns once its slice is used up, whatever its
 * byte budget: with a clock that moves 300 µs a read and a 1,000 µs slice,
 * a call reads the clock at most 5 times (start, then every 4 KB) and so
 * writes at most ~4 x 4 KB plus a unit; the pieces still make the same text. */
static void test_cursor_time_slices(void **state)
{
    struct metrics *m = metrics_new();
    const char *l[] = {"probe", "region"};
    const double b[] = {0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 10};
    struct metric_family *h = metrics_histogram(m, "tripline_probe_duration_seconds", "D.", l, 2, b, 8);
    for (int i = 0; i < 800; i++) {
        char id[32];
        snprintf(id, sizeof(id), "p%d", i);
        metric_observe(metrics_series(h, (const char *const[]){id, "eu-west"}), 0.000123 * i);
    }
    char *whole = render(m);
    struct metrics_cursor *c = metrics_cursor_new(m);
    struct fake_clock fc = {.now = 1000000, .step = 300};
    metrics_cursor_clock(c, fake_now, &fc, 1000);
    struct buf all, piece;
    buf_init(&all, 1 << 24);
    buf_init(&piece, 1 << 24);
    int rc = 0, calls = 0;
    do {
        buf_reset(&piece);
        fc.reads = 0;
        rc = metrics_cursor_next(c, &piece, 1u << 30);
        assert_true(rc == 0 || rc == 1);
        assert_true(fc.reads <= 5);
        assert_true(piece.len <= 4 * 4096 + 2048);
        assert_int_equal(buf_append(&all, piece.data ? piece.data : "", piece.len), 0);
        calls++;
    } while (rc == 0);
    assert_true(calls > 10);
    assert_string_equal(all.data, whole);
    /* without a clock the same budget takes it all in one call */
    metrics_cursor_clock(c, NULL, NULL, 0);
    metrics_cursor_free(c);
    c = metrics_cursor_new(m);
    buf_reset(&piece);
    assert_int_equal(metrics_cursor_next(c, &piece, 1u << 30), 1);
    assert_string_equal(piece.data, whole);
    metrics_cursor_free(c);
    buf_free(&all);
    buf_free(&piece);
    free(whole);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_number_text),
        cmocka_unit_test(test_long_label_value),
        cmocka_unit_test(test_special_values_and_empty_family),
        cmocka_unit_test(test_naming_rules),
        cmocka_unit_test(test_histogram_name_clash),
        cmocka_unit_test(test_series_handles_and_removal),
        cmocka_unit_test(test_updates_respect_type),
        cmocka_unit_test(test_serve_handler),
        cmocka_unit_test(test_cursor_matches_render),
        cmocka_unit_test(test_cursor_survives_changes),
        cmocka_unit_test(test_cursor_errors),
        cmocka_unit_test(test_cursor_time_slices),
        cmocka_unit_test(test_promtool_accepts_rendered_sample),
        cmocka_unit_test(test_promtool_flags_bad_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
