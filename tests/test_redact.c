/* Redaction: secrets by value, credentials by name, URLs, JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/redact/redact.h"
#include "probes/run/template.h"

static void test_text(void **state)
{
    (void)state;
    struct redactor r;
    redactor_init(&r);
    redactor_add(&r, "hunter22");
    redactor_add(&r, "ab"); /* too short to redact safely */
    char *s = redact_text(&r, "password hunter22 and hunter22x; ab");
    assert_string_equal(s, "password [redacted] and [redacted]x; ab");
    free(s);
    redactor_free(&r);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(redact_name_sensitive("Authorization"));
    assert_true(redact_name_sensitive("cookie"));
    assert_true(redact_name_sensitive("X-Api-Key"));
    assert_true(redact_name_sensitive("access_token"));
    assert_true(redact_name_sensitive("password"));
    assert_false(redact_name_sensitive("Content-Type"));
    assert_false(redact_name_sensitive("sku"));
}

static void test_url(void **state)
{
    (void)state;
    struct redactor r;
    redactor_init(&r);
    redactor_add(&r, "cart-secret");
    char *s = redact_url(&r, "https://user:pw@api.test/v1/carts/cart-secret?token=abc&page=2#frag");
    assert_string_equal(s, "https://[redacted]@api.test/v1/carts/[redacted]?token=[redacted]&page=2#frag");
    free(s);
    s = redact_url(&r, "http://api.test/plain");
    assert_string_equal(s, "http://api.test/plain");
    free(s);
    redactor_free(&r);
}

/* A secret percent-encoded into a URL is still redacted, even when the rest
 * of the URL changed around it. */
static void test_url_encoded_secret(void **state)
{
    (void)state;
    struct redactor r;
    redactor_init(&r);
    redactor_add(&r, "s3cr3t+abc/def==");
    char *s = redact_url(&r, "http://h/v1/x/s3cr3t%2Babc%2Fdef%3D%3D?access_token=s3cr3t%2Babc%2Fdef%3D%3D");
    assert_string_equal(s, "http://h/v1/x/[redacted]?access_token=[redacted]");
    free(s);
    redactor_free(&r);
}

static void test_json(void **state)
{
    (void)state;
    struct redactor r;
    redactor_init(&r);
    redactor_add(&r, "leaked-value");
    cJSON *j = cJSON_Parse("{\"session\":{\"id\":\"s1\",\"token\":\"t0k\"},\"note\":\"has leaked-value inside\","
                           "\"items\":[{\"password\":\"x\"}]}");
    redact_json(&r, j);
    char *s = cJSON_PrintUnformatted(j);
    assert_string_equal(s, "{\"session\":{\"id\":\"s1\",\"token\":\"[redacted]\"},\"note\":\"has [redacted] inside\","
                           "\"items\":[{\"password\":\"[redacted]\"}]}");
    free(s);
    cJSON_Delete(j);
    redactor_free(&r);
}

/* Every form a server or a printer makes of a secret is caught. */
static void test_forms(void **state)
{
    (void)state;
    struct redactor r;
    redactor_init(&r);
    redactor_add(&r, "c4n\"ry/x y+z");
    const char *cases[] = {
        "plain c4n\"ry/x y+z end",
        "json c4n\\\"ry/x y+z end",
        "json c4n\\\"ry\\/x y+z end",
        "upper c4n%22ry%2Fx%20y%2Bz end",
        "lower c4n%22ry%2fx%20y%2bz end",
        "form c4n%22ry%2Fx+y%2Bz end",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = redact_text(&r, cases[i]);
        assert_non_null(strstr(s, REDACTED));
        assert_null(strstr(s, "c4n"));
        free(s);
    }
    redactor_free(&r);
    /* base64 at each alignment: Basic auth puts "user:" before the secret */
    redactor_init(&r);
    redactor_add(&r, "sekret-canary-0001");
    const char *b64[] = {"c2VrcmV0LWNhbmFyeS0wMDAx", "dTpzZWtyZXQtY2FuYXJ5LTAwMDE=",
                         "dXM6c2VrcmV0LWNhbmFyeS0wMDAx", "dXNyOnNla3JldC1jYW5hcnktMDAwMQ=="};
    for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
        char *s = redact_text(&r, b64[i]);
        assert_non_null(strstr(s, REDACTED));
        assert_true(strlen(s) < strlen(b64[i]) - 6);
        free(s);
    }
    redactor_free(&r);
}

