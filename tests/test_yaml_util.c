/* probes/yaml: loading a file, key tables, positions, error order, the node
 * hash and yu_each_item(), on small documents written to temporary files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "probes/yaml/yaml_util.h"

/* One loaded document and its errors; path is unlinked by doc_done. */
struct doc {
    struct yu y;
    struct strv errors;
    char path[64];
    int rc;
};

static void doc_load(struct doc *d, const char *text, size_t max)
{
    memset(d, 0, sizeof(*d));
    strv_init(&d->errors);
    d->y.errors = &d->errors;
    snprintf(d->path, sizeof(d->path), "/tmp/tripline-test-yu-XXXXXX");
    int fd = mkstemp(d->path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    d->rc = yu_load(&d->y, d->path, max, NULL);
}

static void doc_done(struct doc *d)
{
    yu_free(&d->y);
    strv_free(&d->errors);
    unlink(d->path);
}

/* The error i without its "file:" prefix. */
static const char *err_at(struct doc *d, size_t i)
{
    assert_true(i < d->errors.n);
    size_t flen = strlen(d->path);
    assert_memory_equal(d->errors.v[i], d->path, flen);
    return d->errors.v[i] + flen + 1;
}

static void test_load_errors(void **state)
{
    struct doc d;
    doc_load(&d, "a: 1\nb: [1, 2, 3]\n", 8);
    assert_int_equal(d.rc, TL_EINVAL);
    assert_non_null(strstr(err_at(&d, 0), "over the limit of 8 bytes; refused unread"));
    doc_done(&d);

    doc_load(&d, "a: [1, 2\n", 1024);
    assert_int_equal(d.rc, TL_EINVAL);
    assert_non_null(strstr(err_at(&d, 0), "not valid YAML"));
    doc_done(&d);

    doc_load(&d, "# only a comment\n", 1024);
    assert_int_equal(d.rc, TL_EINVAL);
    assert_string_equal(err_at(&d, 0), "1:1: empty file (expected a YAML document)");
    doc_done(&d);

    doc_load(&d, "a: 1\n---\nb: 2\n", 1024);
    assert_int_equal(d.rc, TL_EINVAL);
    assert_non_null(strstr(err_at(&d, 0), "3:1: a second YAML document"));
    doc_done(&d);

    struct yu y;
    struct strv errors;
    memset(&y, 0, sizeof(y));
    strv_init(&errors);
    y.errors = &errors;
    assert_int_equal(yu_load(&y, "/nonexistent/tripline.yaml", 1024, NULL), TL_EIO);
    assert_non_null(strstr(errors.v[0], "cannot read"));
    assert_int_equal(yu_load(&y, "/tmp", 1024, NULL), TL_EIO);
    assert_non_null(strstr(errors.v[1], "is a directory"));
    assert_int_equal(y.n_errors, 2);
    strv_free(&errors);
}

struct obj {
    char *name;
    bool on;
    int count;
    tl_usec wait;
    size_t size;
    int seen;
};

static int on_child(struct yu *y, void *o, yaml_node_t *v)
{
    ((struct obj *)o)->seen++;
    return 0;
}

static const struct yu_key obj_keys[] = {
    {"name", YU_STR, offsetof(struct obj, name), NULL, YU_REQUIRED},
    {"on", YU_BOOL, offsetof(struct obj, on), NULL, 0},
    {"count", YU_INT_POS, offsetof(struct obj, count), NULL, 0},
    {"wait", YU_DUR_POS, offsetof(struct obj, wait), NULL, 0},
    {"size", YU_SIZE, offsetof(struct obj, size), NULL, 0},
    {"child", YU_FN_MAP, 0, on_child, 0},
    {NULL, 0, 0, NULL, 0},
};

static void test_key_table(void **state)
{
    struct doc d;
    struct obj o;
    memset(&o, 0, sizeof(o));
    doc_load(&d, "name: x\non: true\ncount: 3\nwait: 1m30s\nsize: 64MiB\nchild: {a: 1}\n", 1024);
    assert_int_equal(d.rc, 0);
    assert_int_equal(yu_walk_map(&d.y, yu_root(&d.y), obj_keys, &o), 0);
    assert_string_equal(o.name, "x");
    assert_true(o.on);
    assert_int_equal(o.count, 3);
    assert_int_equal(o.wait, 90 * 1000000LL);
    assert_int_equal(o.size, 64u << 20);
    assert_int_equal(o.seen, 1);
    free(o.name);
    doc_done(&d);

    memset(&o, 0, sizeof(o));
    doc_load(&d, "nme: x\non: yes\ncount: 0\nwait: 5\nchild: [1]\non: false\n", 1024);
    assert_int_equal(yu_walk_map(&d.y, yu_root(&d.y), obj_keys, &o), 7);
    assert_string_equal(err_at(&d, 0), "1:1: nme: unknown key (did you mean \"name\"?)");
    assert_string_equal(err_at(&d, 1), "2:5: on: expected true or false, got \"yes\"");
    assert_string_equal(err_at(&d, 2), "3:8: count: 0 is too small (expected an integer >= 1)");
    assert_string_equal(err_at(&d, 3), "4:7: wait: 5 has no unit (expected a duration like 5s or 5ms)");
    assert_string_equal(err_at(&d, 4), "5:8: child: expected a mapping, got a sequence");
    assert_string_equal(err_at(&d, 5), "6:1: on: duplicate key (first at line 2)");
    assert_string_equal(err_at(&d, 6), "1:1: missing required key \"name\"");
    assert_int_equal(o.seen, 0);
    doc_done(&d);

    doc_load(&d, "zzzzzz: 1\n", 1024);
    assert_int_equal(yu_walk_map(&d.y, yu_root(&d.y), obj_keys, &o), 2);
    assert_string_equal(err_at(&d, 0),
                        "1:1: zzzzzz: unknown key (expected one of: name, on, count, wait, size, child)");
    doc_done(&d);
}

static void test_positions_and_sort(void **state)
{
    struct doc d;
    doc_load(&d, "a:\n  b:\n    - x\n    -   \"y\"\n", 1024);
    assert_int_equal(d.rc, 0);
    yaml_node_t *b = yu_map_get(&d.y, yu_map_get(&d.y, yu_root(&d.y), "a"), "b");
    assert_non_null(b);
    assert_int_equal(yu_len(b), 2);
    yaml_node_t *second = yu_node(&d.y, b->data.sequence.items.start[1]);
    size_t m1 = yu_path_key(&d.y, "a");
    size_t m2 = yu_path_key(&d.y, "b");
    size_t m3 = yu_path_index(&d.y, 1);
    yu_error(&d.y, second, "late");
    yu_path_pop(&d.y, m3);
    yu_path_pop(&d.y, m2);
    yu_path_pop(&d.y, m1);
    yu_error_at(&d.y, 1, 1, "early");
    yu_error_at(&d.y, 0, 0, "no position");
    yu_error_at(&d.y, 4, 9, "same line, later column");
    assert_string_equal(err_at(&d, 0), "4:9: a.b[1]: late");
    assert_int_equal(m1, 0);
    yu_sort_errors(&d.errors, 0, d.path);
    assert_string_equal(err_at(&d, 0), " no position"); /* "file: message" */
    assert_string_equal(err_at(&d, 1), "1:1: early");
    assert_string_equal(err_at(&d, 2), "4:9: a.b[1]: late");
    assert_string_equal(err_at(&d, 3), "4:9: same line, later column");
    doc_done(&d);
}

/* The path is rendered only for an error: the same text as it was built
 * eagerly (a base, dots between keys, indices, cut at 511 bytes). */
static void test_path_frames(void **state)
{
    struct yu y;
    memset(&y, 0, sizeof(y));
    assert_string_equal(yu_path(&y), "");
    size_t m = yu_path_index(&y, 3);
    yu_path_key(&y, "url");
    assert_string_equal(yu_path(&y), "[3].url");
    assert_string_equal(yu_path_top(&y), "url");
    yu_path_pop(&y, m);
    assert_int_equal(yu_path_depth(&y), 0);
    yu_path_key(&y, "");
    yu_path_key(&y, "a");
    assert_string_equal(yu_path(&y), "a"); /* no dot after an empty path */
    yu_path_set(&y, "schedule");
    assert_int_equal(yu_path_depth(&y), 0);
    yu_path_key(&y, "timeout");
    assert_string_equal(yu_path(&y), "schedule.timeout");
    yu_path_pop(&y, 5); /* a mark deeper than the path changes nothing */
    assert_string_equal(yu_path(&y), "schedule.timeout");
    yu_path_set(&y, "");
    char key[100];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    for (int i = 0; i < YU_FRAMES_MAX + 10; i++)
        yu_path_key(&y, key);
    const char *p = yu_path(&y);
    assert_int_equal(strlen(p), 511);
    assert_memory_equal(p, key, 99);
    assert_int_equal(p[99], '.');
    yu_path_pop(&y, 1);
    assert_string_equal(yu_path(&y), key);
}

static uint64_t hash_of(const char *text)
{
    struct doc d;
    doc_load(&d, text, 1024);
    assert_int_equal(d.rc, 0);
    uint64_t h = yu_node_hash(&d.y, yu_root(&d.y));
    doc_done(&d);
    return h;
}

static void test_node_hash(void **state)
{
    uint64_t h = hash_of("a: 1\nb: [x, y]\n");
    assert_true(h == hash_of("# comment\nb: [\"x\", 'y']\na: 1\n"));
    assert_true(h == hash_of("{b: [x, y], a: 1}"));
    assert_true(h != hash_of("a: 1\nb: [y, x]\n"));
    assert_true(h != hash_of("a: 2\nb: [x, y]\n"));
    /* aliases are followed, within the caps */
    uint64_t l = hash_of("a: &x [1, 2]\nb: *x\n");
    assert_true(l == hash_of("a: [1, 2]\nb: [1, 2]\n"));
}

struct pair {
    char *key;
    long value;
};

static int no_bad_key(struct yu *y, yaml_node_t *k, void *ctx)
{
    const char *s = yu_str(k);
    if (s && strcmp(s, "bad") != 0)
        return strcmp(s, "warn") == 0 ? (yu_error(y, k, "warned"), 1) : 0;
    yu_error(y, k, "bad key");
    return -1;
}

static int pair_item(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    struct pair *p = elem;
    if (yu_get_int(y, item, 0, 99, &p->value))
        return YU_ITEM_DROP;
    p->key = strdup(yu_str(k));
    return p->key ? 0 : -1;
}

static void test_each_item(void **state)
{
    static const struct yu_each strs = {sizeof(char *), 1, true, NULL};
    struct doc d;
    doc_load(&d, "list: [a, [b], c]\none: z\nmap: {x: 1, bad: 2, y: 300, warn: 4}\nempty: []\n", 1024);
    assert_int_equal(d.rc, 0);
    yaml_node_t *root = yu_root(&d.y);

    char **v = NULL;
    size_t n = 0;
    assert_int_equal(yu_each_item(&d.y, yu_map_get(&d.y, root, "list"), &strs, (void **)&v, &n, yu_item_str, NULL),
                     -1);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "c");
    assert_null(v[2]);
    assert_string_equal(err_at(&d, 0), "1:11: [1]: expected a string, got a sequence");
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);

    v = NULL;
    n = 0;
    assert_int_equal(yu_each_item(&d.y, yu_map_get(&d.y, root, "one"), &strs, (void **)&v, &n, yu_item_str, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "z");
    free(v[0]);
    free(v);

    static const struct yu_each pairs = {sizeof(struct pair), 0, false, no_bad_key};
    struct pair *p = NULL;
    n = 0;
    size_t before = d.errors.n;
    assert_int_equal(yu_each_item(&d.y, yu_map_get(&d.y, root, "map"), &pairs, (void **)&p, &n, pair_item, NULL), -1);
    assert_int_equal(n, 2);
    assert_string_equal(p[0].key, "x");
    assert_string_equal(p[1].key, "warn");
    assert_int_equal(p[1].value, 4);
    assert_string_equal(err_at(&d, before), "3:13: bad key");
    assert_string_equal(err_at(&d, before + 1), "3:24: y: 300 is out of range (expected an integer 0..99)");
    assert_string_equal(err_at(&d, before + 2), "3:29: warned");
    for (size_t i = 0; i < n; i++)
        free(p[i].key);
    free(p);

    v = NULL;
    n = 0;
    assert_int_equal(yu_each_item(&d.y, yu_map_get(&d.y, root, "empty"), &strs, (void **)&v, &n, yu_item_str, NULL),
                     0);
    assert_int_equal(n, 0);
    assert_non_null(v);
    free(v);
    doc_done(&d);
}

