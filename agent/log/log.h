/* Logging: one line per record on a file descriptor (stderr by default).
 * JSON lines (ts, level, msg, then key/value fields) for journald and log
 * shippers; human-readable lines when the descriptor is a TTY. The level is
 * checked before anything is formatted, so a disabled debug line costs one
 * comparison. A struct logger is passed down from the agent; log_default()
 * exists for start-up errors before the agent has one. */
#ifndef TRIPLINE_LOG_H
#define TRIPLINE_LOG_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/config.h" /* enum log_level */

enum log_format {
    LOG_FORMAT_AUTO, /* text on a TTY, JSON otherwise */
    LOG_FORMAT_JSON,
    LOG_FORMAT_TEXT,
};

enum log_field_type { LOG_FIELD_STR, LOG_FIELD_INT, LOG_FIELD_FLOAT, LOG_FIELD_BOOL };

/* One key/value field of a record; build them with LOG_STR() and friends. */
struct log_field {
    const char *key;
    enum log_field_type type;
    const char *s;
    long long i;
    double f;
};

#define LOG_STR(k, v) ((struct log_field){.key = (k), .type = LOG_FIELD_STR, .s = (v)})
#define LOG_INT(k, v) ((struct log_field){.key = (k), .type = LOG_FIELD_INT, .i = (long long)(v)})
#define LOG_FLOAT(k, v) ((struct log_field){.key = (k), .type = LOG_FIELD_FLOAT, .f = (double)(v)})
#define LOG_BOOL(k, v) ((struct log_field){.key = (k), .type = LOG_FIELD_BOOL, .i = !!(v)})
/* LOG_FIELDS(LOG_STR("probe", id), LOG_INT("status", 503)) expands to the
 * (array, count) pair that log_kv() takes. */
#define LOG_FIELDS(...)                                                                            \
    ((const struct log_field[]){__VA_ARGS__}),                                                     \
        (sizeof((const struct log_field[]){__VA_ARGS__}) / sizeof(struct log_field))

struct logger;

/* A logger writing to fd (not owned, never closed). */
struct logger *log_new(int fd, enum log_level min, enum log_format format);
void log_free(struct logger *lg);
/* The process-wide logger on stderr (level info, format auto), for start-up
 * errors; every function below also takes NULL to mean this one. */
struct logger *log_default(void);
void log_set_level(struct logger *lg, enum log_level min);
void log_set_format(struct logger *lg, enum log_format format);
bool log_enabled(const struct logger *lg, enum log_level level);
/* Parses "debug", "info", "warn"/"warning", "error"; TL_EINVAL if unknown. */
int log_level_parse(const char *s, enum log_level *out);

/* Writes one record. Prefer the macros below: they skip building the
 * arguments when the level is off. A trailing newline of msg is dropped. */
void log_write(struct logger *lg, enum log_level level, const struct log_field *fields,
               size_t n_fields, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void log_vwrite(struct logger *lg, enum log_level level, const struct log_field *fields,
                size_t n_fields, const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

#define log_kv(lg, level, ...)                                                                     \
    do {                                                                                           \
        if (log_enabled((lg), (level)))                                                            \
            log_write((lg), (level), __VA_ARGS__);                                                 \
    } while (0)
#define log_debug(lg, ...) log_kv((lg), LOG_DEBUG, NULL, 0, __VA_ARGS__)
#define log_info(lg, ...) log_kv((lg), LOG_INFO, NULL, 0, __VA_ARGS__)
#define log_warn(lg, ...) log_kv((lg), LOG_WARN, NULL, 0, __VA_ARGS__)
#define log_error(lg, ...) log_kv((lg), LOG_ERROR, NULL, 0, __VA_ARGS__)

#endif
