/* Tests of agent/log/log.c: the JSON line shape, level filtering before any
 * formatting, escaping of hostile text, and the human format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "agent/log/log.h"

struct sink {
    FILE *f;
    struct logger *lg;
    char text[1 << 16];
};

static void sink_open(struct sink *s, enum log_level min, enum log_format fmt)
{
    s->f = tmpfile();
    assert_non_null(s->f);
    s->lg = log_new(fileno(s->f), min, fmt);
    assert_non_null(s->lg);
}

/* Everything written so far, NUL-terminated. */
static const char *sink_read(struct sink *s)
{
    assert_int_equal(fseek(s->f, 0, SEEK_SET), 0);
    size_t n = fread(s->text, 1, sizeof(s->text) - 1, s->f);
    s->text[n] = '\0';
    return s->text;
}

static void sink_close(struct sink *s)
{
    log_free(s->lg);
    fclose(s->f);
}

static size_t count_lines(const char *t)
{
    size_t n = 0;
    for (; *t; t++)
        n += *t == '\n';
    return n;
}

static void test_json_line_shape(void **state)
{
    struct sink s;
    sink_open(&s, LOG_DEBUG, LOG_FORMAT_JSON);
    log_kv(s.lg, LOG_WARN,
           LOG_FIELDS(LOG_STR("probe", "checkout"), LOG_INT("status", 503), LOG_BOOL("ok", 0),
                      LOG_FLOAT("ratio", 0.5), LOG_STR("none", NULL)),
           "step %s failed after %d tries\n", "pay", 3);
    const char *t = sink_read(&s);
    assert_int_equal(count_lines(t), 1);
    assert_int_equal(t[strlen(t) - 1], '\n');
    cJSON *j = cJSON_Parse(t);
    assert_non_null(j);
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(j, "ts"));
    assert_non_null(ts);
    /* RFC 3339 in UTC with milliseconds: 2024-05-01T12:00:00.123Z */
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[4], '-');
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "level")), "warn");
    /* the trailing newline of the message is dropped */
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "msg")),
                        "step pay failed after 3 tries");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "probe")), "checkout");
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "status")), 503);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "ok")));
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "ratio")) == 0.5);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "none")));
    /* keys in order: ts, level, msg first */
    assert_string_equal(j->child->string, "ts");
    assert_string_equal(j->child->next->string, "level");
    assert_string_equal(j->child->next->next->string, "msg");
    cJSON_Delete(j);
    sink_close(&s);
}

static int evaluated;
static int bump(void)
{
    return ++evaluated;
}

static void test_level_filtering(void **state)
{
    struct sink s;
    sink_open(&s, LOG_WARN, LOG_FORMAT_JSON);
    evaluated = 0;
    log_debug(s.lg, "debug %d", bump());
    log_info(s.lg, "info %d", bump());
    /* disabled levels do not even evaluate their arguments */
    assert_int_equal(evaluated, 0);
    assert_false(log_enabled(s.lg, LOG_INFO));
    assert_true(log_enabled(s.lg, LOG_WARN));
    log_warn(s.lg, "warn %d", bump());
    log_error(s.lg, "error %d", bump());
    assert_int_equal(evaluated, 2);
    const char *t = sink_read(&s);
    assert_int_equal(count_lines(t), 2);
    assert_non_null(strstr(t, "\"level\":\"warn\",\"msg\":\"warn 1\""));
    assert_non_null(strstr(t, "\"level\":\"error\",\"msg\":\"error 2\""));
    assert_null(strstr(t, "debug"));
    assert_null(strstr(t, "info"));
    /* lowering the threshold lets debug through */
    log_set_level(s.lg, LOG_DEBUG);
    log_debug(s.lg, "now visible");
    t = sink_read(&s);
    assert_int_equal(count_lines(t), 3);
    assert_non_null(strstr(t, "\"level\":\"debug\",\"msg\":\"now visible\""));
    sink_close(&s);
}

static void test_json_escaping(void **state)
{
    struct sink s;
    sink_open(&s, LOG_DEBUG, LOG_FORMAT_JSON);
    /* quote, backslash, newline, tab, a control byte, invalid UTF-8, valid UTF-8 */
    const char *hostile = "a\"b\\c\nd\te\x01" "f\xff" "g\xc3\xa9h\xed\xa0\x80";
    log_kv(s.lg, LOG_INFO, LOG_FIELDS(LOG_STR("body", hostile), LOG_STR("key\"x", "v")), "%s",
           hostile);
    const char *t = sink_read(&s);
    /* still exactly one line: the newline inside is escaped */
    assert_int_equal(count_lines(t), 1);
    cJSON *j = cJSON_Parse(t);
    assert_non_null(j);
    const char *want = "a\"b\\c\nd\te\x01" "f\xef\xbf\xbd" "g\xc3\xa9h\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "msg")), want);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "body")), want);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "key\"x")), "v");
    cJSON_Delete(j);
    sink_close(&s);
}