static void test_suggest(void **state)
{
    static const char *const names[] = {"timeout", "every", "cron"};
    assert_string_equal(yu_suggest("timout", names, 3), "timeout");
    assert_string_equal(yu_suggest("evry", names, 3), "every");
    assert_null(yu_suggest("zzzzzz", names, 3));
    assert_int_equal(yu_edit_distance("kitten", "sitting"), 3);
}

static char *repeat(const char *unit, size_t times, const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(ul * times + tl + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * ul, unit, ul);
    memcpy(s + ul * times, tail, tl + 1);
    return s;
}

/* Nesting deeper than 64 levels is refused, with its position, before
 * libyaml spends time quadratic in the depth on it. */
static void test_nesting_depth(void **state)
{
    (void)state;
    struct doc d;
    char *text = repeat("[", 100000, "\n");
    doc_load(&d, text, 4u << 20);
    assert_int_equal(d.rc, TL_EINVAL);
    assert_string_equal(err_at(&d, 0), "1:64: nested deeper than 64 levels; refused before parsing");
    doc_done(&d);
    free(text);

    text = repeat("- ", 100000, "x\n");
    doc_load(&d, text, 4u << 20);
    assert_int_equal(d.rc, TL_EINVAL);
    assert_non_null(strstr(err_at(&d, 0), "nested deeper than 64 levels"));
    doc_done(&d);
    free(text);

    /* block nesting by indentation: line 64 opens the 65th level */
    char *deep = calloc(1, 70 * 80);
    assert_non_null(deep);
    for (int i = 0; i < 70; i++)
        snprintf(deep + strlen(deep), 80, "%*sk:\n", i, "");
    doc_load(&d, deep, 1 << 20);
    assert_int_equal(d.rc, TL_EINVAL);
    assert_non_null(strstr(err_at(&d, 0), "nested deeper than 64 levels"));
    assert_int_equal(strncmp(err_at(&d, 0), "64:", 3), 0);
    doc_done(&d);
    free(deep);

    /* brackets in quotes, comments and block scalars are not nesting */
    char *brackets = repeat("[", 100, "");
    char ok[1024];
    snprintf(ok, sizeof(ok),
             "a: \"%s\"\nb: '%s'\n# %s\nc: |\n  %s\n  it's\nd: [[[[1]]]]\ne: {f: [g, {h: i}]}\n",
             brackets, brackets, brackets, brackets);
    doc_load(&d, ok, 1 << 20);
    assert_int_equal(d.rc, 0);
    doc_done(&d);
    free(brackets);
}

