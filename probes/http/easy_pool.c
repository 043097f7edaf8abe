/* Reuse of curl easy handles (easy_pool.h). */
#include "probes/http/easy_pool.h"

CURL *easy_pool_get(struct easy_pool *p, bool *kept)
{
    *kept = false;
    if (!p->n)
        return curl_easy_init();
    p->n--;
    *kept = p->kept[p->n];
    return p->idle[p->n];
}

void easy_pool_put(struct easy_pool *p, CURL *easy, bool keep)
{
    if (!easy)
        return;
    /* A handle keeps its share across curl_easy_reset: detach it, or the
     * session's share could never be cleaned up. curl_easy_reset forgets
     * the list of cookie files without freeing it: NULL frees it first.
     * The error buffer belonged to the finished transfer's response. */
    if (p->n == EASY_POOL_MAX || curl_easy_setopt(easy, CURLOPT_SHARE, NULL) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_COOKIEFILE, NULL) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL) != CURLE_OK) {
        curl_easy_cleanup(easy);
        return;
    }
    if (!keep)
        curl_easy_reset(easy);
    p->kept[p->n] = keep;
    p->idle[p->n++] = easy;
}

void easy_pool_clear(struct easy_pool *p)
{
    while (p->n)
        curl_easy_cleanup(p->idle[--p->n]);
}
