/* The DNS step kind: reading raw answers (good and malformed), the loader's
 * errors, the judge, and real exchanges on a loop against dnsmasq
 * (tests/fixtures/dns_zone.py) and a misbehaving server
 * (tests/fixtures/dns_fault.py), over UDP and TCP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probes/kinds/dns.h"
#include "probes/kinds/dns_int.h"
#include "probes/load/load.h"

extern char **environ;

#define MS 1000LL

/* --- raw answers --------------------------------------------------------- */

/* A response header: id 1, QR RD RA (+AA), rcode, one question, an answers. */
static size_t msg_head(unsigned char *m, int rcode, int an)
{
    const unsigned char h[12] = {0, 1, 0x85, (unsigned char)(0x80 | rcode), 0, 1, 0, (unsigned char)an, 0, 0, 0, 0};
    memcpy(m, h, 12);
    /* question: www.example.test A IN, at offset 12 */
    const unsigned char q[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
    memcpy(m + 12, q, sizeof(q));
    return 12 + sizeof(q);
}

/* A record owned by the question's name (pointer 0xc00c). */
static size_t rr(unsigned char *m, size_t at, unsigned type, unsigned ttl, const void *data, size_t len)
{
    unsigned char h[12] = {0xc0, 0x0c, (unsigned char)(type >> 8), (unsigned char)type, 0, 1,
                           (unsigned char)(ttl >> 24), (unsigned char)(ttl >> 16), (unsigned char)(ttl >> 8),
                           (unsigned char)ttl, (unsigned char)(len >> 8), (unsigned char)len};
    memcpy(m + at, h, sizeof(h));
    memcpy(m + at + sizeof(h), data, len);
    return at + sizeof(h) + len;
}

static const char *answer_field(const struct dns_answer *a, int i, const char *key)
{
    const cJSON *o = cJSON_GetArrayItem(a->answers, i);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    static char num[32];
    if (cJSON_IsNumber(v)) {
        snprintf(num, sizeof(num), "%.0f", v->valuedouble);
        return num;
    }
    return cJSON_GetStringValue(v);
}

static void test_answer_types(void **state)
{
    unsigned char m[1024];
    size_t n = msg_head(m, 0, 8);
    const unsigned char a[] = {10, 0, 0, 1};
    const unsigned char aaaa[16] = {0xfd, 0, [15] = 1};
    const unsigned char cname[] = {3, 'a', 'p', 'i', 0xc0, 0x10}; /* api.example.test */
    const unsigned char mx[] = {0, 10, 4, 'm', 'a', 'i', 'l', 0xc0, 0x10};
    const unsigned char srv[] = {0, 1, 0, 5, 0x1f, 0x90, 0xc0, 0x10};
    const unsigned char txt[] = {6, 'v', '=', 's', 'p', 'f', '1', 4, ' ', '-', 1, '\\'};
    const unsigned char ns[] = {3, 'n', 's', '1', 0xc0, 0x10};
    const unsigned char other[] = {0xab, 0xcd};
    n = rr(m, n, 5, 60, cname, sizeof(cname));
    n = rr(m, n, 1, 300, a, sizeof(a));
    n = rr(m, n, 28, 300, aaaa, sizeof(aaaa));
    n = rr(m, n, 15, 3600, mx, sizeof(mx));
    n = rr(m, n, 33, 30, srv, sizeof(srv));
    n = rr(m, n, 16, 10, txt, sizeof(txt));
    n = rr(m, n, 2, 86400, ns, sizeof(ns));
    n = rr(m, n, 99, 1, other, sizeof(other));
    struct dns_answer ans = {0};
    struct buf text;
    buf_init(&text, 4096);
    char err[200] = "";
    assert_int_equal(dns_answer_read(m, n, &ans, &text, err, sizeof(err)), 0);
    assert_int_equal(ans.rcode, 0);
    assert_string_equal(ans.flags, "aa rd ra");
    assert_int_equal(cJSON_GetArraySize(ans.answers), 8);
    assert_string_equal(answer_field(&ans, 0, "name"), "www.example.test");
    assert_string_equal(answer_field(&ans, 0, "type"), "CNAME");
    assert_string_equal(answer_field(&ans, 0, "data"), "api.example.test");
    assert_string_equal(answer_field(&ans, 1, "data"), "10.0.0.1");
    assert_string_equal(answer_field(&ans, 1, "ttl"), "300");
    assert_string_equal(answer_field(&ans, 2, "data"), "fd00::1");
    assert_string_equal(answer_field(&ans, 3, "data"), "10 mail.example.test");
    assert_string_equal(answer_field(&ans, 4, "data"), "1 5 8080 example.test");
    /* TXT strings joined, a control byte and a backslash escaped */
    assert_string_equal(answer_field(&ans, 5, "data"), "v=spf1 -\\001\\092");
    assert_string_equal(answer_field(&ans, 6, "data"), "ns1.example.test");
    assert_string_equal(answer_field(&ans, 7, "type"), "TYPE99");
    assert_string_equal(answer_field(&ans, 7, "data"), "\\# 2 abcd");
    assert_non_null(strstr(text.data, "www.example.test. 300 IN A 10.0.0.1\n"));
    assert_non_null(strstr(text.data, "www.example.test. 3600 IN MX 10 mail.example.test\n"));
    cJSON_Delete(ans.answers);
    buf_free(&text);
}

/* Each malformed message is TL_ESYNTAX with a reason, never a read past
 * its end (ASan would say so). */
static void test_answer_malformed(void **state)
{
    unsigned char m[256];
    const unsigned char a[] = {10, 0, 0, 1};
    struct {
        const char *what;
        size_t len;
        const char *reason;
    } cases[8];
    unsigned char bufs[8][256];
    size_t k = 0, n;

    n = msg_head(m, 0, 1);
    n = rr(m, n, 1, 60, a, sizeof(a));
    memcpy(bufs[k], m, n);
    bufs[k][n - 5] = 200; /* rdlength 200 with 4 bytes left */
    cases[k++] = (typeof(cases[0])){"data past the end", n, "record data past the end"};
    memcpy(bufs[k], m, n);
    cases[k++] = (typeof(cases[0])){"cut in a record header", n - 8, "record header past the end"};
    memcpy(bufs[k], m, n);
    cases[k++] = (typeof(cases[0])){"shorter than a header", 7, "shorter than a header"};
    memcpy(bufs[k], m, n);
    bufs[k][2] = 0x05; /* QR clear */
    cases[k++] = (typeof(cases[0])){"a query", n, "not a response"};
    n = msg_head(m, 0, 1);
    const unsigned char five[] = {10, 0, 0, 1, 2};
    n = rr(m, n, 1, 60, five, sizeof(five));
    memcpy(bufs[k], m, n);
    cases[k++] = (typeof(cases[0])){"an A of 5 bytes", n, "address of the wrong length"};
    n = msg_head(m, 0, 1);
    const unsigned char loop[] = {0xc0, 46}; /* a CNAME whose data points at itself */
    n = rr(m, n, 5, 60, loop, sizeof(loop));
    memcpy(bufs[k], m, n);
    cases[k++] = (typeof(cases[0])){"a compression loop", n, "bad name"};
    n = msg_head(m, 0, 1);
    const unsigned char txt[] = {9, 'a'};
    n = rr(m, n, 16, 60, txt, sizeof(txt));
    memcpy(bufs[k], m, n);
    cases[k++] = (typeof(cases[0])){"a TXT string longer than its record", n, "TXT string past its record"};
    n = msg_head(m, 0, 0);
    memcpy(bufs[k], m, n);
    cases[k++] = (typeof(cases[0])){"a question cut short", n - 3, "question past the end"};

    for (size_t i = 0; i < k; i++) {
        struct dns_answer ans = {0};
        struct buf text;
        buf_init(&text, 4096);
        char err[200] = "";
        /* a copy of exactly len bytes, so ASan sees any read past it */
        unsigned char *exact = malloc(cases[i].len);
        assert_non_null(exact);
        memcpy(exact, bufs[i], cases[i].len);
        int rc = dns_answer_read(exact, cases[i].len, &ans, &text, err, sizeof(err));
        if (rc != TL_ESYNTAX || !strstr(err, cases[i].reason))
            fail_msg("%s: rc %d, err \"%s\"", cases[i].what, rc, err);
        free(exact);
        cJSON_Delete(ans.answers);
        buf_free(&text);
    }
}

static void test_answer_text_cap(void **state)
{
    unsigned char m[256];
    const unsigned char a[] = {10, 0, 0, 1};
    size_t n = msg_head(m, 0, 2);
    n = rr(m, n, 1, 60, a, sizeof(a));
    n = rr(m, n, 1, 60, a, sizeof(a));
    struct dns_answer ans = {0};
    struct buf text;
    buf_init(&text, 40); /* one line fits, two do not */
    char err[200] = "";
    assert_int_equal(dns_answer_read(m, n, &ans, &text, err, sizeof(err)), TL_ETOOBIG);
    assert_true(text.len <= 40);
    cJSON_Delete(ans.answers);
    buf_free(&text);
}

/* --- the loader ------------------------------------------------------------ */

static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/tripline-test-dns-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Loads one probe whose one step is `dns: BLOCK` (and `expect: EXPECT`). */
static struct probe_set *load_step(const char *block, const char *expect, struct strv *errors)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "- probe: t\n  vars: {host: api, want: x}\n  steps:\n    - name: s\n      dns: %s\n%s%s%s", block, expect ? "      expect: " : "",
             expect ? expect : "", expect ? "\n" : "");
    char *path = temp_file(text);
    struct probe_set *set = NULL;
    int rc = probe_load_files(&set, &path, 1, errors);
    unlink(path);
    free(path);
    if (rc != 0) {
        probe_set_free(set);
        return NULL;
    }
    return set;
}