/* Aliases that multiply the document past YAML_ALIAS_EXTRA_MAX nodes are
 * refused once, after parsing, where they go over; a few are fine. */
static void test_alias_bomb(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    /* a value of 1,001 nodes used 250 times: 250,250 nodes */
    assert_int_equal(buf_puts(&b, "big: &big ["), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_puts(&b, "x, "), 0);
    assert_int_equal(buf_puts(&b, "x]\nuses:\n"), 0);
    for (int i = 0; i < 250; i++)
        assert_int_equal(buf_puts(&b, "  - *big\n"), 0);
    struct doc d;
    doc_load(&d, b.data, 1 << 20);
    assert_int_equal(d.rc, TL_EINVAL);
    assert_int_equal(d.errors.n, 1);
    assert_string_equal(err_at(&d, 0), "3:3: aliases repeat values past 200000 nodes (or use a value inside itself); refused");
    doc_done(&d);
    buf_free(&b);

    doc_load(&d, "a: &a [1, 2, 3]\nb: [*a, *a, *a]\nc: {x: *a}\n", 1024);
    assert_int_equal(d.rc, 0);
    doc_done(&d);

    /* an alias inside its own value never ends */
    doc_load(&d, "a: &a [1, *a]\n", 1024);
    assert_int_equal(d.rc, TL_EINVAL);
    assert_non_null(strstr(err_at(&d, 0), "aliases repeat values"));
    doc_done(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_nesting_depth),
        cmocka_unit_test(test_key_table),
        cmocka_unit_test(test_positions_and_sort),
        cmocka_unit_test(test_path_frames),
        cmocka_unit_test(test_node_hash),
        cmocka_unit_test(test_each_item),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_alias_bomb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
