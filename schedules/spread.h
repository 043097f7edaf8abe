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

/* Start slots. Runs whose phases fall in one slot start together, on one
 * wake-up of the agent: a wake-up costs about as much as a check's own work
 * (1,000 fresh HTTP checks/s started 4 at a time cost ~25 % less CPU than
 * one at a time), so phases are rounded down to a slot. The slot is the
 * coarsest of SPREAD_SLOT_MIN * 2^k up to SPREAD_SLOT_MAX in which the
 * agent's scheduled rate puts at most SPREAD_SLOT_RUNS runs, and at most
 * 1/SPREAD_SLOT_SPAN of the interval; 0 (no rounding) for intervals shorter
 * than SPREAD_SLOT_SPAN * SPREAD_SLOT_MIN. A run still starts on time: its
 * phase is the rounded one. */
#define SPREAD_SLOT_MIN 250   /* us: the scheduler's wake-up grid */
#define SPREAD_SLOT_MAX 4000  /* us */
#define SPREAD_SLOT_RUNS 4
#define SPREAD_SLOT_SPAN 16
tl_usec spread_slot(double runs_per_s, tl_usec interval);
/* spread_offset(id, interval) rounded down to a multiple of slot (0: not). */
tl_usec spread_phase(const char *id, tl_usec interval, tl_usec slot);

#endif