static const struct dns_def *def_of(const struct probe_set *set)
{
    assert_int_equal(set->probes[0]->steps[0].kind, STEP_DNS);
    return set->probes[0]->steps[0].kind_def;
}

static void test_load_good(void **state)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_step("{name: \"{{ host }}.example.test\", type: MX, server: \"[::1]\", transport: tcp}",
                                      "{dns: {rcode: NOERROR, answers: {equals: [a, b]}, ttl: {min: 60, max: 600}}}",
                                      &errors);
    assert_non_null(set);
    const struct dns_def *d = def_of(set);
    assert_int_equal(d->type, DNS_MX);
    assert_string_equal(d->server, "[::1]:53");
    assert_true(d->tcp);
    assert_int_equal(d->op, DNS_MATCH_EQUALS);
    assert_int_equal(d->n_equals, 2);
    assert_int_equal(d->ttl_min, 60);
    assert_int_equal(d->ttl_max, 600);
    assert_int_equal(d->min_answers, 1);
    probe_set_free(set);
    /* defaults: A, resolv.conf, UDP, NOERROR and one answer */
    set = load_step("{name: api.example.test}", NULL, &errors);
    assert_non_null(set);
    d = def_of(set);
    assert_int_equal(d->type, DNS_A);
    assert_null(d->server);
    assert_false(d->tcp);
    assert_int_equal(d->rcode, 0);
    assert_int_equal(d->min_answers, 1);
    probe_set_free(set);
    /* NXDOMAIN expected: no answers expected either */
    set = load_step("{name: gone.example.test, server: 10.0.0.53:5353}", "{dns: {rcode: NXDOMAIN}}", &errors);
    assert_non_null(set);
    assert_int_equal(def_of(set)->min_answers, 0);
    assert_string_equal(def_of(set)->server, "10.0.0.53:5353");
    probe_set_free(set);
    strv_free(&errors);
}

