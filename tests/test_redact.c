/* Redaction: secrets by value, credentials by name, URLs, JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/redact/redact.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_url_encoded_secret),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
