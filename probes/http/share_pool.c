/* Reuse of clean curl share handles (share_pool.h). */
#include "probes/http/share_pool.h"

#include <stddef.h>

static struct {
    CURLSH *idle[SHARE_POOL_MAX];
    size_t n;
} pool;

/* The DNS cache is per session too, so a vantage's pinned address
 * (CURLOPT_RESOLVE) never leaks into another run's transfers. */
CURLSH *share_pool_get(void)
{
    if (pool.n)
        return pool.idle[--pool.n];
    CURLSH *sh = curl_share_init();
    if (sh && (curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE) != CURLSHE_OK ||
               curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)) {
        curl_share_cleanup(sh);
        sh = NULL;
    }
    return sh;
}

void share_pool_put(CURLSH *sh, bool clean)
{
    if (!sh)
        return;
    if (clean && pool.n < SHARE_POOL_MAX)
        pool.idle[pool.n++] = sh;
    else
        curl_share_cleanup(sh);
}
