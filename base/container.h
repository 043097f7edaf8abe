/* container_of: from a member embedded in a struct (a libuv handle, a
 * limiter waiter) back to the struct that holds it. */
#ifndef TRIPLINE_CONTAINER_H
#define TRIPLINE_CONTAINER_H

#include <stddef.h>

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

#endif
