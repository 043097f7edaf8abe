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

struct logger {
    int fd;
    enum log_level min;
    enum log_format format;
    bool json;     /* the format after resolving AUTO */
    bool resolved; /* AUTO is resolved lazily for the static default logger */
};

/* The one process-wide logger, for start-up errors before an agent exists. */
static struct logger log_default_logger = {.fd = 2, .min = LOG_INFO, .format = LOG_FORMAT_AUTO};

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
    log_resolve(lg);
    return lg;
}

void log_free(struct logger *lg)
{
    if (lg == &log_default_logger)
        return;
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
        return buf_printf(b, "%lld", f->i);
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

static int log_format_line(struct buf *b, bool json, enum log_level level,
                           const struct log_field *fields, size_t n_fields, const char *msg)
{
    char ts[TL_ISO8601_LEN];
    int rc = tl_iso8601_now(true, ts);
    if (rc)
        return rc;
    if (json) {
        rc = buf_printf(b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, log_name(level));
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
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    struct buf line;
    buf_init(&line, LOG_LINE_MAX);
    if (log_format_line(&line, lg->json, level, fields, n_fields, msg) == 0)
        log_emit(lg->fd, line.data, line.len);
    buf_free(&line);
}

void log_write(struct logger *lg, enum log_level level, const struct log_field *fields,
               size_t n_fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(lg, level, fields, n_fields, fmt, ap);
    va_end(ap);
}
