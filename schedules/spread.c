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

tl_usec spread_slot(double runs_per_s, tl_usec interval)
{
    tl_usec slot = SPREAD_SLOT_MAX;
    while (slot > SPREAD_SLOT_MIN &&
           (runs_per_s * (double)slot > SPREAD_SLOT_RUNS * 1e6 || interval < SPREAD_SLOT_SPAN * slot))
        slot /= 2;
    return interval >= SPREAD_SLOT_SPAN * slot ? slot : 0;
}

tl_usec spread_phase(const char *id, tl_usec interval, tl_usec slot)
{
    tl_usec off = spread_offset(id, interval);
    return slot > 0 ? off - off % slot : off;
}
