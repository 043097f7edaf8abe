/* Probe-file loader: the good files load into the structs the engine runs,
 * and every broken file under tests/data/broken/ gives exactly the error
 * lines of its .expected sibling. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <regex.h>
#include <string.h>
#include <unistd.h>

#include "probes/check/jsonpath.h"
#include "probes/load/load.h"
#include "probes/yaml/yaml_util.h"
#include "schedules/cron.h"

#define SEC 1000000LL
#define MS 1000LL

static int to_source_dir(void **state)
{
    const char *src = getenv("TRIPLINE_SOURCE_DIR");
    if (!src)
        src = TRIPLINE_SOURCE_DIR;
    return chdir(src);
}

/* Writes text to a new temporary file; the caller unlinks and frees it. */
static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/tripline-test-load-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static struct probe_set *load_text(const char *text, struct strv *errors, int want_rc)
{
    char *path = temp_file(text);
    struct probe_set *set = NULL;
    int rc = probe_load_files(&set, &path, 1, errors);
    for (size_t i = 0; rc != want_rc && i < errors->n; i++)
        fprintf(stderr, "unexpected: %s\n", errors->v[i]);
    assert_int_equal(rc, want_rc);
    unlink(path);
    free(path);
    return set;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static void test_broken_files(void **state)
{
    glob_t g;
    assert_int_equal(glob("tests/data/broken/*.yaml", 0, NULL, &g), 0);
    /* Every error the grammar promises has at least one case here. */
    assert_true(g.gl_pathc >= 15);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *file = g.gl_pathv[i];
        size_t len = strlen(file);
        char first[512], expected_path[512];
        snprintf(first, sizeof(first), "%.*s.first", (int)(len - 5), file);
        snprintf(expected_path, sizeof(expected_path), "%.*s.expected", (int)(len - 5), file);
        char *files[2];
        size_t n = 0;
        if (access(first, R_OK) == 0)
            files[n++] = first;
        files[n++] = (char *)file;

        struct strv errors;
        strv_init(&errors);
        struct probe_set *set = NULL;
        int rc = probe_load_files(&set, files, n, &errors);
        assert_null(set);
        assert_int_equal(rc, -1);

        struct buf got;
        buf_init(&got, 1 << 20);
        for (size_t e = 0; e < errors.n; e++)
            assert_int_equal(buf_printf(&got, "%s\n", errors.v[e]), 0);
        char *want = read_text(expected_path);
        assert_non_null(want);
        if (strcmp(want, got.data ? got.data : "") != 0) {
            fprintf(stderr, "%s: expected\n%s--- got\n%s", file, want, got.data ? got.data : "");
            fail();
        }
        free(want);
        buf_free(&got);
        strv_free(&errors);
    }
    globfree(&g);
}

/* n one-step probes p0..p<n-1>, then p0 and p<n-1> again: the index the
 * loader keeps by id grows past several sizes and names the first definition. */
static void test_many_ids_and_duplicates(void **state)
{
    enum { N = 3000 };
    struct buf text;
    struct strv errors;
    buf_init(&text, 1 << 20);
    strv_init(&errors);
    for (int i = 0; i < N + 2; i++) {
        int id = i < N ? i : i == N ? 0 : N - 1;
        assert_int_equal(buf_printf(&text, "- probe: p%d\n  steps: [{name: s, request: {url: \"http://x/\"}}]\n", id), 0);
    }
    struct probe_set *set = load_text(text.data, &errors, -1);
    assert_null(set);
    assert_int_equal(errors.n, 2);
    assert_non_null(strstr(errors.v[0], ":6001:10: probe: probe \"p0\" is already defined at "));
    assert_non_null(strstr(errors.v[0], ":1 (probe ids"));
    assert_non_null(strstr(errors.v[1], "probe \"p2999\" is already defined at "));
    assert_non_null(strstr(errors.v[1], ":5999 (probe ids"));
    strv_free(&errors);

    /* without the duplicates every id is found, the missing one is not */
    buf_reset(&text);
    for (int i = 0; i < N; i++)
        assert_int_equal(buf_printf(&text, "- probe: p%d\n  steps: [{name: s, request: {url: \"http://x/\"}}]\n", i), 0);
    strv_init(&errors);
    set = load_text(text.data, &errors, 0);
    for (int i = 0; i < N; i += 7) {
        char id[16];
        snprintf(id, sizeof id, "p%d", i);
        struct probe *p = probe_set_find(set, id);
        assert_non_null(p);
        assert_string_equal(p->id, id);
    }
    assert_null(probe_set_find(set, "p3000"));
    probe_set_free(set);
    strv_free(&errors);
    buf_free(&text);
}

