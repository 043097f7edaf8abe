/* Clocks and time formats: the one place the agent reads a clock or writes a
 * timestamp. Durations everywhere are microseconds (tl_usec). */
#ifndef TRIPLINE_TIME_H
#define TRIPLINE_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Durations everywhere are microseconds. 0 means "not set" unless a comment
 * says otherwise. */
typedef int64_t tl_usec;

/* CLOCK_MONOTONIC in microseconds (the clock of uv_hrtime): for deadlines,
 * windows and intervals, which must not jump when the wall clock is set. */
tl_usec tl_mono_us(void);
/* The wall clock in microseconds since the epoch: for what a human or another
 * machine reads (event times, log lines). 0 if the clock cannot be read. */
int64_t tl_wall_us(void);

#define TL_ISO8601_LEN 32
/* Writes wall_us as ISO-8601 UTC: "2026-11-30T12:00:00.123Z" with millis,
 * "2026-11-30T12:00:00Z" without. Returns 0, or -1 (out is then "") when the
 * time cannot be represented. */
int tl_iso8601(int64_t wall_us, bool millis, char out[TL_ISO8601_LEN]);
/* tl_iso8601 of the wall clock now. */
int tl_iso8601_now(bool millis, char out[TL_ISO8601_LEN]);

#endif
