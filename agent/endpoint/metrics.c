#include "agent/endpoint/metrics_int.h"
#include "base/hash.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char *const metrics_suffixes[3] = {"_bucket", "_sum", "_count"};

struct metrics *metrics_new(void)
{
    return calloc(1, sizeof(struct metrics));
}

static char *intern(struct metrics *m, const char *v)
{
    uint64_t h = tl_hash_str(v);
    if (m->strs_cap) {
        for (struct interned *e = m->strs[h & (m->strs_cap - 1)]; e; e = e->next) {
            if (e->hash == h && strcmp(e->s, v) == 0) {
                e->refs++;
                return e->s;
            }
        }
    }
    if (m->strs_n + 1 > m->strs_cap) {
        size_t cap = m->strs_cap ? m->strs_cap * 2 : 64;
        struct interned **t = calloc(cap, sizeof(*t));
        if (!t)
            return NULL;
        for (size_t i = 0; i < m->strs_cap; i++) {
            for (struct interned *e = m->strs[i], *nx; e; e = nx) {
                nx = e->next;
                e->next = t[e->hash & (cap - 1)];
                t[e->hash & (cap - 1)] = e;
            }
        }
        free(m->strs);
        m->strs = t;
        m->strs_cap = cap;
    }
    /* escaped once here, so a scrape only copies it */
    size_t len = strlen(v), esc_len = metrics_escaped_len(v, true);
    size_t extra = esc_len == len ? 0 : esc_len + 1;
    struct interned *e = malloc(sizeof(*e) + len + 1 + extra);
    if (!e)
        return NULL;
    memcpy(e->s, v, len + 1);
    e->esc = e->s;
    e->esc_len = esc_len;
    if (extra) {
        metrics_escape(e->s + len + 1, v, true);
        e->s[len + 1 + esc_len] = '\0';
        e->esc = e->s + len + 1;
    }
    e->hash = h;
    e->refs = 1;
    e->next = m->strs[h & (m->strs_cap - 1)];
    m->strs[h & (m->strs_cap - 1)] = e;
    m->strs_n++;
    return e->s;
}

static void unintern(struct metrics *m, char *v)
{
    if (!v)
        return;
    struct interned *e = (struct interned *)(v - offsetof(struct interned, s));
    if (--e->refs > 0)
        return;
    struct interned **pp = &m->strs[e->hash & (m->strs_cap - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    m->strs_n--;
    free(e);
}

static void metrics_series_free(struct metric *s)
{
    if (!s)
        return;
    /* values live in the same allocation as the series, after the buckets */
    for (size_t i = 0; s->values && i < s->fam->n_labels; i++)
        unintern(s->fam->reg, s->values[i]);
    free(s);
}

static void metrics_family_free(struct metric_family *f)
{
    if (!f)
        return;
    struct metric *s = f->first;
    while (s) {
        struct metric *next = s->next;
        metrics_series_free(s);
        s = next;
    }
    for (size_t i = 0; f->labels && i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->labels);
    free(f->bounds);
    free(f->text);
    free(f->table);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    struct metric_family *f = m->first;
    while (f) {
        struct metric_family *next = f->next;
        metrics_family_free(f);
        f = next;
    }
    /* a cursor still open (a scrape cut short by shutdown) fails from now on */
    for (struct metrics_cursor *c = m->cursors; c; c = c->next)
        c->m = NULL;
    free(m->strs);
    free(m);
}

static bool metrics_valid_name(const char *s, bool label)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && p != s) && !(c == ':' && !label))
            return false;
    }
    return !(label && s[0] == '_' && s[1] == '_');
}

static bool metrics_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Whether name is exposed by f, counting a histogram's derived series. */
static bool metrics_family_exposes(const struct metric_family *f, const char *name)
{
    if (strcmp(f->name, name) == 0)
        return true;
    if (f->type != METRIC_HISTOGRAM)
        return false;
    size_t n = strlen(f->name);
    if (strncmp(f->name, name, n) != 0)
        return false;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(name + n, metrics_suffixes[i]) == 0)
            return true;
    }
    return false;
}

