/* The JUnit report: XML escaping of hostile text, <failure> vs <error>,
 * and the temp-file-then-rename write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/cli/junit.h"
#include "agent/cli/xml_escape.h"

static char *esc(const char *s, bool attr)
{
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(xml_escape(&b, s, attr), 0);
    return buf_take(&b);
}

static void check(const char *in, bool attr, const char *want)
{
    char *got = esc(in, attr);
    assert_string_equal(got, want);
    free(got);
}

static void test_markup(void **state)
{
    (void)state;
    check("a<b>&c]]>d", false, "a&lt;b&gt;&amp;c]]&gt;d");
    check("say \"hi\" 'x'\n\tz", false, "say \"hi\" 'x'\n\tz");
    check("say \"hi\" 'x'\n\tz", true, "say &quot;hi&quot; &apos;x&apos;&#10;&#9;z");
    check("cr\r", false, "cr&#13;");
    check(NULL, false, "");
}

static void test_forbidden_bytes(void **state)
{
    (void)state;
    /* C0 controls other than tab, LF, CR are not XML 1.0 characters */
    check("a\x01" "b\x1b" "c\x0c", false, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD");
    /* DEL and C1 are allowed; valid multi-byte UTF-8 passes through */
    check("\x7f \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", false, "\x7f \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    check("\xff", false, "\xEF\xBF\xBD");
    check("\xC3(", false, "\xEF\xBF\xBD(");                 /* truncated sequence */
    check("\xC0\xAF", false, "\xEF\xBF\xBD\xEF\xBF\xBD");   /* overlong */
    check("\xED\xA0\x80", false, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* a surrogate */
    check("\xEF\xBF\xBE", false, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* U+FFFE */
    check("\xF4\x90\x80\x80", false, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* past U+10FFFF */
    check("end\xE2\x82", false, "end\xEF\xBF\xBD\xEF\xBF\xBD"); /* cut at the end */
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void test_report(void **state)
{
    (void)state;
    static struct probe p = {.id = "p", .file = "probes/a&b.yaml"};
    struct step_result steps[2] = {
        {.name = "login", .ran = true, .ok = false, .status = 503, .bucket = BUCKET_SERVER, .reason = "status_503"},
        {.name = "next"},
    };
    strv_init(&steps[0].failures);
    strv_init(&steps[1].failures);
    strv_push(&steps[0].failures, "step login: status 503 \x01<oops>");
    struct run_result failed = {.probe = &p, .probe_id = "api", .bucket = BUCKET_SERVER, .reason = "status_503",
                                .failed_step = 0, .n_steps = 2, .steps = steps, .duration = 1500000};
    struct run_result agent = {.probe = &p, .probe_id = "cfg", .bucket = BUCKET_AGENT,
                               .reason = "missing_secret", .failed_step = -1};
    strv_init(&failed.failures);
    strv_init(&agent.failures);
    strv_push(&agent.failures, "vars.t: environment variable T is not set");
    struct run_result *rs[] = {&failed, &agent};

    char dir[] = "/tmp/test_junit.XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/report.xml", dir);
    assert_int_equal(junit_write(path, rs, 2), 0);
    const char *x = slurp(path);
    assert_non_null(strstr(x, "<testsuite id=\"0\" name=\"probes/a&amp;b.yaml\" tests=\"2\" failures=\"1\" "
                              "errors=\"1\" skipped=\"0\" time=\"1.500\""));
    assert_non_null(strstr(x, "<failure message=\"server/status_503: step login: status 503 \xEF\xBF\xBD&lt;oops&gt;\""
                              " type=\"server\">"));
    assert_non_null(strstr(x, "<error message=\"agent/missing_secret: vars.t:"));
    assert_non_null(strstr(x, "step login: FAIL server/status_503 status=503"));
    assert_non_null(strstr(x, "step next: skipped"));
    assert_null(strstr(x, "\x01"));
    unlink(path);
    /* a directory that does not exist: an error, and no file anywhere */
    snprintf(path, sizeof path, "%s/missing/report.xml", dir);
    assert_int_equal(junit_write(path, rs, 2), TL_EIO);
    assert_int_equal(rmdir(dir), 0); /* empty: no temporary file was left */
    strv_free(&steps[0].failures);
    strv_free(&steps[1].failures);
    strv_free(&failed.failures);
    strv_free(&agent.failures);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markup),
        cmocka_unit_test(test_forbidden_bytes),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