static void test_long_values_are_cut(void **state)
{
    struct sink s;
    sink_open(&s, LOG_DEBUG, LOG_FORMAT_JSON);
    size_t n = 100000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    log_kv(s.lg, LOG_INFO, LOG_FIELDS(LOG_STR("body", big)), "big");
    free(big);
    const char *t = sink_read(&s);
    assert_int_equal(count_lines(t), 1);
    cJSON *j = cJSON_Parse(t);
    assert_non_null(j);
    const char *body = cJSON_GetStringValue(cJSON_GetObjectItem(j, "body"));
    assert_non_null(body);
    assert_true(strlen(body) < 10000);
    /* the cut is marked with an ellipsis */
    assert_string_equal(body + strlen(body) - 3, "\xe2\x80\xa6");
    cJSON_Delete(j);
    sink_close(&s);
}

static void test_text_format(void **state)
{
    struct sink s;
    sink_open(&s, LOG_DEBUG, LOG_FORMAT_TEXT);
    log_kv(s.lg, LOG_ERROR,
           LOG_FIELDS(LOG_STR("probe", "checkout"), LOG_STR("why", "connect refused"),
                      LOG_INT("status", 502)),
           "run failed\nsecond line");
    const char *t = sink_read(&s);
    assert_int_equal(count_lines(t), 1);
    /* ts, padded level, message, then key=value with quotes only when needed */
    assert_int_equal(t[23], 'Z');
    assert_non_null(strstr(t, "Z ERROR run failed\\nsecond line probe=checkout "
                              "why=\"connect refused\" status=502\n"));
    assert_null(strchr(t, '{'));
    sink_close(&s);
}

static void test_auto_format_is_json_off_a_tty(void **state)
{
    struct sink s;
    sink_open(&s, LOG_DEBUG, LOG_FORMAT_AUTO);
    log_info(s.lg, "hello");
    const char *t = sink_read(&s);
    assert_int_equal(t[0], '{');
    sink_close(&s);
}

/* Integers are written by hand, timestamps from a per-second cache, and the
 * line buffer is reused: extremes, the clock and a short line after a long one. */
static void test_ints_time_and_reuse(void **state)
{
    (void)state;
    struct sink s;
    sink_open(&s, LOG_DEBUG, LOG_FORMAT_JSON);
    char big[20000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    time_t before = time(NULL);
    log_kv(s.lg, LOG_INFO, LOG_FIELDS(LOG_STR("big", big)), "long");
    log_kv(s.lg, LOG_INFO,
           LOG_FIELDS(LOG_INT("min", INT64_MIN), LOG_INT("max", INT64_MAX), LOG_INT("zero", 0),
                      LOG_INT("neg", -42)),
           "short");
    time_t after = time(NULL);
    const char *t = sink_read(&s);
    assert_int_equal(count_lines(t), 2);
    const char *second = strchr(t, '\n') + 1;
    assert_non_null(strstr(second, "\"min\":-9223372036854775808,\"max\":9223372036854775807,"
                                   "\"zero\":0,\"neg\":-42}\n"));
    assert_null(strstr(second, "xxx"));
    cJSON *j = cJSON_Parse(second);
    assert_non_null(j);
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(j, "ts"));
    assert_non_null(ts);
    struct tm tm = {0};
    char lo[32], hi[32];
    strftime(lo, sizeof(lo), "%Y-%m-%dT%H:%M:%S", gmtime_r(&before, &tm));
    strftime(hi, sizeof(hi), "%Y-%m-%dT%H:%M:%S", gmtime_r(&after, &tm));
    assert_true(strncmp(ts, lo, 19) >= 0 && strncmp(ts, hi, 19) <= 0);
    assert_int_equal(strlen(ts), 24);
    assert_true(ts[20] >= '0' && ts[20] <= '9' && ts[22] >= '0' && ts[22] <= '9');
    cJSON_Delete(j);
    sink_close(&s);
}

static void test_level_parse(void **state)
{
    enum log_level l;
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_level_parse("INFO", &l), 0);
    assert_int_equal(l, LOG_INFO);
    assert_int_equal(log_level_parse("warning", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_level_parse("error", &l), 0);
    assert_int_equal(l, LOG_ERROR);
    assert_int_equal(log_level_parse("loud", &l), TL_EINVAL);
}

static void test_default_logger(void **state)
{
    /* the process-wide default exists without set-up and filters at info */
    assert_non_null(log_default());
    assert_false(log_enabled(NULL, LOG_DEBUG));
    assert_true(log_enabled(NULL, LOG_ERROR));
    log_free(log_default()); /* a no-op, never frees the static one */
    assert_true(log_enabled(log_default(), LOG_INFO));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_line_shape),
        cmocka_unit_test(test_level_filtering),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_long_values_are_cut),
        cmocka_unit_test(test_text_format),
        cmocka_unit_test(test_auto_format_is_json_off_a_tty),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_ints_time_and_reuse),
        cmocka_unit_test(test_default_logger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
