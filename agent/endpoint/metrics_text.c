/* The text exposition format 0.0.4 of the registry, whole or through a
 * cursor. A scrape at 10,000 probes writes ~16 MB, so nothing here formats
 * per sample with printf: a family's fixed text is made at registration,
 * label values are escaped when interned, and numbers are written by hand
 * when they are integers or short decimals (the usual case). */
#include "agent/endpoint/metrics_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a time-bounded cursor reads its clock, in bytes written. */
#define METRICS_CLOCK_EVERY 4096u

static size_t metrics_number_slow(char *dst, double v)
{
    int n = snprintf(dst, METRICS_NUM_MAX, "%.15g", v);
    if (strtod(dst, NULL) != v)
        n = snprintf(dst, METRICS_NUM_MAX, "%.17g", v);
    return n > 0 ? (size_t)n : 0;
}

/* k / 10^d in %g's fixed notation with trailing zeros dropped, or 0 when
 * %g would write something else: more than max digits, or an exponent
 * below -4 (%g then writes 1e-05). */
static size_t metrics_decimal(char *dst, bool neg, uint64_t k, int d, int max)
{
    while (d > 0 && k % 10 == 0) {
        k /= 10;
        d--;
    }
    char dig[20];
    int n = 0;
    for (uint64_t t = k; t; t /= 10)
        dig[n++] = (char)('0' + t % 10);
    if (n > max || n - 1 - d < -4)
        return 0;
    char *p = dst;
    if (neg)
        *p++ = '-';
    if (n <= d) {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < d - n; i++)
            *p++ = '0';
    } else {
        for (int i = n - d; i > 0; i--)
            *p++ = dig[--n];
        if (d)
            *p++ = '.';
    }
    while (n)
        *p++ = dig[--n];
    return (size_t)(p - dst);
}

static const uint64_t metrics_pow10[] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
                                        10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
                                        100000000000ULL, 1000000000000ULL, 10000000000000ULL,
                                        100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
                                        100000000000000000ULL, 1000000000000000000ULL};

/* a's p significant digits, rounded half to even as printf does, exactly:
 * a = m / 2^shift, so a * 10^s is m * 10^s / 2^shift in 128-bit integers.
 * Sets *x to a's decimal exponent after rounding. Needs 1e-4 <= a < 1e15. */
static uint64_t metrics_digits(double a, int p, int *x)
{
    int e2;
    uint64_t m = (uint64_t)ldexp(frexp(a, &e2), 53);
    int shift = 53 - e2; /* in [3, 67] for such an a */
    int xe = (int)floor(log10(a));
    for (int tries = 0; tries < 3; tries++) {
        int s = p - 1 - xe; /* in [2, 21] */
        unsigned __int128 num = (unsigned __int128)m * metrics_pow10[s > 18 ? 18 : s];
        for (int i = 18; i < s; i++)
            num *= 10;
        unsigned __int128 one = 1;
        uint64_t q = (uint64_t)(num >> shift);
        unsigned __int128 rem = num & ((one << shift) - 1), half = one << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        if (q >= metrics_pow10[p]) {
            xe++;
        } else if (q < metrics_pow10[p - 1]) {
            xe--;
        } else {
            *x = xe;
            return q;
        }
    }
    return 0;
}

/* %.15g when it reads back as v, else %.17g, without printf: reading back
 * is exact too, q / 10^s being one correctly rounded division of exact
 * doubles, as strtod rounds. 0 outside fixed notation's range. */
static size_t metrics_number_exact(char *dst, double v)
{
    double a = fabs(v);
    int x = 0;
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    uint64_t q = metrics_digits(a, 15, &x);
    if (!q)
        return 0;
    if ((double)q / (double)metrics_pow10[14 - x] == a)
        return metrics_decimal(dst, v < 0, q, 14 - x, 15);
    q = metrics_digits(a, 17, &x);
    if (!q || 16 - x > 18)
        return 0;
    return metrics_decimal(dst, v < 0, q, 16 - x, 17);
}

/* Integers and the usual durations (whole µs in seconds) first: when v is
 * the double nearest to k / 10^d with at most 15 digits, %.15g prints that
 * decimal (no other 15-digit decimal rounds to the same double) and it
 * reads back as v. The division is correctly rounded, so comparing it with
 * v proves the case. */