static void expect_error(const char *block, const char *expect, const char *want)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_step(block, expect, &errors);
    assert_null(set);
    bool found = false;
    for (size_t i = 0; i < errors.n && !found; i++)
        found = strstr(errors.v[i], want) != NULL;
    if (!found) {
        for (size_t i = 0; i < errors.n; i++)
            fprintf(stderr, "got: %s\n", errors.v[i]);
        fail_msg("no error with \"%s\"", want);
    }
    strv_free(&errors);
}

static void test_load_errors(void **state)
{
    /* file:line:column, the path, the reason and a did-you-mean */
    expect_error("{nmae: api.example.test}", NULL, ":5:13: steps[0].dns.nmae: unknown key (did you mean \"name\"?)");
    expect_error("{server: 127.0.0.1}", NULL, "missing required key \"name\"");
    expect_error("{name: a.test, type: AAA}", NULL, ":5:33: steps[0].dns.type: unknown record type \"AAA\" (did you mean \"AAAA\"?)");
    expect_error("{name: a.test, type: PTRX}", NULL, "(expected A, AAAA, CNAME, MX, TXT, SRV or NS)");
    expect_error("{name: a.test, server: dns.google}", NULL, ":5:35: steps[0].dns.server: bad server \"dns.google\"");
    expect_error("{name: a.test, server: \"127.0.0.1:99999\"}", NULL, "bad server \"127.0.0.1:99999\"");
    expect_error("{name: a.test, transport: quic}", NULL, "unknown transport \"quic\" (expected udp or tcp)");
    expect_error("{name: \"a b.test\"}", NULL, "bad name \"a b.test\"");
    expect_error("{name: \"{{ x\"}", NULL, "steps[0].dns.name:");
    expect_error("{name: a.test}", "{dns: {rcode: SERVFAILL}}",
                 ":6:29: steps[0].expect.dns.rcode: unknown rcode \"SERVFAILL\" (did you mean \"SERVFAIL\"?)");
    expect_error("{name: a.test}", "{dns: {ttl: {min: 600, max: 60}}}", "ttl min 600 is above max 60");
    expect_error("{name: a.test}", "{dns: {answers: {contains: a, matches: b}}}",
                 "answers takes one test (expected only one of contains, equals or matches)");
    expect_error("{name: a.test}", "{dns: {answers: {matches: \"(\"}}}", "bad regex \"(\"");
    expect_error("{name: a.test}", "{dns: {min_answer: 2}}", "unknown key (did you mean \"min_answers\"?)");
    expect_error("{name: a.test}", "{status: 200}", "expect.status applies to HTTP responses, not to a dns step");
}

