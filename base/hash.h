/* Non-cryptographic hashing for tables and stable spreading: FNV-1a 64 and
 * MurmurHash3's 64-bit finalizer. Not for anything an attacker chooses to
 * collide on purpose where that matters (hash tables here bound chain walks
 * by construction or accept the cost). */
#ifndef TRIPLINE_HASH_H
#define TRIPLINE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define TL_FNV_OFFSET 0xcbf29ce484222325ULL
#define TL_FNV_PRIME 0x100000001b3ULL

/* Continues an FNV-1a 64 hash h over n bytes (start with TL_FNV_OFFSET). */
static inline uint64_t tl_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= TL_FNV_PRIME;
    }
    return h;
}

/* Continues an FNV-1a 64 hash over a NUL-terminated string. */
static inline uint64_t tl_fnv1a_str(uint64_t h, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        h ^= *c;
        h *= TL_FNV_PRIME;
    }
    return h;
}

/* FNV-1a 64 of a string. */
static inline uint64_t tl_hash_str(const char *s)
{
    return tl_fnv1a_str(TL_FNV_OFFSET, s);
}

/* MurmurHash3's fmix64: every input bit reaches every output bit, so a
 * modulus or a mask sees well-mixed low bits (FNV alone leaves ids such as
 * "p1" and "p2" close together). */
static inline uint64_t tl_hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

#endif