size_t metrics_put_number(char *dst, double v)
{
    static const double scale[] = {1, 1e6};
    static const int digits[] = {0, 6};
    if (isnan(v) || isinf(v)) {
        const char *s = isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
        size_t n = strlen(s);
        memcpy(dst, s, n);
        return n;
    }
    if (v == 0) {
        memcpy(dst, signbit(v) ? "-0" : "0", 2);
        return signbit(v) ? 2 : 1;
    }
    double a = fabs(v);
    for (size_t i = 0; a < 1e15 && i < sizeof(scale) / sizeof(scale[0]); i++) {
        double sc = a * scale[i];
        if (sc >= 9007199254740992.0) /* 2^53: k would not be exact */
            break;
        uint64_t k = (uint64_t)(sc + 0.5);
        if (k == 0 || (double)k / scale[i] != a)
            continue;
        size_t n = metrics_decimal(dst, v < 0, k, digits[i], 15);
        if (n)
            return n;
        break;
    }
    size_t n = metrics_number_exact(dst, v);
    return n ? n : metrics_number_slow(dst, v);
}

size_t metrics_escaped_len(const char *s, bool label)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += (*p == '\\' || *p == '\n' || (*p == '"' && label)) ? 2 : 1;
    return n;
}

/* HELP escapes backslash and newline; label values also the double quote. */
void metrics_escape(char *dst, const char *s, bool label)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == '\n' || (*p == '"' && label)) {
            *dst++ = '\\';
            *dst++ = *p == '\n' ? 'n' : *p;
        } else {
            *dst++ = *p;
        }
    }
}

