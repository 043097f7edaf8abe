/* Tests of agent/metrics.c: exact text exposition for a small registry,
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

#include "agent/metrics.h"

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

static void test_promtool_accepts_rendered_sample(void **state)
{
    struct metrics *m = metrics_new();
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
    char *text = render(m);
    char out[8192];
    int rc = promtool_check(text, out, sizeof(out));
    if (rc != 0 || out[0])
        fprintf(stderr, "promtool (exit %d):\n%s\n--- input ---\n%s", rc, out, text);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_special_values_and_empty_family),
        cmocka_unit_test(test_naming_rules),
        cmocka_unit_test(test_histogram_name_clash),
        cmocka_unit_test(test_series_handles_and_removal),
        cmocka_unit_test(test_updates_respect_type),
        cmocka_unit_test(test_serve_handler),
        cmocka_unit_test(test_promtool_accepts_rendered_sample),
        cmocka_unit_test(test_promtool_flags_bad_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
