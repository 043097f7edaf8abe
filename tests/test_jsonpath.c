/* jpath_eval and json_type_name: paths are built by hand here (the compiler
 * has its own tests); wildcards, descent, filters and the caps are compiled
 * from text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "probes/check/jsonpath.h"

#define KEY(k) { .key = (char *)(k), .index = 0 }
#define IDX(i) { .key = NULL, .index = (i) }
#define PATH(src, ...)                                                              \
    (struct jpath){ (char *)(src), sizeof((struct jpath_seg[]){ __VA_ARGS__ }) /    \
                                       sizeof(struct jpath_seg),                    \
                    (struct jpath_seg[]){ __VA_ARGS__ } }

static const char *DOC =
    "{\"a\":{\"b\":[{\"c\":1},{\"c\":2},{\"c\":3}]},\"key with spaces\":\"yes\","
    "\"n\":null,\"t\":true,\"s\":\"str\",\"arr\":[]}";

static int setup(void **state)
{
    *state = cJSON_Parse(DOC);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    cJSON_Delete(*state);
    return 0;
}

static void test_root(void **state)
{
    struct jpath p = { (char *)"$", 0, NULL };
    assert_ptr_equal(jpath_eval(&p, *state), *state);
    assert_null(jpath_eval(&p, NULL));
}

static void test_keys_and_indices(void **state)
{
    struct jpath p = PATH("$.a.b[1].c", KEY("a"), KEY("b"), IDX(1), KEY("c"));
    const cJSON *v = jpath_eval(&p, *state);
    assert_non_null(v);
    assert_int_equal(v->valueint, 2);

    struct jpath q = PATH("$[\"key with spaces\"]", KEY("key with spaces"));
    v = jpath_eval(&q, *state);
    assert_string_equal(cJSON_GetStringValue(v), "yes");
}

static void test_negative_index_from_end(void **state)
{
    struct jpath last = PATH("$.a.b[-1].c", KEY("a"), KEY("b"), IDX(-1), KEY("c"));
    assert_int_equal(jpath_eval(&last, *state)->valueint, 3);
    struct jpath first = PATH("$.a.b[-3].c", KEY("a"), KEY("b"), IDX(-3), KEY("c"));
    assert_int_equal(jpath_eval(&first, *state)->valueint, 1);
    struct jpath before = PATH("$.a.b[-4]", KEY("a"), KEY("b"), IDX(-4));
    assert_null(jpath_eval(&before, *state));
}

static void test_missing(void **state)
{
    struct jpath past = PATH("$.a.b[3]", KEY("a"), KEY("b"), IDX(3));
    assert_null(jpath_eval(&past, *state));
    struct jpath nokey = PATH("$.a.x", KEY("a"), KEY("x"));
    assert_null(jpath_eval(&nokey, *state));
    /* A key on an array and an index on an object do not match. */
    struct jpath key_on_array = PATH("$.a.b.c", KEY("a"), KEY("b"), KEY("c"));
    assert_null(jpath_eval(&key_on_array, *state));
    struct jpath idx_on_object = PATH("$.a[0]", KEY("a"), IDX(0));
    assert_null(jpath_eval(&idx_on_object, *state));
    struct jpath empty = PATH("$.arr[-1]", KEY("arr"), IDX(-1));
    assert_null(jpath_eval(&empty, *state));
    /* Keys are case-sensitive. */
    struct jpath upper = PATH("$.A", KEY("A"));
    assert_null(jpath_eval(&upper, *state));
}

static void test_type_names(void **state)
{
    const cJSON *doc = *state;
    assert_string_equal(json_type_name(doc), "object");
    assert_string_equal(json_type_name(cJSON_GetObjectItem(doc, "arr")), "array");
    assert_string_equal(json_type_name(cJSON_GetObjectItem(doc, "n")), "null");
    assert_string_equal(json_type_name(cJSON_GetObjectItem(doc, "t")), "boolean");
    assert_string_equal(json_type_name(cJSON_GetObjectItem(doc, "s")), "string");
    struct jpath p = PATH("$.a.b[0].c", KEY("a"), KEY("b"), IDX(0), KEY("c"));
    assert_string_equal(json_type_name(jpath_eval(&p, doc)), "number");
    assert_string_equal(json_type_name(NULL), "missing");
}

/* --- wildcards, descent and filters (compiled from text) ------------------ */

static const char *STORE =
    "{\"store\":{\"book\":[{\"title\":\"A\",\"price\":8.95,\"isbn\":\"1\"},"
    "{\"title\":\"B\",\"price\":12.99},{\"title\":\"C\",\"price\":22.99,\"isbn\":\"3\"}],"
    "\"bicycle\":{\"color\":\"red\",\"price\":19.95}},"
    "\"users\":[{\"id\":1,\"status\":\"active\",\"tags\":[\"a\",\"b\"]},{\"id\":2,\"status\":\"inactive\"},"
    "{\"status\":\"active\",\"id\":3,\"admin\":true},{\"name\":null}],"
    "\"key with spaces\":{\"q\\\"uote\":1}}";

static int setup_store(void **state)
{
    *state = cJSON_Parse(STORE);
    return *state ? 0 : -1;
}

