/* FNV-1a 64 vectors, the fmix64 finalizer, and the xorshift64* sequence of
 * base/rand.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/hash.h"
#include "base/rand.h"

static void test_fnv_vectors(void **state)
{
    (void)state;
    /* the published FNV-1a 64 test vectors */
    assert_true(tl_hash_str("") == 0xcbf29ce484222325ULL);
    assert_true(tl_hash_str("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(tl_hash_str("foobar") == 0x85944171f73967e8ULL);
    assert_true(TL_FNV_OFFSET == 0xcbf29ce484222325ULL);
    assert_true(tl_fnv1a(TL_FNV_OFFSET, "", 0) == TL_FNV_OFFSET);
    assert_true(tl_fnv1a(TL_FNV_OFFSET, "a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(tl_fnv1a(TL_FNV_OFFSET, "foobar", 6) == 0x85944171f73967e8ULL);
}

static void test_fnv_bytes_and_str(void **state)
{
    (void)state;
    const char *words[] = {"", "a", "p1", "foobar", "https://example.com/health", "\xff\x80 high"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        const char *w = words[i];
        assert_true(tl_fnv1a(TL_FNV_OFFSET, w, strlen(w)) == tl_fnv1a_str(TL_FNV_OFFSET, w));
        assert_true(tl_hash_str(w) == tl_fnv1a_str(TL_FNV_OFFSET, w));
        /* continuing from another seed works the same for both */
        assert_true(tl_fnv1a(12345, w, strlen(w)) == tl_fnv1a_str(12345, w));
    }
    /* a hash continues: "foo" then "bar" is "foobar" */
    uint64_t h = tl_fnv1a(TL_FNV_OFFSET, "foo", 3);
    assert_true(tl_fnv1a(h, "bar", 3) == 0x85944171f73967e8ULL);
    assert_true(tl_fnv1a_str(tl_fnv1a_str(TL_FNV_OFFSET, "foo"), "bar") == 0x85944171f73967e8ULL);
    /* bytes after a NUL count for tl_fnv1a, not for the string form */
    assert_true(tl_fnv1a(TL_FNV_OFFSET, "a\0b", 3) != tl_hash_str("a"));
}

static void test_mix(void **state)
{
    (void)state;
    uint64_t p1 = tl_hash_str("p1"), p2 = tl_hash_str("p2");
    assert_true(((tl_hash_mix(p1) ^ tl_hash_mix(p2)) & 0xff) != 0);
    assert_true(tl_hash_mix(0) == 0); /* fmix64's fixed point */
    /* avalanche: one flipped input bit flips about half of the output */
    uint64_t x = tl_hash_str("probe-42"), mx = tl_hash_mix(x);
    for (int bit = 0; bit < 64; bit++) {
        int flipped = __builtin_popcountll(mx ^ tl_hash_mix(x ^ (1ULL << bit)));
        assert_true(flipped >= 12 && flipped <= 52);
    }
    /* nearby ids spread over a small modulus */
    unsigned counts[10] = {0};
    char id[16];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "p%d", i);
        counts[tl_hash_mix(tl_hash_str(id)) % 10]++;
    }
    for (int b = 0; b < 10; b++)
        assert_true(counts[b] > 850 && counts[b] < 1150);
}

static void test_rand_zero_state(void **state)
{
    (void)state;
    uint64_t s = 0;
    uint64_t a = tl_rand_next(&s);
    assert_true(a != 0);
    assert_true(s != 0);
    uint64_t b = tl_rand_next(&s), c = tl_rand_next(&s);
    assert_true(a != b && b != c && a != c);
    /* the same seed gives the same sequence */
    uint64_t s1 = 42, s2 = 42;
    for (int i = 0; i < 100; i++)
        assert_true(tl_rand_next(&s1) == tl_rand_next(&s2));
}

static void test_rand_below(void **state)
{
    (void)state;
    uint64_t s = 7;
    const uint64_t ns[] = {1, 2, 3, 7, 10, 1000, 1ULL << 63, UINT64_MAX};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int i = 0; i < 1000; i++)
            assert_true(tl_rand_below(&s, ns[k]) < ns[k]);
    for (int i = 0; i < 100; i++)
        assert_true(tl_rand_below(&s, 0) == 0);
    uint64_t z = 0;
    assert_true(tl_rand_below(&z, 0) == 0);
}

static void test_rand_uniform(void **state)
{
    (void)state;
    const uint64_t seeds[] = {0, 1, 12345, 0xdeadbeefULL};
    for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        uint64_t s = seeds[k];
        unsigned counts[10] = {0};
        for (int i = 0; i < 100000; i++)
            counts[tl_rand_below(&s, 10)]++;
        /* 10000 each; a fair sequence stays within a few hundred */
        for (int b = 0; b < 10; b++)
            assert_true(counts[b] > 9500 && counts[b] < 10500);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv_vectors),    cmocka_unit_test(test_fnv_bytes_and_str),
        cmocka_unit_test(test_mix),            cmocka_unit_test(test_rand_zero_state),
        cmocka_unit_test(test_rand_below),     cmocka_unit_test(test_rand_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
