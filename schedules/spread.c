#include "schedules/spread.h"
#include "base/hash.h"

uint64_t spread_hash(const char *id)
{
    /* Mixed, so a modulus by the interval sees well-mixed low bits. */
    return tl_hash_mix(tl_hash_str(id));
}

tl_usec spread_offset(const char *id, tl_usec interval)
{
    if (!id || interval <= 0)
        return 0;
    return (tl_usec)(spread_hash(id) % (uint64_t)interval);
}
