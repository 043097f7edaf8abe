/* UTF-8 validation and cleaning for writers of outside data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/utf8.h"

static void test_valid(void **state)
{
    (void)state;
    assert_true(tl_utf8_valid(""));
    assert_true(tl_utf8_valid("plain \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    assert_false(tl_utf8_valid("a\xff"));
    assert_false(tl_utf8_valid("\xc0\xaf"));         /* overlong '/' */
    assert_false(tl_utf8_valid("\xed\xa0\x80"));     /* a surrogate */
    assert_false(tl_utf8_valid("cut \xe2\x82"));     /* cut inside a character */
}

static void test_clean(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } cases[] = {
        {"ok \xc3\xa9", "ok \xc3\xa9"},
        {"\xff", "\xef\xbf\xbd"},
        {"a\xc3(b", "a\xef\xbf\xbd(b"},
        {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\x81\x85hi", "\xef\xbf\xbd\xef\xbf\xbdhi"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = tl_utf8_clean(cases[i].in);
        assert_non_null(s);
        assert_string_equal(s, cases[i].out);
        assert_true(tl_utf8_valid(s));
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
