/* Helpers shared by the YAML loaders (probe files, agent config): reading a
 * file under a size cap, walking a mapping against a table of keys, typed
 * scalars, durations and sizes, and errors as "file:line:column: path: msg".
 *
 * A loader fills a struct yu, then walks its document with yu_walk_map()
 * and tables of struct yu_key; every error is pushed and counted, walking
 * goes on, and the caller fails at the end when yu.n_errors is not 0. */
#ifndef TRIPLINE_YAML_UTIL_H
#define TRIPLINE_YAML_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "base/buf.h"
#include "probes/probe.h"

/* One level of the path: a mapping key (which must outlive the frame: a
 * node's value or a constant), or a list index when key is NULL. */
struct yu_frame {
    const char *key;
    size_t index;
};

#define YU_FRAMES_MAX 128

struct yu {
    const char *file;
    yaml_document_t doc;
    bool has_doc;
    struct strv *errors;
    int n_errors;
    void *user;          /* the loader's own context, for key handlers */
    const char *what;    /* what a document holds, for "empty file (expected ...)" */
    /* The path of the key being read (steps[1].expect.status) is a stack of
     * frames after a base string; it is rendered only for an error. */
    char path_base[512];
    struct yu_frame frames[YU_FRAMES_MAX];
    size_t n_frames;     /* may pass YU_FRAMES_MAX: the deeper frames are not kept */
    char path_text[512]; /* yu_path()'s rendering */
};

/* What a key holds. The simple kinds are stored at offset into the object
 * being filled; the YU_FN_* kinds check the node type and call fn. */
enum yu_kind {
    YU_STR,      /* char *: any non-null scalar */
    YU_BOOL,     /* bool */
    YU_INT,      /* int, >= 0 */
    YU_INT_POS,  /* int, >= 1 */
    YU_DUR,      /* tl_usec, may be 0s */
    YU_DUR_POS,  /* tl_usec, > 0 */
    YU_SIZE,     /* size_t bytes: 1048576, "64MiB", "10MB" */
    YU_FN_MAP,
    YU_FN_SEQ,
    YU_FN_SCALAR,
    YU_FN_ANY,
};

#define YU_REQUIRED 1u

struct yu;
typedef int (*yu_fn)(struct yu *y, void *obj, yaml_node_t *val);

struct yu_key {
    const char *name;
    enum yu_kind kind;
    size_t offset;
    yu_fn fn;
    unsigned flags;
};

/* Reads file (refused unread when larger than max) and parses one YAML
 * document into y->doc. Returns 0, TL_EINVAL after pushing an error (not YAML,
 * empty, too big), or TL_EIO when the file cannot be read at all. When hash is
 * not NULL it receives the SHA-256 of the bytes in hex. */
int yu_load(struct yu *y, const char *file, size_t max, char hash[65]);
void yu_free(struct yu *y);
yaml_node_t *yu_root(struct yu *y);
yaml_node_t *yu_node(struct yu *y, int index);