static void test_design_example_loads_as_written(void **state)
{
    struct strv errors;
    strv_init(&errors);
    char *file = "tests/data/design-example.yaml";
    struct probe_set *set = NULL;
    assert_int_equal(probe_load_files(&set, &file, 1, &errors), 0);
    assert_int_equal(errors.n, 0);
    assert_int_equal(set->n, 1);
    struct probe *p = probe_set_find(set, "checkout");
    assert_non_null(p);
    assert_string_equal(p->description, "log in, add to cart, pay");
    assert_int_equal(p->n_labels, 1);
    assert_string_equal(p->labels[0].key, "team");
    assert_string_equal(p->labels[0].value, "payments");
    assert_true(probe_runs_in(p, "eu-west"));
    assert_false(probe_runs_in(p, "ap-south"));
    assert_int_equal(p->schedule.every, 30 * SEC);
    assert_int_equal(p->schedule.timeout, 10 * SEC);
    assert_null(p->schedule.cron);

    assert_int_equal(p->n_vars, 2);
    assert_string_equal(p->vars[0].name, "base");
    assert_false(p->vars[0].secret);
    assert_string_equal(p->vars[1].name, "token");
    assert_true(p->vars[1].secret);

    assert_int_equal(p->n_steps, 2);
    struct step *login = &p->steps[0];
    assert_string_equal(login->name, "login");
    assert_string_equal(login->request.method, "POST");
    assert_string_equal(login->request.url.src, "{{ base }}/v1/sessions");
    assert_int_equal(login->request.n_headers, 1);
    assert_string_equal(login->request.headers[0].name, "Authorization");
    assert_int_equal(login->request.body_kind, BODY_JSON);
    assert_string_equal(cJSON_GetObjectItem(login->request.json, "user")->valuestring, "synthetic");
    assert_int_equal(login->expect.status.n, 1);
    assert_int_equal(login->expect.status.ranges[0].lo, 201);
    assert_int_equal(login->expect.status.ranges[0].hi, 201);
    assert_int_equal(login->expect.n_json, 1);
    assert_int_equal(login->expect.json[0].op, MATCH_EXISTS);
    assert_true(login->expect.json[0].exists);
    assert_int_equal(login->expect.json[0].path.n, 2);
    assert_string_equal(login->expect.json[0].path.segs[1].key, "id");
    assert_int_equal(login->expect.budget.total, 300 * MS);
    assert_int_equal(login->expect.budget.ttfb, 200 * MS);
    assert_int_equal(login->n_captures, 1);
    assert_string_equal(login->captures[0].name, "session");
    assert_int_equal(login->captures[0].kind, CAPTURE_JSON);
    assert_false(login->is_finally);

    struct step *pay = &p->steps[1];
    assert_int_equal(pay->expect.status.ranges[0].lo, 402);
    assert_int_equal(pay->expect.n_issues, 1);
    assert_string_equal(pay->expect.issues[0].pattern, "payment.unauthorized.*");
    assert_int_equal(pay->expect.issues[0].severity, SEV_ERROR);

    assert_int_equal(p->budget.total, 1 * SEC);
    assert_int_equal(p->escalation.n_ladder, 2);
    assert_int_equal(p->escalation.ladder[0].level, LEVEL_WARNING);
    assert_int_equal(p->escalation.ladder[0].consecutive_failures, 2);
    assert_int_equal(p->escalation.ladder[1].level, LEVEL_CRITICAL);
    assert_true(p->escalation.ladder[1].failure_ratio > 0.49 && p->escalation.ladder[1].failure_ratio < 0.51);
    assert_int_equal(p->escalation.ladder[1].window, 10 * 60 * SEC);
    assert_int_equal(p->escalation.ladder[1].n_actions, 1);
    assert_string_equal(p->escalation.ladder[1].actions[0], "checkout-off");
    assert_int_equal(p->escalation.resolve_successes, 3);

    assert_int_equal(p->n_actions, 1);
    struct action *a = &p->actions[0];
    assert_string_equal(a->name, "checkout-off");
    assert_int_equal(a->run.kind, ACTION_WEBHOOK);
    assert_string_equal(a->run.method, "PUT");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(a->run.json, "enabled")));
    assert_true(a->has_rollback);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a->rollback.json, "enabled")));
    assert_int_equal(a->timeout, 10 * SEC);

    assert_int_equal(strlen(p->file_hash), 64);
    assert_string_equal(p->file, file);
    assert_int_equal(p->pos.line, 1);
    probe_set_free(set);
    strv_free(&errors);
}

