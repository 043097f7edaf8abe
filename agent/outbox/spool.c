#include "agent/outbox/spool.h"
#include "agent/outbox/spool_record.h"
#include "base/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_DEFAULT_SEGMENT (4u * 1024 * 1024)
#define SPOOL_DEFAULT_MAX (256u * 1024 * 1024)
#define SPOOL_MIN_SEGMENT (4u * 1024)
#define SPOOL_DEFAULT_RECORD (1u * 1024 * 1024)
#define SPOOL_SINK_MAX 64
#define SEG_NAME_LEN 24 /* 20 digits + ".seg" */
/* A segment named past this or a cursor at it is damage, not ours: the next
 * number never wraps and always makes a segment name that reads back. */
#define SPOOL_SEQ_MAX ((uint64_t)INT64_MAX)

/* One segment file, named after the sequence number of its first record;
 * its records are numbered first, first + 1, ... without gaps. */
struct seg {
    uint64_t first;
    uint64_t n;
    uint64_t size;
};

struct sink {
    char name[SPOOL_SINK_MAX + 1];
    uint64_t cursor;      /* last acked seq, 0 = none */
    bool fresh;           /* no cursor file: a sink new to this spool */
    /* Where the record after the last batch starts, to avoid a rescan. */
    uint64_t hint_seq;    /* 0 = no hint */
    uint64_t hint_seg;
    uint64_t hint_off;
};

struct spool {
    int dirfd;
    int lockfd;
    int active_fd;        /* the last segment, open for appending */
    struct spool_opts opts;
    struct seg *segs;
    size_t n_segs, cap_segs;
    struct sink *sinks;
    size_t n_sinks;
    uint64_t next_seq;
    uint64_t bytes;
    uint64_t dropped;
    uint64_t truncated;
    uint64_t corrupt_bytes;    /* damaged bytes moved aside on open */
    uint64_t corrupt_records;  /* records lost with them */
    char err[256];
};

__attribute__((format(printf, 3, 4)))
static int fail(struct spool *sp, int rc, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sp->err, sizeof sp->err, fmt, ap);
    va_end(ap);
    if (rc == TL_EIO && n >= 0 && (size_t)n < sizeof sp->err)
        snprintf(sp->err + n, sizeof sp->err - (size_t)n, ": %s", strerror(saved));
    return rc;
}

static void seg_name(char *buf, size_t cap, uint64_t first)
{
    snprintf(buf, cap, "%020" PRIu64 ".seg", first);
}

static bool parse_seg_name(const char *name, uint64_t *first)
{
    if (strlen(name) != SEG_NAME_LEN || strcmp(name + 20, ".seg") != 0)
        return false;
    for (int i = 0; i < 20; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(name, &end, 10);
    if (errno || end != name + 20 || v == 0 || v >= SPOOL_SEQ_MAX)
        return false;
    *first = v;
    return true;
}

static bool valid_sink_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SPOOL_SINK_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

static int open_seg(struct spool *sp, const struct seg *s, int flags)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, sizeof name, s->first);
    return openat(sp->dirfd, name, flags | O_CLOEXEC, 0600);
}

static int seg_cmp(const void *a, const void *b);
static int push_seg(struct spool *sp, uint64_t first);
static int sync_dir(struct spool *sp);
static struct sink *find_sink(struct spool *sp, const char *name);

/* The first whole valid record in buf (n bytes after a damaged one) whose
 * number is in [lo, hi): its offset, or n when there is none. */
static size_t find_resync(const unsigned char *buf, size_t n, uint64_t lo, uint64_t hi, uint64_t *seq)
{
    for (size_t p = 0; p + SPOOL_REC_HDR <= n; p++) {
        uint32_t len;
        if (spool_rec_check(buf + p, n - p, seq, &len) == 0 && *seq >= lo && *seq < hi)
            return p;
    }
    return n;
}

/* Writes n bytes to a file of the spool directory and syncs it. */
static int write_file(struct spool *sp, const char *name, int flags, const void *p, size_t n)
{
    int fd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
    if (fd < 0)
        return fail(sp, TL_EIO, "create %s", name);
    int rc = 0;
    if (tl_write_all(fd, p, n) != 0 || fsync(fd) != 0)
        rc = fail(sp, TL_EIO, "write %s", name);
    close(fd);
    return rc;
}

