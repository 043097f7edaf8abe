/* The evidence pack of a failed step: what an on-call engineer reads first,
 * and what must never carry a secret. Everything is built by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/triage/evidence.h"

#define SECRET "s3cr3t-api-key-value" /* registered: came from env. */
#define PATH_SECRET "cart-secret-9"   /* registered: rendered into the URL */
#define CID "0b7c6a55-0d7e-4b8e-9d36-2f3c1b9e7a10"
#define HASH "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

struct fx {
    struct step steps[3];
    struct probe probe;
    struct redactor red;
    struct response resp;
    struct http_header resp_headers[8];
    struct evidence_in in;
};

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    f->steps[0].name = "login";
    f->steps[1].name = "cart";
    f->steps[2].name = "checkout";
    f->probe.id = "shop";
    f->probe.n_steps = 3;
    f->probe.steps = f->steps;
    f->probe.file = "probes/shop.yaml";
    memcpy(f->probe.file_hash, HASH, sizeof(HASH));
    redactor_init(&f->red);
    redactor_add(&f->red, SECRET);
    redactor_add(&f->red, PATH_SECRET);
    buf_init(&f->resp.body, 1 << 20);
    f->in.probe = &f->probe;
    f->in.region = "eu-west";
    f->in.agent = "agent-7";
    f->in.step_index = 1;
    f->in.method = "GET";
    f->in.url = "https://api.test/v1/carts";
    f->in.correlation_id = CID;
    f->in.resp = &f->resp;
    f->in.redactor = &f->red;
}

static void fx_free(struct fx *f)
{
    buf_free(&f->resp.body);
    redactor_free(&f->red);
}

static void set_body(struct fx *f, const char *s, size_t n)
{
    buf_reset(&f->resp.body);
    assert_int_equal(buf_append(&f->resp.body, s, n), 0);
}

static const char *str_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double num_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const cJSON *obj_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_non_null(v);
    return v;
}

/* The printed pack, checked for every planted secret. */
static void assert_clean(const cJSON *ev, const char *const *planted, size_t n)
{
    char *s = cJSON_PrintUnformatted(ev);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        if (strstr(s, planted[i]))
            fail_msg("planted secret \"%s\" found in %s", planted[i], s);
    }
    free(s);
}

