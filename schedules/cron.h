/* Cron expressions: five fields, evaluated in UTC.
 *
 *   minute hour day-of-month month day-of-week
 *
 * Each field takes `*`, `*\/n`, `a`, `a-b`, `a-b/n`, `a/n` (a to the field's
 * end, every n) and comma lists of those. Months take jan..dec and days of
 * the week sun..sat (any case); 0 and 7 are both Sunday. The macros @yearly
 * (@annually), @monthly, @weekly, @daily (@midnight) and @hourly stand for
 * their usual expansions.
 *
 * Day matching follows Vixie cron: when both day-of-month and day-of-week
 * are restricted (neither field starts with `*`), a day matches when EITHER
 * matches; otherwise both must match. "0 0 13 * fri" fires on every 13th and
 * on every Friday. */
#ifndef TRIPLINE_CRON_H
#define TRIPLINE_CRON_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schedules/schedule.h" /* struct cron */

/* Parses expr into c. On error returns TL_ESYNTAX and writes a message
 * that names the field and what was expected into err (may be NULL). An
 * expression that can never fire ("0 0 30 2 *") is an error too, whose
 * message starts with "never fires:". */
int cron_parse(struct cron *c, const char *expr, char *err, size_t errlen);
/* The first fire time strictly after after_us (microseconds since the Unix
 * epoch, UTC), in microseconds since the epoch; -1 when there is none before
 * the year 10000. */
int64_t cron_next(const struct cron *c, int64_t after_us);
/* True when c came from a successful cron_parse (a zeroed one is not). */
bool cron_valid(const struct cron *c);
/* True when a and b fire at the same times ("*\/15" equals "0,15,30,45"). */
bool cron_equal(const struct cron *a, const struct cron *b);

#endif