/* --- the judge ---------------------------------------------------------------- */

struct judged {
    struct check_outcome co;
    struct verdict answer;
};

static void judge(const char *block, const char *expect, const char *facts, struct judged *out)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_step(block, expect, &errors);
    assert_non_null(set);
    struct response resp;
    memset(&resp, 0, sizeof(resp));
    resp.facts = cJSON_Parse(facts);
    assert_non_null(resp.facts);
    struct tpl_vars vars;
    tpl_vars_init(&vars);
    assert_int_equal(tpl_vars_set(&vars, "want", "10.0.0.2", false), 0);
    check_outcome_init(&out->co);
    out->answer = (struct verdict){BUCKET_NONE, REASON_OK, 0};
    assert_int_equal(dns_kind_ops.judge(def_of(set), &resp, &vars, &out->co, &out->answer), 0);
    tpl_vars_free(&vars);
    cJSON_Delete(resp.facts);
    probe_set_free(set);
    strv_free(&errors);
}

#define TWO_A                                                                                            \
    "{\"rcode\":\"NOERROR\",\"answers\":[{\"name\":\"w\",\"type\":\"CNAME\",\"ttl\":5,\"data\":\"api\"}," \
    "{\"name\":\"api\",\"type\":\"A\",\"ttl\":300,\"data\":\"10.0.0.1\"},"                               \
    "{\"name\":\"api\",\"type\":\"A\",\"ttl\":30,\"data\":\"10.0.0.2\"}]}"

static void judge_one(const char *expect, const char *facts, const char *want_failure)
{
    struct judged j;
    judge("{name: api.example.test}", expect, facts, &j);
    if (!want_failure) {
        if (j.co.failures.n)
            fail_msg("unexpected failure: %s", j.co.failures.v[0]);
        assert_false(j.co.checks_failed);
    } else {
        assert_true(j.co.checks_failed);
        assert_int_equal(j.co.failures.n, 1);
        if (strcmp(j.co.failures.v[0], want_failure) != 0)
            fail_msg("got \"%s\", want \"%s\"", j.co.failures.v[0], want_failure);
    }
    check_outcome_free(&j.co);
}

