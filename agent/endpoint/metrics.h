/* A small Prometheus registry: counter, gauge and histogram families with
 * HELP, TYPE and label names, rendered in the text exposition format 0.0.4.
 * There are no globals: one struct metrics hangs off the agent.
 *
 * Cost model: registering a family or looking up a series (by label values)
 * hashes and allocates once; the returned struct metric * is a handle whose
 * updates are O(1) (a histogram observation is a binary search over its
 * fixed bucket bounds). Everything runs on the loop thread; nothing locks.
 *
 * Names follow Prometheus conventions, and registration enforces the ones a
 * linter would flag: [a-zA-Z_:][a-zA-Z0-9_:]* names, counters end in _total,
 * nothing else does, label names [a-zA-Z_][a-zA-Z0-9_]* not starting with
 * "__" ("le" is reserved for histograms). Use base units (_seconds, _bytes). */
#ifndef TRIPLINE_METRICS_H
#define TRIPLINE_METRICS_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MAX_LABELS 16
#define METRICS_MAX_BUCKETS 64

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric_family;
struct metric;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Registers a family, or returns the one already registered under name when
 * its type, label names and buckets are the same. NULL on a bad name, a
 * clash with an existing family, or no memory. label_names may be NULL when
 * n_labels is 0; the strings are copied. */
struct metric_family *metrics_counter(struct metrics *m, const char *name, const char *help,
                                      const char *const *label_names, size_t n_labels);
struct metric_family *metrics_gauge(struct metrics *m, const char *name, const char *help,
                                    const char *const *label_names, size_t n_labels);
/* bounds: strictly increasing, finite upper bounds; +Inf is implied. */
struct metric_family *metrics_histogram(struct metrics *m, const char *name, const char *help,
                                        const char *const *label_names, size_t n_labels,
                                        const double *bounds, size_t n_bounds);
/* Finds a family by name; NULL if none. */
struct metric_family *metrics_find(struct metrics *m, const char *name);

/* The series of f with these label values (one per label name, in order;
 * NULL when the family has no labels), created at zero on first use. The
 * handle stays valid until the series or the registry is removed. */
struct metric *metrics_series(struct metric_family *f, const char *const *label_values);
/* Drops a series (a probe removed on reload); any handle to it dies. */
void metrics_remove(struct metric *s);
/* Drops the series of f whose label at index label_idx equals value, e.g.
 * every series of probe "checkout"; returns how many went. */
size_t metrics_remove_matching(struct metric_family *f, size_t label_idx, const char *value);

/* Updates; a counter only goes up (a negative add is ignored). */
void metric_inc(struct metric *s);
void metric_add(struct metric *s, double v);
void metric_set(struct metric *s, double v); /* gauges */
void metric_observe(struct metric *s, double v); /* histograms */
double metric_value(const struct metric *s);  /* counter or gauge value; histogram sum */
unsigned long long metric_count(const struct metric *s); /* histogram observations */

/* Appends the whole registry in text format 0.0.4, families in registration
 * order, series in creation order. */
int metrics_render(const struct metrics *m, struct buf *out);

/* Incremental rendering, for serving a large registry in slices without
 * holding the loop: the concatenated output of metrics_cursor_next until it
 * returns 1 is byte-identical to metrics_render on an unchanged registry.
 *
 * The registry may change between calls. Output units are a family's
 * HELP/TYPE header and one whole series (a histogram's lines together). A
 * removed series is skipped if not yet rendered (the registry moves any
 * cursor standing on it to its successor); series and families added behind
 * the cursor's position are rendered, those added before it are not, so a
 * family's header always precedes its series. Families are never removed
 * except with the registry; after metrics_free, next fails and free only
 * releases the cursor. */
struct metrics_cursor;
struct metrics_cursor *metrics_cursor_new(struct metrics *m);
/* Appends whole units until at least budget bytes went out (so at most one
 * unit, a few hundred bytes to ~2 KB, past it). Returns 0 when more remains
 * (and then something was appended), 1 when done (possibly with a last
 * piece appended), negative on error (out full or the registry freed; out
 * keeps whole lines only). */
int metrics_cursor_next(struct metrics_cursor *c, struct buf *out, size_t budget);
void metrics_cursor_free(struct metrics_cursor *c);
/* Bounds every later metrics_cursor_next of c by time as well as bytes: it
 * returns (with 0, more to come) once slice_us passed on now_us, short of
 * its budget if need be. The clock is read every few KB of output, so a
 * call may run one unit and a few KB past the slice; it still writes at
 * least one unit. now_us NULL: bytes only (the default). Tests pass a fake
 * clock; the agent a monotonic one. */
void metrics_cursor_clock(struct metrics_cursor *c, uint64_t (*now_us)(void *arg), void *arg, uint64_t slice_us);

/* An HTTP handler (see agent/endpoint/http.h) serving arg, a struct metrics *. */
int metrics_serve(void *arg, struct buf *body, const char **content_type);

#endif
