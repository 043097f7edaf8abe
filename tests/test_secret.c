/* The secret-file reader: one cap per kind, the trimming and emptiness rules,
 * and error messages that name the path but never carry the secret. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/secret.h"

#define MARK "hunter2" /* the secret content an error must never show */

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tripline-secret.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
    return 0;
}

/* Writes n bytes to dir/name and leaves the full path in path. */
static void put(char path[256], const char *name, const void *data, size_t n)
{
    snprintf(path, 256, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* n bytes of the marker repeated, so any leak of the content shows in err. */
static char *marked(size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = MARK[i % (sizeof MARK - 1)];
    p[n] = '\0';
    return p;
}

/* Reads path expecting the error rc; err must name the path and not the secret. */
static void expect_error(const char *path, enum secret_kind kind, int rc)
{
    struct secret s = {0};
    char err[512] = "";
    assert_int_equal(secret_read(path, kind, &s, err, sizeof err), rc);
    assert_null(s.data);
    assert_int_equal(s.len, 0);
    assert_non_null(strstr(err, path));
    assert_null(strstr(err, MARK));
    assert_null(strstr(err, "hunt"));
}

static void test_caps(void **state)
{
    (void)state;
    const enum secret_kind kinds[] = {SECRET_TOKEN, SECRET_KEY, SECRET_VALUE};
    char path[256];
    assert_true(secret_max(SECRET_KEY) > 0);
    for (size_t k = 0; k < 3; k++) {
        size_t max = secret_max(kinds[k]);
        char *data = marked(max + 1);
        struct secret s = {0};
        char err[512] = "";

        put(path, "cap", data, max);
        assert_int_equal(secret_read(path, kinds[k], &s, err, sizeof err), 0);
        assert_int_equal(s.len, max);
        assert_memory_equal(s.data, data, max);
        assert_int_equal(s.data[max], '\0');
        secret_free(&s);

        put(path, "cap", data, max + 1);
        expect_error(path, kinds[k], TL_ETOOBIG);
        free(data);
    }
}

static void test_trim(void **state)
{
    (void)state;
    char path[256], err[512];
    struct secret s = {0};

    put(path, "tok", MARK "\r\n\n", 10);
    assert_int_equal(secret_read(path, SECRET_TOKEN, &s, err, sizeof err), 0);
    assert_int_equal(s.len, 7);
    assert_string_equal((char *)s.data, MARK);

    put(path, "val", "a b\r\n", 5);
    assert_int_equal(secret_read(path, SECRET_VALUE, &s, err, sizeof err), 0);
    assert_int_equal(s.len, 3);
    assert_string_equal((char *)s.data, "a b");

    /* a key is raw bytes: line ends and NULs are part of it */
    put(path, "key", "k\0y\r\n", 5);
    assert_int_equal(secret_read(path, SECRET_KEY, &s, err, sizeof err), 0);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.data, "k\0y\r\n", 6);

    /* only trailing line ends go: a leading one stays in a value */
    put(path, "val2", "\nx\n", 3);
    assert_int_equal(secret_read(path, SECRET_VALUE, &s, err, sizeof err), 0);
    assert_int_equal(s.len, 2);
    assert_string_equal((char *)s.data, "\nx");
    secret_free(&s);
}

static void test_empty(void **state)
{
    (void)state;
    char path[256], err[512];
    struct secret s = {0};

    put(path, "empty", "", 0);
    expect_error(path, SECRET_TOKEN, TL_EINVAL);
    expect_error(path, SECRET_KEY, TL_EINVAL);
    assert_int_equal(secret_read(path, SECRET_VALUE, &s, err, sizeof err), 0);
    assert_int_equal(s.len, 0);
    assert_true(!s.data || s.data[0] == '\0');
    secret_free(&s);

    /* a token of line ends only is empty once trimmed */
    put(path, "eol", "\r\n", 2);
    expect_error(path, SECRET_TOKEN, TL_EINVAL);
    assert_int_equal(secret_read(path, SECRET_VALUE, &s, err, sizeof err), 0);
    assert_int_equal(s.len, 0);
    secret_free(&s);
    /* but a key of line ends is two bytes of key */
    assert_int_equal(secret_read(path, SECRET_KEY, &s, err, sizeof err), 0);
    assert_int_equal(s.len, 2);
    secret_free(&s);
}

static void test_control_bytes(void **state)
{
    (void)state;
    char path[256], err[512];
    struct secret s = {0};
    const char *bad[] = {MARK "\t" MARK, MARK "\n" MARK, MARK "\x7f", "\x01" MARK, MARK "\r" MARK};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put(path, "ctl", bad[i], strlen(bad[i]));
        expect_error(path, SECRET_TOKEN, TL_EINVAL);
        /* the other kinds take them */
        assert_int_equal(secret_read(path, SECRET_VALUE, &s, err, sizeof err), 0);
        secret_free(&s);
    }
    put(path, "nul", MARK "\0" MARK, 15);
    expect_error(path, SECRET_TOKEN, TL_EINVAL);
    /* bytes past ASCII (UTF-8) are not control bytes */
    put(path, "utf8", "caf\xc3\xa9", 5);
    assert_int_equal(secret_read(path, SECRET_TOKEN, &s, err, sizeof err), 0);
    assert_int_equal(s.len, 5);
    secret_free(&s);
}

static void test_missing(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/no-such-file", dir);
    expect_error(path, SECRET_TOKEN, TL_EIO);
    expect_error(path, SECRET_KEY, TL_EIO);
    expect_error(path, SECRET_VALUE, TL_EIO);
    /* a directory opens but does not read */
    expect_error(dir, SECRET_VALUE, TL_EIO);
}

static void test_secret_free(void **state)
{
    (void)state;
    char path[256], err[512];
    struct secret s = {0};

    secret_free(NULL);
    secret_free(&s); /* an empty struct is fine too */
    put(path, "f", MARK, 7);
    assert_int_equal(secret_read(path, SECRET_TOKEN, &s, err, sizeof err), 0);
    secret_free(&s);
    assert_null(s.data);
    assert_int_equal(s.len, 0);
    secret_free(&s); /* twice is fine */

    /* a failed read leaves out empty, freeing what it held */
    assert_int_equal(secret_read(path, SECRET_TOKEN, &s, err, sizeof err), 0);
    put(path, "e", "", 0);
    assert_int_equal(secret_read(path, SECRET_TOKEN, &s, err, sizeof err), TL_EINVAL);
    assert_null(s.data);
    assert_int_equal(s.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps),          cmocka_unit_test(test_trim),
        cmocka_unit_test(test_empty),         cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_missing),       cmocka_unit_test(test_secret_free),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