static void test_failed_request_with_json(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    static const struct http_header req_h[] = {
        {"Authorization", "Bearer " SECRET},
        {"X-Api-Key", "plainkey999"},
        {"Content-Type", "application/json"},
    };
    f.in.method = "POST";
    f.in.url = "https://api.test/v1/carts/" PATH_SECRET "?access_token=tok123xyz&page=2";
    f.in.headers = req_h;
    f.in.n_headers = 3;
    f.in.body = "{\"user\":\"alice-unique-name\",\"password\":\"pw-plain-777\","
                "\"items\":[{\"sku\":\"A1\",\"qty\":2},{\"sku\":\"B2\",\"qty\":3}],\"gift\":true,\"note\":null}";
    f.in.body_kind = BODY_JSON;

    f.resp_headers[0] = (struct http_header){"Content-Type", "application/json"};
    f.resp_headers[1] = (struct http_header){"Set-Cookie", "session=sessval-abc123; HttpOnly"};
    f.resp_headers[2] = (struct http_header){"Retry-After", "30"};
    f.resp_headers[3] = (struct http_header){"X-RateLimit-Remaining", "0"};
    f.resp_headers[4] = (struct http_header){"X-Internal-Trace", "trace-internal-42"};
    f.resp_headers[5] = (struct http_header){"Server", "gw " SECRET};
    f.resp_headers[6] = (struct http_header){"Location", "https://app.test/cb?access_token=srv-tok-31&state=ok"};
    f.resp.headers = f.resp_headers;
    f.resp.n_headers = 7;
    f.resp.status = 429;
    const char *body = "{\"error\":\"slow down\",\"token\":\"resp-token-555\",\"echo\":\"key was " SECRET
                       "\",\"n\":1,\"auth\":{\"refresh_token\":987654321}}";
    set_body(&f, body, strlen(body));
    f.resp.timings = (struct timings){.dns = 1500, .connect = 2000, .tls = 0, .ttfb = 900000, .total = 901250};
    memcpy(f.resp.primary_ip, "127.0.0.1", 10);

    struct strv codes, th;
    strv_init(&codes);
    strv_init(&th);
    strv_push(&codes, "shop.rate_limit.too_many");
    strv_push(&th, "ttfb 900ms > 500ms");
    f.in.issue_codes = &codes;
    f.in.thresholds = &th;

    cJSON *ev = evidence_pack(&f.in);
    assert_non_null(ev);

    const cJSON *req = obj_at(ev, "request");
    assert_string_equal(str_at(req, "method"), "POST");
    assert_string_equal(str_at(req, "url"), "https://api.test/v1/carts/[redacted]?access_token=[redacted]&page=2");
    const cJSON *names = obj_at(req, "headers");
    assert_int_equal(cJSON_GetArraySize(names), 3);
    assert_string_equal(cJSON_GetArrayItem(names, 0)->valuestring, "Authorization");
    assert_string_equal(cJSON_GetArrayItem(names, 1)->valuestring, "X-Api-Key");
    assert_string_equal(cJSON_GetArrayItem(names, 2)->valuestring, "Content-Type");
    char *shape = cJSON_PrintUnformatted(obj_at(req, "body_shape"));
    assert_string_equal(shape, "{\"user\":\"string\",\"password\":\"string\",\"items\":[{\"sku\":\"string\","
                               "\"qty\":\"number\"}],\"gift\":\"boolean\",\"note\":\"null\"}");
    free(shape);

    const cJSON *resp = obj_at(ev, "response");
    assert_int_equal((long)num_at(resp, "status"), 429);
    assert_null(cJSON_GetObjectItemCaseSensitive(resp, "transport"));
    assert_null(cJSON_GetObjectItemCaseSensitive(resp, "error"));
    const cJSON *issues = obj_at(resp, "issues");
    assert_int_equal(cJSON_GetArraySize(issues), 1);
    assert_string_equal(cJSON_GetArrayItem(issues, 0)->valuestring, "shop.rate_limit.too_many");
    const cJSON *hs = obj_at(resp, "headers");
    assert_int_equal(cJSON_GetArraySize(hs), 5);
    assert_string_equal(str_at(hs, "Content-Type"), "application/json");
    assert_string_equal(str_at(hs, "Retry-After"), "30");
    /* a redirect keeps its target, not the codes in its query */
    assert_string_equal(str_at(hs, "Location"), "https://app.test/cb?access_token=[redacted]&state=ok");
    assert_string_equal(str_at(hs, "X-RateLimit-Remaining"), "0");
    assert_string_equal(str_at(hs, "Server"), "gw [redacted]");
    assert_null(cJSON_GetObjectItemCaseSensitive(hs, "Set-Cookie"));
    assert_null(cJSON_GetObjectItemCaseSensitive(hs, "X-Internal-Trace"));
    assert_int_equal((long)num_at(resp, "body_bytes"), (long)strlen(body));
    assert_string_equal(str_at(resp, "body_snippet"),
                        "{\"error\":\"slow down\",\"token\":\"[redacted]\",\"echo\":\"key was [redacted]\","
                        "\"n\":1,\"auth\":{\"refresh_token\":\"[redacted]\"}}");

    const cJSON *t = obj_at(ev, "timings");
    assert_true(num_at(t, "dns_ms") == 1.5);
    assert_true(num_at(t, "connect_ms") == 2.0);
    assert_true(num_at(t, "tls_ms") == 0.0);
    assert_true(num_at(t, "ttfb_ms") == 900.0);
    assert_true(num_at(t, "total_ms") == 901.25);
    const cJSON *crossed = obj_at(t, "thresholds_crossed");
    assert_int_equal(cJSON_GetArraySize(crossed), 1);
    assert_string_equal(cJSON_GetArrayItem(crossed, 0)->valuestring, "ttfb 900ms > 500ms");

    const cJSON *env = obj_at(ev, "environment");
    assert_string_equal(str_at(env, "region"), "eu-west");
    assert_string_equal(str_at(env, "agent"), "agent-7");
    assert_string_equal(str_at(env, "version"), TRIPLINE_VERSION);
    assert_null(cJSON_GetObjectItemCaseSensitive(env, "vantage"));
    assert_string_equal(str_at(env, "probe_file"), "probes/shop.yaml");
    assert_string_equal(str_at(env, "probe_file_sha256"), HASH);
    assert_string_equal(str_at(env, "resolved_ip"), "127.0.0.1");

    const cJSON *st = obj_at(ev, "step");
    assert_string_equal(str_at(st, "name"), "cart");
    assert_int_equal((long)num_at(st, "index"), 2);
    assert_int_equal((long)num_at(st, "of"), 3);
    assert_string_equal(str_at(st, "after"), "login");
    assert_string_equal(str_at(ev, "correlation_id"), CID);

    static const char *const planted[] = {SECRET,        PATH_SECRET,       "tok123xyz",      "plainkey999",
                                          "Bearer",      "pw-plain-777",    "alice-unique-name", "resp-token-555",
                                          "sessval-abc123", "trace-internal-42", "987654321"};
    assert_clean(ev, planted, sizeof(planted) / sizeof(planted[0]));
    cJSON_Delete(ev);
    strv_free(&codes);
    strv_free(&th);
    fx_free(&f);
}