static void test_examples_load(void **state)
{
    glob_t g;
    assert_int_equal(glob("probes/examples/*.yaml", 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 3);
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = NULL;
    int rc = probe_load_files(&set, g.gl_pathv, g.gl_pathc, &errors);
    for (size_t i = 0; i < errors.n; i++)
        fprintf(stderr, "%s\n", errors.v[i]);
    assert_int_equal(rc, 0);
    assert_int_equal(set->n_files, g.gl_pathc);
    /* The journeys the README walks through. */
    assert_non_null(probe_set_find(set, "login-journey"));
    assert_non_null(probe_set_find(set, "payments"));
    assert_non_null(probe_set_find(set, "orders"));
    struct probe *login = probe_set_find(set, "login-journey");
    assert_true(login->steps[login->n_steps - 1].is_finally);
    probe_set_free(set);
    strv_free(&errors);
    globfree(&g);
}

static void test_unreadable_and_huge_files(void **state)
{
    struct strv errors;
    strv_init(&errors);
    char *missing = "/nonexistent/tripline/probe.yaml";
    struct probe_set *set = NULL;
    assert_int_equal(probe_load_files(&set, &missing, 1, &errors), -2);
    assert_null(set);
    assert_int_equal(errors.n, 1);
    assert_string_equal(errors.v[0], "/nonexistent/tripline/probe.yaml: cannot read: No such file or directory");
    strv_free(&errors);

    /* A sparse file over the cap: refused by its size, never read. */
    char *big = temp_file("probe: big\n");
    assert_int_equal(truncate(big, (off_t)PROBE_FILE_MAX + 1), 0);
    strv_init(&errors);
    assert_int_equal(probe_load_files(&set, &big, 1, &errors), -1);
    assert_int_equal(errors.n, 1);
    char want[256];
    snprintf(want, sizeof(want), "%s: file is %u bytes, over the limit of %u bytes; refused unread", big,
             PROBE_FILE_MAX + 1, PROBE_FILE_MAX);
    assert_string_equal(errors.v[0], want);
    unlink(big);
    free(big);
    strv_free(&errors);
}

static void test_defaults(void **state)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_text("- probe: a\n"
                                      "  steps:\n"
                                      "    - name: add\n"
                                      "      request: {url: 'http://h/x', json: [1, {k: null}]}\n"
                                      "  finally:\n"
                                      "    - name: cleanup\n"
                                      "      request: {method: delete, url: 'http://h/x'}\n"
                                      "  actions:\n"
                                      "    off: {command: [/bin/flag, 'off']}\n"
                                      "- probe: b\n"
                                      "  schedule: {every: 5s}\n"
                                      "  steps: [{name: s, request: {url: 'http://h/', body: x, follow_redirects: true, tls: {verify: false}}}]\n"
                                      "- probe: c\n"
                                      "  schedule: {cron: '*/5 9-17 * JAN-dec mon-FRI', jitter: 0s}\n"
                                      "  steps: [{name: s, request: {url: 'http://h/'}}]\n",
                                      &errors, 0);
    struct probe *a = probe_set_find(set, "a");
    assert_int_equal(a->schedule.every, 60 * SEC);
    assert_int_equal(a->schedule.timeout, 10 * SEC);
    assert_int_equal(a->escalation.resolve_successes, 2);
    assert_int_equal(a->n_steps, 2);
    assert_string_equal(a->steps[0].request.method, "POST");
    assert_int_equal(a->steps[0].request.body_kind, BODY_JSON);
    assert_true(cJSON_IsArray(a->steps[0].request.json));
    assert_false(a->steps[0].request.follow_redirects);
    assert_false(a->steps[0].request.insecure);
    assert_int_equal(a->steps[0].expect.status.n, 0);
    assert_string_equal(a->steps[1].request.method, "DELETE");
    assert_true(a->steps[1].is_finally);
    assert_int_equal(a->actions[0].run.kind, ACTION_COMMAND);
    assert_int_equal(a->actions[0].run.argc, 2);
    assert_string_equal(a->actions[0].run.argv[1], "off");
    assert_null(a->actions[0].run.argv[2]);
    assert_int_equal(a->actions[0].timeout, 10 * SEC);

    struct probe *b = probe_set_find(set, "b");
    assert_int_equal(b->schedule.timeout, 5 * SEC);
    assert_string_equal(b->steps[0].request.method, "POST");
    assert_int_equal(b->steps[0].request.body_kind, BODY_RAW);
    assert_true(b->steps[0].request.follow_redirects);
    assert_true(b->steps[0].request.insecure);

    struct probe *c = probe_set_find(set, "c");
    assert_string_equal(c->schedule.cron, "*/5 9-17 * JAN-dec mon-FRI");
    assert_true(cron_valid(&c->schedule.compiled));
    assert_int_equal(c->schedule.every, 0);
    assert_int_equal(c->schedule.timeout, 10 * SEC);
    probe_set_free(set);
    strv_free(&errors);
}

