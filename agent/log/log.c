#include "agent/log/log.h"
#include "base/io.h"
#include "base/time.h"
#include "base/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"

/* A message past this is cut; values past LOG_VALUE_MAX are cut and marked,
 * so a huge response body passed by mistake cannot blow up a log line. */
#define LOG_MSG_MAX 4096
#define LOG_VALUE_MAX 8192
#define LOG_LINE_MAX (1u << 20)
/* The line buffer is kept between records unless a long line grew it past this. */
#define LOG_KEEP_MAX (64u << 10)

struct logger {
    int fd;
    enum log_level min;
    enum log_format format;
    bool json;     /* the format after resolving AUTO */
    bool resolved; /* AUTO is resolved lazily for the static default logger */
    struct buf line; /* reused: one allocation for the logger's life */
    int64_t ts_sec;  /* the second whose ISO-8601 text is in ts (-1: none) */
    char ts[TL_ISO8601_LEN];
};

/* The one process-wide logger, for start-up errors before an agent exists. */
static struct logger log_default_logger = {
    .fd = 2, .min = LOG_INFO, .format = LOG_FORMAT_AUTO, .line = {.max = LOG_LINE_MAX}, .ts_sec = -1};

static void log_resolve(struct logger *lg)
{
    if (lg->format == LOG_FORMAT_AUTO)
        lg->json = !isatty(lg->fd);
    else
        lg->json = lg->format == LOG_FORMAT_JSON;
    lg->resolved = true;
}

struct logger *log_new(int fd, enum log_level min, enum log_format format)
{
    struct logger *lg = calloc(1, sizeof(*lg));
    if (!lg)
        return NULL;
    lg->fd = fd;
    lg->min = min;
    lg->format = format;
    buf_init(&lg->line, LOG_LINE_MAX);
    lg->ts_sec = -1;
    log_resolve(lg);
    return lg;
}

void log_free(struct logger *lg)
{
    if (!lg || lg == &log_default_logger)
        return;
    buf_free(&lg->line);
    free(lg);
}

struct logger *log_default(void)
{
    return &log_default_logger;
}

void log_set_level(struct logger *lg, enum log_level min)
{
    (lg ? lg : &log_default_logger)->min = min;
}

void log_set_format(struct logger *lg, enum log_format format)
{
    if (!lg)
        lg = &log_default_logger;
    lg->format = format;
    log_resolve(lg);
}

bool log_enabled(const struct logger *lg, enum log_level level)
{
    return level >= (lg ? lg : &log_default_logger)->min;
}

static const char *const log_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return TL_EINVAL;
}

static const char *log_name(enum log_level l)
{
    return (unsigned)l < 4 ? log_names[l] : "error";
}

/* Appends s escaped for a JSON string (json) or for one text line (!json):
 * control characters become escapes, invalid UTF-8 becomes U+FFFD. */
static int log_escape(struct buf *b, const char *s, bool json, bool quote)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t cut = n > LOG_VALUE_MAX ? LOG_VALUE_MAX : n;
    int rc = 0;
    for (size_t i = 0; i < cut && !rc;) {
        /* a run of printable ASCII needing no escape goes in one append */
        size_t run = i;
        while (run < cut && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            rc = buf_append(b, p + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = p[i];
        size_t ulen = tl_utf8_len(p + i, n - i);
        if (ulen == 0) {
            rc = buf_puts(b, json ? "\\ufffd" : "\xef\xbf\xbd");
            i++;
            continue;
        }
        if (ulen > 1) {
            rc = buf_append(b, p + i, ulen);
            i += ulen;
            continue;
        }
        i++;
        if (c == '"' && (json || quote))
            rc = buf_puts(b, "\\\"");
        else if (c == '\\' && (json || quote))
            rc = buf_puts(b, "\\\\");
        else if (c == '\n')
            rc = buf_puts(b, "\\n");
        else if (c == '\r')
            rc = buf_puts(b, "\\r");
        else if (c == '\t')
            rc = buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            rc = buf_printf(b, "\\u%04x", c);
        else
            rc = buf_append(b, &c, 1);
    }
    if (!rc && cut < n)
        rc = buf_puts(b, json ? "\\u2026" : "\xe2\x80\xa6");
    return rc;
}

/* Text values are bare unless they hold a space, quote, '=' or are empty. */
static bool log_text_needs_quotes(const char *s)
{
    if (!*s)
        return true;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
            return true;
    }
    return false;
}

static int log_int(struct buf *b, long long v)
{
    char d[24];
    size_t n = sizeof(d);
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        d[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--n] = '-';
    return buf_append(b, d + n, sizeof(d) - n);
}

/* The record's time with milliseconds; the date and time of day are formatted
 * once per second. */