/* Form and raw request bodies are described by kind only. */
static void test_request_body_kinds(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.resp.status = 500;
    f.in.body = "username=bob&password=pw-form-31337";
    f.in.body_kind = BODY_FORM;
    cJSON *ev = evidence_pack(&f.in);
    assert_string_equal(str_at(obj_at(ev, "request"), "body_shape"), "form");
    static const char *const planted[] = {"pw-form-31337", "bob"};
    assert_clean(ev, planted, 2);
    cJSON_Delete(ev);

    f.in.body = "raw text with " SECRET;
    f.in.body_kind = BODY_RAW;
    ev = evidence_pack(&f.in);
    assert_string_equal(str_at(obj_at(ev, "request"), "body_shape"), "text");
    cJSON_Delete(ev);

    f.in.body = "{not json " SECRET;
    f.in.body_kind = BODY_JSON;
    ev = evidence_pack(&f.in);
    assert_string_equal(str_at(obj_at(ev, "request"), "body_shape"), "unparsable");
    static const char *const planted2[] = {SECRET};
    assert_clean(ev, planted2, 1);
    cJSON_Delete(ev);

    /* no body: no shape, no snippet */
    f.in.body = NULL;
    ev = evidence_pack(&f.in);
    assert_null(cJSON_GetObjectItemCaseSensitive(obj_at(ev, "request"), "body_shape"));
    assert_null(cJSON_GetObjectItemCaseSensitive(obj_at(ev, "response"), "body_snippet"));
    assert_int_equal((long)num_at(obj_at(ev, "response"), "body_bytes"), 0);
    cJSON_Delete(ev);
    fx_free(&f);
}

static char *snippet_of(struct fx *f, const char *body, size_t n)
{
    set_body(f, body, n);
    cJSON *ev = evidence_pack(&f->in);
    assert_non_null(ev);
    char *s = strdup(str_at(obj_at(ev, "response"), "body_snippet"));
    cJSON_Delete(ev);
    return s;
}

