/* gRPC health checks: the request frame, the bounded decoding of hostile
 * answers, the check of an answer, its triage, and the loader's grpc: steps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "probes/grpc/grpc.h"
#include "probes/load/load.h"
#include "probes/triage/triage.h"

static void test_encode_request(void **state)
{
    unsigned char *f;
    size_t n;
    assert_int_equal(grpc_encode_request("payments.v1.Payments", &f, &n), 0);
    static const unsigned char want_head[] = {0, 0, 0, 0, 22, 0x0A, 20};
    assert_int_equal(n, 5 + 2 + 20);
    assert_memory_equal(f, want_head, sizeof(want_head));
    assert_memory_equal(f + 7, "payments.v1.Payments", 20);
    free(f);
    /* the overall health: proto3 leaves the empty string out */
    assert_int_equal(grpc_encode_request("", &f, &n), 0);
    static const unsigned char empty[] = {0, 0, 0, 0, 0};
    assert_int_equal(n, 5);
    assert_memory_equal(f, empty, 5);
    free(f);
    /* a name of 200 bytes takes a two-byte length varint */
    char name[201];
    memset(name, 'a', 200);
    name[200] = '\0';
    assert_int_equal(grpc_encode_request(name, &f, &n), 0);
    assert_int_equal(n, 5 + 3 + 200);
    assert_int_equal(f[4], 203);
    assert_int_equal(f[6], 0xC8);
    assert_int_equal(f[7], 0x01);
    free(f);
    char *huge = malloc(GRPC_SERVICE_MAX + 2);
    assert_non_null(huge);
    memset(huge, 'x', GRPC_SERVICE_MAX + 1);
    huge[GRPC_SERVICE_MAX + 1] = '\0';
    assert_int_equal(grpc_encode_request(huge, &f, &n), TL_ETOOBIG);
    assert_null(f);
    free(huge);
}

static int decode(const unsigned char *b, size_t n, int *serving, const char **why)
{
    /* a copy of exactly n bytes: ASan sees any read past the answer */
    unsigned char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n)
        memcpy(copy, b, n);
    int rc = grpc_decode_response(copy, n, serving, why);
    free(copy);
    return rc;
}

static void test_decode_good(void **state)
{
    int s;
    const char *why;
    static const unsigned char serving[] = {0, 0, 0, 0, 2, 0x08, 0x01};
    assert_int_equal(decode(serving, sizeof(serving), &s, &why), 0);
    assert_int_equal(s, GRPC_SERVING);
    static const unsigned char empty[] = {0, 0, 0, 0, 0};
    assert_int_equal(decode(empty, sizeof(empty), &s, &why), 0);
    assert_int_equal(s, GRPC_SERVING_UNKNOWN);
    /* unknown fields of every wire type are stepped over */
    static const unsigned char extra_ok[] = {0, 0, 0, 0, 14, 0x10, 0x96, 0x01, 0x1A, 0x02, 'h', 'i',
                                             0x25, 1, 2, 3, 4, 0x08, 0x02};
    assert_int_equal(decode(extra_ok, sizeof(extra_ok), &s, &why), 0);
    assert_int_equal(s, GRPC_NOT_SERVING);
}

