/* The one error space: every code has its own words and name, and anything
 * outside the map reads as unknown. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"

static const struct {
    int code;
    const char *name, *msg;
} map[] = {
#define XX(name, msg) {TL_E##name, #name, msg},
    TL_ERRNO_MAP(XX)
#undef XX
};
#define MAP_N (sizeof map / sizeof map[0])

static void test_map(void **state)
{
    (void)state;
    assert_true(MAP_N >= 14);
    for (size_t i = 0; i < MAP_N; i++) {
        /* negative and past every errno value, so neither can be mistaken for the other */
        assert_true(map[i].code < -255);
        assert_true(map[i].code > TL_ERR_FIRST_);
        assert_string_equal(tl_strerror(map[i].code), map[i].msg);
        assert_string_equal(tl_err_name(map[i].code), map[i].name);
        assert_true(strlen(map[i].msg) > 0);
        assert_true(strlen(map[i].name) > 0);
        assert_string_not_equal(tl_strerror(map[i].code), "unknown error");
        assert_string_not_equal(tl_err_name(map[i].code), "UNKNOWN");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(map[i].code, map[j].code);
            assert_string_not_equal(map[i].msg, map[j].msg);
            assert_string_not_equal(map[i].name, map[j].name);
        }
    }
    assert_string_equal(tl_err_name(TL_ENOMEM), "NOMEM");
    assert_string_equal(tl_strerror(TL_ETOOBIG), "too large");
}

static void test_success(void **state)
{
    (void)state;
    assert_int_equal(TL_OK, 0);
    assert_string_equal(tl_strerror(0), "success");
    assert_string_equal(tl_err_name(0), "OK");
}

static void test_unknown(void **state)
{
    (void)state;
    int last = TL_ERR_FIRST_;
    for (size_t i = 0; i < MAP_N; i++)
        last = map[i].code > last ? map[i].code : last;
    const int codes[] = {1, -1, -2, -5000, INT_MIN, INT_MAX, TL_ERR_FIRST_,
                         last + 1 /* one past the last code in the map */};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_non_null(tl_strerror(codes[i]));
        assert_string_equal(tl_strerror(codes[i]), "unknown error");
        assert_string_equal(tl_err_name(codes[i]), "UNKNOWN");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_success),
        cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