/* Damage at off of segment i: the records after it that still check out move
 * to a segment of their own, the damaged bytes to <segment>.corrupt, and the
 * segment is cut at off. With nothing valid after it in the last segment,
 * this is a torn tail (a crash in an append): cut and counted as truncated.
 * Damage before a record numbered as the segment itself: the segment is
 * replaced by what follows the damage and 1 asks for a rescan. */
static int cut_seg(struct spool *sp, size_t i, int fd, uint64_t off, uint64_t size)
{
    int rc = 0;
    size_t n = (size_t)(size - off), p = n;
    uint64_t lo = sp->segs[i].first + sp->segs[i].n, q = 0;
    uint64_t hi = i + 1 < sp->n_segs ? sp->segs[i + 1].first : SPOOL_SEQ_MAX;
    unsigned char *buf = malloc(n);
    if (!buf)
        return fail(sp, TL_ENOMEM, "out of memory");
    if (spool_rec_pread(fd, buf, n, off) != 0) {
        rc = fail(sp, TL_EIO, "read segment %020" PRIu64, sp->segs[i].first);
        goto out;
    }
    p = find_resync(buf, n, lo, hi, &q);
    /* Only the active segment takes appends, so only it can end torn. */
    bool torn = p == n && i + 1 == sp->n_segs;
    if (torn)
        sp->truncated += n;
    else {
        char name[SEG_NAME_LEN + 16], tmp[SEG_NAME_LEN + 16 + sizeof ".tmp"];
        bool same = p < n && q == sp->segs[i].first;
        /* O_TRUNC: a crash before the cut below makes the next open redo this */
        seg_name(name, sizeof name, q);
        snprintf(tmp, sizeof tmp, "%s%s", name, same ? ".tmp" : "");
        if (p < n)
            rc = write_file(sp, tmp, O_TRUNC, buf + p, n - p);
        seg_name(name, sizeof name, sp->segs[i].first);
        memcpy(name + SEG_NAME_LEN, ".corrupt", sizeof ".corrupt");
        if (rc == 0 && p > 0)
            rc = write_file(sp, name, O_APPEND, buf, p);
        name[SEG_NAME_LEN] = '\0';
        if (rc == 0 && same && renameat(sp->dirfd, tmp, sp->dirfd, name) != 0)
            rc = fail(sp, TL_EIO, "rename %s", tmp);
        if (rc == 0 && p < n && !same)
            rc = push_seg(sp, q);
        if (rc)
            goto out;
        sp->corrupt_bytes += p;
        sp->corrupt_records += (p < n ? q : hi) - lo;
        qsort(sp->segs, sp->n_segs, sizeof *sp->segs, seg_cmp);
    }
    if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0)
        rc = fail(sp, TL_EIO, "truncate segment %020" PRIu64, sp->segs[i].first);
    else if (!torn)
        rc = sync_dir(sp);
    if (rc == 0 && p < n && q == sp->segs[i].first)
        rc = 1; /* the file under this name is the rewritten one */
out:
    free(buf);
    return rc;
}

/* Validates segment i record by record; where a record is torn, damaged or
 * out of sequence, cut_seg keeps what it can of the rest (1: scan again). */
static int scan_once(struct spool *sp, size_t i)
{
    int rc = 0;
    struct seg *s = &sp->segs[i];
    int fd = open_seg(sp, s, O_RDWR);
    if (fd < 0)
        return fail(sp, TL_EIO, "open segment %020" PRIu64, s->first);
    struct stat stt;
    if (fstat(fd, &stt) != 0) {
        rc = fail(sp, TL_EIO, "stat segment %020" PRIu64, s->first);
        goto out;
    }
    uint64_t size = (uint64_t)stt.st_size;
    uint64_t off = 0;
    /* A record numbered at or past the next segment's first overlaps it: damage
     * (only a file changed behind our back can hold one), or the spool's end
     * would be read from the next segment while records past it are served. */
    uint64_t hi = i + 1 < sp->n_segs ? sp->segs[i + 1].first : SPOOL_SEQ_MAX;
    s->n = 0;
    for (;;) {
        uint64_t seq;
        uint32_t len;
        int r = spool_rec_read(fd, off, size, &seq, &len, NULL);
        if (r < 0) {
            rc = r == TL_EIO ? fail(sp, r, "read segment %020" PRIu64, s->first) : r;
            goto out;
        }
        if (r == 1 || seq != s->first + s->n || seq >= hi)
            break;
        off += SPOOL_REC_HDR + (uint64_t)len;
        s->n++;
    }
    s->size = off;
    if (off < size)
        rc = cut_seg(sp, i, fd, off, size); /* may move sp->segs */
out:
    close(fd);
    return rc;
}

