/* Escalation events on their way out: each is appended to the spool (which
 * the sinks read) and the delivery is woken. An event the spool refuses
 * (disk full, EIO) is held in memory, bounded, and appended again at every
 * events_retry(), oldest first. Owns the event and spool-loss metrics. */
#ifndef TRIPLINE_EVENTS_H
#define TRIPLINE_EVENTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "agent/endpoint/metrics.h"
#include "agent/log/log.h"
#include "base/err.h"

struct delivery;
struct events;
struct spool;

struct events_opts {
    struct spool *spool;         /* NULL: the spool would not open; events are held */
    struct delivery *delivery;   /* woken after each append; may be NULL */
    struct logger *log;
    struct metrics *metrics;     /* registers its families here */
    size_t spool_max_bytes;      /* for the log line when the spool drops */
};

/* Events held in memory at most; past it the oldest go (counted as lost). */
#define EVENTS_HELD_MAX 10000
/* How often the agent repeats that the spool is unavailable. */
#define EVENTS_SPOOL_DOWN_LOG_S 60

int events_new(const struct events_opts *o, struct events **out);
/* Spools ev (taken), logs it and wakes the delivery. */
void events_spool(struct events *ev, cJSON *event);
/* Appends the held events again (the agent's one-second tick). */
void events_retry(struct events *ev);
/* The delivery is gone (shutdown): appends no longer wake it. */
void events_forget_delivery(struct events *ev);
size_t events_held(const struct events *ev);
/* Logs how many held events are lost. */
void events_free(struct events *ev);

#endif