static void test_decode_hostile(void **state)
{
    int s;
    const char *why;
    static const unsigned char cut_header[] = {0, 0, 0};
    assert_int_equal(decode(cut_header, sizeof(cut_header), &s, &why), TL_EINVAL);
    assert_string_equal(why, "the message frame header is cut short");
    assert_int_equal(decode(cut_header, 0, &s, &why), TL_EINVAL);
    assert_string_equal(why, "no message in the answer");
    /* a huge length: refused before anything is read */
    static const unsigned char huge[] = {0, 0x7F, 0xFF, 0xFF, 0xFF, 0x08, 0x01};
    assert_int_equal(decode(huge, sizeof(huge), &s, &why), TL_EINVAL);
    assert_string_equal(why, "the message length is over 4096 bytes");
    static const unsigned char short_msg[] = {0, 0, 0, 0, 9, 0x08, 0x01};
    assert_int_equal(decode(short_msg, sizeof(short_msg), &s, &why), TL_EINVAL);
    assert_string_equal(why, "the message is shorter than its length");
    static const unsigned char trailing[] = {0, 0, 0, 0, 2, 0x08, 0x01, 0};
    assert_int_equal(decode(trailing, sizeof(trailing), &s, &why), TL_EINVAL);
    assert_string_equal(why, "bytes after the message");
    static const unsigned char compressed[] = {1, 0, 0, 0, 2, 0x08, 0x01};
    assert_int_equal(decode(compressed, sizeof(compressed), &s, &why), TL_EINVAL);
    static const unsigned char flag[] = {7, 0, 0, 0, 2, 0x08, 0x01};
    assert_int_equal(decode(flag, sizeof(flag), &s, &why), TL_EINVAL);
    assert_string_equal(why, "a bad frame flag");
    /* a varint that never ends, one past 64 bits, a length past the message */
    static const unsigned char endless[] = {0, 0, 0, 0, 4, 0x08, 0xFF, 0xFF, 0xFF};
    assert_int_equal(decode(endless, sizeof(endless), &s, &why), TL_EINVAL);
    assert_int_equal(s, -1);
    static const unsigned char overlong[] = {0, 0, 0, 0, 12, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                             0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    assert_int_equal(decode(overlong, sizeof(overlong), &s, &why), TL_EINVAL);
    static const unsigned char len_past[] = {0, 0, 0, 0, 3, 0x12, 0x7F, 'x'};
    assert_int_equal(decode(len_past, sizeof(len_past), &s, &why), TL_EINVAL);
    assert_string_equal(why, "a field does not fit in the message");
    static const unsigned char group[] = {0, 0, 0, 0, 2, 0x0B, 0x0C};
    assert_int_equal(decode(group, sizeof(group), &s, &why), TL_EINVAL);
    static const unsigned char fixed_cut[] = {0, 0, 0, 0, 3, 0x0D, 1, 2};
    assert_int_equal(decode(fixed_cut, sizeof(fixed_cut), &s, &why), TL_EINVAL);
}

/* A response as the transfer engine hands it over. */
static void set_response(struct response *r, const char *status, const char *message, const void *body,
                         size_t len)
{
    static struct http_header h[2];
    memset(r, 0, sizeof(*r));
    r->status = 200;
    r->headers = h;
    if (status)
        h[r->n_headers++] = (struct http_header){"grpc-status", (char *)status};
    if (message)
        h[r->n_headers++] = (struct http_header){"grpc-message", (char *)message};
    buf_init(&r->body, 1 << 16);
    assert_int_equal(buf_append(&r->body, body, len), 0);
}

static void test_check_answer(void **state)
{
    struct grpc_def g = {.service = "payments", .expect_serving = GRPC_SERVING};
    struct response r;
    struct grpc_answer a;
    struct strv f;
    strv_init(&f);
    static const unsigned char serving[] = {0, 0, 0, 0, 2, 0x08, 0x01};
    static const unsigned char down[] = {0, 0, 0, 0, 2, 0x08, 0x02};

    set_response(&r, "0", NULL, serving, sizeof(serving));
    assert_int_equal(grpc_check(&g, &r, &a, &f), 0);
    assert_int_equal(f.n, 0);
    assert_int_equal(triage_grpc(&a, 200).bucket, BUCKET_NONE);
    buf_free(&r.body);

    set_response(&r, "0", NULL, down, sizeof(down));
    assert_int_equal(grpc_check(&g, &r, &a, &f), 0);
    assert_string_equal(f.v[0], "health of payments is NOT_SERVING, expected SERVING");
    buf_free(&r.body);

    set_response(&r, "14", "pool%20empty%zz", "", 0);
    assert_int_equal(grpc_check(&g, &r, &a, &f), 0);
    assert_string_equal(f.v[1], "grpc-status 14 UNAVAILABLE: pool empty%zz");
    assert_string_equal(a.message, "pool empty%zz");
    cJSON *ev = grpc_evidence(&a, NULL);
    assert_non_null(ev);
    assert_string_equal(cJSON_GetObjectItem(ev, "grpc_code")->valuestring, "UNAVAILABLE");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ev, "serving_status")));
    cJSON_Delete(ev);
    buf_free(&r.body);

    /* a plain HTTP server's 200: no grpc-status at all */
    set_response(&r, NULL, NULL, "<html>", 6);
    assert_int_equal(grpc_check(&g, &r, &a, &f), 0);
    assert_string_equal(f.v[2], "gRPC answer broken: no grpc-status (not a gRPC answer)");
    assert_int_equal(triage_grpc(&a, 200).reason, REASON_GRPC_BROKEN);
    buf_free(&r.body);
    set_response(&r, "1e3", NULL, "", 0);
    assert_int_equal(grpc_check(&g, &r, &a, &f), 0);
    assert_string_equal(a.broken, "grpc-status is not a number");
    buf_free(&r.body);
    strv_free(&f);
}

static struct verdict verdict_of(int code, int serving, int expect)
{
    struct grpc_answer a = {.read = true, .code = code, .serving = serving, .expect_serving = expect};
    return triage_grpc(&a, 200);
}