static void test_checks_and_captures(void **state)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_text(
        "probe: full\n"
        "vars:\n"
        "  base: http://127.0.0.1:8080\n"
        "  api: '{{ base }}/v1'\n"
        "  pw: '{{ file:/run/secrets/pw }}'\n"
        "  auth: 'Basic {{ pw }}'\n"
        "steps:\n"
        "  - name: one\n"
        "    continue: true\n"
        "    timeout: 1m30s\n"
        "    request: {url: '{{ api }}/x?id={{ correlation_id }}', form: {a: '{{ auth }}'}}\n"
        "    expect:\n"
        "      status: [201, '3xx']\n"
        "      headers:\n"
        "        Content-Type: application/json\n"
        "        Retry-After: {exists: false}\n"
        "        X-Id: {matches: '^[0-9a-f]+$'}\n"
        "        X-Who: {contains: '{{ base }}'}\n"
        "      json:\n"
        "        - {path: '$[\"a b\"].items[-1]', equals: {n: 1, s: '{{ base }}'}}\n"
        "        - {path: $.id, matches: '^[a-f0-9]{8}$'}\n"
        "        - {path: $, type: object}\n"
        "      body: {contains: ok}\n"
        "      issue_schema: true\n"
        "      correlation_id: echo\n"
        "      issues: [pricing.rate_limit.exceeded]\n"
        "    capture:\n"
        "      token: {regex: 'token=([a-f0-9]+)'}\n"
        "      loc: {header: Location}\n"
        "  - name: two\n"
        "    request: {url: '{{ loc }}', headers: {Authorization: 'Bearer {{ token }}'}}\n",
        &errors, 0);
    struct probe *p = set->probes[0];
    assert_false(p->vars[0].secret);
    assert_false(p->vars[1].secret);
    assert_true(p->vars[2].secret);
    /* Secrecy spreads through vars built from secret vars. */
    assert_true(p->vars[3].secret);
    struct step *s = &p->steps[0];
    assert_true(s->continue_on_failure);
    assert_int_equal(s->timeout, 90 * SEC);
    assert_int_equal(s->request.body_kind, BODY_FORM);
    assert_int_equal(s->expect.status.n, 2);
    assert_int_equal(s->expect.status.ranges[1].lo, 300);
    assert_int_equal(s->expect.status.ranges[1].hi, 399);
    assert_int_equal(s->expect.n_headers, 4);
    assert_int_equal(s->expect.headers[0].op, MATCH_EQUALS);
    assert_int_equal(s->expect.headers[1].op, MATCH_EXISTS);
    assert_false(s->expect.headers[1].exists);
    assert_int_equal(s->expect.headers[2].op, MATCH_MATCHES);
    assert_int_equal(regexec(&s->expect.headers[2].re, "c0ffee", 0, NULL, 0), 0);
    assert_string_equal(s->expect.headers[2].value.src, "^[0-9a-f]+$");
    assert_true(tpl_is_const(&s->expect.headers[2].value));
    assert_int_equal(s->expect.headers[3].op, MATCH_CONTAINS);
    assert_int_equal(s->expect.json[0].path.n, 3);
    assert_string_equal(s->expect.json[0].path.segs[0].key, "a b");
    assert_null(s->expect.json[0].path.segs[2].key);
    assert_int_equal(s->expect.json[0].path.segs[2].index, -1);
    assert_int_equal(s->expect.json[0].op, MATCH_EQUALS);
    assert_int_equal(s->expect.json[1].op, MATCH_MATCHES);
    assert_int_equal(regexec(&s->expect.json[1].re, "deadbeef", 0, NULL, 0), 0);
    assert_string_equal(s->expect.json[2].type, "object");
    assert_int_equal(s->expect.n_body, 1);
    assert_int_equal(s->expect.body[0].op, MATCH_CONTAINS);
    assert_true(s->expect.issue_schema_on_2xx);
    assert_true(s->expect.echo_correlation_id);
    assert_int_equal(s->expect.issues[0].severity, SEV_ANY);
    assert_int_equal(s->captures[0].kind, CAPTURE_REGEX);
    assert_int_equal(s->captures[0].group, 1);
    assert_int_equal(s->captures[1].kind, CAPTURE_HEADER);
    assert_string_equal(s->captures[1].header, "Location");
    probe_set_free(set);
    strv_free(&errors);
}

/* Reload keeps a probe's state when its definition did not change: layout,
 * quoting, comments and key order must not change the hash; a value must. */
static void test_def_hash(void **state)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *a = load_text("probe: h\nschedule: {every: 30s}\nsteps: [{name: s, request: {url: 'http://h/'}}]\n",
                                    &errors, 0);
    struct probe_set *b = load_text("# a comment\n"
                                    "steps:\n"
                                    "  - request:\n"
                                    "      url: \"http://h/\"\n"
                                    "    name: s\n"
                                    "schedule:\n"
                                    "  every: \"30s\"\n"
                                    "probe: h\n",
                                    &errors, 0);
    struct probe_set *c = load_text("probe: h\nschedule: {every: 31s}\nsteps: [{name: s, request: {url: 'http://h/'}}]\n",
                                    &errors, 0);
    assert_true(a->probes[0]->def_hash == b->probes[0]->def_hash);
    assert_true(a->probes[0]->def_hash != c->probes[0]->def_hash);
    assert_string_not_equal(a->probes[0]->file_hash, b->probes[0]->file_hash);
    probe_set_free(a);
    probe_set_free(b);
    probe_set_free(c);
    strv_free(&errors);
}

static void test_durations(void **state)
{
    static const struct { const char *s; long long usec; } good[] = {
        {"500ms", 500 * MS}, {"30s", 30 * SEC}, {"5m", 300 * SEC}, {"1h", 3600 * SEC},
        {"1m30s", 90 * SEC}, {"250us", 250}, {"0s", 0}, {"1h2m3s4ms5us", 3723 * SEC + 4 * MS + 5},
    };
    static const char *const bad[] = {"", "30", "30 s", "-1s", "10x", "1.5s", "s", "1d", "5m ", "9999999999999h"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        tl_usec v = -1;
        assert_int_equal(duration_parse(good[i].s, &v), 0);
        assert_int_equal(v, good[i].usec);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tl_usec v = 0;
        assert_int_equal(duration_parse(bad[i], &v), -1);
    }
    char out[32];
    duration_format(90 * SEC + 250 * MS, out, sizeof(out));
    assert_string_equal(out, "1m30s250ms");
}

/* A duration past any sane one is refused where it is written: a timeout of
 * 2,900 years wrapped the journey's nanosecond deadline, and `once` blamed
 * the API ("journey deadline exceeded before this step", upstream). */
