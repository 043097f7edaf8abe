/* The durable on-disk spool between escalation and the sinks.
 *
 * Events are appended to segment files in one directory, each record framed
 * with its length, its sequence number and a CRC-32C, and fdatasync'ed before
 * spool_append returns. Each sink has a cursor (the last sequence number it
 * acknowledged) kept in the same directory and replaced atomically. A crash,
 * even in the middle of a write, loses nothing that was acknowledged to the
 * caller: a torn tail is cut off on open, damage in the middle loses only
 * the damaged records, and every sink replays from its cursor. Delivery is at least once. See docs/internals/spool.md.
 */
#ifndef TRIPLINE_SPOOL_H
#define TRIPLINE_SPOOL_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stddef.h>
#include <stdint.h>


struct spool_opts {
    uint64_t segment_bytes;  /* roll a segment past this; default 4 MiB */
    uint64_t max_bytes;      /* bound on all segments; default 256 MiB */
    uint32_t max_record;     /* largest payload; default 1 MiB */
};

struct spool_rec {
    uint64_t seq;            /* 1, 2, ... never reused */
    size_t len;
    char *data;              /* owned by the batch, NUL-terminated */
};

struct spool_batch {
    size_t n;
    struct spool_rec *recs;
};

struct spool;

/* Opens (creating if needed) the spool in dir for the named sinks. Sink names
 * are [A-Za-z0-9_.-]{1,64}; segments are kept until every one of these sinks
 * has acknowledged them. opts may be NULL. On failure *out is NULL and err
 * (if given) holds a message. */
int spool_open(const char *dir, const struct spool_opts *opts, const char *const *sinks, size_t n_sinks,
               struct spool **out, char *err, size_t errlen);
void spool_free(struct spool *sp);

/* Appends one record; when it returns 0 the record is on disk. *seq gets its
 * number (may be NULL). *dropped (may be NULL) gets how many unacknowledged
 * records the size bound threw away to make room (the caller logs them). */
int spool_append(struct spool *sp, const void *data, size_t len, uint64_t *seq, uint64_t *dropped);

/* The oldest records the sink has not acknowledged, at most max_n. The same
 * records come back until they are acked. An empty batch means caught up. */
int spool_next(struct spool *sp, const char *sink, size_t max_n, struct spool_batch *out);
void spool_batch_free(struct spool_batch *b);

/* The sink has delivered everything up to and including up_to_seq. */
int spool_ack(struct spool *sp, const char *sink, uint64_t up_to_seq);

/* For metrics. */
uint64_t spool_depth(const struct spool *sp);                     /* not yet acked by the slowest sink */
uint64_t spool_sink_depth(const struct spool *sp, const char *sink); /* not yet acked by this sink */
uint64_t spool_bytes(const struct spool *sp);                     /* all segment files */
uint64_t spool_dropped(const struct spool *sp);                   /* records dropped by the bound since open */
uint64_t spool_truncated(const struct spool *sp);                 /* bytes of torn tails cut on open */
/* Damage in the middle of a segment found on open: the damaged bytes go to
 * <segment>.corrupt and the valid records after them are kept. */
uint64_t spool_corrupt_bytes(const struct spool *sp);             /* bytes moved aside */
uint64_t spool_corrupt_records(const struct spool *sp);           /* records lost with them */
size_t spool_segments(const struct spool *sp);
const char *spool_error(const struct spool *sp);                  /* the last error message */

/* CRC-32C (Castagnoli) as the records use it; "123456789" -> 0xe3069283. */
uint32_t spool_crc32c(const void *p, size_t n);

#endif