/* A non-JSON body: redacted by value, then cut to 512 bytes and "...". */
static void test_text_snippet_cap(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.resp.status = 502;
    char body[2000];
    const char *head = "<html>key " SECRET " ";
    size_t hl = strlen(head);
    memcpy(body, head, hl);
    for (size_t i = hl; i < sizeof(body); i++)
        body[i] = (char)('a' + i % 26);
    char *s = snippet_of(&f, body, sizeof(body));
    char want[600];
    const char *rhead = "<html>key [redacted] ";
    size_t rl = strlen(rhead);
    memcpy(want, rhead, rl);
    memcpy(want + rl, body + hl, 512 - rl);
    memcpy(want + 512, "...", 4);
    assert_int_equal(strlen(s), 515);
    assert_string_equal(s, want);
    free(s);

    /* exactly 512 bytes: kept whole, no "..." */
    memset(body, 'q', 512);
    s = snippet_of(&f, body, 512);
    assert_int_equal(strlen(s), 512);
    assert_int_equal(strspn(s, "q"), 512);
    free(s);
    /* 513 bytes: cut */
    memset(body, 'q', 513);
    s = snippet_of(&f, body, 513);
    assert_int_equal(strlen(s), 515);
    assert_string_equal(s + 512, "...");
    free(s);
    fx_free(&f);
}

/* A body of 55,000 issues put every code in the pack (440 KB of each
 * event, the spool's 64 MiB full in a hundred): the first
 * EVIDENCE_ISSUES_MAX are kept, issues_total says how many there were. */
static void test_issue_codes_cap(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.resp.status = 500;
    struct strv codes;
    strv_init(&codes);
    for (int i = 0; i < 55000; i++)
        assert_int_equal(strv_pushf(&codes, "demo.internal.e%d", i), 0);
    f.in.issue_codes = &codes;
    cJSON *ev = evidence_pack(&f.in);
    const cJSON *resp = obj_at(ev, "response");
    const cJSON *issues = obj_at(resp, "issues");
    assert_int_equal(cJSON_GetArraySize(issues), EVIDENCE_ISSUES_MAX);
    assert_string_equal(cJSON_GetArrayItem(issues, 0)->valuestring, "demo.internal.e0");
    assert_int_equal((int)num_at(resp, "issues_total"), 55000);
    cJSON_Delete(ev);
    /* a few: all of them, no total */
    codes.n = 2;
    ev = evidence_pack(&f.in);
    resp = obj_at(ev, "response");
    assert_int_equal(cJSON_GetArraySize(obj_at(resp, "issues")), 2);
    assert_null(cJSON_GetObjectItemCaseSensitive(resp, "issues_total"));
    cJSON_Delete(ev);
    codes.n = 55000;
    strv_free(&codes);
    fx_free(&f);
}

/* A JSON body that re-prints to 513 or 514 bytes: the "..." goes past the
 * printed text's own allocation unless the cut makes room for it. */
static void test_json_snippet_just_over_cap(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.resp.status = 500;
    for (size_t total = 513; total <= 515; total++) {
        char body[600], want[600];
        size_t n = total - 8; /* {"m":"...."} */
        memcpy(body, "{\"m\":\"", 6);
        memset(body + 6, 'z', n);
        memcpy(body + 6 + n, "\"}", 2);
        char *s = snippet_of(&f, body, total);
        memcpy(want, body, 512);
        memcpy(want + 512, "...", 4);
        assert_string_equal(s, want);
        free(s);
    }
    fx_free(&f);
}

/* A JSON body that is one bare string echoing a secret (found by fuzzing). */
static void test_bare_string_body_redacted(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.resp.status = 401;
    static const char body[] = "\"invalid credential " SECRET "\"";
    char *s = snippet_of(&f, body, sizeof(body) - 1);
    assert_null(strstr(s, SECRET));
    assert_non_null(strstr(s, "invalid credential"));
    free(s);
    fx_free(&f);
}

