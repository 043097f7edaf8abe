/* libFuzzer harness for the cron parser: any bytes give 0 or TL_ESYNTAX
 * with a terminated message, and an accepted expression fires (its next
 * time exists and is later). Build and run: see README.md in this folder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"

#include "schedules/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *expr = malloc(size + 1);
    if (!expr)
        return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    struct cron c;
    char err[128];
    int rc = cron_parse(&c, expr, err, sizeof err);
    if (rc != 0 && (rc != TL_ESYNTAX || !err[0] || !memchr(err, '\0', sizeof err)))
        abort();
    if (rc == 0) {
        /* 2026-01-01T00:00:00Z: accepted means it fires, and strictly later. */
        int64_t t = 1767225600000000LL;
        int64_t n = cron_next(&c, t);
        if (!cron_valid(&c) || n <= t)
            abort();
    }
    free(expr);
    return 0;
}
