/* The object cache the per-run structures are reused from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/freelist.h"

struct obj {
    char bytes[1500];
};

/* A kept object comes back, and comes back zeroed. */
static void test_reuse_zeroed(void **state)
{
    (void)state;
    struct freelist f = FREELIST_INIT(sizeof(struct obj));
    struct obj *a = freelist_get(&f);
    assert_non_null(a);
    memset(a, 0xAB, sizeof(*a));
    freelist_put(&f, a);
    assert_int_equal(f.n, 1);
    struct obj *b = freelist_get(&f);
    assert_ptr_equal(a, b);
    assert_int_equal(f.n, 0);
    for (size_t i = 0; i < sizeof(b->bytes); i++)
        assert_int_equal(b->bytes[i], 0);
    freelist_put(&f, b);
    freelist_put(&f, NULL); /* nothing kept */
    assert_int_equal(f.n, 1);
    free(freelist_get(&f));
}

/* Past FREELIST_MAX objects are freed, not kept (LeakSanitizer checks). */
static void test_cap(void **state)
{
    (void)state;
    struct freelist f = FREELIST_INIT(sizeof(struct obj));
    void *p[FREELIST_MAX + 3];
    for (size_t i = 0; i < FREELIST_MAX + 3; i++) {
        p[i] = freelist_get(&f);
        assert_non_null(p[i]);
    }
    for (size_t i = 0; i < FREELIST_MAX + 3; i++)
        freelist_put(&f, p[i]);
    assert_int_equal(f.n, FREELIST_MAX);
    while (f.n)
        free(freelist_get(&f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_zeroed),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
