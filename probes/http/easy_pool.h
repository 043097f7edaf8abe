/* A small pool of reset curl easy handles for the transfer engine: a fresh
 * check needs a fresh connection, not a fresh handle, and curl_easy_init +
 * curl_easy_cleanup cost more than curl_easy_reset. */
#ifndef TRIPLINE_EASY_POOL_H
#define TRIPLINE_EASY_POOL_H

#include <stddef.h>

#include <curl/curl.h>

/* Idle handles kept at most: ~20 KiB each (curl's buffers), enough for the
 * completions of one loop pass at thousands of checks a second. */
#define EASY_POOL_MAX 32

struct easy_pool {
    CURL *idle[EASY_POOL_MAX];
    size_t n;
};

/* A handle with every option at curl's default; NULL when out of memory. */
CURL *easy_pool_get(struct easy_pool *p);
/* Takes back a handle removed from its multi: detached from its share and
 * reset, or cleaned up when the pool is full. NULL is ignored. */
void easy_pool_put(struct easy_pool *p, CURL *easy);
/* Cleans up every idle handle. */
void easy_pool_clear(struct easy_pool *p);

#endif
