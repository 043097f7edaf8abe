#include "base/time.h"

#include <stdio.h>
#include <string.h>
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
    char line[96], frac[16] = "Z";
    out[0] = '\0';
    /* Fields by hand, not strftime: %Y drops the zero padding below year 1000. */
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return -1;
    if (millis)
        snprintf(frac, sizeof frac, ".%03dZ", (int)(rem / 1000));
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d%s", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    if (n < 0 || n >= TL_ISO8601_LEN)
        return -1;
    memcpy(out, line, (size_t)n + 1);
    return 0;
}

int tl_iso8601_now(bool millis, char out[TL_ISO8601_LEN])
{
    return tl_iso8601(tl_wall_us(), millis, out);
}
