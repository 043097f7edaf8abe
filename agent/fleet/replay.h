/* The peers' replay cache: every accepted request's signature is kept until
 * the request would be refused as stale anyway (its ts + the allowed skew),
 * so a replay inside that window is refused however many requests came in
 * between. It grows with the request rate up to REPLAY_MAX live entries
 * (~1,000 requests a second over a two-minute window); past that it refuses
 * new requests rather than forget old ones. */
#ifndef TRIPLINE_REPLAY_H
#define TRIPLINE_REPLAY_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdint.h>

#define REPLAY_MAX (1u << 17)

struct replay;

int replay_new(struct replay **out);
void replay_free(struct replay *r);
/* Records sig (a NUL-terminated string), valid until until_s (unix
 * seconds). TL_EEXISTS: seen before and not yet expired at now_s (a
 * replay). TL_EBUSY: the cache is full of live entries. */
int replay_add(struct replay *r, const char *sig, int64_t until_s, int64_t now_s);

#endif
