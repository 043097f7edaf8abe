/* The icmp step kind: its loader, its judge on facts, and one real run to
 * 127.0.0.1 whose outcome follows this host's net.ipv4.ping_group_range
 * (replies when the group may open ping sockets, else an agent fault).
 * tests/integration/icmp.sh covers both sides in a namespace of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "probes/kinds/icmp.h"
#include "probes/yaml/yaml_util.h"
#include "tests/lib/kind_doc.h"

#define MS 1000
#define SEC (1000 * MS)

static void doc_load(struct doc *d, const char *text)
{
    doc_load_kind(d, &icmp_kind_ops, text);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct doc d;
    doc_load(&d, "icmp: {host: 10.0.0.1, count: 3, interval: 200ms}\nexpect: {icmp: {max_loss: 0.5, max_rtt: 50ms}}\n");
    assert_int_equal(d.rc, 0);
    doc_done(&d);

    doc_load(&d, "icmp:\n  host: 10.0.0.1\n  count: 0\n  intervl: 1s\nexpect:\n  icmp: {max_loss: 2, max_rt: 1s}\n");
    assert_true(has_error(&d, ":3:10:", "count"));
    assert_true(has_error(&d, ":4:3:", "did you mean \"interval\""));
    assert_true(has_error(&d, ":6:20:", "max_loss: 2 is out of range"));
    assert_true(has_error(&d, ":6:23:", "did you mean \"max_rtt\""));
    doc_done(&d);

    doc_load(&d, "icmp: {count: 2, host: \"\"}\n");
    assert_true(has_error(&d, ":1:24:", "empty host"));
    doc_done(&d);
}

/* The judge reads the facts the exchange wrote. */
static void judge(const char *expect, const char *facts, struct check_outcome *co, struct verdict *v)
{
    struct doc d;
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "icmp: {host: h}\n%s", expect);
    doc_load(&d, yaml);
    assert_int_equal(d.rc, 0);
    struct response resp;
    memset(&resp, 0, sizeof(resp));
    resp.facts = cJSON_Parse(facts);
    assert_non_null(resp.facts);
    check_outcome_init(co);
    *v = (struct verdict){BUCKET_NONE, REASON_OK, 0};
    assert_int_equal(icmp_kind_ops.judge(d.def, &resp, NULL, co, v), 0);
    cJSON_Delete(resp.facts);
    doc_done(&d);
}

static void test_judge(void **state)
{
    (void)state;
    struct check_outcome co;
    struct verdict v;
    const char *lossy = "{\"sent\":3,\"received\":2,\"loss\":0.3333,\"rtt_ms\":{\"min\":1,\"avg\":2,\"max\":80.5}}";
    judge("", lossy, &co, &v); /* by default only a total loss fails, and that is the exchange's */
    assert_int_equal(co.failures.n, 0);
    assert_int_equal(v.bucket, BUCKET_NONE);
    check_outcome_free(&co);

    judge("expect: {icmp: {max_loss: 0}}\n", lossy, &co, &v);
    assert_int_equal(co.failures.n, 1);
    assert_string_equal(co.failures.v[0], "icmp loss 33% > max_loss 0%");
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(reason_str(v.reason), "icmp_loss");
    check_outcome_free(&co);

    judge("expect: {icmp: {max_loss: 0.5, max_rtt: 50ms}}\n", lossy, &co, &v);
    assert_int_equal(co.failures.n, 1);
    assert_string_equal(co.failures.v[0], "icmp rtt 80.5 ms > max_rtt 50.0 ms");
    assert_int_equal(v.bucket, BUCKET_BUDGET);
    check_outcome_free(&co);
}

struct run {
    int calls;
    struct response *resp;
};

static int render(void *arg, const struct tpl *t, char **out, bool *secret, char *err, size_t errlen)
{
    (void)arg;
    (void)err;
    (void)errlen;
    *secret = false;
    *out = strdup(t->src);
    return *out ? 0 : TL_ENOMEM;
}

static void done_cb(struct response *resp, void *arg)
{
    struct run *r = arg;
    r->calls++;
    r->resp = resp;
}

static void test_loopback(void **state)
{
    (void)state;
    char warn[256];
    bool refused = icmp_permitted(warn, sizeof(warn)) != 0;
    struct doc d;
    doc_load(&d, "icmp: {host: 127.0.0.1, count: 2, interval: 10ms}\n");
    uv_loop_t loop;
    struct run r = {0};
    assert_int_equal(uv_loop_init(&loop), 0);
    struct kind_run kr = {.loop = &loop, .def = d.def, .timeout = 2 * SEC, .render = render, .render_arg = &r,
                          .done = done_cb, .done_arg = &r};
    assert_int_equal(icmp_kind_ops.start(&kr), 0);
    assert_int_equal(r.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 1);
    const cJSON *sent = cJSON_GetObjectItemCaseSensitive(r.resp->facts, "sent");
    if (refused) {
        assert_int_equal(r.resp->fail, TRANSFER_KIND);
        assert_int_equal(r.resp->kind_reason, REASON_ICMP_NOT_PERMITTED);
        assert_non_null(strstr(r.resp->error, "net.ipv4.ping_group_range"));
        assert_non_null(strstr(warn, "net.ipv4.ping_group_range"));
    } else {
        assert_int_equal(r.resp->fail, TRANSFER_OK);
        assert_int_equal(sent->valueint, 2);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(r.resp->facts, "received")->valueint, 2);
        assert_true(r.resp->timings.ttfb > 0);
    }
    char *t = icmp_kind_ops.target(&kr);
    assert_string_equal(t, "icmp://127.0.0.1");
    free(t);
    response_free(r.resp);
    free(r.resp);
    doc_done(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_judge),
        cmocka_unit_test(test_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
