#include "schedules/shard.h"

#include <stdint.h>

#include "schedules/spread.h"

/* Reads one decimal part of at most six digits up to the stop byte. */
static int parse_part(const char **p, char stop, unsigned *out)
{
    unsigned v = 0;
    int digits = 0;
    const char *c = *p;
    while (*c >= '0' && *c <= '9' && digits < 7) {
        v = v * 10u + (unsigned)(*c - '0');
        digits++;
        c++;
    }
    if (digits == 0 || digits > 6 || *c != stop)
        return -1;
    *out = v;
    *p = c;
    return 0;
}

int shard_parse(const char *s, unsigned *i, unsigned *n)
{
    unsigned vi = 0, vn = 0;
    const char *p = s;
    int rc = -1;
    if (!s || parse_part(&p, '/', &vi))
        goto out;
    p++;
    if (parse_part(&p, '\0', &vn) || vn == 0 || vi >= vn)
        goto out;
    *i = vi;
    *n = vn;
    rc = 0;
out:
    return rc;
}

/* Jump consistent hash: walks the buckets the key would jump to as the count
 * grows and keeps the last one below n. The 64-bit LCG is the paper's. */
static unsigned jump_hash(uint64_t key, unsigned n)
{
    int64_t b = -1, j = 0;
    while (j < (int64_t)n) {
        b = j;
        key = key * 2862933555777941757ULL + 1;
        j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
    }
    return (unsigned)b;
}

unsigned shard_of(const char *probe_id, unsigned n)
{
    if (!probe_id || n <= 1)
        return 0;
    return jump_hash(spread_hash(probe_id), n);
}

bool shard_owns(const char *probe_id, unsigned i, unsigned n)
{
    return shard_of(probe_id, n) == i;
}