/* The cut never splits a UTF-8 character: it backs up to its first byte. */
static void test_snippet_utf8_boundary(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.resp.status = 500;
    char body[700], want[700];
    memset(body, 'a', sizeof(body));

    /* "é" (C3 A9) at 511..512: the cut moves to 511 */
    memcpy(body + 511, "\xc3\xa9", 2);
    char *s = snippet_of(&f, body, sizeof(body));
    memset(want, 'a', 511);
    memcpy(want + 511, "...", 4);
    assert_string_equal(s, want);
    free(s);

    /* "€" (E2 82 AC) at 510..512: the cut moves to 510 */
    memset(body, 'a', sizeof(body));
    memcpy(body + 510, "\xe2\x82\xac", 3);
    s = snippet_of(&f, body, sizeof(body));
    memset(want, 'a', 510);
    memcpy(want + 510, "...", 4);
    assert_string_equal(s, want);
    free(s);

    /* "é" at 510..511 ends before the cut: kept whole */
    memset(body, 'a', sizeof(body));
    memcpy(body + 510, "\xc3\xa9", 2);
    s = snippet_of(&f, body, sizeof(body));
    memset(want, 'a', 510);
    memcpy(want + 510, "\xc3\xa9...", 6);
    assert_string_equal(s, want);
    free(s);

    /* the same in a JSON body, which is printed before it is cut:
     * {"m":"aaa...€..."} with the euro sign across byte 512 of the print */
    size_t o = 0;
    memcpy(body + o, "{\"m\":\"", 6);
    o += 6;
    memset(body + o, 'a', 504);
    o += 504;
    memcpy(body + o, "\xe2\x82\xac", 3); /* bytes 510..512 */
    o += 3;
    memset(body + o, 'b', 50);
    o += 50;
    memcpy(body + o, "\"}", 2);
    o += 2;
    s = snippet_of(&f, body, o);
    memcpy(want, body, 510);
    memcpy(want + 510, "...", 4);
    assert_string_equal(s, want);
    free(s);
    fx_free(&f);
}

/* A JSON body too big to parse cheaply is still redacted by key: the
 * snippet never shows the value of a credential field. */
static void test_big_json_redacted_by_key(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.resp.status = 500;
    size_t n = 100000;
    char *body = malloc(n);
    assert_non_null(body);
    const char *head = "{\"access_token\" : \"eyJbig-token-4242\",\"password\":\"pw-big-1\",\"session\":12345678,"
                       "\"ok\":\"visible\",\"pad\":\"";
    size_t hl = strlen(head);
    memcpy(body, head, hl);
    memset(body + hl, 'p', n - hl - 2);
    memcpy(body + n - 2, "\"}", 2);
    char *s = snippet_of(&f, body, n);
    static const char prefix[] = "{\"access_token\" : \"[redacted]\",\"password\":\"[redacted]\","
                                 "\"session\":\"[redacted]\",\"ok\":\"visible\",\"pad\":\"ppp";
    assert_memory_equal(s, prefix, sizeof(prefix) - 1);
    assert_null(strstr(s, "eyJbig-token-4242"));
    assert_null(strstr(s, "pw-big-1"));
    assert_null(strstr(s, "12345678"));
    assert_int_equal(strlen(s), 515);
    free(s);
    free(body);
    fx_free(&f);
}

/* Text bodies lose credential values by name too: form pairs and echoed
 * header lines. */
static void test_text_pairs_redacted(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.resp.status = 400;
    const char *body = "error=bad&access_token=tok-form-77&page=2\n"
                       "Authorization: Bearer tok-hdr-88\nX-Trace: keep-me\n";
    char *s = snippet_of(&f, body, strlen(body));
    assert_string_equal(s, "error=bad&access_token=[redacted]&page=2\n"
                           "Authorization: [redacted]\nX-Trace: keep-me\n");
    free(s);
    fx_free(&f);
}

/* No response at all: status null, the transport failure and curl's error
 * (redacted by value); the first step has no "after". */
