/* yu_each_item(): the one loop every list or mapping of the grammar needs
 * (size an array, walk the items with the path pushed, count what is kept). */
#include "probes/yaml/yaml_util.h"

#include <stdlib.h>
#include <string.h>

/* Pushes the path of item i (an index, or a mapping's key); returns the
 * mark for yu_path_pop. */
static size_t push_item(struct yu *y, yaml_node_t *key, size_t i)
{
    if (!key)
        return yu_path_index(y, i);
    const char *name = yu_str(key);
    return yu_path_key(y, name ? name : "?");
}

/* One item into (char *)*arr + *n * elem_size; its rc for yu_each_item. */
static int one_item(struct yu *y, const struct yu_each *how, yaml_node_t *key, yaml_node_t *item, size_t i,
                    void *arr, size_t *n, yu_item_fn fn, void *ctx)
{
    int krc = key && how->key_check ? how->key_check(y, key, ctx) : 0;
    if (krc < 0)
        return -1;
    char *elem = (char *)arr + *n * how->elem_size;
    bool scalar = !key && i == SIZE_MAX;
    size_t mark = scalar ? 0 : push_item(y, key, i);
    int rc = fn(y, key, item, elem, ctx);
    if (rc == YU_ITEM_DROP)
        memset(elem, 0, how->elem_size); /* the slot is reused by the next item */
    else
        (*n)++;
    if (!scalar)
        yu_path_pop(y, mark);
    return rc || krc ? -1 : 0;
}

int yu_each_item(struct yu *y, yaml_node_t *node, const struct yu_each *how, void **arr, size_t *n,
                 yu_item_fn fn, void *ctx)
{
    bool one = how->scalar_is_one && node->type == YAML_SCALAR_NODE;
    size_t len = one ? 1 : yu_len(node);
    if (!*arr) {
        *arr = calloc(len + how->spare ? len + how->spare : 1, how->elem_size);
        if (!*arr)
            return -1;
    }
    if (one)
        return one_item(y, how, NULL, node, SIZE_MAX, *arr, n, fn, ctx);
    int rc = 0;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *key = NULL, *item;
        if (node->type == YAML_MAPPING_NODE) {
            yaml_node_pair_t *pr = &node->data.mapping.pairs.start[i];
            key = yu_node(y, pr->key);
            item = yu_node(y, pr->value);
        } else {
            item = yu_node(y, node->data.sequence.items.start[i]);
        }
        if (one_item(y, how, key, item, i, *arr, n, fn, ctx))
            rc = -1;
    }
    return rc;
}

int yu_item_str(struct yu *y, yaml_node_t *key, yaml_node_t *item, void *elem, void *ctx)
{
    return yu_get_str(y, item, elem) ? YU_ITEM_DROP : 0;
}