/* A value first seen as the half of another still gets its own forms. */
static void test_value_after_form(void **state)
{
    (void)state;
    struct redactor r;
    redactor_init(&r);
    redactor_add(&r, "abcdefgh12345678");
    redactor_add(&r, "abcdefgh");
    char *s = redact_text(&r, "b64 YWJjZGVmZ2g=");
    assert_string_equal(s, "b64 [redacted]g=");
    free(s);
    redactor_free(&r);
}

/* A secret as a JSON key, or split between a key and its value, and the
 * halves of a long secret. */
static void test_json_keys_split(void **state)
{
    (void)state;
    struct redactor r;
    redactor_init(&r);
    redactor_add(&r, "split-canary-abcdef123456");
    cJSON *j = cJSON_Parse("{\"split-canary-abcdef123456\":1,\"spl\":\"it-canary-abcdef123456\","
                           "\"ok\":\"fine\",\"x\":\"split-canary\"}");
    redact_json(&r, j);
    char *s = cJSON_PrintUnformatted(j);
    assert_null(strstr(s, "canary"));
    assert_null(strstr(s, "spl\""));
    assert_non_null(strstr(s, "\"ok\":\"fine\""));
    free(s);
    cJSON_Delete(j);
    redactor_free(&r);
}

/* The process-wide set applies with or without a run's redactor, and
 * cookie values set by a server are registered without their attributes. */
static void test_global_and_cookie(void **state)
{
    (void)state;
    assert_int_equal(redact_global_add("sink-token-global-1"), 0);
    char *s = redact_text(NULL, "HTTP 401: bad token sink-token-global-1");
    assert_string_equal(s, "HTTP 401: bad token [redacted]");
    free(s);
    struct redactor r;
    redactor_init(&r);
    redactor_add_set_cookie(&r, "sid=cookie-val-42; Path=/; HttpOnly");
    s = redact_text(&r, "you are cookie-val-42 on Path=/");
    assert_string_equal(s, "you are [redacted] on Path=/");
    free(s);
    /* a short cookie value is no pattern: it would erase every "500" */
    redactor_add_set_cookie(&r, "sid=500; Path=/");
    redactor_add_set_cookie(&r, "lang=\"en-GB12\"");
    s = redact_text(&r, "status 500 in en-GB12, cookie-val-42");
    assert_string_equal(s, "status 500 in en-GB12, [redacted]");
    free(s);
    redactor_free(&r);
}

/* A secret in a query keeps the scheme, host and path. */
static void test_url_keeps_host(void **state)
{
    (void)state;
    struct redactor r;
    redactor_init(&r);
    redactor_add(&r, "q-secret-77");
    char *s = redact_url(&r, "https://api.test/v1/items?key=q-secret-77&page=2");
    assert_string_equal(s, "https://api.test/v1/items?key=[redacted]&page=2");
    free(s);
    redactor_free(&r);
}

/* Many secrets: the scan stays one lookup per byte (bounded here by time). */
static void test_many(void **state)
{
    (void)state;
    struct redactor r;
    redactor_init(&r);
    char v[64];
    for (int i = 0; i < 500; i++) {
        snprintf(v, sizeof v, "many-secret-%05d-x", i);
        assert_int_equal(redactor_add(&r, v), 0);
    }
    struct buf b;
    buf_init(&b, 1 << 22);
    for (int i = 0; i < 20000; i++)
        buf_puts(&b, "lorem ipsum dolor ");
    buf_puts(&b, "many-secret-00499-x");
    char *s = redact_text(&r, b.data);
    assert_null(strstr(s, "many-secret"));
    free(s);
    buf_free(&b);
    redactor_free(&r);
}

/* A value rendered from env. is known on its own, not only as the header
 * it went into: a server echoing the bare token is caught. */
static void test_template_registers_values(void **state)
{
    (void)state;
    struct tpl t;
    char err[256];
    int off;
    setenv("REDACT_TEST_TOKEN", "tpl-token-9f8e7d", 1);
    assert_int_equal(tpl_parse(&t, "Bearer {{ env.REDACT_TEST_TOKEN }}", err, sizeof err, &off), 0);
    bool secret = false;
    char *v = tpl_render_str(&t, NULL, TPL_ESC_NONE, &secret, err, sizeof err);
    assert_non_null(v);
    assert_true(secret);
    char *s = redact_text(NULL, "invalid credential tpl-token-9f8e7d");
    assert_string_equal(s, "invalid credential [redacted]");
    free(s);
    free(v);
    tpl_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_url_encoded_secret),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_json_keys_split),
        cmocka_unit_test(test_global_and_cookie),
        cmocka_unit_test(test_url_keeps_host),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_value_after_form),
        cmocka_unit_test(test_template_registers_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