static int log_ts(struct logger *lg, char out[TL_ISO8601_LEN])
{
    int64_t us = tl_wall_us();
    int64_t sec = us / 1000000, ms = us % 1000000 / 1000;
    if (us < 0)
        return tl_iso8601(us, true, out);
    if (sec != lg->ts_sec) {
        if (tl_iso8601(sec * 1000000, false, lg->ts) != 0)
            return -1;
        lg->ts_sec = sec;
    }
    /* "YYYY-MM-DDTHH:MM:SSZ" becomes "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    size_t n = strlen(lg->ts) - 1;
    if (n + 6 > TL_ISO8601_LEN)
        return -1;
    memcpy(out, lg->ts, n);
    out[n] = '.';
    out[n + 1] = (char)('0' + ms / 100);
    out[n + 2] = (char)('0' + ms / 10 % 10);
    out[n + 3] = (char)('0' + ms % 10);
    out[n + 4] = 'Z';
    out[n + 5] = '\0';
    return 0;
}

static int log_field_value(struct buf *b, const struct log_field *f, bool json)
{
    switch (f->type) {
    case LOG_FIELD_STR: {
        const char *s = f->s ? f->s : "";
        if (!f->s && json)
            return buf_puts(b, "null");
        bool quote = json || log_text_needs_quotes(s);
        int rc = quote ? buf_puts(b, "\"") : 0;
        if (!rc)
            rc = log_escape(b, s, json, quote);
        if (!rc && quote)
            rc = buf_puts(b, "\"");
        return rc;
    }
    case LOG_FIELD_INT:
        return log_int(b, f->i);
    case LOG_FIELD_FLOAT:
        /* JSON has no NaN or Infinity; write them as strings. */
        if (!isfinite(f->f))
            return buf_printf(b, json ? "\"%g\"" : "%g", f->f);
        return buf_printf(b, "%.15g", f->f);
    case LOG_FIELD_BOOL:
        return buf_puts(b, f->i ? "true" : "false");
    }
    return buf_puts(b, json ? "null" : "?");
}

static void log_emit(int fd, const char *p, size_t n)
{
    /* One write per line keeps lines whole when several processes share
     * stderr; retry on EINTR and short writes, give up on other errors. */
    (void)tl_write_all(fd, p, n);
}

static int log_format_line(struct logger *lg, enum log_level level, const struct log_field *fields,
                           size_t n_fields, const char *msg)
{
    struct buf *b = &lg->line;
    bool json = lg->json;
    char ts[TL_ISO8601_LEN];
    int rc = log_ts(lg, ts);
    if (rc)
        return rc;
    if (json) {
        rc = buf_puts(b, "{\"ts\":\"");
        if (!rc)
            rc = buf_puts(b, ts);
        if (!rc)
            rc = buf_puts(b, "\",\"level\":\"");
        if (!rc)
            rc = buf_puts(b, log_name(level));
        if (!rc)
            rc = buf_puts(b, "\",\"msg\":\"");
        if (!rc)
            rc = log_escape(b, msg, true, true);
        if (!rc)
            rc = buf_puts(b, "\"");
    } else {
        char lvl[8];
        size_t i = 0;
        for (const char *s = log_name(level); *s && i < sizeof(lvl) - 1; s++)
            lvl[i++] = (char)(*s - 'a' + 'A');
        lvl[i] = '\0';
        rc = buf_printf(b, "%s %-5s ", ts, lvl);
        if (!rc)
            rc = log_escape(b, msg, false, false);
    }
    for (size_t i = 0; i < n_fields && !rc; i++) {
        const struct log_field *f = &fields[i];
        if (json) {
            rc = buf_puts(b, ",\"");
            if (!rc)
                rc = log_escape(b, f->key ? f->key : "", true, true);
            if (!rc)
                rc = buf_puts(b, "\":");
        } else {
            rc = buf_puts(b, " ");
            if (!rc)
                rc = log_escape(b, f->key ? f->key : "", false, false);
            if (!rc)
                rc = buf_puts(b, "=");
        }
        if (!rc)
            rc = log_field_value(b, f, json);
    }
    if (!rc)
        rc = buf_puts(b, json ? "}\n" : "\n");
    return rc;
}

void log_vwrite(struct logger *lg, enum log_level level, const struct log_field *fields,
                size_t n_fields, const char *fmt, va_list ap)
{
    if (!lg)
        lg = &log_default_logger;
    if (level < lg->min)
        return;
    if (!lg->resolved)
        log_resolve(lg);
    char msg[LOG_MSG_MAX];
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        msg[0] = '\0';
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    buf_reset(&lg->line);
    if (log_format_line(lg, level, fields, n_fields, msg) == 0)
        log_emit(lg->fd, lg->line.data, lg->line.len);
    if (lg->line.cap > LOG_KEEP_MAX)
        buf_free(&lg->line); /* a long line's memory is not kept */
}

void log_write(struct logger *lg, enum log_level level, const struct log_field *fields,
               size_t n_fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(lg, level, fields, n_fields, fmt, ap);
    va_end(ap);
}
