#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "schedules/shard.h"

#define N_IDS 10000

static void make_id(char *buf, size_t cap, int k)
{
    /* Real probe ids share prefixes and differ in a few characters. */
    snprintf(buf, cap, "checkout-%d", k);
}

static void test_parse(void **state)
{
    (void)state;
    unsigned i = 99, n = 99;
    assert_int_equal(shard_parse("0/3", &i, &n), 0);
    assert_int_equal(i, 0);
    assert_int_equal(n, 3);
    assert_int_equal(shard_parse("2/3", &i, &n), 0);
    assert_int_equal(i, 2);
    assert_int_equal(shard_parse("0/1", &i, &n), 0);
    assert_int_equal(shard_parse("12/999999", &i, &n), 0);
    assert_int_equal(i, 12);
    assert_int_equal(n, 999999);
    i = n = 77;
    const char *bad[] = {"3/3", "1/0", "0/0", "/3", "1/", "1", "", "-1/3", "1/-3", "a/3",
                         "1/3x", " 1/3", "1 /3", "1/2/3", "0/1000000", "0000001/3", NULL};
    for (int k = 0; bad[k]; k++) {
        if (shard_parse(bad[k], &i, &n) != -1)
            fail_msg("accepted \"%s\"", bad[k]);
    }
    assert_int_equal(shard_parse(NULL, &i, &n), -1);
    /* a refusal leaves the outputs alone */
    assert_int_equal(i, 77);
    assert_int_equal(n, 77);
}

static void test_exactly_one_owner(void **state)
{
    (void)state;
    char id[32];
    for (unsigned n = 1; n <= 7; n++) {
        unsigned counts[7] = {0};
        for (int k = 0; k < N_IDS; k++) {
            make_id(id, sizeof(id), k);
            unsigned owners = 0;
            for (unsigned i = 0; i < n; i++) {
                if (shard_owns(id, i, n)) {
                    owners++;
                    counts[i]++;
                }
            }
            assert_int_equal(owners, 1);
        }
        /* Balanced: each shard within 20% of the mean. */
        for (unsigned i = 0; i < n; i++) {
            double share = (double)counts[i] * n / N_IDS;
            if (share < 0.8 || share > 1.2)
                fail_msg("n=%u shard %u holds %u of %d", n, i, counts[i], N_IDS);
        }
    }
}

/* From 4 to 5 agents about a fifth of the probes move, all to the new one. */
static void test_growth_moves_little(void **state)
{
    (void)state;
    char id[32];
    for (unsigned n = 1; n <= 8; n++) {
        int moved = 0;
        for (int k = 0; k < N_IDS; k++) {
            make_id(id, sizeof(id), k);
            unsigned before = shard_of(id, n), after = shard_of(id, n + 1);
            if (before != after) {
                moved++;
                assert_int_equal(after, n);
            }
        }
        double frac = (double)moved / N_IDS, want = 1.0 / (n + 1);
        if (frac < want * 0.75 || frac > want * 1.25)
            fail_msg("%u -> %u agents moved %.3f of the probes, want about %.3f", n, n + 1, frac, want);
        if (n == 4 && (frac < 0.15 || frac > 0.25))
            fail_msg("4 -> 5 moved %.3f", frac);
    }
}

static void test_stable(void **state)
{
    (void)state;
    /* Pinned: an upgrade that changed the function would move probes
     * between the agents of every sharded region. */
    const unsigned checkout[8] = {0, 1, 1, 1, 1, 1, 1, 1};
    const unsigned login[8] = {0, 1, 1, 3, 3, 3, 3, 3};
    for (unsigned n = 1; n <= 8; n++) {
        assert_int_equal(shard_of("checkout", n), checkout[n - 1]);
        assert_int_equal(shard_of("login", n), login[n - 1]);
    }
    assert_int_equal(shard_of(NULL, 5), 0);
    assert_int_equal(shard_of("x", 0), 0);
    assert_true(shard_owns("x", 0, 1));
    assert_false(shard_owns("x", 1, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_exactly_one_owner),
        cmocka_unit_test(test_growth_moves_little),
        cmocka_unit_test(test_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