static int scan_seg(struct spool *sp, size_t i)
{
    int rc;
    while ((rc = scan_once(sp, i)) == 1)
        ;
    return rc;
}

static int seg_cmp(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int push_seg(struct spool *sp, uint64_t first)
{
    if (sp->n_segs == sp->cap_segs) {
        size_t cap = sp->cap_segs ? sp->cap_segs * 2 : 8;
        struct seg *p = realloc(sp->segs, cap * sizeof *p);
        if (!p)
            return TL_ENOMEM;
        sp->segs = p;
        sp->cap_segs = cap;
    }
    sp->segs[sp->n_segs++] = (struct seg){ .first = first };
    return 0;
}

static int list_segs(struct spool *sp)
{
    int rc = 0;
    int fd = fcntl(sp->dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return fail(sp, TL_EIO, "dup");
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return fail(sp, TL_EIO, "opendir");
    }
    rewinddir(d);
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                rc = fail(sp, TL_EIO, "readdir");
            break;
        }
        uint64_t first;
        if (!parse_seg_name(e->d_name, &first))
            continue;
        rc = push_seg(sp, first);
        if (rc)
            break;
    }
    closedir(d);
    if (rc == 0 && sp->n_segs > 1)
        qsort(sp->segs, sp->n_segs, sizeof *sp->segs, seg_cmp);
    return rc;
}

static int load_cursor(struct spool *sp, struct sink *k)
{
    char name[SPOOL_SINK_MAX + 16];
    snprintf(name, sizeof name, "%s.cursor", k->name);
    int fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        k->cursor = 0;
        k->fresh = true; /* placed at the end by recover() */
        return 0;
    }
    if (fd < 0)
        return fail(sp, TL_EIO, "open %s", name);
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return fail(sp, TL_EIO, "read %s", name);
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    /* Empty or garbage (a crash, a full disk): from the oldest record kept.
     * Duplicates, which receivers dedup by eventId, beat an agent that
     * cannot start. */
    if (errno || end == buf || *end != '\n' || v >= SPOOL_SEQ_MAX - 1)
        v = 0; /* the next record, cursor + 1, must stay a valid number (< SPOOL_SEQ_MAX) */
    k->cursor = v;
    return 0;
}

/* Deletes the cursor files of sinks no longer configured: a sink taken out
 * of the config and put back later is new again, and starts at the end
 * rather than being sent everything since it was taken out. Best effort: a
 * file that stays only means that sink resumes where it was. */
static void forget_removed(struct spool *sp)
{
    int fd = fcntl(sp->dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(d);
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        size_t n = strlen(e->d_name);
        if (n <= sizeof ".cursor" - 1 || n - (sizeof ".cursor" - 1) > SPOOL_SINK_MAX ||
            strcmp(e->d_name + n - (sizeof ".cursor" - 1), ".cursor") != 0)
            continue;
        char name[SPOOL_SINK_MAX + 1];
        memcpy(name, e->d_name, n - (sizeof ".cursor" - 1));
        name[n - (sizeof ".cursor" - 1)] = '\0';
        if (valid_sink_name(name) && !find_sink(sp, name))
            (void)unlinkat(sp->dirfd, e->d_name, 0);
    }
    closedir(d);
}

static int sync_dir(struct spool *sp)
{
    if (fsync(sp->dirfd) != 0)
        return fail(sp, TL_EIO, "fsync directory");
    return 0;
}

