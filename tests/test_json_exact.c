/* Exact JSON (probes/check/json_exact.c): integers beyond 2^53 by their
 * text, strings cut at U+0000 equal to nothing, on bodies as cJSON parses
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "probes/check/json_exact.h"

static cJSON *parse(const char *text)
{
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    assert_int_equal(json_exact_annotate(doc, text, strlen(text)), 0);
    return doc;
}

static void test_big_integers(void **state)
{
    cJSON *a = parse("{\"id\": 9007199254740993, \"n\": [-12345678901234567890, 1.5, 7]}");
    cJSON *b = parse("{\"n\":[-12345678901234567890,1.5,7],\"id\":9007199254740992}");
    cJSON *c = parse("\xEF\xBB\xBF {\"n\":[-12345678901234567890,1.5,7],\"id\":9007199254740993}");
    cJSON *id = cJSON_GetObjectItem(a, "id");
    assert_string_equal(id->valuestring, "9007199254740993");
    /* cJSON itself cannot tell them apart */
    assert_true(cJSON_Compare(a, b, true));
    assert_false(json_exact_equal(a, b));
    assert_true(json_exact_equal(a, c));
    assert_int_equal(json_exact_cmp(id, cJSON_GetObjectItem(b, "id")), 1);
    assert_int_equal(json_exact_cmp_double(id, 9007199254740992.0), 1);
    assert_int_equal(json_exact_cmp_double(id, 1e16), -1);
    assert_int_equal(json_exact_cmp_double(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "n"), 0), -1e19), -1);
    char *s = json_exact_print(a);
    assert_string_equal(s, "{\"id\":9007199254740993,\"n\":[-12345678901234567890,1.5,7]}");
    cJSON_free(s);
    /* a copy keeps the text */
    cJSON *dup = cJSON_Duplicate(a, true);
    assert_true(json_exact_equal(a, dup));
    cJSON_Delete(dup);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    /* short integers and decimals are left to the double */
    cJSON *d = parse("[900719925474099, 12345678901234567.5, 1e20]");
    assert_null(cJSON_GetArrayItem(d, 0)->valuestring);
    assert_null(cJSON_GetArrayItem(d, 1)->valuestring);
    assert_null(cJSON_GetArrayItem(d, 2)->valuestring);
    cJSON_Delete(d);
    assert_true(json_exact_int_literal("-9007199254740993", 17));
    assert_false(json_exact_int_literal("0900719925474099", 16));
    assert_false(json_exact_int_literal("900719925474099", 15));
}

static void test_nul_strings(void **state)
{
    cJSON *a = parse("{\"k\\u0000\": \"abc\\u0000def\", \"t\": \"abc\", \"e\": \"\\\\u0000\"}");
    cJSON *cut = cJSON_GetObjectItem(a, "k");
    assert_non_null(cut);
    assert_true(json_exact_has_nul(cut));
    assert_string_equal(cut->valuestring, "abc"); /* what cJSON kept */
    assert_false(json_exact_has_nul(cJSON_GetObjectItem(a, "t")));
    assert_false(json_exact_has_nul(cJSON_GetObjectItem(a, "e"))); /* an escaped backslash, then "u0000" */
    assert_true(cJSON_Compare(cut, cJSON_GetObjectItem(a, "t"), true));
    assert_false(json_exact_equal(cut, cJSON_GetObjectItem(a, "t")));
    assert_false(json_exact_equal(cut, cut));
    char *s = json_exact_print(cut);
    assert_string_equal(s, "\"abc\\u0000...\"");
    cJSON_free(s);
    cJSON_Delete(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_integers),
        cmocka_unit_test(test_nul_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