static void test_duration_too_long(void **state)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_text("probe: h\nschedule: {every: 25620477h, timeout: 25620477h}\n"
                                      "steps: [{name: s, request: {url: 'http://h/'}}]\n",
                                      &errors, -1);
    assert_null(set);
    assert_int_equal(errors.n, 2);
    assert_non_null(strstr(errors.v[0], ":2:19: schedule.every: \"25620477h\" is too long "
                                        "(expected at most 8760h, a year)"));
    assert_non_null(strstr(errors.v[1], ":2:39: schedule.timeout: \"25620477h\" is too long "
                                        "(expected at most 8760h, a year)"));
    strv_free(&errors);
    strv_init(&errors);
    set = load_text("probe: h\nschedule: {every: 8760h, timeout: 8760h}\n"
                    "steps: [{name: s, request: {url: 'http://h/'}}]\n", &errors, 0);
    probe_set_free(set);
    strv_free(&errors);
}

/* A deadline under a millisecond cannot be timed (libuv's timers count
 * milliseconds; a step's timeout was raised to 1ms at run time anyway):
 * `every: 1us` (whose default timeout is the interval) or a timeout of
 * 500us failed every run as the API's ("journey deadline exceeded before
 * this step", upstream) though no request was ever sent. Refused at load. */
static void test_duration_too_short(void **state)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_text("probe: h\nschedule: {every: 1us}\n"
                                      "steps: [{name: s, request: {url: 'http://h/'}, timeout: 999us}]\n",
                                      &errors, -1);
    assert_null(set);
    assert_int_equal(errors.n, 2);
    assert_non_null(strstr(errors.v[0], ":2:19: schedule.every: \"1us\" is too short "
                                        "(expected at least 1ms: deadlines are timed in milliseconds)"));
    assert_non_null(strstr(errors.v[1], ":3:57: steps[0].timeout: \"999us\" is too short "
                                        "(expected at least 1ms: deadlines are timed in milliseconds)"));
    strv_free(&errors);
    /* a cron schedule's own timeout too */
    strv_init(&errors);
    set = load_text("probe: c\nschedule: {cron: '* * * * *', timeout: 500us}\n"
                    "steps: [{name: s, request: {url: 'http://h/'}}]\n",
                    &errors, -1);
    assert_null(set);
    assert_int_equal(errors.n, 1);
    assert_non_null(strstr(errors.v[0], ":2:40: schedule.timeout: \"500us\" is too short "
                                        "(expected at least 1ms: deadlines are timed in milliseconds)"));
    strv_free(&errors);
    /* 1ms everywhere loads */
    strv_init(&errors);
    set = load_text("probe: h\nschedule: {every: 1ms, timeout: 1ms}\n"
                    "steps: [{name: s, request: {url: 'http://h/'}, timeout: 1ms}]\n",
                    &errors, 0);
    assert_non_null(set);
    assert_int_equal(set->probes[0]->schedule.timeout, 1000);
    probe_set_free(set);
    strv_free(&errors);
}

/* Body, header and JSON `matches` are compiled for one pass ("^.*(R)"):
 * the same answers as the regex as written, which regexec restarts at every
 * offset (the square of the text's length). Regexes that would not wrap
 * unchanged (an unmatched ")" read as a literal, a back-reference) stay. */
static void test_regex_search_form(void **state)
{
    static const struct { const char *re, *text; } cases[] = {
        {"[a-z]+[0-9]", "abc def9"}, {"[a-z]+[0-9]", "abc def"}, {"^abc", "abc"}, {"^abc", "xabc"},
        {"c$", "abc"}, {"b$", "abc"}, {"a|^x", "zzz"}, {"a|^x", "xzz"}, {"(a)(b)", "ab"},
        {"x)", "ax)"}, {"a)|b", "b"}, {"a)|b", "a"}, {"(a)\\1", "aa"}, {"(a)\\1", "ab"},
        {"[)(]", "("}, {"[]a]+b", "]]b"}, {"[[:digit:]]+", "n1"}, {"[^]]", "]"}, {"^$", ""},
        {"line2$", "line1\nline2"}, {"^line2", "line1\nline2"}, {"\\(", "a("}, {"b$", "ab\nc"},
        {"a$|q", "a\nx"}, {"x|(^y)", "a\ny"}, {"[\\^]a", "^a"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "probe: r\nsteps: [{name: s, request: {url: 'http://h/'}, expect: {body: {matches: '%s'}}}]\n",
                 cases[i].re);
        struct strv errors;
        strv_init(&errors);
        struct probe_set *set = load_text(text, &errors, 0);
        regex_t plain;
        assert_int_equal(regcomp(&plain, cases[i].re, REG_EXTENDED), 0);
        const struct body_check *bc = &set->probes[0]->steps[0].expect.body[0];
        bool want = regexec(&plain, cases[i].text, 0, NULL, 0) == 0;
        if (want != (regexec(&bc->re, cases[i].text, 0, NULL, 0) == 0))
            fail_msg("regex \"%s\" on \"%s\": %d as written, not with the search form", cases[i].re,
                     cases[i].text, want);
        regfree(&plain);
        probe_set_free(set);
        strv_free(&errors);
    }
}

/* Capture regexes also get "^.*(R')", R reversed: its longest match over
 * the reversed text ends where R's leftmost match starts, and regexec from
 * there (REG_STARTEND) gives the match and groups of the regex as written,
 * in one pass each. Regexes it cannot reverse keep has_rev false. */