/* The matches of src in doc as one compact JSON array. */
static char *matches_text(const char *src, const cJSON *doc)
{
    struct jpath p;
    struct jpath_result r;
    char err[200];
    int off = -1;
    if (jpath_compile(&p, src, err, sizeof(err), &off) != 0)
        fail_msg("%s: %s at %d", src, err, off);
    assert_int_equal(jpath_eval_all(&p, doc, &r), 0);
    assert_int_equal(r.capped, JCAP_NONE);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < r.n; i++)
        cJSON_AddItemToArray(arr, cJSON_Duplicate(r.v[i], true));
    char *text = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    jpath_result_free(&r);
    jpath_free(&p);
    return text;
}

static void expect_matches(const cJSON *doc, const char *src, const char *want)
{
    char *got = matches_text(src, doc);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got %s, expected %s", src, got, want);
    cJSON_free(got);
}

static void test_wildcards(void **state)
{
    expect_matches(*state, "$.store.book[*].title", "[\"A\",\"B\",\"C\"]");
    expect_matches(*state, "$.store.book.*.title", "[\"A\",\"B\",\"C\"]");
    expect_matches(*state, "$.store.bicycle.*", "[\"red\",19.95]");
    expect_matches(*state, "$.store.bicycle[*]", "[\"red\",19.95]");
    expect_matches(*state, "$.users[0][*]", "[1,\"active\",[\"a\",\"b\"]]");
    expect_matches(*state, "$.users[*].tags[*]", "[\"a\",\"b\"]");
    expect_matches(*state, "$.users[*].id", "[1,2,3]");
    expect_matches(*state, "$.missing[*]", "[]");
    expect_matches(*state, "$.store.bicycle.color[*]", "[]");
    /* A wildcard over a wildcard keeps every level's order. */
    expect_matches(*state, "$.users[*][*]",
                   "[1,\"active\",[\"a\",\"b\"],2,\"inactive\",\"active\",3,true,null]");
}

static void test_descent(void **state)
{
    expect_matches(*state, "$..price", "[8.95,12.99,22.99,19.95]");
    expect_matches(*state, "$..book[0].title", "[\"A\"]");
    expect_matches(*state, "$..[0].id", "[1]");
    expect_matches(*state, "$..tags[-1]", "[\"b\"]");
    expect_matches(*state, "$.store..title", "[\"A\",\"B\",\"C\"]");
    expect_matches(*state, "$..[\"q\\\"uote\"]", "[1]");
    expect_matches(*state, "$.users[0]..*", "[1,\"active\",[\"a\",\"b\"],\"a\",\"b\"]");
    expect_matches(*state, "$..nothing", "[]");
    /* `..[0]`: the first element of every array, in document order. */
    char *firsts = matches_text("$..[0]", *state);
    cJSON *arr = cJSON_Parse(firsts);
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(arr, 2)), "a");
    cJSON_Delete(arr);
    cJSON_free(firsts);
}

static void test_filters(void **state)
{
    expect_matches(*state, "$.users[?(@.status == \"active\")].id", "[1,3]");
    expect_matches(*state, "$.users[?(@.status == 'active')].id", "[1,3]");
    /* != holds when the key is missing (RFC 9535: != is not ==). */
    expect_matches(*state, "$.users[?(@.status != \"active\")]", "[{\"id\":2,\"status\":\"inactive\"},{\"name\":null}]");
    expect_matches(*state, "$.store.book[?(@.price > 10)].title", "[\"B\",\"C\"]");
    expect_matches(*state, "$.store.book[?(@.price>=12.99)].title", "[\"B\",\"C\"]");
    expect_matches(*state, "$.store.book[?(@.price < 12.99)].title", "[\"A\"]");
    expect_matches(*state, "$.store.book[?(@.price <= 12.99)].title", "[\"A\",\"B\"]");
    expect_matches(*state, "$.store.book[?(@.isbn)].title", "[\"A\",\"C\"]");
    expect_matches(*state, "$.users[?(@.admin == true)].id", "[3]");
    expect_matches(*state, "$.users[?(@.admin == false)].id", "[]");
    expect_matches(*state, "$.users[?(@.name == null)]", "[{\"name\":null}]");
    /* Existence, not truth: a null is there. */
    expect_matches(*state, "$.users[?(@.name)]", "[{\"name\":null}]");
    expect_matches(*state, "$.users[?(@.tags[1] == \"b\")].id", "[1]");
    expect_matches(*state, "$.users[?(@['status'] == \"inactive\")].id", "[2]");
    expect_matches(*state, "$.store.book[?(@.title < \"B\")].title", "[\"A\"]");
    /* Different types never compare: a string is not > a number. */
    expect_matches(*state, "$.store.book[?(@.price > \"10\")]", "[]");
    expect_matches(*state, "$.users[?(@.id == 1.0)].id", "[1]");
    expect_matches(*state, "$.users[?(@.id == 1e0)].id", "[1]");
    expect_matches(*state, "$.users[?(@.id > -1)].id", "[1,2,3]");
    /* The RFC 9535 form without parentheses. */
    expect_matches(*state, "$.users[?@.id >= 2].id", "[2,3]");
    /* On an object a filter tests member values; @ alone is the member. */
    expect_matches(*state, "$.store[?(@.color)].price", "[19.95]");
    expect_matches(*state, "$.store.bicycle[?(@ == \"red\")]", "[\"red\"]");
    expect_matches(*state, "$..[?(@.price > 20)].title", "[\"C\"]");
}