static void test_judge_answers(void **state)
{
    judge_one(NULL, TWO_A, NULL);
    judge_one("{dns: {answers: {contains: 10.0.0.1}}}", TWO_A, NULL);
    judge_one("{dns: {answers: {contains: \"{{ want }}\"}}}", TWO_A, NULL);
    judge_one("{dns: {answers: {contains: 10.0.0.9}}}", TWO_A,
              "dns: no A answer is \"10.0.0.9\" (answers: 10.0.0.1, 10.0.0.2)");
    /* equals is a set: order does not matter, the CNAME in front is not an answer */
    judge_one("{dns: {answers: {equals: [10.0.0.2, 10.0.0.1]}}}", TWO_A, NULL);
    judge_one("{dns: {answers: {equals: [10.0.0.1]}}}", TWO_A,
              "dns: A answers are 10.0.0.1, 10.0.0.2, expected 1 value");
    judge_one("{dns: {answers: {matches: \"^10\\\\.0\\\\.\"}}}", TWO_A, NULL);
    judge_one("{dns: {answers: {matches: \"1$\"}}}", TWO_A, "dns: A answer \"10.0.0.2\" does not match \"1$\"");
    judge_one("{dns: {ttl: {min: 60}}}", TWO_A, "dns: A answer 10.0.0.2 has TTL 30 s, expected at least 60 s");
    judge_one("{dns: {ttl: {max: 60}}}", TWO_A, "dns: A answer 10.0.0.1 has TTL 300 s, expected at most 60 s");
    judge_one("{dns: {min_answers: 3}}", TWO_A, "dns: 2 A answers, expected at least 3");
    judge_one(NULL, "{\"rcode\":\"NOERROR\",\"answers\":[]}", "dns: 0 A answers, expected at least 1");
    judge_one("{dns: {min_answers: 0}}", "{\"rcode\":\"NOERROR\",\"answers\":[]}", NULL);
}

