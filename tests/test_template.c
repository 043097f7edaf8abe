/* Templates: parsing, rendering, URL encoding, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "probes/run/template.h"

static char *render(const char *src, const struct tpl_vars *vs, enum tpl_escape esc, bool *secret, char *err)
{
    struct tpl t;
    int off;
    assert_int_equal(tpl_parse(&t, src, err, 256, &off), 0);
    char *s = tpl_render_str(&t, vs, esc, secret, err, 256);
    tpl_free(&t);
    return s;
}

static void test_literal_and_vars(void **state)
{
    (void)state;
    struct tpl_vars vs;
    tpl_vars_init(&vs);
    tpl_vars_set(&vs, "base", "http://127.0.0.1:8080", false);
    tpl_vars_set(&vs, "session", "a b/c", false);
    char err[256];
    bool secret = false;
    char *s = render("{{ base }}/v1/carts/{{session}}/pay?x={{ session }}", &vs, TPL_ESC_URL, &secret, err);
    assert_non_null(s);
    /* the leading base goes in as written; later values are percent-encoded */
    assert_string_equal(s, "http://127.0.0.1:8080/v1/carts/a%20b%2Fc/pay?x=a%20b%2Fc");
    assert_false(secret);
    free(s);
    s = render("plain text", &vs, TPL_ESC_NONE, &secret, err);
    assert_string_equal(s, "plain text");
    free(s);
    tpl_vars_free(&vs);
}

static void test_env_is_secret(void **state)
{
    (void)state;
    setenv("TRIPLINE_TEST_TOKEN", "s3cr3t-value", 1);
    char err[256];
    bool secret = false;
    char *s = render("Bearer {{ env.TRIPLINE_TEST_TOKEN }}", NULL, TPL_ESC_NONE, &secret, err);
    assert_string_equal(s, "Bearer s3cr3t-value");
    assert_true(secret);
    free(s);
    unsetenv("TRIPLINE_TEST_TOKEN");
    struct tpl t;
    int off;
    assert_int_equal(tpl_parse(&t, "{{ env.TRIPLINE_TEST_TOKEN }}", err, sizeof(err), &off), 0);
    assert_null(tpl_render_str(&t, NULL, TPL_ESC_NONE, &secret, err, sizeof(err)));
    assert_string_equal(err, "environment variable TRIPLINE_TEST_TOKEN is not set");
    tpl_free(&t);
}

static void test_file_secret(void **state)
{
    (void)state;
    char path[] = "/tmp/tripline-tpl-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from-file\n", 10), 10);
    close(fd);
    char src[128];
    snprintf(src, sizeof(src), "{{ file:%s }}", path);
    char err[256];
    bool secret = false;
    char *s = render(src, NULL, TPL_ESC_NONE, &secret, err);
    assert_string_equal(s, "from-file");
    assert_true(secret);
    free(s);
    unlink(path);
}

static void test_errors(void **state)
{
    (void)state;
    struct tpl t;
    char err[256];
    int off;
    assert_int_equal(tpl_parse(&t, "abc {{ x", err, sizeof(err), &off), -1);
    assert_int_equal(off, 4);
    assert_int_equal(tpl_parse(&t, "{{ }}", err, sizeof(err), &off), -1);
    assert_int_equal(tpl_parse(&t, "{{ a b }}", err, sizeof(err), &off), -1);
    assert_int_equal(tpl_parse(&t, "{{ file:relative }}", err, sizeof(err), &off), -1);
    assert_int_equal(tpl_parse(&t, "{{ missing }}", err, sizeof(err), &off), 0);
    assert_false(tpl_is_const(&t));
    assert_null(tpl_render_str(&t, NULL, TPL_ESC_NONE, NULL, err, sizeof(err)));
    assert_string_equal(err, "variable \"missing\" is not defined");
    tpl_free(&t);
}

static void test_secret_propagates(void **state)
{
    (void)state;
    struct tpl_vars vs;
    tpl_vars_init(&vs);
    tpl_vars_set(&vs, "token", "tok-123", true);
    char err[256];
    bool secret = false;
    char *s = render("Bearer {{ token }}", &vs, TPL_ESC_NONE, &secret, err);
    assert_true(secret);
    free(s);
    tpl_vars_free(&vs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_vars), cmocka_unit_test(test_env_is_secret),
        cmocka_unit_test(test_file_secret),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_secret_propagates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
