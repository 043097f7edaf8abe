/* A fast pseudo-random sequence for jitter and backoff: spread, not secrecy
 * (ids and keys use OpenSSL's RAND_bytes, see base/uuid.h). */
#ifndef TRIPLINE_RAND_H
#define TRIPLINE_RAND_H

#include <stdint.h>

/* xorshift64*: advances *state (a zero state is replaced by a fixed seed,
 * since zero is a fixed point) and returns the next value. */
static inline uint64_t tl_rand_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* A value in [0, n); 0 when n is 0. */
static inline uint64_t tl_rand_below(uint64_t *state, uint64_t n)
{
    return n ? tl_rand_next(state) % n : 0;
}

#endif