static void test_judge_rcode(void **state)
{
    static const struct {
        const char *expect, *rcode;
        enum bucket bucket;
        enum reason reason;
    } cases[] = {
        {NULL, "SERVFAIL", BUCKET_UPSTREAM, REASON_DNS_SERVFAIL},
        {NULL, "REFUSED", BUCKET_UPSTREAM, REASON_DNS_REFUSED},
        {NULL, "NXDOMAIN", BUCKET_CONTRACT, REASON_DNS_NXDOMAIN},
        {NULL, "FORMERR", BUCKET_NONE, REASON_OK},    /* the generic check verdict */
        {"{dns: {rcode: NXDOMAIN}}", "NOERROR", BUCKET_NONE, REASON_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char facts[128];
        snprintf(facts, sizeof(facts), "{\"rcode\":\"%s\",\"answers\":[]}", cases[i].rcode);
        struct judged j;
        judge("{name: api.example.test}", cases[i].expect, facts, &j);
        assert_true(j.co.checks_failed);
        assert_int_equal(j.co.failures.n, 1); /* no record tests on a wrong rcode */
        assert_non_null(strstr(j.co.failures.v[0], "dns rcode "));
        assert_int_equal(j.answer.bucket, cases[i].bucket);
        assert_int_equal(j.answer.reason, cases[i].reason);
        check_outcome_free(&j.co);
    }
    judge_one("{dns: {rcode: NXDOMAIN}}", "{\"rcode\":\"NXDOMAIN\",\"answers\":[]}", NULL);
}

/* --- real exchanges ----------------------------------------------------------- */

struct server {
    pid_t pid;
    int port;
};

/* Starts tests/fixtures/SCRIPT [MODE] and reads the port it prints; port 0
 * when it could not start (dnsmasq missing: the caller skips). */
static void server_start(struct server *s, const char *script, const char *mode)
{
    const char *src = getenv("TRIPLINE_SOURCE_DIR");
    char path[1024], line[64] = "";
    snprintf(path, sizeof(path), "%s/tests/fixtures/%s", src ? src : TRIPLINE_SOURCE_DIR, script);
    char *argv[] = {path, (char *)mode, NULL};
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    int rc = posix_spawn(&s->pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    assert_int_equal(rc, 0);
    FILE *f = fdopen(pfd[0], "r");
    assert_non_null(f);
    s->port = fgets(line, sizeof(line), f) ? (int)strtol(line, NULL, 10) : 0;
    fclose(f);
    if (s->port <= 0) {
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

static void server_stop(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = 0;
}

static struct server zone, fault_servfail, fault_silent, fault_garbage, fault_big, fault_ns;

static int servers_up(void **state)
{
    server_start(&zone, "dns_zone.py", NULL);
    server_start(&fault_servfail, "dns_fault.py", "servfail");
    server_start(&fault_silent, "dns_fault.py", "silent");
    server_start(&fault_garbage, "dns_fault.py", "garbage");
    server_start(&fault_big, "dns_fault.py", "big");
    server_start(&fault_ns, "dns_fault.py", "ns");
    return 0;
}

static int servers_down(void **state)
{
    server_stop(&zone);
    server_stop(&fault_servfail);
    server_stop(&fault_silent);
    server_stop(&fault_garbage);
    server_stop(&fault_big);
    server_stop(&fault_ns);
    return 0;
}

struct got {
    struct response *resp;
    int calls;
};

static void on_done(struct response *resp, void *arg)
{
    struct got *g = arg;
    g->resp = resp;
    g->calls++;
}

static int render(void *arg, const struct tpl *t, char **out, bool *secret, char *err, size_t errlen)
{
    *out = tpl_render_str(t, arg, TPL_ESC_NONE, secret, err, errlen);
    return *out ? 0 : TL_ENOTFOUND;
}

/* One exchange of the step `dns: BLOCK` on a fresh loop; the loop must end
 * empty (every handle closed once). The caller frees the response. */
static struct response *exchange(const char *block, tl_usec timeout, size_t data_max, char **target)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_step(block, NULL, &errors);
    assert_non_null(set);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tpl_vars vars;
    tpl_vars_init(&vars);
    assert_int_equal(tpl_vars_set(&vars, "host", "api", false), 0);
    struct got g = {0};
    char err[256] = "";
    struct kind_run run = {
        .loop = &loop, .step = &set->probes[0]->steps[0], .def = def_of(set), .timeout = timeout,
        .data_max = data_max, .render = render, .render_arg = &vars, .done = on_done, .done_arg = &g,
        .err = err, .errlen = sizeof(err),
    };
    if (target)
        *target = dns_kind_ops.target(&run);
    tl_usec t0 = tl_mono_us();
    assert_int_equal(dns_kind_ops.start(&run), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(g.calls, 1);
    /* never much past the deadline, whatever the server does */
    assert_true(tl_mono_us() - t0 < timeout + 500 * MS);
    assert_int_equal(uv_loop_close(&loop), 0);
    tpl_vars_free(&vars);
    probe_set_free(set);
    strv_free(&errors);
    return g.resp;
}

static void resp_done(struct response *r)
{
    response_free(r);
    free(r);
}

static const char *fact(const struct response *r, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->facts, key));
}

static const char *answer_data(const struct response *r, int i)
{
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r->facts, "answers"), i);
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "data"));
}

static int answers_n(const struct response *r)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r->facts, "answers"));
}

#define NEED(s)                                                  \
    do {                                                         \
        if ((s).port <= 0)                                       \
            skip(); /* dnsmasq or python3-dnspython missing */ \
    } while (0)