static void test_first_match_and_locate(void **state)
{
    struct jpath p;
    char err[200], at[128];
    int off;
    assert_int_equal(jpath_compile(&p, "$..price", err, sizeof(err), &off), 0);
    assert_true(jpath_is_multi(&p));
    const cJSON *first = jpath_eval(&p, *state);
    assert_true(cJSON_IsNumber(first) && first->valuedouble == 8.95);
    jpath_free(&p);
    assert_int_equal(jpath_compile(&p, "$.store.book[2].price", err, sizeof(err), &off), 0);
    assert_false(jpath_is_multi(&p));
    const cJSON *v = jpath_eval(&p, *state);
    jpath_locate(*state, v, at, sizeof(at));
    assert_string_equal(at, "$.store.book[2].price");
    jpath_locate(*state, *state, at, sizeof(at));
    assert_string_equal(at, "$");
    const cJSON *odd = cJSON_GetObjectItem(cJSON_GetObjectItem(*state, "key with spaces"), "q\"uote");
    jpath_locate(*state, odd, at, sizeof(at));
    assert_string_equal(at, "$[\"key with spaces\"][\"q\\\"uote\"]");
    /* Cut, not overflowed; a node elsewhere is not found. */
    jpath_locate(*state, v, at, 10);
    assert_string_equal(at, "$.store");
    cJSON *other = cJSON_CreateNumber(1);
    jpath_locate(*state, other, at, sizeof(at));
    assert_string_equal(at, "");
    cJSON_Delete(other);
    jpath_free(&p);
}

/* --- the caps --------------------------------------------------------------- */

static void eval_capped(const char *src, const cJSON *doc, enum jpath_capped want, size_t *n)
{
    struct jpath p;
    struct jpath_result r;
    char err[200];
    int off;
    assert_int_equal(jpath_compile(&p, src, err, sizeof(err), &off), 0);
    assert_int_equal(jpath_eval_all(&p, doc, &r), 0);
    assert_int_equal(r.capped, want);
    assert_true(r.n <= JPATH_MATCHES_MAX);
    assert_true(r.work <= JPATH_WORK_MAX + JPATH_MATCHES_MAX);
    *n = r.n;
    jpath_result_free(&r);
    jpath_free(&p);
}

static void test_cap_wide(void **state)
{
    cJSON *wide = cJSON_CreateArray();
    for (int i = 0; i < JPATH_MATCHES_MAX + 10; i++)
        cJSON_AddItemToArray(wide, cJSON_CreateNumber(i));
    size_t n = 0;
    eval_capped("$[*]", wide, JCAP_MATCHES, &n);
    assert_int_equal(n, JPATH_MATCHES_MAX);
    eval_capped("$[?(@ >= 0)]", wide, JCAP_MATCHES, &n);
    eval_capped("$[-1]", wide, JCAP_NONE, &n);
    assert_int_equal(n, 1);
    cJSON_Delete(wide);
}

/* {"a":{"a":...}} depth levels deep, built by hand (no parser limit). */
static cJSON *chain(int depth)
{
    cJSON *doc = cJSON_CreateObject(), *at = doc;
    for (int i = 0; i < depth; i++) {
        cJSON *next = cJSON_CreateObject();
        cJSON_AddItemToObject(at, "a", next);
        at = next;
    }
    return doc;
}

static void test_cap_deep(void **state)
{
    size_t n = 0;
    cJSON *deep = chain(JPATH_DEPTH_MAX + 50);
    eval_capped("$..a", deep, JCAP_DEPTH, &n);
    cJSON_Delete(deep);
    cJSON *ok = chain(JPATH_DEPTH_MAX - 1);
    eval_capped("$..a", ok, JCAP_NONE, &n);
    assert_int_equal(n, JPATH_DEPTH_MAX - 1);
    cJSON_Delete(ok);
}

/* Each `..*` from every node of a 400-deep chain: quadratic, then cubic. */
static void test_cap_work(void **state)
{
    size_t n = 0;
    cJSON *doc = chain(400);
    eval_capped("$..*..*", doc, JCAP_NONE, &n);
    assert_int_equal(n, 400 * 399 / 2);
    eval_capped("$..*..*..*", doc, JCAP_MATCHES, &n);
    eval_capped("$..*..*..zzz", doc, JCAP_WORK, &n);
    cJSON_Delete(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_and_indices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_index_from_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wildcards, setup_store, teardown),
        cmocka_unit_test_setup_teardown(test_descent, setup_store, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup_store, teardown),
        cmocka_unit_test_setup_teardown(test_first_match_and_locate, setup_store, teardown),
        cmocka_unit_test(test_cap_wide),
        cmocka_unit_test(test_cap_deep),
        cmocka_unit_test(test_cap_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
