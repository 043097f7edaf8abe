/* When a probe runs, in the form the scheduler uses: cron expressions are
 * compiled once at load (cron_parse) and never parsed again on the run path.
 * Only base/ is included here, so probes/ can embed these types and
 * schedules/ never needs probes/. */
#ifndef TRIPLINE_SCHEDULE_H
#define TRIPLINE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/time.h"

/* A compiled cron expression (schedules/cron.h parses and evaluates it). */
struct cron {
    uint64_t minute; /* bits 0..59 */
    uint32_t hour;   /* bits 0..23 */
    uint32_t dom;    /* bits 1..31 */
    uint16_t month;  /* bits 1..12 */
    uint8_t dow;     /* bits 0..6, Sunday = 0 */
    bool dom_star;   /* the field started with '*' */
    bool dow_star;
};

struct schedule {
    tl_usec every;              /* 0 when cron is used */
    char *cron;                 /* the text as written (shown); NULL when every is used */
    struct cron compiled;       /* cron_parse(cron), valid when cron is set */
    tl_usec timeout;            /* whole-run deadline; default min(10s, every) */
    tl_usec jitter;             /* 0 = none */
};

#endif