static void test_live_zone_udp_tcp(void **state)
{
    NEED(zone);
    char block[256], *target = NULL;
    snprintf(block, sizeof(block), "{name: \"{{ host }}.example.test\", server: \"127.0.0.1:%d\"}", zone.port);
    struct response *r = exchange(block, 2000 * MS, 65536, &target);
    assert_int_equal(r->fail, TRANSFER_OK);
    assert_string_equal(fact(r, "rcode"), "NOERROR");
    assert_string_equal(fact(r, "transport"), "udp");
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", zone.port);
    assert_string_equal(fact(r, "server"), want);
    assert_string_equal(r->primary_ip, "127.0.0.1");
    assert_int_equal(answers_n(r), 2);
    assert_true(r->timings.dns > 0 && r->timings.dns == r->timings.total && r->timings.ttfb == r->timings.total);
    assert_non_null(strstr(r->body.data, "api.example.test. 300 IN A 10.0.0.1\n"));
    snprintf(want, sizeof(want), "dns://127.0.0.1:%d/api.example.test?type=A", zone.port);
    assert_string_equal(target, want);
    free(target);
    resp_done(r);

    static const struct {
        const char *name, *type, *data;
    } recs[] = {
        {"api.example.test", "AAAA", "fd00::1"},
        {"www.example.test", "CNAME", "api.example.test"},
        {"example.test", "MX", "10 mail.example.test"},
        {"example.test", "TXT", "v=spf1 -all"},
        {"_http._tcp.example.test", "SRV", "1 5 8080 api.example.test"},
    };
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        for (int tcp = 0; tcp < 2; tcp++) {
            snprintf(block, sizeof(block), "{name: %s, type: %s, server: \"127.0.0.1:%d\", transport: %s}",
                     recs[i].name, recs[i].type, zone.port, tcp ? "tcp" : "udp");
            r = exchange(block, 2000 * MS, 65536, NULL);
            assert_int_equal(r->fail, TRANSFER_OK);
            assert_string_equal(answer_data(r, 0), recs[i].data);
            assert_string_equal(fact(r, "transport"), tcp ? "tcp" : "udp");
            resp_done(r);
        }
    }
    snprintf(block, sizeof(block), "{name: nope.example.test, server: \"127.0.0.1:%d\"}", zone.port);
    r = exchange(block, 2000 * MS, 65536, NULL);
    assert_int_equal(r->fail, TRANSFER_OK);
    assert_string_equal(fact(r, "rcode"), "NXDOMAIN");
    resp_done(r);
}

static void test_live_faults(void **state)
{
    NEED(fault_servfail);
    char block[256];
    snprintf(block, sizeof(block), "{name: api.example.test, server: \"127.0.0.1:%d\"}", fault_servfail.port);
    struct response *r = exchange(block, 2000 * MS, 65536, NULL);
    assert_int_equal(r->fail, TRANSFER_OK); /* an answer: the judge says SERVFAIL is upstream's */
    assert_string_equal(fact(r, "rcode"), "SERVFAIL");
    resp_done(r);

    /* never answers: a timeout at the deadline, over UDP and over TCP */
    for (int tcp = 0; tcp < 2; tcp++) {
        snprintf(block, sizeof(block), "{name: api.example.test, server: \"127.0.0.1:%d\", transport: %s}",
                 fault_silent.port, tcp ? "tcp" : "udp");
        tl_usec t0 = tl_mono_us();
        r = exchange(block, 600 * MS, 65536, NULL);
        if (tl_mono_us() - t0 < 500 * MS)
            fail_msg("tcp=%d: gave up after %lld ms: %s", tcp, (long long)(tl_mono_us() - t0) / MS, r->error);
        assert_int_equal(r->fail, TRANSFER_KIND);
        assert_int_equal(r->kind_reason, REASON_TIMEOUT);
        assert_non_null(strstr(r->error, "no answer from 127.0.0.1:"));
        resp_done(r);
    }

    /* an answer record running past the message */
    for (int tcp = 0; tcp < 2; tcp++) {
        snprintf(block, sizeof(block), "{name: api.example.test, server: \"127.0.0.1:%d\", transport: %s}",
                 fault_garbage.port, tcp ? "tcp" : "udp");
        r = exchange(block, 2000 * MS, 65536, NULL);
        assert_int_equal(r->fail, TRANSFER_KIND);
        assert_int_equal(r->kind_reason, REASON_BROKEN_RESPONSE);
        assert_non_null(strstr(r->error, "malformed answer: record data past the end"));
        resp_done(r);
    }

    /* nobody listens: refused (ICMP port unreachable on UDP, RST on TCP) */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    for (int tcp = 0; tcp < 2; tcp++) {
        snprintf(block, sizeof(block), "{name: api.example.test, server: \"127.0.0.1:%d\", transport: %s}",
                 ntohs(sa.sin_port), tcp ? "tcp" : "udp");
        r = exchange(block, 2000 * MS, 65536, NULL);
        assert_int_equal(r->fail, TRANSFER_KIND);
        assert_int_equal(r->kind_reason, REASON_CONNECT);
        resp_done(r);
    }
}

