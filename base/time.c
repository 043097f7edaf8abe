#include "base/time.h"

#include <stdio.h>
#include <time.h>

tl_usec tl_mono_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (tl_usec)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t tl_wall_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int tl_iso8601(int64_t wall_us, bool millis, char out[TL_ISO8601_LEN])
{
    /* Floor division, so times before the epoch still print their own second. */
    int64_t sec = wall_us / 1000000, rem = wall_us % 1000000;
    if (rem < 0) {
        sec -= 1;
        rem += 1000000;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    char base[24];
    out[0] = '\0';
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
        return -1;
    if (strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return -1;
    if (millis)
        snprintf(out, TL_ISO8601_LEN, "%s.%03dZ", base, (int)(rem / 1000));
    else
        snprintf(out, TL_ISO8601_LEN, "%sZ", base);
    return 0;
}

int tl_iso8601_now(bool millis, char out[TL_ISO8601_LEN])
{
    return tl_iso8601(tl_wall_us(), millis, out);
}