/* Pushes "file:line:column: path: message" at node (1-based). */
void yu_error(struct yu *y, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same at an explicit 1-based position (line 0 = no position). */
void yu_error_at(struct yu *y, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sorts errors[from...] of one file by line and column (stable), so a
 * reader sees them in file order whatever order the checks ran in. */
void yu_sort_errors(struct strv *errors, size_t from, const char *file);

/* The path: push returns the old depth for yu_path_pop. */
size_t yu_path_key(struct yu *y, const char *key);
size_t yu_path_index(struct yu *y, size_t i);
void yu_path_pop(struct yu *y, size_t mark);
/* Sets the whole path (no frames), for errors raised after the walk. */
void yu_path_set(struct yu *y, const char *path);
/* The path rendered ("" at the top), valid until the next yu_path call. */
const char *yu_path(struct yu *y);
size_t yu_path_depth(const struct yu *y);
/* The key of the innermost frame, NULL for an index or no frame. */
const char *yu_path_top(const struct yu *y);

/* Walks the mapping node against keys: unknown keys (with a suggestion),
 * duplicate keys, wrong types and missing required keys are errors.
 * Returns the number of errors it pushed. */
int yu_walk_map(struct yu *y, yaml_node_t *map, const struct yu_key *keys, void *obj);
/* How yu_each_item() reads a list or a mapping into an array. */
struct yu_each {
    size_t elem_size;
    size_t spare;            /* zeroed elements past the items (an argv's NULL) */
    bool scalar_is_one;      /* a scalar is read as a list of one (no path index) */
    /* Mappings: checks a key before its path is pushed; returns 0, -1 (an
     * error was pushed, the item is skipped) or 1 (an error, item still read). */
    int (*key_check)(struct yu *y, yaml_node_t *key, void *ctx);
};

/* An item handler returns 0 (kept), -1 (failed, kept so its parts are freed
 * with the array) or YU_ITEM_DROP (failed, slot zeroed and reused). key is
 * NULL for list items. */
#define YU_ITEM_DROP (-2)
typedef int (*yu_item_fn)(struct yu *y, yaml_node_t *key, yaml_node_t *item, void *elem, void *ctx);

/* Walks the items of node (a list, a mapping, or with scalar_is_one a
 * scalar) with each item's path pushed, calling fn on the next free element
 * of *arr; *n counts the kept ones. *arr is allocated (zeroed) when NULL,
 * else used as sized by the caller. Returns 0, or -1 when an item failed or
 * memory ran out. */
int yu_each_item(struct yu *y, yaml_node_t *node, const struct yu_each *how, void **arr, size_t *n,
                 yu_item_fn fn, void *ctx);
/* An item handler for a list of strings (char *): a bad item is dropped. */
int yu_item_str(struct yu *y, yaml_node_t *key, yaml_node_t *item, void *elem, void *ctx);
/* The value of key in a mapping, or NULL. */
yaml_node_t *yu_map_get(struct yu *y, yaml_node_t *map, const char *key);
/* The key node of key in map (for errors that point at the key), NULL if absent. */
yaml_node_t *yu_map_key(struct yu *y, yaml_node_t *map, const char *key);
size_t yu_len(const yaml_node_t *node);

/* Node kinds for messages: "a mapping", "a sequence", "null", "a boolean",
 * "a number", "a string". */
const char *yu_type_name(const yaml_node_t *n);
/* " (did you mean KEY: {FIELD: VALUE}?)" for a scalar given to a key that
 * takes a mapping with an obvious main field, else "". */
void yu_map_hint(const char *key, const yaml_node_t *v, char *out, size_t n);
bool yu_is_null(const yaml_node_t *n);
bool yu_is_plain(const yaml_node_t *n);
const char *yu_str(const yaml_node_t *n); /* scalar value or NULL */

/* Typed reads: each pushes "expected ..., got ..." on a mismatch and
 * returns -1. */
int yu_get_str(struct yu *y, yaml_node_t *n, char **out);
int yu_get_bool(struct yu *y, yaml_node_t *n, bool *out);
int yu_get_int(struct yu *y, yaml_node_t *n, long min, long max, long *out);
int yu_get_num(struct yu *y, yaml_node_t *n, double *out);
int yu_get_dur(struct yu *y, yaml_node_t *n, bool positive, tl_usec *out);
int yu_get_size(struct yu *y, yaml_node_t *n, size_t *out);
/* One of names[count] into *out (its index); else "unknown <what> \"s\""
 * with a did-you-mean, or "(expected <expected>)" when nothing is close. */
int yu_get_enum(struct yu *y, yaml_node_t *n, const char *const *names, size_t count, const char *what,
                const char *expected, int *out);
/* Any YAML value as JSON (plain scalars resolved as YAML 1.2 core types). */
cJSON *yu_to_json(struct yu *y, yaml_node_t *n);

/* The longest duration yu_get_dur takes: a year. Past it a value is a typo,
 * and deadlines (a nanosecond clock plus a timeout) could wrap. */
#define YU_DURATION_MAX (8760LL * 3600 * 1000000)

/* "1m30s", "500ms": integer components with units us, ms, s, m, h. */
int duration_parse(const char *s, tl_usec *out);
/* Writes d as "1m30s", "250ms", "0s". */
void duration_format(tl_usec d, char *out, size_t len);
/* "64MiB", "10MB", "4096": bytes. */
int size_parse(const char *s, size_t *out);

/* The closest of names (NULL-terminated by a NULL name) to s within edit
 * distance 2, or NULL. */
const char *yu_suggest(const char *s, const char *const *names, size_t n);
int yu_edit_distance(const char *a, const char *b);

/* A 64-bit FNV-1a over a canonical walk of the node tree: styles, comments
 * and the order of mapping keys do not change it. */
uint64_t yu_node_hash(struct yu *y, yaml_node_t *n);
/* True when s is an http:// or https:// URL with a host. */
bool yu_is_http_url(const char *s);

#endif
