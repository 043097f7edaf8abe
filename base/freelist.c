/* Cached objects (freelist.h). Under AddressSanitizer a kept object is
 * poisoned, so a use after "free" is still reported. */
#include "base/freelist.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define FREELIST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FREELIST_ASAN 1
#endif
#endif

#ifdef FREELIST_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void *freelist_get(struct freelist *f)
{
    if (!f->n)
        return calloc(1, f->size);
    void *p = f->items[--f->n];
    UNPOISON(p, f->size);
    memset(p, 0, f->size);
    return p;
}

void freelist_put(struct freelist *f, void *p)
{
    if (!p)
        return;
    if (f->n == FREELIST_MAX) {
        free(p);
        return;
    }
    POISON(p, f->size);
    f->items[f->n++] = p;
}