/* Replaces the cursor file atomically: a crash leaves the old or the new. */
static int store_cursor(struct spool *sp, struct sink *k, uint64_t seq)
{
    int rc = 0;
    char tmp[SPOOL_SINK_MAX + 16], name[SPOOL_SINK_MAX + 16], buf[32];
    snprintf(tmp, sizeof tmp, "%s.cursor.tmp", k->name);
    snprintf(name, sizeof name, "%s.cursor", k->name);
    int n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", seq);
    int fd = openat(sp->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(sp, TL_EIO, "create %s", tmp);
    if (spool_rec_pwrite(fd, buf, (size_t)n, 0) != 0 || fsync(fd) != 0) {
        rc = fail(sp, TL_EIO, "write %s", tmp);
        close(fd);
        goto out;
    }
    close(fd);
    if (renameat(sp->dirfd, tmp, sp->dirfd, name) != 0) {
        rc = fail(sp, TL_EIO, "rename %s", tmp);
        goto out;
    }
    rc = sync_dir(sp);
out:
    return rc;
}

static uint64_t min_cursor(const struct spool *sp)
{
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < sp->n_sinks; i++)
        if (sp->sinks[i].cursor < m)
            m = sp->sinks[i].cursor;
    return m;
}

/* Records of s with seq > cursor. */
static uint64_t seg_after(const struct seg *s, uint64_t cursor)
{
    if (s->n == 0 || s->first + s->n - 1 <= cursor)
        return 0;
    if (s->first > cursor)
        return s->n;
    return s->first + s->n - 1 - cursor;
}

/* Removes the oldest segment, which is never the active one. */
static int remove_oldest(struct spool *sp)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, sizeof name, sp->segs[0].first);
    if (unlinkat(sp->dirfd, name, 0) != 0 && errno != ENOENT)
        return fail(sp, TL_EIO, "unlink %s", name);
    sp->bytes -= sp->segs[0].size;
    memmove(sp->segs, sp->segs + 1, (sp->n_segs - 1) * sizeof *sp->segs);
    sp->n_segs--;
    return 0;
}

/* Deletes segments every sink has passed (the active one stays). */
static int collect(struct spool *sp)
{
    int rc = 0;
    uint64_t m = min_cursor(sp);
    bool removed = false;
    while (sp->n_segs > 1 && seg_after(&sp->segs[0], m) == 0) {
        rc = remove_oldest(sp);
        if (rc)
            return rc;
        removed = true;
    }
    if (removed)
        rc = sync_dir(sp);
    return rc;
}

/* Starts a new, empty active segment named after the next sequence number. */
static int roll(struct spool *sp)
{
    if (sp->active_fd >= 0)
        close(sp->active_fd);
    sp->active_fd = -1;
    int rc = push_seg(sp, sp->next_seq);
    if (rc)
        return rc;
    struct seg *s = &sp->segs[sp->n_segs - 1];
    sp->active_fd = open_seg(sp, s, O_RDWR | O_CREAT | O_TRUNC);
    if (sp->active_fd < 0) {
        sp->n_segs--;
        return fail(sp, TL_EIO, "create segment %020" PRIu64, s->first);
    }
    /* The new name must be durable before records in it are acknowledged. */
    return sync_dir(sp);
}

static struct sink *find_sink(struct spool *sp, const char *name)
{
    for (size_t i = 0; i < sp->n_sinks; i++)
        if (strcmp(sp->sinks[i].name, name) == 0)
            return &sp->sinks[i];
    return NULL;
}

