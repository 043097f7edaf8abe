/* The tcp step kind: its loader, and real exchanges on a loop against the
 * tcp_banner fixture (Redis-like PING, SMTP banner, silence, reset, flood,
 * TLS with a certificate made here by the openssl CLI). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "probes/kinds/tcp_int.h"
#include "probes/redact/redact.h"
#include "probes/yaml/yaml_util.h"
#include "tests/lib/kind_doc.h"

extern char **environ;

#define MS 1000
#define SEC (1000 * MS)

struct fixture {
    pid_t pid;
    char dir[64];
    int ping, smtp, silent, reset, flood, close, tls;
};
static struct fixture fx;

/* --- loading ---------------------------------------------------------------- */

static void doc_load(struct doc *d, const char *text)
{
    doc_load_kind(d, &tcp_kind_ops, text);
}

static void test_load_ok(void **state)
{
    (void)state;
    struct doc d;
    doc_load(&d, "tcp:\n  host: \"{{ db }}\"\n  port: 6379\n  tls: {server_name: db.test, verify: false}\n"
                 "  exchange:\n    - send: \"PING\\r\\n\"\n    - expect: \"+PONG\"\n"
                 "    - expect: {matches: \"^[+]\"}\n");
    assert_int_equal(d.rc, 0);
    const struct tcp_def *def = d.def;
    assert_int_equal(def->port, 6379);
    assert_true(def->tls);
    assert_false(def->verify);
    assert_string_equal(def->server_name, "db.test");
    assert_int_equal(def->n_lines, 3);
    assert_int_equal(def->lines[0].kind, TCP_SEND);
    assert_int_equal(def->lines[1].kind, TCP_CONTAINS);
    assert_int_equal(def->lines[2].kind, TCP_MATCHES);
    assert_int_equal(def->host.n, 1);
    doc_done(&d);

    doc_load(&d, "tcp: {host: db, port: 1, tls: true}\n");
    assert_int_equal(d.rc, 0);
    assert_true(((const struct tcp_def *)d.def)->verify);
    doc_done(&d);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct doc d;
    doc_load(&d, "tcp:\n  host: db\n  prot: 5432\n");
    assert_int_not_equal(d.rc, 0);
    assert_true(has_error(&d, ":3:3:", "did you mean \"port\""));
    assert_true(has_error(&d, ":2:3:", "missing required key \"port\""));
    doc_done(&d);

    doc_load(&d, "tcp:\n  host: db\n  port: 70000\n  tls: maybe\n");
    assert_true(has_error(&d, ":3:9:", "70000"));
    assert_true(has_error(&d, ":4:8:", "expected true or false"));
    doc_done(&d);

    doc_load(&d, "tcp:\n  host: db\n  port: 1\n  exchange:\n    - {send: a, expect: b}\n"
                 "    - expect: {matches: \"(\"}\n    - recv: x\n    - send: \"{{ x\"\n");
    assert_true(has_error(&d, ":5:7:", "more or less than one key"));
    assert_true(has_error(&d, ":6:25:", "bad regex"));
    assert_true(has_error(&d, ":7:7:", "recv: unknown key"));
    assert_true(has_error(&d, ":8:14:", "}}"));
    doc_done(&d);

    doc_load(&d, "tcp: {host: db, port: 1, tls: {ca_fil: x}}\nexpect: {tcp: {x: 1}}\n");
    assert_true(has_error(&d, ":1:32:", "did you mean \"ca_file\""));
    assert_true(has_error(&d, ":2:15:", "expect.tcp has nothing to judge"));
    doc_done(&d);

    doc_load(&d, "tcp: {host: db, port: 1, tls: false, exchange: [{expect: {matches: a, contains: b}}]}\n");
    assert_true(has_error(&d, ":1:58:", "exactly one"));
    doc_done(&d);
}

/* --- running ------------------------------------------------------------------ */

struct run {
    uv_loop_t loop;
    struct tpl_vars vars;
    struct doc doc;
    int calls;
    struct response *resp;
    struct check_outcome co;
};

static int render(void *arg, const struct tpl *t, char **out, bool *secret, char *err, size_t errlen)
{
    struct run *r = arg;
    struct buf b;
    buf_init(&b, 65536);
    int rc = tpl_render(t, &r->vars, TPL_ESC_NONE, &b, secret, err, errlen);
    if (rc) {
        buf_free(&b);
        return rc;
    }
    *out = buf_take(&b);
    return 0;
}

