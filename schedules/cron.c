#include "schedules/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define USEC_PER_MIN 60000000LL
/* 10000-01-01T00:00:00Z: cron_next gives up past it, which also keeps the
 * minute arithmetic far from overflow. */
#define CRON_MAX_US 253402300800000000LL
/* 146097 days: the Gregorian calendar, weekdays included, repeats after it. */
#define CYCLE_US (146097LL * 1440 * USEC_PER_MIN)

struct field {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] is the value min + i; NULL: numbers only */
    int n_names;
    const char *hint;         /* what a name must look like, for messages */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct field fields[5] = {
    {"minute", 0, 59, NULL, 0, NULL},
    {"hour", 0, 23, NULL, 0, NULL},
    {"day-of-month", 1, 31, NULL, 0, NULL},
    {"month", 1, 12, month_names, 12, "jan..dec"},
    {"day-of-week", 0, 7, dow_names, 7, "sun..sat"},
};

static const struct {
    const char *name;
    const char *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

__attribute__((format(printf, 3, 4))) static int cron_err(char *err, size_t errlen,
                                                          const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return TL_ESYNTAX;
}

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* A character for a message: control and non-ASCII bytes would garble it. */
static char shown(char ch)
{
    return (ch > ' ' && ch < 0x7f) ? ch : '?';
}

static char lower(char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* Reads a number or a name at s[*i] (within len) into *v. */
static int parse_value(const struct field *f, const char *s, size_t len, size_t *i, int *v,
                       char *err, size_t errlen)
{
    size_t start = *i;
    if (*i < len && is_digit(s[*i])) {
        int n = 0;
        while (*i < len && is_digit(s[*i])) {
            /* Any number past 9999 is out of range anyway; stop before overflow. */
            if (n < 10000)
                n = n * 10 + (s[*i] - '0');
            (*i)++;
        }
        if (n < f->min || n > f->max)
            return cron_err(err, errlen, "%s: %.*s is out of range %d-%d", f->name,
                            (int)(*i - start), s + start, f->min, f->max);
        *v = n;
        return 0;
    }
    if (*i < len && is_alpha(s[*i])) {
        while (*i < len && is_alpha(s[*i]))
            (*i)++;
        size_t n = *i - start;
        if (!f->names)
            return cron_err(err, errlen, "%s: '%.*s' is not a number (expected %d-%d)",
                            f->name, (int)n, s + start, f->min, f->max);
        for (int k = 0; k < f->n_names; k++) {
            if (n != 3)
                break;
            const char *nm = f->names[k];
            if (lower(s[start]) == nm[0] && lower(s[start + 1]) == nm[1] &&
                lower(s[start + 2]) == nm[2]) {
                *v = f->min + k;
                return 0;
            }
        }
        return cron_err(err, errlen, "%s: unknown name '%.*s' (expected %d-%d or %s)", f->name,
                        (int)n, s + start, f->min, f->max, f->hint);
    }
    if (*i < len)
        return cron_err(err, errlen, "%s: unexpected '%c' in '%.*s'", f->name, shown(s[*i]),
                        (int)len, s);
    return cron_err(err, errlen, "%s: a value is missing in '%.*s'", f->name, (int)len, s);
}

/* One comma-separated item: `*`, `a`, `a-b`, each optionally with `/n`. */
static int parse_item(const struct field *f, const char *s, size_t len, uint64_t *bits,
                      const char *whole, size_t whole_len, char *err, size_t errlen)
{
    size_t i = 0;
    int lo, hi, step = 1, rc;
    bool range = false;
    if (len == 0)
        return cron_err(err, errlen, "%s: empty list item in '%.*s'", f->name, (int)whole_len,
                        whole);
    if (s[0] == '*') {
        lo = f->min;
        hi = f->max;
        i = 1;
        range = true;
    } else {
        rc = parse_value(f, s, len, &i, &lo, err, errlen);
        if (rc)
            return rc;
        hi = lo;
        if (i < len && s[i] == '-') {
            i++;
            rc = parse_value(f, s, len, &i, &hi, err, errlen);
            if (rc)
                return rc;
            range = true;
            if (hi < lo)
                return cron_err(err, errlen,
                                "%s: range %.*s runs backwards (write the smaller value first)",
                                f->name, (int)len, s);
        }
    }
    if (i < len && s[i] == '/') {
        size_t st = ++i;
        int n = 0;
        while (i < len && is_digit(s[i])) {
            if (n < 10000)
                n = n * 10 + (s[i] - '0');
            i++;
        }
        if (i == st)
            return cron_err(err, errlen, "%s: a step needs a number after '/' in '%.*s'",
                            f->name, (int)len, s);
        if (n == 0 || n > f->max - f->min + 1)
            return cron_err(err, errlen, "%s: step %.*s is out of range 1-%d", f->name,
                            (int)(i - st), s + st, f->max - f->min + 1);
        step = n;
        /* `a/n` means from a to the end of the field, every n. */
        if (!range)
            hi = f->max;
    }
    if (i < len)
        return cron_err(err, errlen, "%s: unexpected '%c' in '%.*s'", f->name, shown(s[i]),
                        (int)len, s);
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ULL << v;
    return 0;
}

static int parse_field(const struct field *f, const char *s, size_t len, uint64_t *bits,
                       bool *star, char *err, size_t errlen)
{
    *bits = 0;
    *star = len > 0 && s[0] == '*';
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == ',') {
            int rc = parse_item(f, s + start, i - start, bits, s, len, err, errlen);
            if (rc)
                return rc;
            start = i + 1;
        }
    }
    return 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* A restricted day-of-month with a `*` day-of-week must name a day that
 * some selected month has, or the schedule would never fire. */
static int check_possible(const struct cron *c, const char *dom, size_t dom_len,
                          const char *month, size_t month_len, char *err, size_t errlen)
{
    if (c->dom_star || !c->dow_star)
        return 0;
    for (int m = 1; m <= 12; m++) {
        if (!(c->month & (1u << m)))
            continue;
        /* 2000 is a leap year, so February counts its 29th. */
        int md = days_in_month(2000, m);
        for (int d = 1; d <= md; d++)
            if (c->dom & (1u << d))
                return 0;
    }
    return cron_err(err, errlen,
                    "never fires: day-of-month %.*s never occurs in month %.*s",
                    (int)dom_len, dom, (int)month_len, month);
}

/* Howard Hinnant's days <-> civil date algorithms (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool day_matches(const struct cron *c, int dom, int dow)
{
    bool a = c->dom & (1u << dom);
    bool b = c->dow & (1u << dow);
    return (c->dom_star || c->dow_star) ? (a && b) : (a || b);
}

/* The first fire time after after_us and before limit_us, or -1. */
static int64_t next_before(const struct cron *c, int64_t after_us, int64_t limit_us)
{
    if (after_us >= limit_us || !c->minute || !c->hour || !c->month)
        return -1;
    int64_t min = floor_div(after_us, USEC_PER_MIN) + 1;
    int64_t day = floor_div(min, 1440);
    int hour = (int)((min - day * 1440) / 60);
    int minute = (int)((min - day * 1440) % 60);
    int64_t y;
    int m, d;

    while (day * 1440 * USEC_PER_MIN < limit_us) {
        civil_from_days(day, &y, &m, &d);
        if (!(c->month & (1u << m))) {
            /* Jump to the first day of the next month. */
            day = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
            hour = minute = 0;
            continue;
        }
        int dow = (int)(((day % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        if (day_matches(c, d, dow)) {
            for (int h = hour; h < 24; h++) {
                if (!(c->hour & (1u << h)))
                    continue;
                for (int mi = (h == hour ? minute : 0); mi < 60; mi++)
                    if (c->minute & (1ULL << mi))
                        return ((day * 1440) + h * 60 + mi) * USEC_PER_MIN;
            }
        }
        day++;
        hour = minute = 0;
    }
    return -1;
}

int64_t cron_next(const struct cron *c, int64_t after_us)
{
    return next_before(c, after_us, CRON_MAX_US);
}

bool cron_valid(const struct cron *c)
{
    return c->minute && c->hour && c->dom && c->month && c->dow;
}

bool cron_equal(const struct cron *a, const struct cron *b)
{
    return a->minute == b->minute && a->hour == b->hour && a->dom == b->dom &&
           a->month == b->month && a->dow == b->dow && a->dom_star == b->dom_star &&
           a->dow_star == b->dow_star;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Five whitespace-separated fields into c (day-of-week 7 folds into 0). */
static int parse_fields(struct cron *c, const char *expr, char *err, size_t errlen)
{
    const char *f[5];
    size_t flen[5];
    size_t nf = 0;
    int rc;
    uint64_t bits[5];
    bool star[5];

    for (const char *p = expr; *p;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        const char *st = p;
        while (*p && !is_space(*p))
            p++;
        if (nf < 5) {
            f[nf] = st;
            flen[nf] = (size_t)(p - st);
        }
        nf++;
    }
    if (nf != 5)
        return cron_err(err, errlen,
                        "'%.64s' has %zu field%s (expected 5 fields: minute hour day-of-month "
                        "month day-of-week)%s",
                        expr, nf, nf == 1 ? "" : "s",
                        nf == 6 ? " (a seconds field is not supported)" : "");
    for (int k = 0; k < 5; k++) {
        rc = parse_field(&fields[k], f[k], flen[k], &bits[k], &star[k], err, errlen);
        if (rc)
            return rc;
    }
    /* 7 is Sunday as well as 0. */
    if (bits[4] & (1u << 7))
        bits[4] = (bits[4] | 1u) & ~(1ULL << 7);
    c->minute = bits[0];
    c->hour = (uint32_t)bits[1];
    c->dom = (uint32_t)bits[2];
    c->month = (uint16_t)bits[3];
    c->dow = (uint8_t)bits[4];
    c->dom_star = star[2];
    c->dow_star = star[4];
    return check_possible(c, f[2], flen[2], f[3], flen[3], err, errlen);
}

static int parse_macro(struct cron *c, const char *expr, char *err, size_t errlen)
{
    size_t n = 0;
    while (expr[n] && !is_space(expr[n]))
        n++;
    for (size_t k = 0; k < sizeof macros / sizeof macros[0]; k++) {
        if (strlen(macros[k].name) != n || strncmp(macros[k].name, expr, n) != 0)
            continue;
        const char *rest = expr + n;
        while (is_space(*rest))
            rest++;
        if (*rest)
            return cron_err(err, errlen, "unexpected text after %s", macros[k].name);
        return parse_fields(c, macros[k].expr, err, errlen);
    }
    return cron_err(err, errlen,
                    "unknown macro '%.*s' (expected @yearly, @annually, @monthly, "
                    "@weekly, @daily, @midnight or @hourly)",
                    (int)(n > 32 ? 32 : n), expr);
}

int cron_parse(struct cron *c, const char *expr, char *err, size_t errlen)
{
    int rc;

    memset(c, 0, sizeof *c);
    if (err && errlen)
        err[0] = '\0';
    if (!expr) {
        rc = cron_err(err, errlen, "no expression");
        goto out;
    }
    while (is_space(*expr))
        expr++;
    rc = expr[0] == '@' ? parse_macro(c, expr, err, errlen) : parse_fields(c, expr, err, errlen);
    /* Whatever else can never fire shows as no time in one whole 400-year
     * Gregorian cycle, after which dates and weekdays repeat. */
    if (!rc && next_before(c, -1, CYCLE_US) < 0)
        rc = cron_err(err, errlen, "never fires: no time matches in a 400-year calendar cycle");
out:
    if (rc)
        memset(c, 0, sizeof *c);
    return rc;
}