static void test_capture_regex_reverse(void **state)
{
    static const struct { const char *re, *text; } cases[] = {
        {"([a-z]+)[0-9]", "abc def9"}, {"([a-z]+)[0-9]", "abc def"}, {"(a|aa)*c", "xaaac"},
        {"([a-z]+)[0-9]|(a)\"}", "{\"s\":\"aaaa\"}"}, {"csrf=([A-Za-z0-9]+)", "x csrf=Ab9; csrf=zz"},
        {"(ab|a)(bc|c)?", "zabc"}, {"[]a]+(b{2,3})", "]]abbbb"}, {"([[:digit:]]+)-([^-]*)", "a12-x-3"},
        {"(x)?y", "y"}, {"a|()", "b"}, {"\\w+\\.(c)", "main.c"}, {"((a)|b)+", "abab"},
        {"(a*)(a*)", "aaa"}, {"\\(([0-9]{1,3})\\)", "(1234)(12)"}, {"x{2}", "axxx"},
    };
    static const char *const kept[] = {"^a(b)", "(a)\\1", "a$", "\\<a", "a)", "b|^a"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) + sizeof(kept) / sizeof(kept[0]); i++) {
        bool is_kept = i >= sizeof(cases) / sizeof(cases[0]);
        const char *re = is_kept ? kept[i - sizeof(cases) / sizeof(cases[0])] : cases[i].re;
        char text[512];
        snprintf(text, sizeof(text),
                 "probe: r\nsteps: [{name: s, request: {url: 'http://h/'}, capture: {v: {regex: '%s', group: 0}}}]\n",
                 re);
        struct strv errors;
        strv_init(&errors);
        struct probe_set *set = load_text(text, &errors, 0);
        const struct capture *c = &set->probes[0]->steps[0].captures[0];
        if (c->has_rev == is_kept)
            fail_msg("regex \"%s\": has_rev %d", re, c->has_rev);
        if (is_kept) {
            assert_true(c->search_max == (re[0] == '^' ? SIZE_MAX : strchr(re, '1') ? 256 : 4096));
        } else {
            const char *t = cases[i].text;
            size_t n = strlen(t);
            char rev[64];
            for (size_t k = 0; k < n; k++)
                rev[k] = t[n - 1 - k];
            rev[n] = '\0';
            regmatch_t want[10], got[10], whole;
            int want_rc = regexec(&c->re, t, 10, want, 0);
            int rc = regexec(&c->rev, rev, 1, &whole, 0);
            if ((rc == 0) != (want_rc == 0))
                fail_msg("regex \"%s\" on \"%s\": %d as written, %d reversed", re, t, want_rc, rc);
            if (rc == 0) {
                got[0].rm_so = (regoff_t)(n - (size_t)whole.rm_eo);
                got[0].rm_eo = (regoff_t)n;
                assert_int_equal(regexec(&c->re, t, 10, got, REG_STARTEND), 0);
                for (size_t g = 0; g <= c->re.re_nsub; g++)
                    if (got[g].rm_so != want[g].rm_so || got[g].rm_eo != want[g].rm_eo)
                        fail_msg("regex \"%s\" on \"%s\": group %zu at %d..%d, not %d..%d", re, t, g,
                                 (int)got[g].rm_so, (int)got[g].rm_eo, (int)want[g].rm_so, (int)want[g].rm_eo);
            }
        }
        probe_set_free(set);
        strv_free(&errors);
    }
}

/* One probe whose schedule and maintenance window both use expr. */
static struct probe_set *load_cron(const char *expr, struct strv *errors, int want_rc)
{
    char text[512];
    snprintf(text, sizeof(text),
             "probe: c\n"
             "schedule: {cron: \"%s\"}\n"
             "escalation:\n"
             "  maintenance:\n"
             "    - {cron: \"%s\", duration: 1h}\n"
             "steps:\n"
             "  - {name: h, request: {url: \"http://127.0.0.1:8080/\"}}\n",
             expr, expr);
    return load_text(text, errors, want_rc);
}

/* The loader's verdict on a cron is the parser's: the same message, at the
 * node, for the schedule and for a maintenance window. */
static void expect_cron_rejected(const char *expr, const char *msg)
{
    struct strv errors;
    strv_init(&errors);
    assert_null(load_cron(expr, &errors, -1));
    for (size_t i = 0; errors.n != 2 && i < errors.n; i++)
        fprintf(stderr, "unexpected: %s\n", errors.v[i]);
    assert_int_equal(errors.n, 2);
    assert_non_null(strstr(errors.v[0], ":2:18: schedule.cron: "));
    assert_non_null(strstr(errors.v[0], msg));
    assert_non_null(strstr(errors.v[1], ":5:14: escalation.maintenance[0].cron: "));
    assert_non_null(strstr(errors.v[1], msg));
    strv_free(&errors);
}

static void test_cron_verdicts(void **state)
{
    (void)state;
    expect_cron_rejected("0 0 * * thr", "day-of-week: unknown name 'thr' (expected 0-7 or sun..sat)");
    expect_cron_rejected("0 0 30 2 *", "never fires: day-of-month 30 never occurs in month 2");
    expect_cron_rejected("0 0 31 4,6,9,11 *", "never fires: day-of-month 31 never occurs in month 4,6,9,11");

    /* @midnight loads, compiled once: the structs hold what cron_parse gives. */
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_cron("@midnight", &errors, 0);
    assert_non_null(set);
    struct probe *p = probe_set_find(set, "c");
    struct cron want;
    assert_int_equal(cron_parse(&want, "0 0 * * *", NULL, 0), 0);
    assert_string_equal(p->schedule.cron, "@midnight");
    assert_true(cron_equal(&p->schedule.compiled, &want));
    assert_int_equal(p->escalation.n_maintenance, 1);
    assert_true(cron_equal(&p->escalation.maintenance[0].compiled, &want));
    probe_set_free(set);
    strv_free(&errors);
}

