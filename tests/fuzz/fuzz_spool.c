/* Spool recovery from a damaged segment file and cursor file. The input is
 *   [cursor length][flags][split lo][split hi] cursor bytes, segment bytes
 * flags: bits 0-2 the first segment's number - 1; bit 3 splits the segment
 * bytes at (split % length) into a second segment numbered first + 1 + bits
 * 4-6; bit 7 adds a second sink without a cursor. The files go into one
 * scratch folder per process (removed at exit), emptied before every input. Opening never
 * fails on damage, every record read back is whole and in order, damaged
 * bytes are in <segment>.corrupt as counted, a record appended after
 * recovery reads back, a second open finds nothing left to repair, and no
 * fd is left open. */
#include "tests/fuzz/fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "agent/outbox/spool.h"

static char dir[64];
static int dirfd_ = -1;

static void cleanup(void)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e = readdir(d); e; e = readdir(d))
            if (e->d_name[0] != '.')
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

/* Empties the folder; returns the total size of the *.corrupt files first. */
static uint64_t sweep(bool remove)
{
    uint64_t corrupt = 0;
    int fd = fcntl(dirfd_, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d)
        abort();
    rewinddir(d);
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        size_t l = strlen(e->d_name);
        struct stat st;
        if (l > 8 && strcmp(e->d_name + l - 8, ".corrupt") == 0 && fstatat(dirfd_, e->d_name, &st, 0) == 0)
            corrupt += (uint64_t)st.st_size;
        if (remove)
            unlinkat(dirfd_, e->d_name, 0);
    }
    closedir(d);
    return corrupt;
}

static void put(const char *name, const uint8_t *p, size_t n)
{
    int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n))
        abort();
    close(fd);
}

static void put_seg(uint64_t first, const uint8_t *p, size_t n)
{
    char name[32];
    snprintf(name, sizeof(name), "%020" PRIu64 ".seg", first);
    put(name, p, n);
}

static struct spool *open_spool(size_t n_sinks)
{
    static const char *const sinks[] = {"out", "b"};
    struct spool *sp = NULL;
    char err[300];
    if (spool_open(dir, NULL, sinks, n_sinks, &sp, err, sizeof(err)) != 0) {
        fprintf(stderr, "spool_open refused damaged files: %s\n", err);
        abort(); /* damage loses records, never the spool */
    }
    return sp;
}

/* Reads and acks everything for "out"; the highest number read. */
static uint64_t drain(struct spool *sp, uint64_t cursor, size_t *count)
{
    uint64_t last = cursor;
    *count = 0;
    for (;;) {
        struct spool_batch b;
        if (spool_next(sp, "out", 16, &b) != 0) {
            fprintf(stderr, "spool_next: %s\n", spool_error(sp));
            abort(); /* validated on open: reading cannot fail */
        }
        if (b.n == 0) {
            spool_batch_free(&b);
            break;
        }
        for (size_t i = 0; i < b.n; i++) {
            const struct spool_rec *r = &b.recs[i];
            if (r->seq <= last || !r->data || r->data[r->len] != '\0')
                abort();
            last = r->seq;
        }
        *count += b.n;
        spool_batch_free(&b);
        if (spool_ack(sp, "out", last) != 0) {
            fprintf(stderr, "spool_ack %" PRIu64 ": %s\n", last, spool_error(sp));
            abort();
        }
    }
    return last;
}

static uint64_t parse_cursor(const uint8_t *p, size_t n)
{
    char buf[32];
    size_t k = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
    memcpy(buf, p, k);
    buf[k] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    return !errno && end != buf && *end == '\n' && v < INT64_MAX - 1 ? v : 0; /* as the spool reads it */
}

static void run(const uint8_t *data, size_t size)
{
    size_t clen = data[0] < size - 4 ? data[0] : size - 4;
    uint8_t flags = data[1];
    const uint8_t *cur = data + 4, *seg = cur + clen;
    size_t slen = size - 4 - clen, split = slen ? (size_t)(data[2] | data[3] << 8) % slen : 0;
    uint64_t first = 1 + (flags & 7);
    size_t n_sinks = flags & 0x80 ? 2 : 1;
    if (clen)
        put("out.cursor", cur, clen);
    if (flags & 8) {
        put_seg(first, seg, split);
        put_seg(first + 1 + ((flags >> 4) & 7), seg + split, slen - split);
    } else {
        put_seg(first, seg, slen);
    }
    struct spool *sp = open_spool(n_sinks);
    if (spool_corrupt_bytes(sp) != sweep(false) || spool_bytes(sp) + spool_corrupt_bytes(sp) + spool_truncated(sp) > slen)
        abort(); /* recovery moves bytes aside, never makes any up */
    size_t n;
    uint64_t last = drain(sp, clen ? parse_cursor(cur, clen) : 0, &n);
    uint64_t seq = 0;
    if (spool_append(sp, "{\"after\":1}", 11, &seq, NULL) != 0 || seq <= last)
        abort();
    if (drain(sp, last, &n) != seq || n != 1)
        abort(); /* the appended record, and only it */
    spool_free(sp);
    sp = open_spool(n_sinks);
    if (spool_corrupt_bytes(sp) || spool_truncated(sp) || drain(sp, seq, &n) != seq || n)
        abort(); /* recovery left nothing to repair and nothing unread */
    spool_free(sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    if (dirfd_ < 0) {
        /* tmpfs when there is one: the spool fsyncs every write */
        snprintf(dir, sizeof(dir), "%s/fuzz-spool-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd_ < 0)
            abort();
        atexit(cleanup);
    }
    int lowest = fcntl(0, F_DUPFD, 0);
    close(lowest);
    run(data, size);
    sweep(true);
    int after = fcntl(0, F_DUPFD, 0);
    close(after);
    if (after != lowest)
        abort(); /* an fd left open */
    return 0;
}
