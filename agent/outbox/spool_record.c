/* The spool's record format: a 16-byte header (u32 length, u32 CRC-32C,
 * u64 sequence number, little-endian) followed by the payload. */
#include "agent/outbox/spool_record.h"
#include "agent/outbox/spool.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* CRC-32C (Castagnoli, reflected 0x82F63B78), four bits at a time: a 16-entry
 * table is small enough to read and fast enough for a spool. */
static const uint32_t crc_nib[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
    0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

static uint32_t crc32c_update(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        crc = (crc >> 4) ^ crc_nib[crc & 0x0f];
        crc = (crc >> 4) ^ crc_nib[crc & 0x0f];
    }
    return crc;
}

uint32_t spool_crc32c(const void *p, size_t n)
{
    return ~crc32c_update(0xffffffffu, p, n);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* The CRC covers the length and the sequence number as well as the payload,
 * so a damaged header is caught like a damaged body. */
static uint32_t record_crc(const unsigned char *hdr, const void *payload, size_t len)
{
    uint32_t c = crc32c_update(0xffffffffu, hdr, 4);
    c = crc32c_update(c, hdr + 8, 8);
    c = crc32c_update(c, payload, len);
    return ~c;
}

uint32_t spool_rec_len(const unsigned char *hdr)
{
    return get32(hdr);
}

void spool_rec_seal(unsigned char *rec, uint64_t seq, size_t len)
{
    put32(rec, (uint32_t)len);
    put64(rec + 8, seq);
    put32(rec + 4, record_crc(rec, rec + SPOOL_REC_HDR, len));
}

int spool_rec_pread(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return TL_EIO;
        if (r == 0)
            return 1; /* short: end of file */
        done += (size_t)r;
    }
    return 0;
}

int spool_rec_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return TL_EIO;
        done += (size_t)r;
    }
    return 0;
}

int spool_rec_check(const unsigned char *p, size_t avail, uint64_t *seq, uint32_t *len)
{
    if (avail < SPOOL_REC_HDR)
        return 1;
    *len = get32(p);
    *seq = get64(p + 8);
    if ((uint64_t)*len > avail - SPOOL_REC_HDR)
        return 1;
    return record_crc(p, p + SPOOL_REC_HDR, *len) == get32(p + 4) ? 0 : 1;
}

int spool_rec_read(int fd, uint64_t off, uint64_t size, uint64_t *seq, uint32_t *len, char **payload)
{
    unsigned char hdr[SPOOL_REC_HDR];
    if (size - off < SPOOL_REC_HDR)
        return 1;
    int r = spool_rec_pread(fd, hdr, SPOOL_REC_HDR, off);
    if (r)
        return r < 0 ? TL_EIO : 1;
    *len = get32(hdr);
    *seq = get64(hdr + 8);
    if ((uint64_t)*len > size - off - SPOOL_REC_HDR)
        return 1;
    char *p = malloc((size_t)*len + 1);
    if (!p)
        return TL_ENOMEM;
    r = spool_rec_pread(fd, p, *len, off + SPOOL_REC_HDR);
    if (r) {
        free(p);
        return r < 0 ? TL_EIO : 1;
    }
    p[*len] = '\0';
    if (record_crc(hdr, p, *len) != get32(hdr + 4)) {
        free(p);
        return 1;
    }
    if (payload)
        *payload = p;
    else
        free(p);
    return 0;
}