static void test_triage(void **state)
{
    static const struct {
        int code;
        enum bucket bucket;
        const char *reason;
    } rows[] = {
        {14, BUCKET_UPSTREAM, "grpc_unavailable"},       {4, BUCKET_UPSTREAM, "grpc_deadline_exceeded"},
        {16, BUCKET_AUTH, "grpc_unauthenticated"},       {7, BUCKET_AUTH, "grpc_permission_denied"},
        {8, BUCKET_RATE_LIMIT, "grpc_resource_exhausted"}, {12, BUCKET_CONTRACT, "grpc_unimplemented"},
        {13, BUCKET_SERVER, "grpc_internal"},            {2, BUCKET_SERVER, "grpc_unknown"},
        {15, BUCKET_SERVER, "grpc_data_loss"},           {3, BUCKET_CLIENT, "grpc_invalid_argument"},
        {5, BUCKET_CLIENT, "grpc_not_found"},            {1, BUCKET_UPSTREAM, "grpc_cancelled"},
        {10, BUCKET_CONTRACT, "grpc_aborted"},           {17, BUCKET_CONTRACT, "grpc_other"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct verdict v = verdict_of(rows[i].code, -1, GRPC_SERVING);
        assert_int_equal(v.bucket, rows[i].bucket);
        assert_string_equal(verdict_reason(&v), rows[i].reason);
    }
    struct verdict v = verdict_of(0, GRPC_NOT_SERVING, GRPC_SERVING);
    assert_int_equal(v.bucket, BUCKET_UPSTREAM);
    assert_string_equal(verdict_reason(&v), "grpc_not_serving");
    v = verdict_of(0, GRPC_SERVICE_UNKNOWN, GRPC_SERVING);
    assert_int_equal(v.bucket, BUCKET_CLIENT);
    assert_string_equal(verdict_reason(&v), "grpc_service_unknown");
    v = verdict_of(0, GRPC_SERVING_UNKNOWN, GRPC_SERVING);
    assert_string_equal(verdict_reason(&v), "grpc_serving_unknown");
    v = verdict_of(0, GRPC_SERVING, GRPC_NOT_SERVING);
    assert_int_equal(v.bucket, BUCKET_CONTRACT);
    assert_int_equal(verdict_of(0, GRPC_NOT_SERVING, GRPC_NOT_SERVING).bucket, BUCKET_NONE);
    /* the step path: an unexpected HTTP status keeps the HTTP rules */
    struct grpc_answer a = {.read = true, .code = 14, .expect_serving = GRPC_SERVING};
    struct triage_input in = {.status = 503, .status_expected = false, .grpc = &a};
    assert_string_equal(triage_reason(&in), "status_503");
    in.status = 200;
    in.status_expected = true;
    in.checks_failed = true;
    assert_string_equal(triage_reason(&in), "grpc_unavailable");
    for (int r = REASON_GRPC_CANCELLED; r < REASON_COUNT; r++)
        assert_string_not_equal(reason_str((enum reason)r), "unknown");
}

static void test_load_step(void **state)
{
    char path[] = "/tmp/tripline-test-grpc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] =
        "- probe: grpc-ok\n"
        "  vars: {token: abc}\n"
        "  steps:\n"
        "    - name: health\n"
        "      expect: {grpc: {status: NOT_SERVING}}\n"
        "      grpc:\n"
        "        target: https://grpc.example.com:443/\n"
        "        service: payments.v1.Payments\n"
        "        metadata: {authorization: \"Bearer {{ token }}\"}\n"
        "        tls: {verify: false}\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    char *file = path;
    struct probe_set *set = NULL;
    struct strv errors;
    strv_init(&errors);
    assert_int_equal(probe_load_files(&set, &file, 1, &errors), 0);
    unlink(path);
    const struct step *s = &set->probes[0]->steps[0];
    assert_non_null(s->grpc);
    assert_string_equal(s->request.url.src, "https://grpc.example.com:443/grpc.health.v1.Health/Check");
    assert_string_equal(s->request.method, "POST");
    assert_true(s->request.insecure);
    assert_true(s->grpc->tls);
    assert_int_equal(s->grpc->expect_serving, GRPC_NOT_SERVING);
    assert_int_equal(s->request.n_headers, 3);
    assert_string_equal(s->request.headers[0].name, "authorization");
    assert_string_equal(s->request.headers[1].value.src, "application/grpc");
    assert_string_equal(s->request.headers[2].value.src, "trailers");
    assert_int_equal(s->grpc->frame_len, 5 + 2 + 20);
    char key[128];
    probe_host_key(set->probes[0], NULL, key, sizeof(key));
    assert_string_equal(key, "grpc.example.com:443");
    probe_set_free(set);
    strv_free(&errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_request), cmocka_unit_test(test_decode_good),
        cmocka_unit_test(test_decode_hostile), cmocka_unit_test(test_check_answer),
        cmocka_unit_test(test_triage),         cmocka_unit_test(test_load_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
