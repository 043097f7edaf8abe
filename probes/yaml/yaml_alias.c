#include "probes/yaml/yaml_alias.h"

#include <stdint.h>
#include <stdlib.h>

#define IN_PROGRESS SIZE_MAX

struct walk {
    yaml_document_t *doc;
    size_t *memo;       /* per node: its expanded size, 0 unknown */
    size_t cap;         /* over this: refused */
    int max_depth;
    yaml_node_t *where; /* the first node found over the cap */
};

static size_t add(struct walk *w, size_t s, size_t more, yaml_node_t *n)
{
    if (more > w->cap - s) {
        if (!w->where)
            w->where = n;
        return w->cap + 1;
    }
    return s + more;
}

/* Expanded size of node i: each child counted whole, however many times it
 * is used. Memoized, so each node is expanded once. */
static size_t expand(struct walk *w, int i, int depth)
{
    yaml_node_t *n = yaml_document_get_node(w->doc, i);
    if (!n)
        return 1;
    size_t *m = &w->memo[i - 1];
    if (*m == IN_PROGRESS || depth > w->max_depth) {
        if (!w->where)
            w->where = n; /* an alias inside its own value never ends */
        return w->cap + 1;
    }
    if (*m)
        return *m;
    *m = IN_PROGRESS;
    size_t s = 1;
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top && s <= w->cap; it++)
            s = add(w, s, expand(w, *it, depth + 1), n);
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top && s <= w->cap; p++) {
            s = add(w, s, expand(w, p->key, depth + 1), n);
            s = add(w, s, expand(w, p->value, depth + 1), n);
        }
    }
    *m = s;
    return s;
}

int yaml_alias_check(yaml_document_t *doc, int max_depth, yaml_node_t **where)
{
    size_t n = (size_t)(doc->nodes.top - doc->nodes.start);
    *where = NULL;
    if (n == 0)
        return 0;
    struct walk w = {.doc = doc, .cap = n + YAML_ALIAS_EXTRA_MAX, .max_depth = max_depth};
    w.memo = calloc(n, sizeof(*w.memo));
    if (!w.memo)
        return TL_ENOMEM;
    size_t total = expand(&w, 1, 0);
    free(w.memo);
    *where = w.where;
    return total > w.cap ? TL_ETOOBIG : 0;
}
