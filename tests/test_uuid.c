/* UUID v4: the ids every event, incident and request carries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/uuid.h"

#define DRAWS 10000

static void test_shape(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        char u[UUID_STR_LEN];
        memset(u, 'Z', sizeof(u));
        assert_int_equal(uuid_v4(u), 0);
        assert_int_equal(strlen(u), 36);
        assert_true(uuid_valid(u));
        for (int k = 0; k < 36; k++) {
            if (k == 8 || k == 13 || k == 18 || k == 23)
                assert_int_equal(u[k], '-');
            else
                assert_non_null(strchr("0123456789abcdef", u[k])); /* lower case only */
        }
        assert_int_equal(u[14], '4');                  /* version 4 */
        assert_non_null(strchr("89ab", u[19]));        /* RFC 4122 variant */
    }
}

static int cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_distinct(void **state)
{
    (void)state;
    char (*ids)[UUID_STR_LEN] = calloc(DRAWS, UUID_STR_LEN);
    assert_non_null(ids);
    for (int i = 0; i < DRAWS; i++)
        assert_int_equal(uuid_v4(ids[i]), 0);
    qsort(ids, DRAWS, UUID_STR_LEN, cmp);
    for (int i = 1; i < DRAWS; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(uuid_valid("1b4e28ba-2fa1-41d2-883f-0016d3cca427"));
    assert_true(uuid_valid("1B4E28BA-2FA1-41D2-883F-0016D3CCA427"));
    assert_true(uuid_valid("1b4E28Ba-2fA1-11d2-c83f-0016D3cca427")); /* any version, any case */
    assert_true(uuid_valid("00000000-0000-0000-0000-000000000000"));
    assert_false(uuid_valid(NULL));
    assert_false(uuid_valid(""));
    assert_false(uuid_valid("1b4e28ba-2fa1-41d2-883f-0016d3cca42"));   /* 35 */
    assert_false(uuid_valid("1b4e28ba-2fa1-41d2-883f-0016d3cca4277")); /* 37 */
    assert_false(uuid_valid("1b4e28ba2fa141d2883f0016d3cca427"));     /* no dashes */
    assert_false(uuid_valid("1b4e28ba-2fa1-41d2-883f0-016d3cca427"));  /* dash moved */
    assert_false(uuid_valid("1b4e28b-a2fa1-41d2-883f-0016d3cca427"));  /* dash moved */
    assert_false(uuid_valid("1b4e28ba_2fa1-41d2-883f-0016d3cca427"));  /* not a dash */
    assert_false(uuid_valid("1b4e28ba-2fa1-41d2-883f-0016d3cca42g"));  /* non-hex */
    assert_false(uuid_valid("{b4e28ba-2fa1-41d2-883f-0016d3cca427"));
    assert_false(uuid_valid("1b4e28ba-2fa1-41d2-883f-0016d3cca42 "));
    assert_false(uuid_valid("1b4e28ba-2fa1-41d2-883f--016d3cca427"));  /* dash for a digit */
    assert_false(uuid_valid("urn:uuid:1b4e28ba-2fa1-41d2-883f-0016d3cca427"));
}

/* Ids come from a batch of random bytes: a forked child must not hand out
 * the ids its parent hands out next. */
static void test_fork(void **state)
{
    (void)state;
    char first[UUID_STR_LEN], parent[UUID_STR_LEN], child[UUID_STR_LEN] = "";
    int fds[2];
    assert_int_equal(uuid_v4(first), 0); /* the batch is now filled */
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char u[UUID_STR_LEN];
        int ok = uuid_v4(u) == 0 && write(fds[1], u, sizeof(u)) == (ssize_t)sizeof(u);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(uuid_v4(parent), 0);
    assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(uuid_valid(child));
    assert_string_not_equal(parent, child);
    assert_string_not_equal(first, child);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_distinct),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