static int open_dir(struct spool *sp, const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fail(sp, TL_EIO, "mkdir %s", dir);
    sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dirfd < 0)
        return fail(sp, TL_EIO, "open %s", dir);
    sp->lockfd = openat(sp->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (sp->lockfd < 0)
        return fail(sp, TL_EIO, "open %s/lock", dir);
    if (flock(sp->lockfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return fail(sp, TL_EBUSY, "%s is in use by another process", dir);
        return fail(sp, TL_EIO, "lock %s", dir);
    }
    return 0;
}

/* Loads segments and cursors, cuts torn tails, and picks the active segment. */
static int recover(struct spool *sp)
{
    int rc = list_segs(sp);
    if (rc)
        return rc;
    for (size_t i = 0; i < sp->n_segs; i++) {
        rc = scan_seg(sp, i);
        if (rc)
            return rc;
        sp->bytes += sp->segs[i].size;
    }
    sp->next_seq = 1;
    if (sp->n_segs > 0) {
        const struct seg *last = &sp->segs[sp->n_segs - 1];
        sp->next_seq = last->first + last->n;
    }
    for (size_t i = 0; i < sp->n_sinks; i++)
        if (!sp->sinks[i].fresh && sp->sinks[i].cursor >= sp->next_seq)
            sp->next_seq = sp->sinks[i].cursor + 1;
    /* A sink new to this spool starts at its end: the history is the other
     * sinks' (a new Alertmanager is not paged with last week's incidents).
     * The agent tells it the current state (a renotified event per open
     * incident) right after. Its cursor file is written now, so a restart
     * before its first ack does not take it for new again and skip what
     * it has not been sent. */
    for (size_t i = 0; i < sp->n_sinks; i++) {
        struct sink *k = &sp->sinks[i];
        if (!k->fresh)
            continue;
        rc = store_cursor(sp, k, sp->next_seq - 1);
        if (rc)
            return rc;
        k->cursor = sp->next_seq - 1;
        k->fresh = false;
    }
    rc = collect(sp);
    if (rc)
        return rc;
    const struct seg *last = sp->n_segs ? &sp->segs[sp->n_segs - 1] : NULL;
    /* Numbers must stay contiguous inside a segment, so a cursor ahead of the
     * files (segments lost outside our control) starts a fresh one. */
    if (!last || last->first + last->n != sp->next_seq)
        return roll(sp);
    sp->active_fd = open_seg(sp, last, O_RDWR);
    if (sp->active_fd < 0)
        return fail(sp, TL_EIO, "open segment %020" PRIu64, last->first);
    return 0;
}

int spool_open(const char *dir, const struct spool_opts *opts, const char *const *sinks, size_t n_sinks,
               struct spool **out, char *err, size_t errlen)
{
    int rc = 0;
    struct spool *sp = calloc(1, sizeof *sp);
    if (!sp) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        *out = NULL;
        return TL_ENOMEM;
    }
    sp->dirfd = sp->lockfd = sp->active_fd = -1;
    if (opts)
        sp->opts = *opts;
    if (sp->opts.max_bytes == 0)
        sp->opts.max_bytes = SPOOL_DEFAULT_MAX;
    /* The bound drops whole segments: at most a sixteenth of it goes at
     * once, not every undelivered event when the bound is under 4 MiB. */
    if (sp->opts.segment_bytes == 0) {
        uint64_t seg = sp->opts.max_bytes / 16;
        sp->opts.segment_bytes = seg < SPOOL_MIN_SEGMENT       ? SPOOL_MIN_SEGMENT
                                 : seg > SPOOL_DEFAULT_SEGMENT ? SPOOL_DEFAULT_SEGMENT
                                                               : seg;
    }
    if (sp->opts.max_record == 0)
        sp->opts.max_record = SPOOL_DEFAULT_RECORD;
    if (n_sinks == 0) {
        rc = fail(sp, TL_EINVAL, "a spool needs at least one sink");
        goto out;
    }
    sp->sinks = calloc(n_sinks, sizeof *sp->sinks);
    if (!sp->sinks) {
        rc = fail(sp, TL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_sinks; i++) {
        if (!valid_sink_name(sinks[i])) {
            rc = fail(sp, TL_EINVAL, "bad sink name \"%.80s\"", sinks[i]);
            goto out;
        }
        memcpy(sp->sinks[i].name, sinks[i], strlen(sinks[i]) + 1);
        sp->n_sinks = i + 1;
    }
    rc = open_dir(sp, dir);
    if (rc)
        goto out;
    forget_removed(sp);
    for (size_t i = 0; i < sp->n_sinks; i++) {
        rc = load_cursor(sp, &sp->sinks[i]);
        if (rc)
            goto out;
    }
    rc = recover(sp);
out:
    if (rc) {
        if (err && errlen)
            snprintf(err, errlen, "spool: %s", sp->err[0] ? sp->err : "out of memory");
        spool_free(sp);
        sp = NULL;
    }
    *out = sp;
    return rc;
}

void spool_free(struct spool *sp)
{
    if (!sp)
        return;
    if (sp->active_fd >= 0)
        close(sp->active_fd);
    if (sp->lockfd >= 0)
        close(sp->lockfd); /* releases the flock */
    if (sp->dirfd >= 0)
        close(sp->dirfd);
    free(sp->segs);
    free(sp->sinks);
    free(sp);
}

/* Makes room for need more bytes by dropping the oldest segments. */
static int enforce_bound(struct spool *sp, uint64_t need, uint64_t *dropped)
{
    int rc = 0;
    uint64_t m = min_cursor(sp);
    bool removed = false;
    while (sp->bytes + need > sp->opts.max_bytes) {
        if (sp->n_segs == 1) {
            /* Only the active segment is left: close it so it can go. */
            rc = roll(sp);
            if (rc)
                return rc;
        }
        uint64_t lost = seg_after(&sp->segs[0], m);
        rc = remove_oldest(sp);
        if (rc)
            return rc;
        removed = true;
        *dropped += lost;
        sp->dropped += lost;
    }
    if (removed)
        rc = sync_dir(sp);
    return rc;
}

int spool_append(struct spool *sp, const void *data, size_t len, uint64_t *seq, uint64_t *dropped)
{
    int rc = 0;
    unsigned char *rec = NULL;
    uint64_t lost = 0;
    uint64_t need = SPOOL_REC_HDR + (uint64_t)len;
    if (len > sp->opts.max_record || need > sp->opts.max_bytes) {
        rc = fail(sp, TL_ETOOBIG, "record of %zu bytes is too big", len);
        goto out;
    }
    struct seg *act = &sp->segs[sp->n_segs - 1];
    if (act->size > 0 && act->size + need > sp->opts.segment_bytes) {
        rc = roll(sp);
        if (rc)
            goto out;
    }
    rc = enforce_bound(sp, need, &lost);
    if (rc)
        goto out;
    act = &sp->segs[sp->n_segs - 1];
    rec = malloc((size_t)need);
    if (!rec) {
        rc = fail(sp, TL_ENOMEM, "out of memory");
        goto out;
    }
    if (len)
        memcpy(rec + SPOOL_REC_HDR, data, len);
    spool_rec_seal(rec, sp->next_seq, len);
    if (spool_rec_pwrite(sp->active_fd, rec, (size_t)need, act->size) != 0 || fdatasync(sp->active_fd) != 0) {
        rc = fail(sp, TL_EIO, "append to segment %020" PRIu64, act->first);
        /* Leave no half record for the next append to land behind. */
        if (ftruncate(sp->active_fd, (off_t)act->size) != 0)
            rc = fail(sp, TL_EIO, "truncate segment %020" PRIu64 " after a failed append", act->first);
        goto out;
    }
    act->size += need;
    act->n++;
    sp->bytes += need;
    if (seq)
        *seq = sp->next_seq;
    sp->next_seq++;
out:
    free(rec);
    if (dropped)
        *dropped = lost;
    return rc;
}

static const struct seg *seg_by_first(const struct spool *sp, uint64_t first)
{
    for (size_t i = 0; i < sp->n_segs; i++)
        if (sp->segs[i].first == first)
            return &sp->segs[i];
    return NULL;
}

void spool_batch_free(struct spool_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->recs[i].data);
    free(b->recs);
    b->recs = NULL;
    b->n = 0;
}