static void test_jpath_compile(void **state)
{
    struct jpath p;
    char err[128];
    int off = 0;
    assert_int_equal(jpath_compile(&p, "$", err, sizeof(err), &off), 0);
    assert_int_equal(p.n, 0);
    jpath_free(&p);
    assert_int_equal(jpath_compile(&p, "$.a[0].b['c \\' d'][-2]", err, sizeof(err), &off), 0);
    assert_int_equal(p.n, 5);
    assert_string_equal(p.segs[0].key, "a");
    assert_null(p.segs[1].key);
    assert_int_equal(p.segs[1].index, 0);
    assert_string_equal(p.segs[3].key, "c ' d");
    assert_int_equal(p.segs[4].index, -2);
    assert_string_equal(p.src, "$.a[0].b['c \\' d'][-2]");
    jpath_free(&p);
    /* `..` takes a selector after it; a third dot is an error at that dot. */
    assert_int_equal(jpath_compile(&p, "$.a...b", err, sizeof(err), &off), -1);
    assert_int_equal(off, 5);
    assert_int_equal(jpath_compile(&p, "$[\"open", err, sizeof(err), &off), -1);
    assert_int_equal(jpath_compile(&p, "a.b", err, sizeof(err), &off), -1);
    assert_int_equal(off, 0);
    jpath_free(&p);
}

static void test_json_lengths_ranges_patterns(void **state)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_text(
        "probe: ranges\n"
        "steps:\n"
        "  - name: one\n"
        "    request: {url: 'http://127.0.0.1:8080/v1/items'}\n"
        "    expect:\n"
        "      json:\n"
        "        - {path: '$.items[*]', length: 3}\n"
        "        - {path: $.items, length: {gte: 1, lt: 10}}\n"
        "        - {path: '$.items[*].price', gt: 0, lte: 99.5}\n"
        "        - {path: $.total, gte: -2.5}\n"
        "        - {path: '$..id', exists: true}\n"
        "        - {path: '$.items[?(@.qty > 1)].sku', equals: SKU-1}\n"
        "      issues: ['*.rate_limit.*', payment.*.declined, '*']\n",
        &errors, 0);
    struct step *s = &set->probes[0]->steps[0];
    const struct json_check *j = s->expect.json;
    assert_int_equal(s->expect.n_json, 6);
    assert_int_equal(j[0].op, MATCH_LENGTH);
    assert_int_equal(j[0].bounds.has, 1u << BOUND_EQ);
    assert_true(j[0].bounds.v[BOUND_EQ] == 3);
    assert_int_equal(j[1].op, MATCH_LENGTH);
    assert_int_equal(j[1].bounds.has, (1u << BOUND_GTE) | (1u << BOUND_LT));
    assert_true(j[1].bounds.v[BOUND_LT] == 10);
    assert_int_equal(j[2].op, MATCH_COMPARE);
    assert_int_equal(j[2].bounds.has, (1u << BOUND_GT) | (1u << BOUND_LTE));
    assert_true(j[2].bounds.v[BOUND_LTE] == 99.5);
    assert_true(j[3].bounds.v[BOUND_GTE] == -2.5);
    assert_true(j[4].path.segs[0].descend);
    assert_int_equal(j[5].path.segs[1].sel, JSEL_FILTER);
    assert_string_equal(s->expect.issues[0].pattern, "*.rate_limit.*");
    assert_string_equal(s->expect.issues[1].pattern, "payment.*.declined");
    probe_set_free(set);
    strv_free(&errors);
}

/* Compiles src, expecting an error at offset want_off whose text has want. */
static void expect_jpath_error(const char *src, int want_off, const char *want)
{
    struct jpath p;
    char err[200];
    int off = -1;
    assert_int_equal(jpath_compile(&p, src, err, sizeof(err), &off), -1);
    if (off != want_off || !strstr(err, want))
        fail_msg("%s: error \"%s\" at %d, expected \"%s\" at %d", src, err, off, want, want_off);
    assert_int_equal(p.n, 0);
}

