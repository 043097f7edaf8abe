/* Spread: a stable phase for each probe inside its interval.
 *
 * 1,000 probes every 60s must not all fire at second 0. Each probe gets an
 * offset in [0, interval) from a hash of its id, so the same id always lands
 * on the same phase (across reloads and restarts) and different ids spread
 * evenly over the interval. */
#ifndef TRIPLINE_SPREAD_H
#define TRIPLINE_SPREAD_H

#include <stdint.h>

#include "base/time.h"

/* A 64-bit hash of id: FNV-1a, then a finalizer that mixes the low bits
 * (FNV alone leaves ids such as "p1", "p2" close together). */
uint64_t spread_hash(const char *id);
/* The offset in [0, interval) of id; 0 when interval <= 0 or id is NULL. */
tl_usec spread_offset(const char *id, tl_usec interval);

#endif