/* Finds the segment index and offset of the first record with seq >= want. */
static int locate(struct spool *sp, const struct sink *k, uint64_t want, size_t *si, uint64_t *off)
{
    if (k->hint_seq == want) {
        const struct seg *h = seg_by_first(sp, k->hint_seg);
        if (h) {
            *si = (size_t)(h - sp->segs);
            *off = k->hint_off;
            return 0;
        }
    }
    size_t i = 0;
    while (i < sp->n_segs && seg_after(&sp->segs[i], want - 1) == 0)
        i++;
    *si = i;
    *off = 0;
    if (i == sp->n_segs || sp->segs[i].first >= want)
        return 0;
    /* The wanted record is inside this segment: skip headers up to it. */
    int rc = 0;
    const struct seg *s = &sp->segs[i];
    int fd = open_seg(sp, s, O_RDONLY);
    if (fd < 0)
        return fail(sp, TL_EIO, "open segment %020" PRIu64, s->first);
    for (uint64_t seq = s->first; seq < want; seq++) {
        unsigned char hdr[SPOOL_REC_HDR];
        if (spool_rec_pread(fd, hdr, SPOOL_REC_HDR, *off) != 0) {
            rc = fail(sp, TL_EIO, "read segment %020" PRIu64, s->first);
            break;
        }
        *off += SPOOL_REC_HDR + (uint64_t)spool_rec_len(hdr);
    }
    close(fd);
    return rc;
}

