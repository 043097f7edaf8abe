/* Walking a mapping against a table of struct yu_key: unknown keys (with a
 * did-you-mean), duplicate keys, wrong types and missing required keys are
 * errors; simple kinds are stored at their offset, the rest call handlers. */
#include "probes/yaml/yaml_util.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static yaml_node_pair_t *map_pair(struct yu *y, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        const char *k = yu_str(yu_node(y, pr->key));
        if (k && strcmp(k, key) == 0)
            return pr;
    }
    return NULL;
}

yaml_node_t *yu_map_get(struct yu *y, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *pr = map_pair(y, map, key);
    return pr ? yu_node(y, pr->value) : NULL;
}

yaml_node_t *yu_map_key(struct yu *y, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *pr = map_pair(y, map, key);
    return pr ? yu_node(y, pr->key) : NULL;
}

int yu_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return INT_MAX;
    int row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *yu_suggest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    int best_d = 3;
    for (size_t i = 0; i < n; i++) {
        int d = yu_edit_distance(s, names[i]);
        /* A one-letter key is at distance 1 of everything short: no hint. */
        if (d < best_d && (size_t)d < strlen(names[i])) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

static void unknown_key(struct yu *y, yaml_node_t *k, const struct yu_key *keys)
{
    const char *names[64];
    size_t n = 0;
    for (; keys[n].name && n < 64; n++)
        names[n] = keys[n].name;
    const char *hint = yu_suggest(yu_str(k), names, n);
    if (hint) {
        yu_error(y, k, "unknown key (did you mean \"%s\"?)", hint);
        return;
    }
    char list[512];
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof(list); i++) {
        int w = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    yu_error(y, k, "unknown key (expected one of: %s)", list);
}

static void store_simple(struct yu *y, const struct yu_key *kd, void *obj, yaml_node_t *v)
{
    char *at = (char *)obj + kd->offset;
    long iv = 0;
    switch (kd->kind) {
    case YU_STR:
        yu_get_str(y, v, (char **)(void *)at);
        break;
    case YU_BOOL:
        yu_get_bool(y, v, (bool *)(void *)at);
        break;
    case YU_INT:
    case YU_INT_POS:
        if (yu_get_int(y, v, kd->kind == YU_INT_POS ? 1 : 0, INT_MAX, &iv) == 0)
            *(int *)(void *)at = (int)iv;
        break;
    case YU_DUR:
    case YU_DUR_POS:
        yu_get_dur(y, v, kd->kind == YU_DUR_POS, (tl_usec *)(void *)at);
        break;
    case YU_SIZE:
        yu_get_size(y, v, (size_t *)(void *)at);
        break;
    default:
        break;
    }
}

static bool type_ok(struct yu *y, const struct yu_key *kd, yaml_node_t *v)
{
    const char *want = NULL;
    char hint[96] = "";
    if (kd->kind == YU_FN_MAP && v->type != YAML_MAPPING_NODE)
        want = "a mapping";
    else if (kd->kind == YU_FN_SEQ && v->type != YAML_SEQUENCE_NODE)
        want = "a list";
    else if (kd->kind == YU_FN_SCALAR && (v->type != YAML_SCALAR_NODE || yu_is_null(v)))
        want = "a string";
    if (kd->kind == YU_FN_MAP && want)
        yu_map_hint(kd->name, v, hint, sizeof hint);
    if (want)
        yu_error(y, v, "expected %s, got %s%s", want, yu_type_name(v), hint);
    return want == NULL;
}

int yu_walk_map(struct yu *y, yaml_node_t *map, const struct yu_key *keys, void *obj)
{
    int before = y->n_errors;
    size_t nkeys = 0;
    while (keys[nkeys].name)
        nkeys++;
    int seen_line[64] = {0};
    if (nkeys > 64)
        nkeys = 64;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yu_node(y, pr->key);
        yaml_node_t *v = yu_node(y, pr->value);
        if (!k || !v)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            yu_error(y, k, "keys must be strings, got %s", yu_type_name(k));
            continue;
        }
        const char *name = yu_str(k);
        size_t i = 0;
        while (i < nkeys && strcmp(keys[i].name, name) != 0)
            i++;
        size_t mark = yu_path_key(y, name);
        if (i == nkeys) {
            unknown_key(y, k, keys);
        } else if (seen_line[i]) {
            yu_error(y, k, "duplicate key (first at line %d)", seen_line[i]);
        } else {
            seen_line[i] = (int)k->start_mark.line + 1;
            const struct yu_key *kd = &keys[i];
            if (kd->kind < YU_FN_MAP)
                store_simple(y, kd, obj, v);
            else if (type_ok(y, kd, v) && kd->fn)
                kd->fn(y, obj, v);
        }
        yu_path_pop(y, mark);
    }
    for (size_t i = 0; i < nkeys; i++)
        if ((keys[i].flags & YU_REQUIRED) && !seen_line[i])
            yu_error(y, map, "missing required key \"%s\"", keys[i].name);
    return y->n_errors - before;
}

int yu_get_enum(struct yu *y, yaml_node_t *n, const char *const *names, size_t count, const char *what,
                const char *expected, int *out)
{
    const char *s = yu_str(n);
    for (size_t i = 0; s && i < count; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    const char *hint = s ? yu_suggest(s, names, count) : NULL;
    if (hint)
        yu_error(y, n, "unknown %s \"%s\" (did you mean \"%s\"?)", what, s, hint);
    else
        yu_error(y, n, "unknown %s \"%s\" (expected %s)", what, s ? s : yu_type_name(n), expected);
    return -1;
}
