/* Reuse of curl share handles for transfer sessions: a share whose session
 * ended as clean as curl_share_init made it (no cookie stored, no
 * CURLOPT_RESOLVE entry; curl drops every other DNS entry at the end of a
 * transfer with DNS_CACHE_TIMEOUT 0) serves the next session instead of a
 * curl_share_cleanup + curl_share_init per run. Loop thread only. */
#ifndef TRIPLINE_SHARE_POOL_H
#define TRIPLINE_SHARE_POOL_H

#include <stdbool.h>

#include <curl/curl.h>

/* Idle clean shares kept at most. */
#define SHARE_POOL_MAX 32

/* A share of cookies and DNS with nothing in it; NULL when out of memory. */
CURLSH *share_pool_get(void);
/* Takes back a share no handle uses any more: kept when clean and there is
 * room, cleaned up otherwise. NULL is ignored. */
void share_pool_put(CURLSH *sh, bool clean);

#endif