static void test_transport_failure(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.in.step_index = 0;
    f.in.vantage = "isp-b";
    f.in.url = "https://" PATH_SECRET ".api.test/login";
    f.resp.status = 0;
    f.resp.fail = TRANSFER_CURL;
    f.resp.curl_code = 6;
    const char *err = "Could not resolve host: " PATH_SECRET ".api.test";
    memcpy(f.resp.error, err, strlen(err) + 1);
    cJSON *ev = evidence_pack(&f.in);
    assert_non_null(ev);
    const cJSON *resp = obj_at(ev, "response");
    assert_true(cJSON_IsNull(obj_at(resp, "status")));
    assert_string_equal(str_at(resp, "transport"), "curl");
    assert_int_equal((long)num_at(resp, "curl_code"), 6);
    assert_string_equal(str_at(resp, "error"), "Could not resolve host: [redacted].api.test");
    assert_int_equal(cJSON_GetArraySize(obj_at(resp, "headers")), 0);
    assert_int_equal(cJSON_GetArraySize(obj_at(resp, "issues")), 0);
    assert_null(cJSON_GetObjectItemCaseSensitive(resp, "body_snippet"));
    assert_string_equal(str_at(obj_at(ev, "request"), "url"), "https://[redacted].api.test/login");
    const cJSON *env = obj_at(ev, "environment");
    assert_string_equal(str_at(env, "vantage"), "isp-b");
    assert_string_equal(str_at(env, "resolved_ip"), "");
    const cJSON *st = obj_at(ev, "step");
    assert_string_equal(str_at(st, "name"), "login");
    assert_int_equal((long)num_at(st, "index"), 1);
    assert_int_equal((long)num_at(st, "of"), 3);
    assert_null(cJSON_GetObjectItemCaseSensitive(st, "after"));
    assert_int_equal(cJSON_GetArraySize(obj_at(obj_at(ev, "timings"), "thresholds_crossed")), 0);
    static const char *const planted[] = {PATH_SECRET};
    assert_clean(ev, planted, 1);
    cJSON_Delete(ev);

    /* an oversized body is its own transport failure */
    f.resp.fail = TRANSFER_BODY_TOO_BIG;
    f.resp.status = 200;
    f.resp.curl_code = 23;
    ev = evidence_pack(&f.in);
    resp = obj_at(ev, "response");
    assert_int_equal((long)num_at(resp, "status"), 200);
    assert_string_equal(str_at(resp, "transport"), "body_too_big");
    cJSON_Delete(ev);
    fx_free(&f);
}

static void test_shape(void **state)
{
    (void)state;
    cJSON *v = cJSON_Parse("[{\"a\":[1,2],\"b\":{\"c\":\"secret-ish\"}},{\"z\":1}]");
    cJSON *s = evidence_shape(v);
    char *p = cJSON_PrintUnformatted(s);
    /* the first element stands for the list */
    assert_string_equal(p, "[{\"a\":[\"number\"],\"b\":{\"c\":\"string\"}}]");
    free(p);
    cJSON_Delete(s);
    cJSON_Delete(v);
    v = cJSON_Parse("[]");
    s = evidence_shape(v);
    p = cJSON_PrintUnformatted(s);
    assert_string_equal(p, "[]");
    free(p);
    cJSON_Delete(s);
    cJSON_Delete(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_request_with_json),
        cmocka_unit_test(test_request_body_kinds),
        cmocka_unit_test(test_text_snippet_cap),
        cmocka_unit_test(test_issue_codes_cap),
        cmocka_unit_test(test_snippet_utf8_boundary),
        cmocka_unit_test(test_json_snippet_just_over_cap),
        cmocka_unit_test(test_bare_string_body_redacted),
        cmocka_unit_test(test_big_json_redacted_by_key),
        cmocka_unit_test(test_text_pairs_redacted),
        cmocka_unit_test(test_transport_failure),
        cmocka_unit_test(test_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
