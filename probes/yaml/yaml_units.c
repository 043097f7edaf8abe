/* Durations ("1m30s", "500ms") and sizes ("64MiB", "10MB") as written in
 * probe files and the agent config: plain text, no YAML, shared by the
 * typed reads (yu_get_dur, yu_get_size) and the loaders' own checks. */
#include "probes/yaml/yaml_util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int duration_parse(const char *s, tl_usec *out)
{
    static const struct { const char *unit; int64_t usec; } units[] = {
        {"us", 1}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000}, {"h", 3600000000LL},
    };
    if (!s || !*s)
        return -1;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v > (INT64_MAX - 9) / 10)
                return -1;
            v = v * 10 + (*p - '0');
            p++;
        }
        size_t best = sizeof(units) / sizeof(units[0]);
        size_t best_len = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t ul = strlen(units[i].unit);
            /* The longest unit wins, so "ms" is not read as "m" then "s". */
            if (ul > best_len && strncmp(p, units[i].unit, ul) == 0) {
                best = i;
                best_len = ul;
            }
        }
        if (best_len == 0)
            return -1;
        if (v > (INT64_MAX - total) / units[best].usec)
            return -1;
        total += v * units[best].usec;
        p += best_len;
    }
    *out = total;
    return 0;
}

void duration_format(tl_usec d, char *out, size_t len)
{
    static const struct { const char *unit; int64_t usec; } units[] = {
        {"h", 3600000000LL}, {"m", 60000000}, {"s", 1000000}, {"ms", 1000}, {"us", 1},
    };
    size_t used = 0;
    out[0] = '\0';
    if (d <= 0) {
        snprintf(out, len, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && used < len; i++) {
        int64_t n = d / units[i].usec;
        if (n == 0)
            continue;
        d -= n * units[i].usec;
        int w = snprintf(out + used, len - used, "%lld%s", (long long)n, units[i].unit);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

int size_parse(const char *s, size_t *out)
{
    static const struct { const char *unit; uint64_t mult; } units[] = {
        {"", 1}, {"B", 1}, {"kB", 1000}, {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000},
        {"KiB", 1024}, {"MiB", 1048576}, {"GiB", 1073741824},
    };
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    uint64_t v = 0;
    const char *p = s;
    while (isdigit((unsigned char)*p)) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (v > SIZE_MAX / units[i].mult)
                return -1;
            *out = (size_t)(v * units[i].mult);
            return 0;
        }
    }
    return -1;
}