int spool_next(struct spool *sp, const char *sink, size_t max_n, struct spool_batch *out)
{
    int rc = 0;
    int fd = -1;
    out->n = 0;
    out->recs = NULL;
    struct sink *k = find_sink(sp, sink);
    if (!k)
        return fail(sp, TL_EINVAL, "unknown sink \"%.80s\"", sink);
    uint64_t want = k->cursor + 1;
    size_t si;
    uint64_t off;
    rc = locate(sp, k, want, &si, &off);
    if (rc || max_n == 0 || si == sp->n_segs)
        return rc;
    size_t cap = max_n < 256 ? max_n : 256;
    out->recs = calloc(cap, sizeof *out->recs);
    if (!out->recs)
        return fail(sp, TL_ENOMEM, "out of memory");
    while (out->n < max_n && si < sp->n_segs) {
        const struct seg *s = &sp->segs[si];
        if (off >= s->size) {
            if (si + 1 == sp->n_segs)
                break;
            si++;
            off = 0;
            if (fd >= 0 && fd != sp->active_fd)
                close(fd);
            fd = -1;
            continue;
        }
        if (fd < 0)
            fd = si + 1 == sp->n_segs ? sp->active_fd : open_seg(sp, s, O_RDONLY);
        if (fd < 0) {
            rc = fail(sp, TL_EIO, "open segment %020" PRIu64, s->first);
            break;
        }
        if (out->n == cap) {
            size_t ncap = cap * 2 < max_n ? cap * 2 : max_n;
            struct spool_rec *p = realloc(out->recs, ncap * sizeof *p);
            if (!p) {
                rc = fail(sp, TL_ENOMEM, "out of memory");
                break;
            }
            out->recs = p;
            cap = ncap;
        }
        uint64_t seq;
        uint32_t len;
        char *data = NULL;
        int r = spool_rec_read(fd, off, s->size, &seq, &len, &data);
        if (r != 0) {
            /* Validated on open and written by us since: damage is an error. */
            rc = r == 1 ? fail(sp, TL_EIO, "segment %020" PRIu64 " damaged at %" PRIu64, s->first, off)
                        : (r == TL_EIO ? fail(sp, r, "read segment %020" PRIu64, s->first) : r);
            break;
        }
        out->recs[out->n++] = (struct spool_rec){ .seq = seq, .len = len, .data = data };
        off += SPOOL_REC_HDR + (uint64_t)len;
    }
    if (fd >= 0 && fd != sp->active_fd)
        close(fd);
    if (rc) {
        spool_batch_free(out);
        return rc;
    }
    if (out->n > 0) {
        k->hint_seq = out->recs[out->n - 1].seq + 1;
        k->hint_seg = sp->segs[si].first;
        k->hint_off = off;
    }
    return 0;
}

int spool_ack(struct spool *sp, const char *sink, uint64_t up_to_seq)
{
    struct sink *k = find_sink(sp, sink);
    if (!k)
        return fail(sp, TL_EINVAL, "unknown sink \"%.80s\"", sink);
    if (up_to_seq >= sp->next_seq)
        return fail(sp, TL_EINVAL, "ack of %" PRIu64 " past the last record", up_to_seq);
    if (up_to_seq <= k->cursor)
        return 0;
    int rc = store_cursor(sp, k, up_to_seq);
    if (rc)
        return rc;
    k->cursor = up_to_seq;
    return collect(sp);
}

uint64_t spool_depth(const struct spool *sp)
{
    uint64_t m = min_cursor(sp), d = 0;
    for (size_t i = 0; i < sp->n_segs; i++)
        d += seg_after(&sp->segs[i], m);
    return d;
}

uint64_t spool_sink_depth(const struct spool *sp, const char *sink)
{
    for (size_t i = 0; i < sp->n_sinks; i++) {
        if (strcmp(sp->sinks[i].name, sink) != 0)
            continue;
        uint64_t d = 0;
        for (size_t j = 0; j < sp->n_segs; j++)
            d += seg_after(&sp->segs[j], sp->sinks[i].cursor);
        return d;
    }
    return 0;
}

uint64_t spool_bytes(const struct spool *sp) { return sp->bytes; }
uint64_t spool_dropped(const struct spool *sp) { return sp->dropped; }
uint64_t spool_truncated(const struct spool *sp) { return sp->truncated; }
uint64_t spool_corrupt_bytes(const struct spool *sp) { return sp->corrupt_bytes; }
uint64_t spool_corrupt_records(const struct spool *sp) { return sp->corrupt_records; }
size_t spool_segments(const struct spool *sp) { return sp->n_segs; }
const char *spool_error(const struct spool *sp) { return sp->err; }