static void done_cb(struct response *resp, void *arg)
{
    struct run *r = arg;
    r->calls++;
    r->resp = resp;
}

/* Loads text (with %d replaced by port), runs one exchange to its end and
 * judges it. */
static struct response *run_one(struct run *r, tl_usec timeout, size_t data_max, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static struct response *run_one(struct run *r, tl_usec timeout, size_t data_max, const char *fmt, ...)
{
    char yaml[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(yaml, sizeof(yaml), fmt, ap);
    va_end(ap);
    doc_load(&r->doc, yaml);
    assert_int_equal(r->doc.rc, 0);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    struct kind_run kr = {
        .loop = &r->loop, .def = r->doc.def, .timeout = timeout, .data_max = data_max,
        .render = render, .render_arg = r, .done = done_cb, .done_arg = r,
    };
    assert_int_equal(tcp_kind_ops.start(&kr), 0);
    assert_int_equal(r->calls, 0); /* never from inside start */
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(r->calls, 1);
    assert_int_equal(uv_loop_close(&r->loop), 0);
    check_outcome_init(&r->co);
    struct verdict answer = {0};
    if (r->resp->fail == TRANSFER_OK)
        assert_int_equal(tcp_kind_ops.judge(r->doc.def, r->resp, &r->vars, &r->co, &answer), 0);
    return r->resp;
}

static void run_init(struct run *r)
{
    memset(r, 0, sizeof(*r));
    tpl_vars_init(&r->vars);
    assert_int_equal(tpl_vars_set(&r->vars, "db", "127.0.0.1", false), 0);
    assert_int_equal(tpl_vars_set(&r->vars, "token", "s3cret-canary-value", true), 0);
}

static void run_done(struct run *r)
{
    check_outcome_free(&r->co);
    if (r->resp) {
        response_free(r->resp);
        free(r->resp);
    }
    tpl_vars_free(&r->vars);
    doc_done(&r->doc);
}

static const char *fact(const struct response *resp, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp->facts, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void assert_kind_fail(const struct response *resp, enum reason want)
{
    if (resp->fail != TRANSFER_KIND || resp->kind_reason != want)
        fail_msg("fail %d reason %s (wanted %s): %s", resp->fail, reason_str(resp->kind_reason), reason_str(want),
                 resp->error);
}

static void test_ping_pong(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    struct response *resp = run_one(&r, 5 * SEC, 4096, "tcp: {host: \"{{ db }}\", port: %d, exchange: "
                                         "[{send: \"PING\\r\\n\"}, {expect: \"+PONG\"}]}\n", fx.ping);
    assert_int_equal(resp->fail, TRANSFER_OK);
    assert_int_equal(r.co.failures.n, 0);
    assert_string_equal(resp->primary_ip, "127.0.0.1");
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", fx.ping);
    assert_string_equal(fact(resp, "address"), addr);
    assert_string_equal(fact(resp, "received"), "+PONG\\r\\n");
    assert_true(resp->timings.ttfb > 0 && resp->timings.total >= resp->timings.ttfb);
    assert_true(resp->timings.total >= resp->timings.dns + resp->timings.connect);
    run_done(&r);
}

static void test_smtp_banner(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    struct response *resp = run_one(&r, 5 * SEC, 4096, "tcp: {host: 127.0.0.1, port: %d, exchange: [{expect: {matches: \"^220 .*ESMTP\"}},"
                                         " {send: \"QUIT\\r\\n\"}, {expect: \"221\"}]}\n", fx.smtp);
    assert_int_equal(resp->fail, TRANSFER_OK);
    assert_int_equal(r.co.failures.n, 0);
    assert_non_null(strstr(resp->body.data, "221 bye"));
    run_done(&r);
}

static void test_connect_only(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    struct response *resp = run_one(&r, 5 * SEC, 4096, "tcp: {host: localhost, port: %d}\n", fx.silent);
    assert_int_equal(resp->fail, TRANSFER_OK);
    assert_int_equal(r.co.failures.n, 0);
    assert_true(resp->timings.total < 2 * SEC); /* no waiting for a silent peer */
    run_done(&r);
}

static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static void test_failures(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_kind_fail(run_one(&r, 5 * SEC, 4096, "tcp: {host: 127.0.0.1, port: %d}\n", closed_port()), REASON_CONNECT);
    run_done(&r);

    run_init(&r);
    assert_kind_fail(run_one(&r, 5 * SEC, 4096, "tcp: {host: no-such-host.invalid, port: %d}\n", 1), REASON_DNS);
    run_done(&r);

    run_init(&r);
    struct response *resp = run_one(&r, 300 * MS, 4096, "tcp: {host: 127.0.0.1, port: %d, exchange: [{expect: banner}]}\n", fx.silent);
    assert_kind_fail(resp, REASON_TIMEOUT);
    assert_true(resp->timings.total >= 295 * MS); /* libuv counts whole milliseconds */
    run_done(&r);

    run_init(&r);
    assert_kind_fail(run_one(&r, 5 * SEC, 4096, "tcp: {host: 127.0.0.1, port: %d, exchange: [{expect: banner}]}\n", fx.reset),
                     REASON_RESET);
    run_done(&r);

    run_init(&r);
    resp = run_one(&r, 5 * SEC, 100000, "tcp: {host: 127.0.0.1, port: %d, exchange: [{expect: never}]}\n", fx.flood);
    assert_int_equal(resp->fail, TRANSFER_BODY_TOO_BIG);
    assert_int_equal(resp->body.len, 100000);
    assert_true(strlen(fact(resp, "received")) <= TCP_RECEIVED_MAX + 8);
    run_done(&r);

    run_init(&r); /* a variable that is not there: start says so, done is never called */
    doc_load(&r.doc, "tcp: {host: \"{{ nope }}\", port: 1}\n");
    char err[128] = "";
    struct kind_run kr = {.def = r.doc.def, .timeout = SEC, .render = render, .render_arg = &r, .err = err,
                          .errlen = sizeof(err)};
    assert_int_equal(tcp_kind_ops.start(&kr), TL_ENOTFOUND);
    assert_non_null(strstr(err, "nope"));
    run_done(&r);
}

/* Lines not met are the judge's: the exchange itself completed. */
static void test_unmet(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    struct response *resp = run_one(&r, 5 * SEC, 4096, "tcp: {host: 127.0.0.1, port: %d, exchange: [{expect: banner}]}\n", fx.close);
    assert_int_equal(resp->fail, TRANSFER_OK);
    assert_int_equal(r.co.failures.n, 1);
    assert_true(r.co.checks_failed);
    assert_non_null(strstr(r.co.failures.v[0], "tcp exchange[0]: expected \"banner\", not seen: the peer closed"));
    run_done(&r);

    run_init(&r);
    resp = run_one(&r, 300 * MS, 4096, "tcp: {host: 127.0.0.1, port: %d, exchange: [{send: \"HELLO\\r\\n\"}, {expect: {matches: \"^[+]PONG\"}}]}\n", fx.ping);
    assert_int_equal(resp->fail, TRANSFER_OK);
    assert_int_equal(r.co.failures.n, 1);
    assert_non_null(strstr(r.co.failures.v[0], "tcp exchange[1]: expected a match of /^[+]PONG/, not seen: not seen within the timeout"));
    assert_string_equal(fact(resp, "received"), "-ERR unknown command\\r\\n");
    run_done(&r);
}

/* A secret sent and echoed back stays out of the facts. */
static void test_secret_send(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    struct response *resp = run_one(&r, 5 * SEC, 4096, "tcp: {host: 127.0.0.1, port: %d, exchange: "
                                         "[{send: \"ECHO {{ token }}\\r\\n\"}, {expect: \"\\r\\n\"}]}\n", fx.ping);
    assert_int_equal(resp->fail, TRANSFER_OK);
    assert_non_null(strstr(resp->body.data, "s3cret-canary-value"));
    assert_null(strstr(fact(resp, "received"), "s3cret"));
    assert_non_null(strstr(fact(resp, "received"), REDACTED));
    run_done(&r);
}

static void test_tls(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    struct response *resp = run_one(&r, 5 * SEC, 4096, "tcp: {host: 127.0.0.1, port: %d, tls: {server_name: localhost, "
                                    "ca_file: %s/cert.pem}, exchange: [{send: \"PING\\r\\n\"}, {expect: \"+PONG\"}]}\n",
                                    fx.tls, fx.dir);
    assert_int_equal(resp->fail, TRANSFER_OK);
    assert_int_equal(r.co.failures.n, 0);
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(resp->facts, "tls");
    assert_non_null(tls);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(tls, "protocol")->valuestring, "TLSv1.3");
    assert_true(resp->timings.tls > 0);
    run_done(&r);

    run_init(&r); /* the address is in the certificate too */
    assert_int_equal(run_one(&r, 5 * SEC, 4096, "tcp: {host: 127.0.0.1, port: %d, tls: {ca_file: %s/cert.pem}}\n", fx.tls,
                             fx.dir)->fail,
                     TRANSFER_OK);
    run_done(&r);

    run_init(&r); /* verification is on by default: a self-signed certificate fails */
    resp = run_one(&r, 5 * SEC, 4096, "tcp: {host: localhost, port: %d, tls: true}\n", fx.tls);
    assert_kind_fail(resp, REASON_TLS);
    assert_non_null(strstr(resp->error, "certificate verification failed"));
    run_done(&r);

    run_init(&r);
    assert_kind_fail(run_one(&r, 5 * SEC, 4096,
                             "tcp: {host: 127.0.0.1, port: %d, tls: {server_name: wrong.test, ca_file: %s/cert.pem}}\n",
                             fx.tls, fx.dir),
                     REASON_TLS);
    run_done(&r);

    run_init(&r);
    assert_kind_fail(run_one(&r, 5 * SEC, 4096, "tcp: {host: 127.0.0.1, port: %d, tls: {ca_file: /nonexistent/ca.pem}}\n", fx.tls),
                     REASON_CA_FILE);
    run_done(&r);

    run_init(&r);
    assert_int_equal(run_one(&r, 5 * SEC, 4096, "tcp: {host: localhost, port: %d, tls: {verify: false}}\n", fx.tls)->fail,
                     TRANSFER_OK);
    run_done(&r);

    run_init(&r); /* TLS to a plain-text peer */
    assert_kind_fail(run_one(&r, 5 * SEC, 4096, "tcp: {host: 127.0.0.1, port: %d, tls: {verify: false}}\n", fx.smtp),
                     REASON_TLS);
    run_done(&r);
}

static void test_target(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    doc_load(&r.doc, "tcp: {host: \"{{ db }}\", port: 6379, tls: true}\n");
    struct kind_run kr = {.def = r.doc.def, .render = render, .render_arg = &r};
    char *t = tcp_kind_ops.target(&kr);
    assert_string_equal(t, "tls://127.0.0.1:6379");
    free(t);
    run_done(&r);
}

/* --- the fixture --------------------------------------------------------------- */

static int sh(const char *cmd)
{
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    pid_t pid;
    int st;
    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ))
        return -1;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int port_of(const char *line, const char *name)
{
    char key[32];
    snprintf(key, sizeof(key), "%s=", name);
    const char *p = strstr(line, key);
    return p ? (int)strtol(p + strlen(key), NULL, 10) : 0;
}

static int setup(void **state)
{
    (void)state;
    char cmd[1024], line[256];
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/tripline-test-tcp-dir-XXXXXX");
    if (!mkdtemp(fx.dir))
        return -1;
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem 2>/dev/null",
             fx.dir, fx.dir);
    if (sh(cmd))
        return -1;
    const char *src = getenv("TRIPLINE_SOURCE_DIR");
    char script[1024], cert[128], key[128];
    snprintf(script, sizeof(script), "%s/tests/fixtures/tcp_banner.py", src ? src : "..");
    snprintf(cert, sizeof(cert), "%s/cert.pem", fx.dir);
    snprintf(key, sizeof(key), "%s/key.pem", fx.dir);
    char *argv[] = {"/usr/bin/python3", script, "--cert", cert, "--key", key, NULL};
    int pipefd[2];
    posix_spawn_file_actions_t fa;
    if (pipe(pipefd))
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    int rc = posix_spawn(&fx.pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    FILE *f = fdopen(pipefd[0], "r");
    bool ok = rc == 0 && f && fgets(line, sizeof(line), f);
    if (f)
        fclose(f);
    if (!ok)
        return -1;
    fx.ping = port_of(line, "ping");
    fx.smtp = port_of(line, "smtp");
    fx.silent = port_of(line, "silent");
    fx.reset = port_of(line, "reset");
    fx.flood = port_of(line, "flood");
    fx.close = port_of(line, "close");
    fx.tls = port_of(line, "tls");
    return fx.tls ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    if (fx.pid > 0) {
        kill(fx.pid, SIGTERM);
        waitpid(fx.pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.dir);
    return sh(cmd) ? -1 : 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_ok),     cmocka_unit_test(test_load_errors), cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_smtp_banner), cmocka_unit_test(test_connect_only), cmocka_unit_test(test_failures),
        cmocka_unit_test(test_unmet),       cmocka_unit_test(test_secret_send), cmocka_unit_test(test_tls),
        cmocka_unit_test(test_target),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
