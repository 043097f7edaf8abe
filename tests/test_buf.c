/* The capped buffer every piece of outside data goes through, and strv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

static void test_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "hello", 5), 0);
    assert_int_equal(buf_puts(&b, "world"), 0);  /* exactly at the cap */
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    /* one byte past: refused, nothing appended, still NUL-terminated */
    assert_int_equal(buf_append(&b, "!", 1), TL_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    assert_true(b.cap <= 11); /* never allocates past max + NUL */
    /* an empty append at the cap is fine */
    assert_int_equal(buf_append(&b, "", 0), 0);
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    /* a single append larger than max: refused whole */
    assert_int_equal(buf_append(&b, "0123456789A", 11), TL_ETOOBIG);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    /* a huge n does not wrap around the check */
    assert_int_equal(buf_append(&b, "x", (size_t)-1), TL_ETOOBIG);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    /* max 0 holds nothing */
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "a"), TL_ETOOBIG);
    assert_int_equal(buf_puts(&b, ""), 0);
    char *s = buf_take(&b);
    assert_string_equal(s, "");
    free(s);
    buf_free(&b);
    buf_free(NULL); /* a no-op */
}

static void test_binary(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    assert_int_equal(buf_append(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4);
    buf_free(&b);
}

static void test_printf(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    /* grows past the first allocation */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_printf(&b, "%04d,", i), 0);
    assert_int_equal(b.len, 5000);
    assert_memory_equal(b.data, "0000,0001,0002,", 15);
    assert_string_equal(b.data + 4995, "0999,");
    assert_true(b.cap > b.len);
    buf_free(&b);

    buf_init(&b, 8);
    assert_int_equal(buf_printf(&b, "%s=%d", "ab", 42), 0);
    assert_string_equal(b.data, "ab=42");
    /* past the cap: refused whole, the buffer as it was */
    assert_int_equal(buf_printf(&b, "%d", 1234), TL_ETOOBIG);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "ab=42");
    assert_int_equal(buf_printf(&b, "%d", 123), 0); /* exactly to the cap */
    assert_string_equal(b.data, "ab=42123");
    assert_int_equal(buf_printf(&b, "%s", ""), 0);
    assert_int_equal(b.len, 8);
    char *s = buf_take(&b);
    assert_string_equal(s, "ab=42123");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* the buffer is reusable after a take */
    assert_int_equal(buf_puts(&b, "again"), 0);
    assert_string_equal(b.data, "again");
    free(s);
    buf_free(&b);
}

static void test_take_empty(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    char *s = buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    /* reset after use, then take: "" too */
    buf_puts(&b, "x");
    buf_reset(&b);
    s = buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    buf_free(&b);
}

static void test_strv(void **state)
{
    (void)state;
    struct strv sv;
    strv_init(&sv);
    assert_int_equal(sv.n, 0);
    char word[16] = "first";
    assert_int_equal(strv_push(&sv, word), 0);
    memcpy(word, "changed", 8); /* push copies */
    for (int i = 0; i < 100; i++)
        assert_int_equal(strv_pushf(&sv, "step %s: %d", "pay", i), 0);
    assert_int_equal(sv.n, 101);
    assert_true(sv.cap >= sv.n);
    assert_string_equal(sv.v[0], "first");
    assert_string_equal(sv.v[1], "step pay: 0");
    assert_string_equal(sv.v[100], "step pay: 99");
    assert_int_equal(strv_pushf(&sv, "%s", ""), 0);
    assert_string_equal(sv.v[101], "");
    strv_free(&sv);
    assert_int_equal(sv.n, 0);
    assert_null(sv.v);
    strv_free(&sv); /* twice is harmless */
    strv_free(NULL);
    /* reusable after free */
    assert_int_equal(strv_push(&sv, "again"), 0);
    assert_string_equal(sv.v[0], "again");
    strv_free(&sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_take_empty),
        cmocka_unit_test(test_strv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
