/* TLS settings and checks: the `tls:` keys of probe files (probe and step
 * level, expect.tls), how a step's settings fall back to the probe's, the
 * min_days check and its triage rule (budget/cert_expiry). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "probes/check/check_tls.h"
#include "probes/http/transfer.h"
#include "probes/load/load.h"
#include "probes/triage/triage.h"

#define PIN "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static char pem[] = "/tmp/tripline-test-tls-XXXXXX";

static int make_pem(void **state)
{
    (void)state;
    int fd = mkstemp(pem);
    if (fd < 0)
        return -1;
    close(fd); /* empty is enough: the loader opens, never reads */
    return 0;
}

static int drop_pem(void **state)
{
    (void)state;
    return unlink(pem);
}

/* Loads text from a temporary file; returns the set or NULL, errors in *errors. */
static struct probe_set *load(const char *text, struct strv *errors)
{
    char path[] = "/tmp/tripline-test-tls-yaml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char *files[] = {path};
    struct probe_set *set = NULL;
    probe_load_files(&set, files, 1, errors);
    unlink(path);
    return set;
}

static void test_keys_load(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof(text),
             "probe: p\n"
             "tls: {ca_file: %s, cert_file: %s, key_file: %s, min_version: \"1.2\", verify: false}\n"
             "steps:\n"
             "  - {name: a, request: {url: 'https://h/', tls: {pinned_public_key: \"%s\", min_version: \"1.3\"}},\n"
             "     expect: {tls: {min_days: 14}}}\n"
             "  - {name: b, request: {url: 'https://h/', tls: {verify: true, cert_file: %s}}}\n",
             pem, pem, pem, PIN, pem);
    struct strv errors;
    strv_init(&errors);
    struct probe_set *set = load(text, &errors);
    for (size_t i = 0; i < errors.n; i++)
        fprintf(stderr, "unexpected: %s\n", errors.v[i]);
    assert_non_null(set);
    const struct probe *p = set->probes[0];
    assert_string_equal(p->tls.ca_file, pem);
    assert_int_equal(p->tls.min_version, 12);
    assert_int_equal(p->tls.verify, -1);
    assert_true(p->steps[0].expect.tls_expect);
    assert_int_equal(p->steps[0].expect.tls_min_days, 14);
    assert_false(p->steps[1].expect.tls_expect);

    /* the step's own settings first, the probe's for the rest */
    struct transfer_req a = {0}, b = {0};
    transfer_tls_pick(&a, &p->steps[0].request.tls, &p->tls);
    assert_string_equal(a.ca_file, pem);
    assert_string_equal(a.pinned_public_key, PIN);
    assert_int_equal(a.tls_min_version, 13);
    assert_true(a.insecure);
    assert_string_equal(a.key_file, pem);
    transfer_tls_pick(&b, &p->steps[1].request.tls, &p->tls);
    assert_false(b.insecure);
    assert_int_equal(b.tls_min_version, 12);
    assert_null(b.pinned_public_key);
    /* a step's certificate never takes the probe's key */
    assert_string_equal(b.cert_file, pem);
    assert_null(b.key_file);
    probe_set_free(set);
    strv_free(&errors);
}

/* Each bad value is an error at its own line and column. */
static void test_key_errors(void **state)
{
    (void)state;
    static const struct {
        const char *tls, *want;
    } cases[] = {
        {"{ca_file: /nonexistent/ca.pem}", ":2:16: tls.ca_file: cannot read the CA file \"/nonexistent/ca.pem\""},
        {"{ca_file: /tmp}", ":2:16: tls.ca_file: cannot read the CA file \"/tmp\": Is a directory"},
        {"{min_version: \"1.4\"}", ":2:20: tls.min_version: unknown TLS version \"1.4\""},
        {"{pinned_public_key: abc}", ":2:26: tls.pinned_public_key: bad pin \"abc\""},
        {"{pinned_public_key: \"" PIN ";sha256//x\"}", "tls.pinned_public_key: bad pin"},
        {"{verify: maybe}", ":2:15: tls.verify:"},
        {"{cipher: x}", ":2:7: tls.cipher: unknown key"},
        {"{key_file: /etc/hostname}", ":2:6: tls: key_file without cert_file"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "probe: p\ntls: %s\nsteps: [{name: a, request: {url: 'https://h/'}}]\n",
                 cases[i].tls);
        struct strv errors;
        strv_init(&errors);
        struct probe_set *set = load(text, &errors);
        assert_null(set);
        bool found = false;
        for (size_t k = 0; k < errors.n; k++)
            found = found || strstr(errors.v[k], cases[i].want);
        if (!found)
            fprintf(stderr, "case %zu: want \"%s\", got \"%s\"\n", i, cases[i].want, errors.n ? errors.v[0] : "");
        assert_true(found);
        strv_free(&errors);
    }
}

