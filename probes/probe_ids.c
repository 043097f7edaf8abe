/* Probe index by id (probe_ids.h): open addressing, linear probing, kept at
 * most half full. */
#include "probes/probe_ids.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/hash.h"
#include "probes/probe.h"

struct probe_ids {
    size_t cap; /* a power of two */
    size_t n;
    const struct probe **slot;
};

static size_t slot_of(const struct probe_ids *t, const char *id)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)tl_hash_mix(tl_hash_str(id)) & mask;
    while (t->slot[i] && strcmp(t->slot[i]->id, id) != 0)
        i = (i + 1) & mask;
    return i;
}

static int grow(struct probe_ids *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    const struct probe **old = t->slot;
    size_t old_cap = t->cap;
    t->slot = calloc(cap, sizeof(*t->slot));
    if (!t->slot) {
        t->slot = old;
        return TL_ENOMEM;
    }
    t->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            t->slot[slot_of(t, old[i]->id)] = old[i];
    free(old);
    return 0;
}

int probe_ids_add(struct probe_ids **ids, const struct probe *p)
{
    if (!*ids && !(*ids = calloc(1, sizeof(**ids))))
        return TL_ENOMEM;
    struct probe_ids *t = *ids;
    if ((t->n + 1) * 2 > t->cap && grow(t))
        return TL_ENOMEM;
    size_t i = slot_of(t, p->id);
    if (!t->slot[i]) {
        t->slot[i] = p;
        t->n++;
    }
    return 0;
}

struct probe *probe_ids_find(const struct probe_ids *ids, const char *id)
{
    if (!ids || !ids->cap || !id)
        return NULL;
    /* the index borrows its probes; the set that owns them hands them out */
    return (struct probe *)ids->slot[slot_of(ids, id)];
}

void probe_ids_free(struct probe_ids *ids)
{
    if (!ids)
        return;
    free(ids->slot);
    free(ids);
}
