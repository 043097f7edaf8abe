#include "schedules/limiter.h"
#include "base/hash.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A host's counters live while it has a run in flight or queued. */
struct limiter_host {
    struct limiter_host *chain;
    uint64_t hash;
    size_t in_flight;
    size_t queued;
    char name[];
};

struct limiter {
    unsigned total, per_host;
    size_t in_flight, queued;
    struct limiter_waiter *head, *tail;
    struct limiter_host **buckets;
    size_t n_buckets, n_hosts;
    /* Bumped whenever the queue changes: a grant callback that changes it
     * invalidates the scan's next pointer. */
    uint64_t gen;
    bool pumping, again;
};

struct limiter *limiter_new(unsigned total, unsigned per_host)
{
    struct limiter *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->n_buckets = 64;
    l->buckets = calloc(l->n_buckets, sizeof *l->buckets);
    if (!l->buckets) {
        free(l);
        return NULL;
    }
    l->total = total;
    l->per_host = per_host;
    return l;
}

void limiter_free(struct limiter *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_buckets; i++) {
        struct limiter_host *h = l->buckets[i];
        while (h) {
            struct limiter_host *next = h->chain;
            free(h);
            h = next;
        }
    }
    free(l->buckets);
    free(l);
}

static struct limiter_host *host_find(const struct limiter *l, const char *name, uint64_t hash)
{
    for (struct limiter_host *h = l->buckets[hash & (l->n_buckets - 1)]; h; h = h->chain)
        if (h->hash == hash && strcmp(h->name, name) == 0)
            return h;
    return NULL;
}

static void host_grow(struct limiter *l)
{
    size_t n = l->n_buckets * 2;
    struct limiter_host **b = calloc(n, sizeof *b);
    /* Without memory the table stays small: slower chains, still correct. */
    if (!b)
        return;
    for (size_t i = 0; i < l->n_buckets; i++) {
        struct limiter_host *h = l->buckets[i];
        while (h) {
            struct limiter_host *next = h->chain;
            h->chain = b[h->hash & (n - 1)];
            b[h->hash & (n - 1)] = h;
            h = next;
        }
    }
    free(l->buckets);
    l->buckets = b;
    l->n_buckets = n;
}

static struct limiter_host *host_get(struct limiter *l, const char *name)
{
    uint64_t hash = tl_hash_str(name);
    struct limiter_host *h = host_find(l, name, hash);
    if (h)
        return h;
    size_t len = strlen(name);
    h = calloc(1, sizeof *h + len + 1);
    if (!h)
        return NULL;
    memcpy(h->name, name, len + 1);
    h->hash = hash;
    h->chain = l->buckets[hash & (l->n_buckets - 1)];
    l->buckets[hash & (l->n_buckets - 1)] = h;
    l->n_hosts++;
    if (l->n_hosts > l->n_buckets * 2)
        host_grow(l);
    return h;
}

static void host_put(struct limiter *l, struct limiter_host *h)
{
    if (!h || h->in_flight || h->queued)
        return;
    struct limiter_host **pp = &l->buckets[h->hash & (l->n_buckets - 1)];
    while (*pp != h)
        pp = &(*pp)->chain;
    *pp = h->chain;
    l->n_hosts--;
    free(h);
}

static bool fits(const struct limiter *l, const struct limiter_host *h)
{
    if (l->total && l->in_flight >= l->total)
        return false;
    return !h || !l->per_host || h->in_flight < l->per_host;
}

static void take(struct limiter *l, struct limiter_waiter *w)
{
    l->in_flight++;
    if (w->host)
        w->host->in_flight++;
    w->state = LIMITER_W_HELD;
}

static void unlink_waiter(struct limiter *l, struct limiter_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    w->prev = w->next = NULL;
    l->queued--;
    if (w->host)
        w->host->queued--;
    l->gen++;
}

/* Grants, in queue order, every waiter that fits. Callbacks run from here
 * may release, acquire or cancel: a nested call only marks the queue for
 * another pass, so the stack never grows with the queue. */
static void pump(struct limiter *l)
{
    if (l->pumping) {
        l->again = true;
        return;
    }
    l->pumping = true;
    do {
        l->again = false;
        struct limiter_waiter *w = l->head;
        while (w && !(l->total && l->in_flight >= l->total)) {
            struct limiter_waiter *next = w->next;
            if (fits(l, w->host)) {
                unlink_waiter(l, w);
                take(l, w);
                uint64_t gen = l->gen;
                w->grant(w);
                if (l->gen != gen)
                    next = l->head;
            }
            w = next;
        }
    } while (l->again);
    l->pumping = false;
}

void limiter_set_limits(struct limiter *l, unsigned total, unsigned per_host)
{
    l->total = total;
    l->per_host = per_host;
    pump(l);
}

int limiter_acquire(struct limiter *l, const char *host, struct limiter_waiter *w)
{
    struct limiter_host *h = NULL;
    if (w->state != LIMITER_W_IDLE || !w->grant)
        return TL_ESTATE;
    if (host) {
        h = host_get(l, host);
        if (!h)
            return TL_ENOMEM;
    }
    w->host = h;
    /* Outside a pump nothing queued fits, so a waiter that fits now jumps
     * no one that could have run. */
    if (!l->pumping && fits(l, h)) {
        take(l, w);
        return 0;
    }
    w->next = NULL;
    w->prev = l->tail;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    l->queued++;
    if (h)
        h->queued++;
    w->state = LIMITER_W_QUEUED;
    l->gen++;
    if (l->pumping)
        l->again = true;
    return LIMITER_QUEUED;
}

int limiter_release(struct limiter *l, struct limiter_waiter *w)
{
    if (w->state != LIMITER_W_HELD)
        return TL_ESTATE;
    w->state = LIMITER_W_IDLE;
    l->in_flight--;
    if (w->host) {
        w->host->in_flight--;
        host_put(l, w->host);
        w->host = NULL;
    }
    pump(l);
    return 0;
}

int limiter_cancel(struct limiter *l, struct limiter_waiter *w)
{
    if (w->state != LIMITER_W_QUEUED)
        return TL_ESTATE;
    unlink_waiter(l, w);
    w->state = LIMITER_W_IDLE;
    host_put(l, w->host);
    w->host = NULL;
    return 0;
}

size_t limiter_in_flight(const struct limiter *l)
{
    return l->in_flight;
}

size_t limiter_queued(const struct limiter *l)
{
    return l->queued;
}

size_t limiter_host_in_flight(const struct limiter *l, const char *host)
{
    const struct limiter_host *h = host_find(l, host, tl_hash_str(host));
    return h ? h->in_flight : 0;
}