static void test_expect_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"{min_days: -1}", "{}", "{min_day: 3}", "14"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "probe: p\nsteps: [{name: a, request: {url: 'https://h/'}, expect: {tls: %s}}]\n",
                 bad[i]);
        struct strv errors;
        strv_init(&errors);
        assert_null(load(text, &errors));
        assert_true(errors.n > 0);
        assert_non_null(strstr(errors.v[0], "steps[0].expect.tls"));
        strv_free(&errors);
    }
}

static void test_days_left(void **state)
{
    (void)state;
    struct tls_facts f = {.present = true, .not_after = 1000000};
    assert_int_equal(tls_facts_days_left(&f, 1000000), 0);
    assert_int_equal(tls_facts_days_left(&f, 1000000 - 86399), 0);
    assert_int_equal(tls_facts_days_left(&f, 1000000 - 86400 * 5 - 10), 5);
    assert_int_equal(tls_facts_days_left(&f, 1000000 + 1), -1);
    assert_int_equal(tls_facts_days_left(&f, 1000000 + 86400 * 2), -2);
}

static void test_min_days_check(void **state)
{
    (void)state;
    struct expect e = {.tls_expect = true, .tls_min_days = 14};
    struct response r = {0};
    int64_t now = 1800000000;
    r.tls.present = true;
    r.tls.not_after = now + 5 * 86400 + 3600;
    struct check_outcome o;
    check_outcome_init(&o);
    assert_int_equal(check_tls_expect(&e, &r, now, &o), 0);
    assert_true(o.cert_expiring);
    assert_int_equal(o.failures.n, 0);
    assert_int_equal(o.budget_failures.n, 1);
    assert_string_equal(o.budget_failures.v[0],
                        "certificate expires in 5 days (not after 2027-01-20T09:00:00Z) < min_days 14");
    check_outcome_free(&o);

    r.tls.not_after = now + 20 * 86400;
    check_outcome_init(&o);
    assert_int_equal(check_tls_expect(&e, &r, now, &o), 0);
    assert_false(o.cert_expiring);
    assert_int_equal(o.budget_failures.n + o.failures.n, 0);
    check_outcome_free(&o);

    /* plain http: nothing to check is a failed check, not a degradation */
    r.tls.present = false;
    check_outcome_init(&o);
    assert_int_equal(check_tls_expect(&e, &r, now, &o), 0);
    assert_false(o.cert_expiring);
    assert_true(o.checks_failed);
    assert_int_equal(o.failures.n, 1);
    check_outcome_free(&o);
}

static void test_triage_rule(void **state)
{
    (void)state;
    struct triage_input in = {.status = 200, .status_expected = true, .cert_expiring = true};
    struct verdict v = triage_step(&in);
    assert_int_equal(v.bucket, BUCKET_BUDGET);
    assert_string_equal(verdict_reason(&v), "cert_expiry");
    /* the more specific degradation over a latency budget */
    in.budget_breached = true;
    in.budget_phase = "ttfb";
    assert_string_equal(triage_reason(&in), "cert_expiry");
    /* a broken contract is worse than a degradation */
    in.checks_failed = true;
    assert_int_equal(triage_classify(&in), BUCKET_CONTRACT);
    /* an expired or untrusted certificate stays upstream/tls */
    struct triage_input hs = {.curl_code = CURLE_PEER_FAILED_VERIFICATION, .transport_failed = true};
    assert_int_equal(triage_classify(&hs), BUCKET_UPSTREAM);
    assert_string_equal(triage_reason(&hs), "tls");
    /* our own client certificate or key that curl cannot use: agent */
    struct triage_input own = {.curl_code = CURLE_SSL_CERTPROBLEM, .transport_failed = true};
    assert_int_equal(triage_classify(&own), BUCKET_AGENT);
    assert_string_equal(triage_reason(&own), "tls_file");
    assert_string_equal(reason_str(REASON_CERT_EXPIRY), "cert_expiry");
    assert_string_equal(reason_str(REASON_TLS_FILE), "tls_file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_load),
        cmocka_unit_test(test_key_errors),
        cmocka_unit_test(test_expect_errors),
        cmocka_unit_test(test_days_left),
        cmocka_unit_test(test_min_days_check),
        cmocka_unit_test(test_triage_rule),
    };
    return cmocka_run_group_tests(tests, make_pem, drop_pem);
}
