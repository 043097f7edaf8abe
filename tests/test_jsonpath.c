/* jpath_eval and json_type_name: paths are built by hand here (the compiler
 * has its own tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_and_indices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_index_from_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
