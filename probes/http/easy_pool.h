/* A small pool of curl easy handles for the transfer engine: a fresh check
 * needs a fresh connection, not a fresh handle, and curl_easy_init +
 * curl_easy_cleanup cost more than curl_easy_reset. A handle whose last
 * transfer set only the engine's constant options and the per-run ones is
 * kept as it is (no reset): its next transfer sets the per-run ones again. */
#ifndef TRIPLINE_EASY_POOL_H
#define TRIPLINE_EASY_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

/* Idle handles kept at most: ~20 KiB each (curl's buffers), enough for the
 * completions of one loop pass at thousands of checks a second. */
#define EASY_POOL_MAX 32

struct easy_pool {
    CURL *idle[EASY_POOL_MAX];
    bool kept[EASY_POOL_MAX]; /* idle[i] still holds the constant options */
    size_t n;
};

/* A handle, NULL when out of memory. *kept: true when it still holds the
 * constant options of its last transfer, false when every option is at
 * curl's default. */
CURL *easy_pool_get(struct easy_pool *p, bool *kept);
/* Takes back a handle removed from its multi: detached from its share and,
 * unless keep, reset; cleaned up when the pool is full. NULL is ignored. */
void easy_pool_put(struct easy_pool *p, CURL *easy, bool keep);
/* Cleans up every idle handle. */
void easy_pool_clear(struct easy_pool *p);

#endif
