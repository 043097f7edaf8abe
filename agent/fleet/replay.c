#include "agent/fleet/replay.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

#define SIG_LEN 72 /* "sha256=" + 64 hex + NUL */
#define REPLAY_MIN 1024u

struct seen {
    int64_t until; /* 0: empty slot */
    char sig[SIG_LEN];
};

/* Open addressing, linear probing, at most half full; expired entries go
 * when the table is rebuilt (no tombstones). */
struct replay {
    struct seen *slots;
    size_t cap, n;
};

int replay_new(struct replay **out)
{
    *out = NULL;
    struct replay *r = calloc(1, sizeof(*r));
    if (!r)
        return TL_ENOMEM;
    r->slots = calloc(REPLAY_MIN, sizeof(*r->slots));
    if (!r->slots) {
        free(r);
        return TL_ENOMEM;
    }
    r->cap = REPLAY_MIN;
    *out = r;
    return 0;
}

void replay_free(struct replay *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

static struct seen *slot_for(struct seen *slots, size_t cap, const char *sig)
{
    size_t i = (size_t)tl_hash_str(sig) & (cap - 1);
    while (slots[i].until && strcmp(slots[i].sig, sig) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Rebuilds into cap slots, keeping only entries live at now_s. */
static int rebuild(struct replay *r, size_t cap, int64_t now_s)
{
    struct seen *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return TL_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < r->cap; i++) {
        if (r->slots[i].until < now_s)
            continue;
        *slot_for(slots, cap, r->slots[i].sig) = r->slots[i];
        n++;
    }
    free(r->slots);
    r->slots = slots;
    r->cap = cap;
    r->n = n;
    return 0;
}

int replay_add(struct replay *r, const char *sig, int64_t until_s, int64_t now_s)
{
    if (strlen(sig) >= SIG_LEN || until_s <= 0)
        return TL_EINVAL;
    struct seen *s = slot_for(r->slots, r->cap, sig);
    if (s->until >= now_s)
        return TL_EEXISTS;
    if (s->until) { /* the same signature, expired: reuse its slot */
        s->until = until_s;
        return 0;
    }
    if (2 * (r->n + 1) > r->cap) {
        int rc = rebuild(r, r->cap, now_s);
        if (rc == 0 && 4 * (r->n + 1) > r->cap) /* still over a quarter live: grow */
            rc = 2 * r->cap <= 2 * REPLAY_MAX ? rebuild(r, 2 * r->cap, now_s) : 0;
        if (rc)
            return rc;
        if (2 * (r->n + 1) > r->cap)
            return TL_EBUSY;
        s = slot_for(r->slots, r->cap, sig);
    }
    s->until = until_s;
    memcpy(s->sig, sig, strlen(sig) + 1);
    r->n++;
    return 0;
}
