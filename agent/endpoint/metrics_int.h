/* The registry's insides, shared by metrics.c (families, series, updates)
 * and metrics_text.c (the text exposition and the scrape cursor). Not for
 * other modules: they use metrics.h. */
#ifndef TRIPLINE_METRICS_INT_H
#define TRIPLINE_METRICS_INT_H

#include "agent/endpoint/metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metric {
    struct metric_family *fam;
    struct metric *prev, *next; /* creation order, for stable output */
    struct metric *hnext;       /* hash chain */
    uint64_t hash;
    char **values;
    double value; /* counter or gauge value; histogram sum */
    unsigned long long count;
    unsigned long long buckets[]; /* histogram: per bucket, not cumulative */
};

/* A piece of exposition text made once, when the family is registered. */
struct metrics_piece {
    const char *s;
    size_t len;
};

/* What every scrape writes the same for a family: its HELP/TYPE header,
 * its sample names, the text before each label value, and what follows
 * the last one (per bucket for a histogram: the le label). One block. */
struct metrics_family_text {
    struct metrics_piece header;
    struct metrics_piece names[3]; /* name; or name_bucket, name_sum, name_count */
    struct metrics_piece *label_pre; /* n_labels: {probe=" then ",region=" */
    struct metrics_piece tail;       /* "} or nothing, then the space */
    struct metrics_piece *le_tail;   /* n_bounds + 1: ",le="0.5"} with the space */
};

struct metric_family {
    struct metrics *reg;
    struct metric_family *next;
    enum metric_type type;
    char *name;
    char *help;
    size_t n_labels;
    char **labels;
    size_t n_bounds;
    double *bounds;
    struct metric *first, *last;
    struct metric **table;
    size_t table_size;
    size_t n_series;
    struct metrics_family_text *text;
};

/* Label values are interned: 10,000 probes times a dozen series each would
 * otherwise hold a dozen copies of every probe id and region. Each keeps its
 * escaped form for the exposition (esc == s when nothing needs escaping). */
struct interned {
    struct interned *next;
    size_t refs;
    uint64_t hash;
    const char *esc;
    size_t esc_len;
    char s[];
};

struct metrics {
    struct metric_family *first, *last;
    struct interned **strs;
    size_t strs_cap, strs_n;
    struct metrics_cursor *cursors; /* live ones, fixed up on removal */
};

/* A position between two output units (a family's HELP/TYPE header, or one
 * whole series). Families are only ever appended, and freed only with the
 * registry, so f stays valid; a removed series that a cursor points at is
 * replaced by its successor in metrics_remove. */
struct metrics_cursor {
    struct metrics *m; /* NULL once the registry is gone */
    struct metrics_cursor *prev, *next;
    struct metric_family *f;
    struct metric *s;  /* next series of f to render, when in_series */
    bool in_series;    /* f's header is out */
    bool started;
    struct buf labels; /* scratch: one series' label text */
    uint64_t (*now_us)(void *arg); /* NULL: no time bound */
    void *clock_arg;
    uint64_t slice_us;
};

static inline const struct interned *metrics_interned_of(const char *v)
{
    return (const struct interned *)(const void *)(v - offsetof(struct interned, s));
}

/* A histogram's sample name suffixes. */
extern const char *const metrics_suffixes[3];

/* Room metrics_put_number needs. */
#define METRICS_NUM_MAX 40
/* Writes v as the exposition shows a sample value (no NUL); returns the
 * length. The text is that of printf "%.15g", or "%.17g" when the former
 * does not read back as v; NaN, +Inf, -Inf as the format spells them. */
size_t metrics_put_number(char *dst, double v);

/* Bytes of s escaped for a label value (backslash, newline, double quote). */
size_t metrics_escaped_len(const char *s, bool label);
/* Writes s escaped into dst (room for metrics_escaped_len bytes); no NUL. */
void metrics_escape(char *dst, const char *s, bool label);
/* Builds f->text; TL_ENOMEM. Freed with free(f->text): one block. */
int metrics_family_text_new(struct metric_family *f);

#endif