static void test_live_truncated_and_caps(void **state)
{
    NEED(fault_big);
    char block[256];
    /* UDP answer truncated: c-ares asks again over TCP and gets all 250 */
    snprintf(block, sizeof(block), "{name: big.example.test, type: TXT, server: \"127.0.0.1:%d\"}", fault_big.port);
    struct response *r = exchange(block, 3000 * MS, 1 << 20, NULL);
    assert_int_equal(r->fail, TRANSFER_OK);
    assert_int_equal(answers_n(r), 250);
    resp_done(r);
    /* the same answer over a small data_max: too big, and the body stays capped */
    r = exchange(block, 3000 * MS, 4096, NULL);
    assert_int_equal(r->fail, TRANSFER_BODY_TOO_BIG);
    assert_true(r->body.len <= 4096);
    resp_done(r);
    /* NS records */
    snprintf(block, sizeof(block), "{name: example.test, type: NS, server: \"127.0.0.1:%d\"}", fault_ns.port);
    r = exchange(block, 2000 * MS, 65536, NULL);
    assert_int_equal(r->fail, TRANSFER_OK);
    assert_int_equal(answers_n(r), 2);
    assert_non_null(strstr("ns1.example.test ns2.example.test", answer_data(r, 0)));
    resp_done(r);
}

/* A template naming a variable the run does not have (the probe defines
 * it, the run's variables lack it): start refuses with TL_ENOTFOUND and the
 * reason, and done is never called. */
static void test_start_bad_var(void **state)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_step("{name: \"{{ host }}.example.test\", server: 127.0.0.1}", NULL, &errors);
    assert_non_null(set);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tpl_vars vars;
    tpl_vars_init(&vars);
    struct got g = {0};
    char err[256] = "";
    struct kind_run run = {
        .loop = &loop, .step = &set->probes[0]->steps[0], .def = def_of(set), .timeout = 1000 * MS,
        .data_max = 4096, .render = render, .render_arg = &vars, .done = on_done, .done_arg = &g,
        .err = err, .errlen = sizeof(err),
    };
    assert_int_equal(dns_kind_ops.start(&run), TL_ENOTFOUND);
    assert_true(err[0] != '\0');
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(g.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    tpl_vars_free(&vars);
    probe_set_free(set);
    strv_free(&errors);
}

/* No descriptor left: the exchange fails as the agent's own (fd_limit), either
 * at start or when c-ares cannot open its socket, and nothing is left open. */
static void test_start_no_descriptors(void **state)
{
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load_step("{name: api.example.test, server: 127.0.0.1}", NULL, &errors);
    assert_non_null(set);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tpl_vars vars;
    tpl_vars_init(&vars);
    struct got g = {0};
    char err[256] = "";
    struct kind_run run = {
        .loop = &loop, .step = &set->probes[0]->steps[0], .def = def_of(set), .timeout = 1000 * MS,
        .data_max = 4096, .render = render, .render_arg = &vars, .done = on_done, .done_arg = &g,
        .err = err, .errlen = sizeof(err),
    };
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds[256], n = 0;
    while (n < 256 && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        n++;
    int rc = dns_kind_ops.start(&run);
    while (n > 0)
        close(fds[--n]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (rc < 0) {
        assert_non_null(strstr(err, "cannot set up the resolver"));
    } else {
        /* started, but no socket for the question: the agent's, never "connect" */
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(g.calls, 1);
        assert_int_equal(g.resp->fail, TRANSFER_KIND);
        assert_int_equal(g.resp->kind_reason, REASON_FD_LIMIT);
        assert_non_null(strstr(g.resp->error, "no descriptor left"));
        resp_done(g.resp);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    tpl_vars_free(&vars);
    probe_set_free(set);
    strv_free(&errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_types),
        cmocka_unit_test(test_answer_malformed),
        cmocka_unit_test(test_answer_text_cap),
        cmocka_unit_test(test_load_good),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_judge_answers),
        cmocka_unit_test(test_judge_rcode),
        cmocka_unit_test(test_start_bad_var),
        cmocka_unit_test(test_start_no_descriptors),
        cmocka_unit_test(test_live_zone_udp_tcp),
        cmocka_unit_test(test_live_faults),
        cmocka_unit_test(test_live_truncated_and_caps),
    };
    return cmocka_run_group_tests(tests, servers_up, servers_down);
}