static void test_jpath_compile_multi(void **state)
{
    struct jpath p;
    char err[200];
    int off = 0;
    assert_int_equal(jpath_compile(&p, "$.a..b[*].*..[0]..*", err, sizeof(err), &off), 0);
    assert_int_equal(p.n, 6);
    assert_true(jpath_is_multi(&p));
    assert_string_equal(p.segs[0].key, "a");
    assert_false(p.segs[0].descend);
    assert_string_equal(p.segs[1].key, "b");
    assert_true(p.segs[1].descend);
    assert_int_equal(p.segs[2].sel, JSEL_ALL);
    assert_int_equal(p.segs[3].sel, JSEL_ALL);
    assert_false(p.segs[3].descend);
    assert_int_equal(p.segs[4].sel, JSEL_CHILD);
    assert_null(p.segs[4].key);
    assert_true(p.segs[4].descend);
    assert_int_equal(p.segs[5].sel, JSEL_ALL);
    assert_true(p.segs[5].descend);
    jpath_free(&p);
    assert_int_equal(jpath_compile(&p, "$.u[?(@.a.b[0] <= -1.5e2)]", err, sizeof(err), &off), 0);
    assert_int_equal(p.segs[1].sel, JSEL_FILTER);
    assert_int_equal(p.segs[1].filter->op, JCMP_LE);
    assert_int_equal(p.segs[1].filter->rel.n, 3);
    assert_true(p.segs[1].filter->value->valuedouble == -150.0);
    jpath_free(&p);
    assert_int_equal(jpath_compile(&p, "$[? @.s=='x y' ]", err, sizeof(err), &off), 0);
    assert_string_equal(p.segs[0].filter->value->valuestring, "x y");
    jpath_free(&p);
    assert_int_equal(jpath_compile(&p, "$.a", err, sizeof(err), &off), 0);
    assert_false(jpath_is_multi(&p));
    jpath_free(&p);

    expect_jpath_error("$..", 3, "after \"..\"");
    expect_jpath_error("$.a[*", 5, "expected \"]\" after \"*\"");
    expect_jpath_error("$.a[0:2]", 5, "slices");
    expect_jpath_error("$.a[?(@.b = 1)]", 10, "expected \")\"");
    expect_jpath_error("$.a[?(@.b == )]", 13, "expected a value");
    expect_jpath_error("$.a[?(@.b == 01)]", 13, "expected a value");
    expect_jpath_error("$.a[?(@.b == tru)]", 13, "expected a value");
    expect_jpath_error("$.a[?(@.b == 'open)]", 13, "expected a value");
    expect_jpath_error("$.a[?(@.b == @.c)]", 13, "not a path");
    expect_jpath_error("$.a[?(@.b == 1 || @.c)]", 15, "&& and ||");
    expect_jpath_error("$.a[?(b == 1)]", 6, "each child as @");
    expect_jpath_error("$.a[?(@.b[*] == 1)]", 10, "expected an index");
    expect_jpath_error("$.a[?(@..b)]", 8, "expected a key name");
    expect_jpath_error("$.a[?(@.b == 1)", 15, "expected \"]\" after the filter");
    expect_jpath_error("$.a[?@.b == 1", 13, "expected \"]\"");
}

/* The per-host limit's key: host:port of the first step's origin, the same
 * with and without the memo of the last origin parsed (which probes in a
 * row hit, and which a different port, scheme or host must miss). */
static void test_host_keys(void **state)
{
    (void)state;
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_text(
        "- probe: a\n  vars: {base: 'https://api.example.com'}\n"
        "  steps: [{name: s, request: {url: '{{ base }}/v1/x?y=1'}}]\n"
        "- probe: b\n  steps: [{name: s, request: {url: 'https://api.example.com/other'}}]\n"
        "- probe: c\n  steps: [{name: s, request: {url: 'http://api.example.com:8080#f'}}]\n"
        "- probe: d\n  steps: [{name: s, request: {url: 'http://api.example.com?q=/x'}}]\n"
        "- probe: e\n  steps: [{name: s, request: {url: '{{ env.TL_TEST_BASE }}/x'}}]\n"
        "- probe: f\n  steps: [{name: s, request: {url: 'http://[::1]:9/x'}}]\n"
        "- probe: g\n  steps: [{name: s, request: {url: 'http://[::1]:9/y'}}]\n"
        "- probe: h\n  vars: {v: '{{ env.TL_TEST_BASE }}'}\n"
        "  steps: [{name: s, request: {url: '{{ v }}/x'}}]\n"
        "- probe: i\n  steps: [{name: s, request: {url: 'https://api.example.com:99999/x'}}]\n"
        "- probe: j\n  steps: [{name: s, request: {url: 'https://api.example.com:99999/y'}}]\n",
        &errors, 0);
    assert_non_null(set);
    static const char *const want[] = {
        "api.example.com:443", "api.example.com:443", "api.example.com:8080", "api.example.com:80",
        "probe:e", "[::1]:9", "[::1]:9", "probe:h", "probe:i", "probe:j",
    };
    assert_int_equal(set->n, sizeof want / sizeof want[0]);
    struct probe_host_memo memo = {0};
    for (size_t i = 0; i < set->n; i++) {
        char with[300], without[300];
        probe_host_key(set->probes[i], &memo, with, sizeof with);
        probe_host_key(set->probes[i], NULL, without, sizeof without);
        assert_string_equal(with, want[i]);
        assert_string_equal(without, want[i]);
    }
    probe_set_free(set);
    strv_free(&errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broken_files),
        cmocka_unit_test(test_design_example_loads_as_written),
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_unreadable_and_huge_files),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_checks_and_captures),
        cmocka_unit_test(test_def_hash),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_duration_too_long),
        cmocka_unit_test(test_duration_too_short),
        cmocka_unit_test(test_regex_search_form),
        cmocka_unit_test(test_capture_regex_reverse),
        cmocka_unit_test(test_jpath_compile),
        cmocka_unit_test(test_jpath_compile_multi),
        cmocka_unit_test(test_json_lengths_ranges_patterns),
        cmocka_unit_test(test_cron_verdicts),
        cmocka_unit_test(test_many_ids_and_duplicates),
        cmocka_unit_test(test_host_keys),
    };
    return cmocka_run_group_tests(tests, to_source_dir, NULL);
}
