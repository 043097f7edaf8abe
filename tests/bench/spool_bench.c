/* Spool throughput: how many events a second the durable spool takes on this
 * disk, each append fdatasync'ed before it returns (agent/outbox/spool.h).
 *
 *   spool_bench DIR [N] [EVENT_BYTES]
 *
 * DIR should not exist yet (a fresh spool; the caller removes it). Appends N
 * events (default 2000) of about EVENT_BYTES (default 2500, the size of an
 * event with its evidence pack), then replays them the way the delivery does:
 * spool_next in batches of 100 and spool_ack after each (the cursor is
 * replaced atomically and synced). Prints one JSON line:
 * {"events":N,"bytes":B,"append_per_s":..,"append_p50_us":..,"append_p99_us":..,
 *  "append_max_us":..,"drain_per_s":..}
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/outbox/spool.h"

#define BATCH 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_size(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || !end || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* An event-shaped JSON object of about `size` bytes; the id varies per event. */
static size_t make_event(char *out, size_t cap, long size, long i)
{
    int n = snprintf(out, cap,
                     "{\"issue\":\"checkout.upstream.status_503\",\"severity\":\"error\",\"active\":true,"
                     "\"correlationId\":\"1b4e28ba-2fa1-41d2-883f-%012ld\",\"dateTime\":\"2026-11-22T00:31:56.123Z\","
                     "\"eventId\":\"6f1c3f0e-5d0b-4c61-9a43-%012ld\",\"incidentId\":\"0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21\","
                     "\"transition\":\"opened\",\"level\":\"critical\",\"probe\":\"checkout\",\"region\":\"eu-west\","
                     "\"evidence\":{\"response\":{\"body_snippet\":\"",
                     i, i);
    size_t len;

    if (n < 0 || (size_t)n >= cap)
        return 0;
    len = (size_t)n;
    /* pad the evidence snippet up to the wanted size */
    for (; (long)len + 5 < size && len + 5 < cap; len++)
        out[len] = (char)('a' + (len % 26));
    memcpy(out + len, "\"}}}", 5);
    return len + 4;
}

int main(int argc, char **argv)
{
    long n = 2000, size = 2500;
    const char *dir;
    const char *sinks[] = {"bench"};
    struct spool *sp = NULL;
    char err[256], *ev = NULL;
    double *lat = NULL, t0, t1, t2;
    uint64_t bytes = 0, drained = 0;
    int rc = 1;

    if (argc < 2 || (argc > 2 && parse_size(argv[2], 1, 10000000, &n) != 0) ||
        (argc > 3 && parse_size(argv[3], 64, 1000000, &size) != 0)) {
        fprintf(stderr, "usage: spool_bench DIR [N] [EVENT_BYTES]\n");
        return 2;
    }
    dir = argv[1];
    ev = malloc((size_t)size + 64);
    lat = calloc((size_t)n, sizeof(*lat));
    if (!ev || !lat)
        goto out;
    if (spool_open(dir, NULL, sinks, 1, &sp, err, sizeof(err)) != 0) {
        fprintf(stderr, "spool_bench: %s\n", err);
        goto out;
    }
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        size_t len = make_event(ev, (size_t)size + 64, size, i);
        double a = now_s();
        if (len == 0 || spool_append(sp, ev, len, NULL, NULL) != 0) {
            fprintf(stderr, "spool_bench: append %ld: %s\n", i, spool_error(sp));
            goto out;
        }
        lat[i] = now_s() - a;
        bytes += len;
    }
    t1 = now_s();
    for (;;) {
        struct spool_batch b = {0};
        if (spool_next(sp, "bench", BATCH, &b) != 0) {
            fprintf(stderr, "spool_bench: next: %s\n", spool_error(sp));
            goto out;
        }
        if (b.n == 0)
            break;
        drained += b.n;
        if (spool_ack(sp, "bench", b.recs[b.n - 1].seq) != 0) {
            spool_batch_free(&b);
            fprintf(stderr, "spool_bench: ack: %s\n", spool_error(sp));
            goto out;
        }
        spool_batch_free(&b);
    }
    t2 = now_s();
    if (drained != (uint64_t)n) {
        fprintf(stderr, "spool_bench: read back %" PRIu64 " of %ld events\n", drained, n);
        goto out;
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
    printf("{\"events\":%ld,\"event_bytes\":%ld,\"bytes\":%" PRIu64 ",\"append_per_s\":%.0f,"
           "\"append_p50_us\":%.0f,\"append_p99_us\":%.0f,\"append_max_us\":%.0f,\"drain_per_s\":%.0f}\n",
           n, size, bytes, (double)n / (t1 - t0), lat[n / 2] * 1e6, lat[(size_t)((double)n * 0.99)] * 1e6,
           lat[n - 1] * 1e6, (double)n / (t2 - t1));
    rc = 0;
out:
    spool_free(sp);
    free(ev);
    free(lat);
    return rc;
}
