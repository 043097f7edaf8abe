/* JSON paths, the subset users write in checks and captures (RFC 9535 and
 * Goessner syntax): $, $.a.b, $.a[0].b, $["key with spaces"], $.items[-1]
 * (from the end), wildcards $.items[*] and $.a.*, descent $..name and
 * $..[0], and filters $.users[?(@.status == "active")], [?(@.price > 10)],
 * [?(@.id)]. */
#ifndef TRIPLINE_JSONPATH_H
#define TRIPLINE_JSONPATH_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "probes/probe.h"

/* One evaluation keeps at most this many nodes in a node list (two lists
 * live at once: 2 MiB of pointers at most), visits at most JPATH_WORK_MAX
 * nodes (about 35 ms of CPU at worst, measured) and descends at most
 * JPATH_DEPTH_MAX levels: a hostile 1 MiB body cannot make it quadratic. */
#define JPATH_MATCHES_MAX 100000
#define JPATH_WORK_MAX 2000000
#define JPATH_DEPTH_MAX 512

/* A filter [?(@.a.b OP literal)] or [?(@.a)] (existence). */
enum jpath_cmp { JCMP_EXISTS, JCMP_EQ, JCMP_NE, JCMP_LT, JCMP_LE, JCMP_GT, JCMP_GE };
struct jpath_filter {
    struct jpath rel;  /* the path after @: keys and indices only */
    enum jpath_cmp op;
    cJSON *value;      /* the literal: number, string, true, false or null */
};

enum jpath_capped { JCAP_NONE, JCAP_MATCHES, JCAP_WORK, JCAP_DEPTH };

/* The nodes a path selects, in document order (duplicates kept). */
struct jpath_result {
    const cJSON **v;
    size_t n, cap;
    enum jpath_capped capped; /* which limit stopped it: the list is then incomplete */
    size_t work;
};

/* Compiles src into p. On error returns -1 with the reason in err and the
 * byte offset in *err_offset. */
int jpath_compile(struct jpath *p, const char *src, char *err, size_t errlen, int *err_offset);
void jpath_free(struct jpath *p);
/* True when p can select more than one node (a wildcard, `..` or a filter). */
bool jpath_is_multi(const struct jpath *p);
/* Every node p selects inside root, under the caps above. Returns 0 (also
 * when capped) or TL_ENOMEM; free r with jpath_result_free. */
int jpath_eval_all(const struct jpath *p, const cJSON *root, struct jpath_result *r);
void jpath_result_free(struct jpath_result *r);
/* "more than 100000 nodes", ... for messages. */
const char *jpath_capped_str(enum jpath_capped c);
/* The first node p selects inside root, or NULL (also when capped). */
const cJSON *jpath_eval(const struct jpath *p, const cJSON *root);
/* Where node sits inside root as a path ($.items[2].price), written to out;
 * "" when it is not found. Used to name a failing match. */
void jpath_locate(const cJSON *root, const cJSON *node, char *out, size_t outlen);
/* A JSON type name for messages and MATCH_TYPE: string, number, boolean,
 * null, object, array. */
const char *json_type_name(const cJSON *v);

/* Internals of the three jsonpath*.c files. */
/* Reads a quoted key starting at the quote ('k' or "k", with \' \" \\);
 * returns the byte after the closing quote, or NULL. */
const char *jpath_quoted(const char *q, char **out);
/* Reads segments into p from *q until a byte that cannot start one; in a
 * filter (keys and indices only) that ends the @ path, at top level it is
 * an error. Sets *q past them or to the byte at fault. */
int jpath_segs_compile(struct jpath *p, const char **q, bool in_filter, char *err, size_t errlen);
/* jsonpath_filter.c: reads "?(...)" at *q (after the "["); sets *q past the
 * ")" or, on error, to the byte at fault. Returns 0, -1 with err, or TL_ENOMEM. */
int jpath_filter_compile(const char **q, struct jpath_filter **out, char *err, size_t errlen);
void jpath_filter_free(struct jpath_filter *f);
/* Whether node passes f; *work counts the nodes looked at. */
bool jpath_filter_test(const struct jpath_filter *f, const cJSON *node, size_t *work);
/* The child of node under seg (key or index), counting the members looked at. */
const cJSON *jpath_child(const cJSON *node, const struct jpath_seg *seg, size_t *work);

#endif
