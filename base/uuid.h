/* UUID v4 from OpenSSL's RAND_bytes (drawn in batches, refilled after a fork):
 * correlation ids, event and incident ids. */
#ifndef TRIPLINE_UUID_H
#define TRIPLINE_UUID_H

#include <stdbool.h>

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* Writes a fresh lower-case UUID v4 to out. Returns 0, or TL_ERAND when the random
 * generator failed (out is then unusable). */
int uuid_v4(char out[UUID_STR_LEN]);
/* True when s has the 8-4-4-4-12 hex shape (any version, any case). */
bool uuid_valid(const char *s);

#endif
