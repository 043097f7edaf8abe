/* The `expect.json` list of a step: {path: jsonpath, CHECK} where CHECK is
 * one of exists, equals, matches, type, length, or gt/gte/lt/lte (these
 * combine into one range). */
#include "probes/load/load_int.h"
#include "probes/check/json_exact.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jc_ctx {
    struct json_check *jc;
    int ops;       /* checks given; a range counts once */
    bool range;    /* a gt/gte/lt/lte was read */
};

#define JC_OPS "exists, equals, matches, type, length, or gt/gte/lt/lte"

/* Counts one more check; a second is an error at v. */
static int jc_op(struct yu *y, struct jc_ctx *c, yaml_node_t *v, enum match_op op)
{
    if (op == MATCH_COMPARE && c->range)
        return 0;
    if (++c->ops > 1) {
        yu_error(y, v, "a check takes one operator (expected only one of " JC_OPS ")");
        return -1;
    }
    c->range = op == MATCH_COMPARE;
    c->jc->op = op;
    return 0;
}

static int jc_path(struct yu *y, void *obj, yaml_node_t *v)
{
    struct jc_ctx *c = obj;
    return ld_jpath(y, v, &c->jc->path);
}

static int jc_exists(struct yu *y, void *obj, yaml_node_t *v)
{
    struct jc_ctx *c = obj;
    return jc_op(y, c, v, MATCH_EXISTS) || yu_get_bool(y, v, &c->jc->exists) ? -1 : 0;
}

static int jc_equals(struct yu *y, void *obj, yaml_node_t *v)
{
    struct jc_ctx *c = obj;
    if (jc_op(y, c, v, MATCH_EQUALS))
        return -1;
    c->jc->equals = yu_to_json(y, v);
    if (!c->jc->equals)
        return -1;
    return ld_json_tpls(y, v);
}

static int jc_matches(struct yu *y, void *obj, yaml_node_t *v)
{
    struct jc_ctx *c = obj;
    return jc_op(y, c, v, MATCH_MATCHES) || ld_regex_search(y, v, &c->jc->re, &c->jc->re_src, &c->jc->search_max)
               ? -1
               : 0;
}

static int jc_type(struct yu *y, void *obj, yaml_node_t *v)
{
    static const char *const types[] = {"string", "number", "boolean", "null", "object", "array"};
    struct jc_ctx *c = obj;
    if (jc_op(y, c, v, MATCH_TYPE))
        return -1;
    const char *s = yu_str(v);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(s, types[i]) == 0) {
            c->jc->type = strdup(s);
            return c->jc->type ? 0 : -1;
        }
    }
    const char *hint = yu_suggest(s, types, sizeof(types) / sizeof(types[0]));
    yu_error(y, v, "unknown type \"%s\"%s%s%s (expected string, number, boolean, null, object or array)", s,
             hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
    return -1;
}

/* --- ranges: gt/gte/lt/lte on a value, and on a length -------------------- */

static int bound_set(struct yu *y, yaml_node_t *v, struct num_bounds *b, enum bound_op op, bool count)
{
    long n = 0;
    double x = 0;
    if (count ? yu_get_int(y, v, 0, LONG_MAX, &n) : yu_get_num(y, v, &x))
        return -1;
    char exact[64];
    json_exact_double_str(x, exact, sizeof(exact));
    if (!count && json_exact_int_literal(yu_str(v), strlen(yu_str(v))) && strcmp(exact, yu_str(v)) != 0) {
        yu_error(y, v, "%s is beyond 2^53: a range holds it as %s; compare it with equals, which is exact",
                 yu_str(v), exact);
        return -1;
    }
    b->has |= 1u << op;
    b->v[op] = count ? (double)n : x;
    return 0;
}

/* A range no value satisfies ({gt: 5, lt: 3}) is a mistake in the file. */
static int bounds_possible(struct yu *y, yaml_node_t *at, const struct num_bounds *b)
{
    static const enum bound_op lows[] = {BOUND_GT, BOUND_GTE}, highs[] = {BOUND_LT, BOUND_LTE};
    static const char *const names[BOUND_COUNT] = {"equals", "gt", "gte", "lt", "lte"};
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            enum bound_op lo = lows[i], hi = highs[k];
            if (!(b->has & (1u << lo)) || !(b->has & (1u << hi)))
                continue;
            bool strict = lo == BOUND_GT || hi == BOUND_LT;
            if (b->v[lo] > b->v[hi] || (strict && b->v[lo] == b->v[hi])) {
                yu_error(y, at, "no value is %s %.15g and %s %.15g", names[lo], b->v[lo], names[hi], b->v[hi]);
                return -1;
            }
        }
    }
    return 0;
}

