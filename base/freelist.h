/* A cache of freed objects of one size, handed out again before malloc is
 * asked. glibc keeps blocks above 1 KiB out of its per-thread cache: each
 * such malloc walks its bins and consolidates the small free chunks, a
 * cost paid on every probe run for the run's journey, step results and
 * response. One list per object type, owned by one thread (the loop's). */
#ifndef TRIPLINE_FREELIST_H
#define TRIPLINE_FREELIST_H

#include <stddef.h>

#define FREELIST_MAX 128 /* objects kept; more are freed */

struct freelist {
    size_t size; /* of every object on the list */
    size_t n;
    void *items[FREELIST_MAX];
};

#define FREELIST_INIT(sz) {.size = (sz)}

/* A zeroed object of f->size bytes, or NULL when out of memory. */
void *freelist_get(struct freelist *f);
/* Keeps p (f->size bytes from malloc) for the next get, or frees it. */
void freelist_put(struct freelist *f, void *p);

#endif