static const char *metrics_type_str(enum metric_type t)
{
    switch (t) {
    case METRIC_COUNTER:
        return "counter";
    case METRIC_GAUGE:
        return "gauge";
    case METRIC_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

/* Appends s to b and notes where it went (an offset until the block is
 * made, see metrics_family_text_new). */
static int metrics_note(struct buf *b, struct metrics_piece *p, const char *s, size_t len)
{
    p->s = (const char *)(uintptr_t)b->len;
    p->len = len;
    return buf_append(b, s, len);
}

static int metrics_note3(struct buf *b, struct metrics_piece *p, const char *x, const char *y, const char *z)
{
    size_t at = b->len;
    int rc = buf_puts(b, x);
    if (!rc)
        rc = buf_puts(b, y);
    if (!rc)
        rc = buf_puts(b, z);
    p->s = (const char *)(uintptr_t)at;
    p->len = b->len - at;
    return rc;
}

static int metrics_text_header(struct buf *b, struct metric_family *f, struct metrics_family_text *t)
{
    size_t at = b->len;
    int rc = buf_printf(b, "# HELP %s ", f->name);
    size_t esc = metrics_escaped_len(f->help, false);
    char *help = malloc(esc + 1);
    if (!help)
        return TL_ENOMEM;
    metrics_escape(help, f->help, false);
    if (!rc)
        rc = buf_append(b, help, esc);
    free(help);
    if (!rc)
        rc = buf_printf(b, "\n# TYPE %s %s\n", f->name, metrics_type_str(f->type));
    t->header.s = (const char *)(uintptr_t)at;
    t->header.len = b->len - at;
    return rc;
}

/* The le label after the others, its value, the closing brace, the space. */
static int metrics_text_le(struct buf *b, struct metric_family *f, struct metrics_family_text *t)
{
    int rc = 0;
    for (size_t i = 0; i <= f->n_bounds && !rc; i++) {
        char num[METRICS_NUM_MAX + 8];
        size_t n = metrics_put_number(num, i < f->n_bounds ? f->bounds[i] : INFINITY);
        memcpy(num + n, "\"} ", 4);
        rc = metrics_note3(b, &t->le_tail[i], f->n_labels ? "\",le=\"" : "{le=\"", num, "");
    }
    return rc;
}

static int metrics_text_build(struct buf *b, struct metric_family *f, struct metrics_family_text *t)
{
    int rc = metrics_text_header(b, f, t);
    bool hist = f->type == METRIC_HISTOGRAM;
    for (size_t i = 0; i < (hist ? 3u : 1u) && !rc; i++)
        rc = metrics_note3(b, &t->names[i], f->name, hist ? metrics_suffixes[i] : "", "");
    for (size_t i = 0; i < f->n_labels && !rc; i++)
        rc = metrics_note3(b, &t->label_pre[i], i ? "\"," : "{", f->labels[i], "=\"");
    if (!rc)
        rc = metrics_note(b, &t->tail, f->n_labels ? "\"} " : " ", f->n_labels ? 3 : 1);
    if (!rc && hist)
        rc = metrics_text_le(b, f, t);
    return rc;
}

int metrics_family_text_new(struct metric_family *f)
{
    struct metrics_family_text tmp = {0};
    size_t n_pieces = f->n_labels + (f->type == METRIC_HISTOGRAM ? f->n_bounds + 1 : 0);
    struct metrics_piece *pieces = calloc(n_pieces ? n_pieces : 1, sizeof(*pieces));
    struct buf b;
    buf_init(&b, 1u << 20);
    int rc = pieces ? 0 : TL_ENOMEM;
    tmp.label_pre = pieces;
    tmp.le_tail = pieces ? pieces + f->n_labels : NULL;
    if (!rc)
        rc = metrics_text_build(&b, f, &tmp);
    /* one block: the struct, the pieces, then the text they point into */
    size_t head = sizeof(tmp) + n_pieces * sizeof(*pieces);
    struct metrics_family_text *t = rc ? NULL : malloc(head + b.len + 1);
    if (!rc && !t)
        rc = TL_ENOMEM;
    if (!rc) {
        char *text = (char *)t + head;
        memcpy(text, b.data, b.len + 1);
        *t = tmp;
        t->label_pre = (struct metrics_piece *)(void *)(t + 1);
        t->le_tail = t->label_pre + f->n_labels;
        memcpy(t->label_pre, pieces, n_pieces * sizeof(*pieces));
        struct metrics_piece *all[] = {&t->header, &t->names[0], &t->names[1], &t->names[2], &t->tail};
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
            all[i]->s = text + (uintptr_t)all[i]->s;
        for (size_t i = 0; i < n_pieces; i++)
            t->label_pre[i].s = text + (uintptr_t)t->label_pre[i].s;
        f->text = t;
    }
    free(pieces);
    buf_free(&b);
    return rc;
}

/* One series' labels as the exposition writes them, without the closing
 * quote and brace: {probe="x",region="y. Made on the stack when short (the
 * usual case), else in the cursor's scratch buffer. */
struct metrics_labels {
    const char *p;
    size_t len;
    char local[512];
};

static int metrics_put_labels(struct metrics_labels *ml, struct buf *lab, const struct metric *s)
{
    const struct metric_family *f = s->fam;
    const struct metrics_piece *pre = f->text->label_pre;
    size_t len = 0;
    for (size_t i = 0; i < f->n_labels; i++)
        len += pre[i].len + metrics_interned_of(s->values[i])->esc_len;
    ml->p = ml->local;
    ml->len = len;
    if (len <= sizeof(ml->local)) {
        char *w = ml->local;
        for (size_t i = 0; i < f->n_labels; i++) {
            const struct interned *v = metrics_interned_of(s->values[i]);
            memcpy(w, pre[i].s, pre[i].len);
            memcpy(w + pre[i].len, v->esc, v->esc_len);
            w += pre[i].len + v->esc_len;
        }
        return 0;
    }
    int rc = 0;
    buf_reset(lab);
    for (size_t i = 0; i < f->n_labels && !rc; i++) {
        const struct interned *v = metrics_interned_of(s->values[i]);
        rc = buf_append(lab, pre[i].s, pre[i].len);
        if (!rc)
            rc = buf_append(lab, v->esc, v->esc_len);
    }
    ml->p = lab->data;
    return rc;
}

/* Lines are put together here and go to the output buffer a series (or a
 * few KB) at a time: one buf_append instead of four per sample. */
struct metrics_lines {
    struct buf *out;
    size_t n;
    int rc;
    char b[4096];
};

static void metrics_lines_flush(struct metrics_lines *w)
{
    if (!w->rc && w->n)
        w->rc = buf_append(w->out, w->b, w->n);
    w->n = 0;
}

static void metrics_lines_put(struct metrics_lines *w, const char *s, size_t len)
{
    if (w->n + len > sizeof(w->b)) {
        metrics_lines_flush(w);
        if (len > sizeof(w->b)) {
            if (!w->rc)
                w->rc = buf_append(w->out, s, len);
            return;
        }
    }
    memcpy(w->b + w->n, s, len);
    w->n += len;
}

/* name{labels...} value\n, from pieces made before. */
static void metrics_put_sample(struct metrics_lines *w, const struct metrics_piece *name,
                               const struct metrics_labels *lab, const struct metrics_piece *tail, double v)
{
    metrics_lines_put(w, name->s, name->len);
    if (lab->len)
        metrics_lines_put(w, lab->p, lab->len);
    metrics_lines_put(w, tail->s, tail->len);
    if (w->n + METRICS_NUM_MAX + 1 > sizeof(w->b))
        metrics_lines_flush(w);
    w->n += metrics_put_number(w->b + w->n, v);
    w->b[w->n++] = '\n';
}

static int metrics_render_one(struct buf *out, struct buf *lab, const struct metric *s)
{
    const struct metric_family *f = s->fam;
    const struct metrics_family_text *t = f->text;
    struct metrics_lines w; /* neither is zeroed: they are buffers */
    struct metrics_labels ml;
    w.out = out;
    w.n = 0;
    w.rc = metrics_put_labels(&ml, lab, s);
    if (w.rc)
        return w.rc;
    if (f->type != METRIC_HISTOGRAM) {
        metrics_put_sample(&w, &t->names[0], &ml, &t->tail, s->value);
    } else {
        unsigned long long cum = 0;
        for (size_t i = 0; i < f->n_bounds; i++) {
            cum += s->buckets[i];
            metrics_put_sample(&w, &t->names[0], &ml, &t->le_tail[i], (double)cum);
        }
        metrics_put_sample(&w, &t->names[0], &ml, &t->le_tail[f->n_bounds], (double)s->count);
        metrics_put_sample(&w, &t->names[1], &ml, &t->tail, s->value);
        metrics_put_sample(&w, &t->names[2], &ml, &t->tail, (double)s->count);
    }
    metrics_lines_flush(&w);
    return w.rc;
}

static int metrics_render_header(struct buf *out, const struct metric_family *f)
{
    return buf_append(out, f->text->header.s, f->text->header.len);
}

int metrics_render(const struct metrics *m, struct buf *out)
{
    struct buf lab;
    buf_init(&lab, out->max);
    int rc = 0;
    for (const struct metric_family *f = m->first; f && !rc; f = f->next) {
        rc = metrics_render_header(out, f);
        for (const struct metric *s = f->first; s && !rc; s = s->next)
            rc = metrics_render_one(out, &lab, s);
    }
    buf_free(&lab);
    return rc;
}

struct metrics_cursor *metrics_cursor_new(struct metrics *m)
{
    if (!m)
        return NULL;
    struct metrics_cursor *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->m = m;
    buf_init(&c->labels, 1u << 20);
    c->next = m->cursors;
    if (m->cursors)
        m->cursors->prev = c;
    m->cursors = c;
    return c;
}

void metrics_cursor_clock(struct metrics_cursor *c, uint64_t (*now_us)(void *arg), void *arg, uint64_t slice_us)
{
    if (!c)
        return;
    c->now_us = now_us;
    c->clock_arg = arg;
    c->slice_us = slice_us;
}

void metrics_cursor_free(struct metrics_cursor *c)
{
    if (!c)
        return;
    if (c->m) {
        if (c->prev)
            c->prev->next = c->next;
        else
            c->m->cursors = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    buf_free(&c->labels);
    free(c);
}

/* One unit of output, or a step to the next family (which writes nothing).
 * Returns 1 at the end. */
static int metrics_cursor_step(struct metrics_cursor *c, struct buf *out)
{
    if (!c->started) {
        c->started = true;
        c->f = c->m->first;
        c->in_series = false;
    }
    if (!c->f)
        return 1;
    if (!c->in_series) {
        int rc = metrics_render_header(out, c->f);
        c->s = c->f->first;
        c->in_series = true;
        return rc;
    }
    if (!c->s) {
        c->f = c->f->next;
        c->in_series = false;
        return c->f ? 0 : 1;
    }
    const struct metric *s = c->s;
    c->s = s->next;
    return metrics_render_one(out, &c->labels, s);
}

/* Whether a time-bounded cursor has used up its slice (read every few KB). */
static bool metrics_cursor_late(struct metrics_cursor *c, uint64_t t0, size_t *checked, size_t len)
{
    if (!c->now_us || len - *checked < METRICS_CLOCK_EVERY)
        return false;
    *checked = len;
    return c->now_us(c->clock_arg) - t0 >= c->slice_us;
}

int metrics_cursor_next(struct metrics_cursor *c, struct buf *out, size_t budget)
{
    if (!c || !c->m || !out)
        return TL_EINVAL;
    size_t start = out->len, checked = out->len;
    uint64_t t0 = c->now_us ? c->now_us(c->clock_arg) : 0;
    int rc = 0;
    /* Stop once budget is reached, but never return "more" with nothing
     * written: a caller looping on 0 always makes progress. */
    while (rc == 0 && (out->len - start < budget || out->len == start)) {
        if (out->len != start && metrics_cursor_late(c, t0, &checked, out->len))
            break;
        size_t mark = out->len;
        rc = metrics_cursor_step(c, out);
        if (rc < 0) {
            /* keep out to whole lines: drop the half-written unit */
            out->len = mark;
            if (out->data)
                out->data[mark] = '\0';
        }
    }
    return rc;
}