static int jc_bound(struct yu *y, void *obj, yaml_node_t *v, enum bound_op op)
{
    struct jc_ctx *c = obj;
    return jc_op(y, c, v, MATCH_COMPARE) || bound_set(y, v, &c->jc->bounds, op, false) ? -1 : 0;
}

static int jc_gt(struct yu *y, void *obj, yaml_node_t *v) { return jc_bound(y, obj, v, BOUND_GT); }
static int jc_gte(struct yu *y, void *obj, yaml_node_t *v) { return jc_bound(y, obj, v, BOUND_GTE); }
static int jc_lt(struct yu *y, void *obj, yaml_node_t *v) { return jc_bound(y, obj, v, BOUND_LT); }
static int jc_lte(struct yu *y, void *obj, yaml_node_t *v) { return jc_bound(y, obj, v, BOUND_LTE); }

static int len_bound(struct yu *y, void *obj, yaml_node_t *v, enum bound_op op)
{
    return bound_set(y, v, obj, op, true);
}

static int len_gt(struct yu *y, void *obj, yaml_node_t *v) { return len_bound(y, obj, v, BOUND_GT); }
static int len_gte(struct yu *y, void *obj, yaml_node_t *v) { return len_bound(y, obj, v, BOUND_GTE); }
static int len_lt(struct yu *y, void *obj, yaml_node_t *v) { return len_bound(y, obj, v, BOUND_LT); }
static int len_lte(struct yu *y, void *obj, yaml_node_t *v) { return len_bound(y, obj, v, BOUND_LTE); }

static const struct yu_key length_keys[] = {
    {"gt", YU_FN_SCALAR, 0, len_gt, 0},
    {"gte", YU_FN_SCALAR, 0, len_gte, 0},
    {"lt", YU_FN_SCALAR, 0, len_lt, 0},
    {"lte", YU_FN_SCALAR, 0, len_lte, 0},
    {NULL, 0, 0, NULL, 0},
};

/* length: 3, or length: {gte: 1, lte: 10}. */
static int jc_length(struct yu *y, void *obj, yaml_node_t *v)
{
    struct jc_ctx *c = obj;
    struct num_bounds *b = &c->jc->bounds;
    if (jc_op(y, c, v, MATCH_LENGTH))
        return -1;
    if (v->type == YAML_SCALAR_NODE)
        return bound_set(y, v, b, BOUND_EQ, true);
    if (v->type != YAML_MAPPING_NODE) {
        yu_error(y, v, "expected a count like 3 or a range like {gte: 1}, got %s", yu_type_name(v));
        return -1;
    }
    if (yu_walk_map(y, v, length_keys, b))
        return -1;
    if (b->has == 0) {
        yu_error(y, v, "an empty range (expected gt, gte, lt or lte)");
        return -1;
    }
    return bounds_possible(y, v, b);
}

static const struct yu_key json_check_keys[] = {
    {"path", YU_FN_SCALAR, 0, jc_path, YU_REQUIRED},
    {"exists", YU_FN_SCALAR, 0, jc_exists, 0},
    {"equals", YU_FN_ANY, 0, jc_equals, 0},
    {"matches", YU_FN_SCALAR, 0, jc_matches, 0},
    {"type", YU_FN_SCALAR, 0, jc_type, 0},
    {"length", YU_FN_ANY, 0, jc_length, 0},
    {"gt", YU_FN_SCALAR, 0, jc_gt, 0},
    {"gte", YU_FN_SCALAR, 0, jc_gte, 0},
    {"lt", YU_FN_SCALAR, 0, jc_lt, 0},
    {"lte", YU_FN_SCALAR, 0, jc_lte, 0},
    {NULL, 0, 0, NULL, 0},
};

static int json_check_item(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    struct json_check *jc = elem;
    ld_pos(&jc->pos, item);
    if (item->type != YAML_MAPPING_NODE) {
        yu_error(y, item, "expected a mapping like {path: $.id, exists: true}, got %s", yu_type_name(item));
        return -1;
    }
    struct jc_ctx c = {jc, 0, false};
    if (yu_walk_map(y, item, json_check_keys, &c))
        return -1;
    if (c.ops == 0) {
        yu_error(y, item, "no check (expected one of " JC_OPS ")");
        return -1;
    }
    return c.range ? bounds_possible(y, item, &jc->bounds) : 0;
}

int ld_expect_json(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct json_check), 0, false, NULL};
    struct expect *e = obj;
    return yu_each_item(y, v, &how, (void **)&e->json, &e->n_json, json_check_item, NULL);
}
