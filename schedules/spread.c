#include "schedules/spread.h"

uint64_t spread_hash(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 offset basis */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    /* MurmurHash3's fmix64: every input bit reaches every output bit, so a
     * modulus by the interval sees well-mixed low bits. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

tl_usec spread_offset(const char *id, tl_usec interval)
{
    if (!id || interval <= 0)
        return 0;
    return (tl_usec)(spread_hash(id) % (uint64_t)interval);
}
