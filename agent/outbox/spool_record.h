/* One spool record on disk and the whole-buffer file I/O the spool uses. */
#ifndef TRIPLINE_SPOOL_RECORD_H
#define TRIPLINE_SPOOL_RECORD_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stddef.h>
#include <stdint.h>

#define SPOOL_REC_HDR 16 /* u32 len, u32 crc32c, u64 seq; little-endian */

/* Length field of a header read from disk. */
uint32_t spool_rec_len(const unsigned char *hdr);

/* Fills the header of rec, whose payload of len bytes is already at
 * rec + SPOOL_REC_HDR. */
void spool_rec_seal(unsigned char *rec, uint64_t seq, size_t len);

/* Whole reads and writes, retried on EINTR. pread returns 1 at end of file,
 * both return TL_EIO on other errors (errno set). */
int spool_rec_pread(int fd, void *buf, size_t n, uint64_t off);
int spool_rec_pwrite(int fd, const void *buf, size_t n, uint64_t off);

/* Reads the record at off in a file of size bytes. Returns 0 with *seq, *len
 * (and *payload, malloc'ed and NUL-terminated, when payload is non-NULL), 1
 * when the bytes there are not a whole valid record, or a negative code. */
int spool_rec_read(int fd, uint64_t off, uint64_t size, uint64_t *seq, uint32_t *len, char **payload);

/* Whether a whole valid record starts at p, with avail bytes readable there:
 * 0 with *seq and *len, or 1. Recovery uses it to find where damage ends. */
int spool_rec_check(const unsigned char *p, size_t avail, uint64_t *seq, uint32_t *len);

#endif