struct metric_family *metrics_find(struct metrics *m, const char *name)
{
    for (struct metric_family *f = m->first; f; f = f->next) {
        if (strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

static bool metrics_same_shape(const struct metric_family *f, enum metric_type type,
                               const char *const *label_names, size_t n_labels,
                               const double *bounds, size_t n_bounds)
{
    if (f->type != type || f->n_labels != n_labels || f->n_bounds != n_bounds)
        return false;
    for (size_t i = 0; i < n_labels; i++) {
        if (strcmp(f->labels[i], label_names[i]) != 0)
            return false;
    }
    for (size_t i = 0; i < n_bounds; i++) {
        if (f->bounds[i] != bounds[i])
            return false;
    }
    return true;
}

/* Checks everything a scraper or promtool would reject or flag. */
static bool metrics_valid_family(const struct metrics *m, enum metric_type type, const char *name,
                                 const char *help, const char *const *label_names,
                                 size_t n_labels, const double *bounds, size_t n_bounds)
{
    if (!metrics_valid_name(name, false) || !help || n_labels > METRICS_MAX_LABELS)
        return false;
    if (n_labels && !label_names)
        return false;
    bool total = metrics_ends_with(name, "_total");
    if ((type == METRIC_COUNTER) != total)
        return false;
    if (type == METRIC_HISTOGRAM) {
        for (size_t i = 0; i < 3; i++) {
            if (metrics_ends_with(name, metrics_suffixes[i]))
                return false;
        }
        if (n_bounds > METRICS_MAX_BUCKETS || (n_bounds && !bounds))
            return false;
        for (size_t i = 0; i < n_bounds; i++) {
            if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
                return false;
        }
    }
    for (size_t i = 0; i < n_labels; i++) {
        if (!metrics_valid_name(label_names[i], true))
            return false;
        if (type == METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0)
            return false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(label_names[i], label_names[j]) == 0)
                return false;
        }
    }
    /* No two families may put out the same series name. */
    for (const struct metric_family *f = m->first; f; f = f->next) {
        if (metrics_family_exposes(f, name))
            return false;
        for (size_t i = 0; type == METRIC_HISTOGRAM && i < 3; i++) {
            char derived[256];
            int w = snprintf(derived, sizeof(derived), "%s%s", name, metrics_suffixes[i]);
            if (w < 0 || (size_t)w >= sizeof(derived) || metrics_family_exposes(f, derived))
                return false;
        }
    }
    return true;
}

static struct metric_family *metrics_register(struct metrics *m, enum metric_type type,
                                              const char *name, const char *help,
                                              const char *const *label_names, size_t n_labels,
                                              const double *bounds, size_t n_bounds)
{
    if (!m || !name)
        return NULL;
    struct metric_family *old = metrics_find(m, name);
    if (old)
        return metrics_same_shape(old, type, label_names, n_labels, bounds, n_bounds) ? old : NULL;
    if (!metrics_valid_family(m, type, name, help, label_names, n_labels, bounds, n_bounds))
        return NULL;
    struct metric_family *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->reg = m;
    f->type = type;
    f->n_labels = n_labels;
    f->n_bounds = n_bounds;
    f->name = strdup(name);
    f->help = strdup(help);
    f->labels = calloc(n_labels ? n_labels : 1, sizeof(char *));
    f->bounds = calloc(n_bounds ? n_bounds : 1, sizeof(double));
    bool ok = f->name && f->help && f->labels && f->bounds;
    for (size_t i = 0; ok && i < n_labels; i++) {
        f->labels[i] = strdup(label_names[i]);
        ok = f->labels[i] != NULL;
    }
    if (!ok) {
        metrics_family_free(f);
        return NULL;
    }
    if (n_bounds)
        memcpy(f->bounds, bounds, n_bounds * sizeof(double));
    if (metrics_family_text_new(f) != 0) {
        metrics_family_free(f);
        return NULL;
    }
    if (m->last)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    return f;
}

struct metric_family *metrics_counter(struct metrics *m, const char *name, const char *help,
                                      const char *const *label_names, size_t n_labels)
{
    return metrics_register(m, METRIC_COUNTER, name, help, label_names, n_labels, NULL, 0);
}

struct metric_family *metrics_gauge(struct metrics *m, const char *name, const char *help,
                                    const char *const *label_names, size_t n_labels)
{
    return metrics_register(m, METRIC_GAUGE, name, help, label_names, n_labels, NULL, 0);
}

struct metric_family *metrics_histogram(struct metrics *m, const char *name, const char *help,
                                        const char *const *label_names, size_t n_labels,
                                        const double *bounds, size_t n_bounds)
{
    return metrics_register(m, METRIC_HISTOGRAM, name, help, label_names, n_labels, bounds,
                            n_bounds);
}

/* FNV-1a over the label values, with a separator no UTF-8 text contains. */
static uint64_t metrics_hash(const char *const *values, size_t n)
{
    static const unsigned char sep = 0xff;
    uint64_t h = TL_FNV_OFFSET;
    for (size_t i = 0; i < n; i++)
        h = tl_fnv1a(tl_fnv1a_str(h, values[i]), &sep, 1);
    return h;
}

static bool metrics_values_equal(const struct metric *s, const char *const *values)
{
    for (size_t i = 0; i < s->fam->n_labels; i++) {
        if (strcmp(s->values[i], values[i]) != 0)
            return false;
    }
    return true;
}

static int metrics_grow(struct metric_family *f)
{
    size_t size = f->table_size ? f->table_size * 2 : 16;
    struct metric **t = calloc(size, sizeof(*t));
    if (!t)
        return TL_ENOMEM;
    for (struct metric *s = f->first; s; s = s->next) {
        size_t i = s->hash & (size - 1);
        s->hnext = t[i];
        t[i] = s;
    }
    free(f->table);
    f->table = t;
    f->table_size = size;
    return 0;
}

struct metric *metrics_series(struct metric_family *f, const char *const *label_values)
{
    if (!f || (f->n_labels && !label_values))
        return NULL;
    for (size_t i = 0; i < f->n_labels; i++) {
        if (!label_values[i])
            return NULL;
    }
    uint64_t h = metrics_hash(label_values, f->n_labels);
    if (f->table_size) {
        for (struct metric *s = f->table[h & (f->table_size - 1)]; s; s = s->hnext) {
            if (s->hash == h && metrics_values_equal(s, label_values))
                return s;
        }
    }
    /* Keep the load factor at most 1 so a lookup walks about one entry. */
    if (f->n_series + 1 > f->table_size && metrics_grow(f) != 0)
        return NULL;
    size_t nb = f->type == METRIC_HISTOGRAM ? f->n_bounds : 0;
    struct metric *s = calloc(1, sizeof(*s) + nb * sizeof(s->buckets[0]) + f->n_labels * sizeof(char *));
    if (!s)
        return NULL;
    s->fam = f;
    s->hash = h;
    s->values = (char **)(void *)&s->buckets[nb];
    bool ok = true;
    for (size_t i = 0; ok && i < f->n_labels; i++) {
        s->values[i] = intern(f->reg, label_values[i]);
        ok = s->values[i] != NULL;
    }
    if (!ok) {
        metrics_series_free(s);
        return NULL;
    }
    size_t i = h & (f->table_size - 1);
    s->hnext = f->table[i];
    f->table[i] = s;
    s->prev = f->last;
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    f->n_series++;
    return s;
}

void metrics_remove(struct metric *s)
{
    if (!s)
        return;
    struct metric_family *f = s->fam;
    for (struct metrics_cursor *c = f->reg->cursors; c; c = c->next) {
        if (c->s == s)
            c->s = s->next;
    }
    struct metric **pp = &f->table[s->hash & (f->table_size - 1)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
    if (s->prev)
        s->prev->next = s->next;
    else
        f->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        f->last = s->prev;
    f->n_series--;
    metrics_series_free(s);
}

size_t metrics_remove_matching(struct metric_family *f, size_t label_idx, const char *value)
{
    size_t n = 0;
    if (!f || label_idx >= f->n_labels || !value)
        return 0;
    struct metric *s = f->first;
    while (s) {
        struct metric *next = s->next;
        if (strcmp(s->values[label_idx], value) == 0) {
            metrics_remove(s);
            n++;
        }
        s = next;
    }
    return n;
}

void metric_inc(struct metric *s)
{
    metric_add(s, 1.0);
}

void metric_add(struct metric *s, double v)
{
    if (!s || s->fam->type == METRIC_HISTOGRAM)
        return;
    /* A counter that goes down reads as a reset to rate(); refuse it. */
    if (s->fam->type == METRIC_COUNTER && !(v >= 0))
        return;
    s->value += v;
}

void metric_set(struct metric *s, double v)
{
    if (s && s->fam->type == METRIC_GAUGE)
        s->value = v;
}

void metric_observe(struct metric *s, double v)
{
    if (!s || s->fam->type != METRIC_HISTOGRAM || isnan(v))
        return;
    /* First bound >= v: buckets are "less than or equal" (le). */
    size_t lo = 0, hi = s->fam->n_bounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->fam->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo < s->fam->n_bounds)
        s->buckets[lo]++;
    s->count++;
    s->value += v;
}

double metric_value(const struct metric *s)
{
    return s ? s->value : 0;
}

unsigned long long metric_count(const struct metric *s)
{
    return s ? s->count : 0;
}

int metrics_serve(void *arg, struct buf *body, const char **content_type)
{
    *content_type = METRICS_CONTENT_TYPE;
    if (metrics_render(arg, body) != 0)
        return 500;
    return 200;
}
