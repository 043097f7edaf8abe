/* The durable spool: framing, cursors, recovery, rolling, the bound, crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/outbox/spool.h"

struct fx {
    char dir[256];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/tripline-spool-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        for (e = readdir(d); e; e = readdir(d)) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static const char *const ONE[] = { "out" };
static const char *const TWO[] = { "http", "alertmanager" };

static struct spool *open_or_die(const char *dir, const struct spool_opts *o, const char *const *sinks, size_t n)
{
    struct spool *sp = NULL;
    char err[256] = "";
    int rc = spool_open(dir, o, sinks, n, &sp, err, sizeof err);
    if (rc)
        fail_msg("spool_open: %d %s", rc, err);
    assert_non_null(sp);
    return sp;
}

static uint64_t append_str(struct spool *sp, const char *s)
{
    uint64_t seq = 0, dropped = 99;
    assert_int_equal(spool_append(sp, s, strlen(s), &seq, &dropped), 0);
    assert_int_equal(dropped, 0);
    return seq;
}

static void append_fmt(struct spool *sp, uint64_t i)
{
    char buf[64];
    snprintf(buf, sizeof buf, "{\"event\":%llu}", (unsigned long long)i);
    append_str(sp, buf);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The segment files in dir, sorted, and their count. */
static size_t count_files(const char *dir, const char *suffix, char names[][64], size_t max)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    for (e = readdir(d); e; e = readdir(d)) {
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        if (l < sl || strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        if (names && n < max)
            snprintf(names[n], 64, "%.63s", e->d_name);
        n++;
    }
    closedir(d);
    if (names)
        qsort(names, n < max ? n : max, 64, name_cmp);
    return n;
}

static off_t file_size(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static void crc32c_known_value(void **state)
{
    assert_int_equal(spool_crc32c("123456789", 9), 0xe3069283u);
    assert_int_equal(spool_crc32c("", 0), 0);
}

static void append_next_ack_reopen(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_depth(sp), 0);
    assert_int_equal(append_str(sp, "alpha"), 1);
    assert_int_equal(append_str(sp, "beta"), 2);
    assert_int_equal(append_str(sp, ""), 3);
    assert_int_equal(spool_depth(sp), 3);
    assert_int_equal(spool_bytes(sp), 3 * 16 + 9);

    struct spool_batch b;
    assert_int_equal(spool_next(sp, "out", 2, &b), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.recs[0].seq, 1);
    assert_string_equal(b.recs[0].data, "alpha");
    assert_int_equal(b.recs[1].len, 4);
    assert_string_equal(b.recs[1].data, "beta");
    spool_batch_free(&b);
    /* Not acked: the same records again. */
    assert_int_equal(spool_next(sp, "out", 10, &b), 0);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.recs[0].seq, 1);
    assert_int_equal(b.recs[2].len, 0);
    spool_batch_free(&b);

    assert_int_equal(spool_ack(sp, "out", 2), 0);
    assert_int_equal(spool_depth(sp), 1);
    /* An old ack changes nothing; an ack past the end is refused. */
    assert_int_equal(spool_ack(sp, "out", 1), 0);
    assert_int_equal(spool_ack(sp, "out", 4), TL_EINVAL);
    assert_int_equal(spool_ack(sp, "nobody", 1), TL_EINVAL);
    assert_int_equal(spool_next(sp, "nobody", 1, &b), TL_EINVAL);
    spool_free(sp);

    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_depth(sp), 1);
    assert_int_equal(spool_truncated(sp), 0);
    assert_int_equal(spool_next(sp, "out", 10, &b), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.recs[0].seq, 3);
    spool_batch_free(&b);
    assert_int_equal(spool_ack(sp, "out", 3), 0);
    assert_int_equal(spool_next(sp, "out", 10, &b), 0);
    assert_int_equal(b.n, 0);
    spool_batch_free(&b);
    /* Numbers continue after a reopen, never reused. */
    assert_int_equal(append_str(sp, "gamma"), 4);
    spool_free(sp);
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(append_str(sp, "delta"), 5);
    assert_int_equal(spool_next(sp, "out", 10, &b), 0);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.recs[0].data, "gamma");
    assert_string_equal(b.recs[1].data, "delta");
    spool_batch_free(&b);
    spool_free(sp);
    spool_free(NULL);
}

static void two_sinks_independent(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_or_die(f->dir, NULL, TWO, 2);
    for (uint64_t i = 1; i <= 10; i++)
        append_fmt(sp, i);
    assert_int_equal(spool_ack(sp, "http", 5), 0);
    assert_int_equal(spool_depth(sp), 10);
    assert_int_equal(spool_sink_depth(sp, "http"), 5);
    assert_int_equal(spool_sink_depth(sp, "alertmanager"), 10);
    struct spool_batch b;
    assert_int_equal(spool_next(sp, "http", 100, &b), 0);
    assert_int_equal(b.n, 5);
    assert_int_equal(b.recs[0].seq, 6);
    assert_string_equal(b.recs[0].data, "{\"event\":6}");
    spool_batch_free(&b);
    assert_int_equal(spool_next(sp, "alertmanager", 3, &b), 0);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.recs[0].seq, 1);
    spool_batch_free(&b);
    assert_int_equal(spool_ack(sp, "alertmanager", 7), 0);
    assert_int_equal(spool_depth(sp), 5);
    spool_free(sp);

    /* Each cursor survived on its own. */
    sp = open_or_die(f->dir, NULL, TWO, 2);
    assert_int_equal(spool_sink_depth(sp, "http"), 5);
    assert_int_equal(spool_sink_depth(sp, "alertmanager"), 3);
    assert_int_equal(spool_next(sp, "alertmanager", 100, &b), 0);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.recs[0].seq, 8);
    spool_batch_free(&b);
    spool_free(sp);

    /* A sink added later starts at the end, not at the oldest record kept. */
    const char *const three[] = { "http", "alertmanager", "file" };
    sp = open_or_die(f->dir, NULL, three, 3);
    assert_int_equal(spool_sink_depth(sp, "file"), 0);
    spool_free(sp);
}

/* A sink new to the spool (a new Alertmanager, a new escalation service) is
 * not sent the history the other sinks had: it starts after the last record
 * and gets only what is appended from then on. It is new only once: a
 * restart before its first ack keeps what it was not sent yet. A sink taken
 * out of the config and put back is new again. */
static void new_sink_starts_at_the_end(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_or_die(f->dir, NULL, ONE, 1);
    for (uint64_t i = 1; i <= 5; i++)
        append_fmt(sp, i);
    assert_int_equal(spool_ack(sp, "out", 2), 0);
    spool_free(sp);

    const char *const both[] = { "out", "am" };
    sp = open_or_die(f->dir, NULL, both, 2);
    assert_int_equal(spool_sink_depth(sp, "out"), 3);
    assert_int_equal(spool_sink_depth(sp, "am"), 0);
    struct spool_batch b;
    assert_int_equal(spool_next(sp, "am", 10, &b), 0);
    assert_int_equal(b.n, 0);
    spool_batch_free(&b);
    append_str(sp, "{\"state\":\"now\"}");
    assert_int_equal(spool_next(sp, "am", 10, &b), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.recs[0].seq, 6);
    assert_string_equal(b.recs[0].data, "{\"state\":\"now\"}");
    spool_batch_free(&b);
    spool_free(sp);

    /* Not acked before a restart: still owed, not skipped. */
    sp = open_or_die(f->dir, NULL, both, 2);
    assert_int_equal(spool_sink_depth(sp, "am"), 1);
    assert_int_equal(spool_sink_depth(sp, "out"), 4);
    spool_free(sp);

    /* Taken out of the config, then put back: new again. */
    sp = open_or_die(f->dir, NULL, ONE, 1);
    append_fmt(sp, 7);
    spool_free(sp);
    sp = open_or_die(f->dir, NULL, both, 2);
    assert_int_equal(spool_sink_depth(sp, "am"), 0);
    assert_int_equal(spool_sink_depth(sp, "out"), 5);
    spool_free(sp);
}

/* Replaces the cursor file of the sink "out" with text. */
static void write_cursor(const char *dir, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/out.cursor", dir);
    FILE *c = fopen(p, "w");
    assert_non_null(c);
    fputs(text, c);
    fclose(c);
}

/* An empty or garbage cursor file reads as 0: the sink starts again at the
 * oldest record kept instead of the spool refusing to open. */
static void unreadable_cursor_is_zero(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_or_die(f->dir, NULL, ONE, 1);
    for (uint64_t i = 1; i <= 3; i++)
        append_fmt(sp, i);
    assert_int_equal(spool_ack(sp, "out", 2), 0);
    spool_free(sp);
    const char *const garbage[] = {"", "garbage\n", "12"};
    for (size_t g = 0; g < 3; g++) {
        write_cursor(f->dir, garbage[g]);
        sp = open_or_die(f->dir, NULL, ONE, 1);
        assert_int_equal(spool_sink_depth(sp, "out"), 3);
        spool_free(sp);
    }
}

/* A cursor past any number the spool gives out (fuzz_spool found
 * 18446744073709551615 wrapping the next number to 0) is garbage too. */
static void cursor_past_the_numbers_is_zero(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_or_die(f->dir, NULL, ONE, 1);
    for (uint64_t i = 1; i <= 3; i++)
        append_fmt(sp, i);
    spool_free(sp);
    /* one below the last number too: the next record would be numbered 2^63-1, past what a
     * segment may hold, and could not be read back after a restart (found by fuzz_spool) */
    const char *const huge[] = {"18446744073709551615\n", "9223372036854775808\n", "9223372036854775807\n",
                                "9223372036854775806\n"};
    for (size_t g = 0; g < 4; g++) {
        write_cursor(f->dir, huge[g]);
        sp = open_or_die(f->dir, NULL, ONE, 1);
        assert_int_equal(spool_sink_depth(sp, "out"), 3 + g);
        assert_int_equal(append_str(sp, "next"), 4 + g);
        spool_free(sp);
    }
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_ack(sp, "out", 7), 0);
    assert_int_equal(spool_sink_depth(sp, "out"), 0);
    spool_free(sp);
}

static void bad_sink_names_and_lock(void **state)
{
    struct fx *f = *state;
    struct spool *sp = NULL;
    const char *const bad[] = { "../escape" };
    const char *const dot[] = { ".hidden" };
    assert_int_equal(spool_open(f->dir, NULL, bad, 1, &sp, NULL, 0), TL_EINVAL);
    assert_null(sp);
    assert_int_equal(spool_open(f->dir, NULL, dot, 1, &sp, NULL, 0), TL_EINVAL);
    assert_int_equal(spool_open(f->dir, NULL, ONE, 0, &sp, NULL, 0), TL_EINVAL);
    /* One process per spool directory. */
    struct spool *a = open_or_die(f->dir, NULL, ONE, 1);
    char err[256] = "";
    assert_int_equal(spool_open(f->dir, NULL, ONE, 1, &sp, err, sizeof err), TL_EBUSY);
    assert_non_null(strstr(err, "in use"));
    spool_free(a);
    a = open_or_die(f->dir, NULL, ONE, 1);
    spool_free(a);
}

static void too_big_refused(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = { .max_record = 100 };
    struct spool *sp = open_or_die(f->dir, &o, ONE, 1);
    char big[101];
    memset(big, 'x', sizeof big);
    assert_int_equal(spool_append(sp, big, 101, NULL, NULL), TL_ETOOBIG);
    assert_int_equal(spool_append(sp, big, 100, NULL, NULL), 0);
    assert_int_equal(spool_depth(sp), 1);
    spool_free(sp);
}

/* Writes raw bytes at the end of the only segment. */
static void append_raw(const char *dir, const void *p, size_t n)
{
    char names[4][64];
    assert_int_equal(count_files(dir, ".seg", names, 4), 1);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void torn_tail_truncated(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_or_die(f->dir, NULL, ONE, 1);
    append_str(sp, "one");
    append_str(sp, "two");
    append_str(sp, "three");
    uint64_t good = spool_bytes(sp);
    spool_free(sp);

    /* A header cut short. */
    append_raw(f->dir, "\x05\x00\x00", 3);
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_truncated(sp), 3);
    assert_int_equal(spool_bytes(sp), good);
    assert_int_equal(spool_depth(sp), 3);
    spool_free(sp);

    /* A whole header announcing more payload than was written. */
    unsigned char torn[16 + 4] = { 100, 0, 0, 0, 1, 2, 3, 4, 4, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c', 'd' };
    append_raw(f->dir, torn, sizeof torn);
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_truncated(sp), sizeof torn);
    assert_int_equal(spool_depth(sp), 3);
    spool_free(sp);

    /* A complete frame whose CRC does not match. */
    unsigned char bad[16 + 4] = { 4, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 4, 0, 0, 0, 0, 0, 0, 0, 'f', 'o', 'u', 'r' };
    append_raw(f->dir, bad, sizeof bad);
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_truncated(sp), sizeof bad);
    /* The cut file takes new records where the good ones ended. */
    assert_int_equal(append_str(sp, "four"), 4);
    spool_free(sp);
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_truncated(sp), 0);
    struct spool_batch b;
    assert_int_equal(spool_next(sp, "out", 10, &b), 0);
    assert_int_equal(b.n, 4);
    assert_string_equal(b.recs[2].data, "three");
    assert_string_equal(b.recs[3].data, "four");
    spool_batch_free(&b);
    spool_free(sp);
}

/* One damaged record in the middle loses that record only: the rest is kept
 * in a segment of its own and the damaged bytes go to <segment>.corrupt. */
static void damaged_middle_record_loses_only_it(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_or_die(f->dir, NULL, ONE, 1);
    append_str(sp, "aaaa");
    append_str(sp, "bbbb");
    append_str(sp, "cccc");
    append_str(sp, "dddd");
    spool_free(sp);
    char names[4][64], path[512];
    assert_int_equal(count_files(f->dir, ".seg", names, 4), 1);
    snprintf(path, sizeof path, "%s/%s", f->dir, names[0]);
    /* Flip one payload byte of the second record. */
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 20 + 16 + 1), 1);
    close(fd);
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_depth(sp), 3);
    assert_int_equal(spool_corrupt_bytes(sp), 20);
    assert_int_equal(spool_corrupt_records(sp), 1);
    assert_int_equal(spool_truncated(sp), 0);
    assert_int_equal(count_files(f->dir, ".seg", names, 4), 2);
    assert_int_equal(count_files(f->dir, ".corrupt", names, 4), 1);
    assert_int_equal(file_size(f->dir, names[0]), 20);
    struct spool_batch b;
    assert_int_equal(spool_next(sp, "out", 10, &b), 0);
    assert_int_equal(b.n, 3);
    assert_string_equal(b.recs[0].data, "aaaa");
    assert_int_equal(b.recs[1].seq, 3);
    assert_string_equal(b.recs[1].data, "cccc");
    assert_string_equal(b.recs[2].data, "dddd");
    spool_batch_free(&b);
    /* Numbering goes on after the last record kept, and a reopen finds no more damage. */
    assert_int_equal(append_str(sp, "eeee"), 5);
    assert_int_equal(spool_ack(sp, "out", 3), 0);
    spool_free(sp);
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_corrupt_bytes(sp), 0);
    assert_int_equal(spool_depth(sp), 2);
    assert_int_equal(spool_next(sp, "out", 10, &b), 0);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.recs[0].data, "dddd");
    assert_string_equal(b.recs[1].data, "eeee");
    spool_batch_free(&b);
    spool_free(sp);
}

/* Puts junk before the records of the only segment of dir (two of 20 bytes). */
static void prepend_junk(const char *dir, const char *junk)
{
    char names[1][64], path[512], buf[64];
    size_t n = strlen(junk);
    assert_int_equal(count_files(dir, ".seg", names, 1), 1);
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    memcpy(buf, junk, n);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf + n, 40, 0), 40);
    assert_int_equal(pwrite(fd, buf, n + 40, 0), (ssize_t)(n + 40));
    close(fd);
}

/* Junk before the first record (fuzz_spool found it): the first valid record
 * after it has the segment's own number, so what is kept stays in that
 * segment, rewritten without the junk, instead of being lost with it. */
static void junk_before_first_record_keeps_all(void **state)
{
    struct fx *f = *state;
    struct spool *sp = open_or_die(f->dir, NULL, ONE, 1);
    append_str(sp, "aaaa");
    append_str(sp, "bbbb");
    spool_free(sp);
    prepend_junk(f->dir, "0123456789");
    char names[4][64];
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_corrupt_bytes(sp), 10);
    assert_int_equal(spool_corrupt_records(sp), 0);
    assert_int_equal(count_files(f->dir, ".corrupt", names, 4), 1);
    assert_int_equal(file_size(f->dir, names[0]), 10);
    struct spool_batch b;
    assert_int_equal(spool_next(sp, "out", 10, &b), 0);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.recs[0].data, "aaaa");
    assert_string_equal(b.recs[1].data, "bbbb");
    spool_batch_free(&b);
    assert_int_equal(append_str(sp, "cccc"), 3);
    spool_free(sp);
    sp = open_or_die(f->dir, NULL, ONE, 1);
    assert_int_equal(spool_corrupt_bytes(sp), 0);
    assert_int_equal(spool_depth(sp), 3);
    spool_free(sp);
}

/* Offset of the k-th record (0-based) of a segment file, and how many it holds. */
static long rec_offset(const char *path, int k, int *count)
{
    unsigned char hdr[16];
    long off = 0, at = -1;
    int n = 0;
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    while (fseek(fp, off, SEEK_SET) == 0 && fread(hdr, 1, 16, fp) == 16) {
        if (n == k)
            at = off;
        off += 16 + (long)(hdr[0] | hdr[1] << 8 | hdr[2] << 16 | (uint32_t)hdr[3] << 24);
        n++;
    }
    fclose(fp);
    *count = n;
    return at;
}

/* A damaged length field mid-segment and a damaged last record of an older
 * segment: exactly those two records are lost, every other one is kept. */
static void damage_in_two_segments_loses_two_records(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = { .segment_bytes = 1024 };
    struct spool *sp = open_or_die(f->dir, &o, ONE, 1);
    for (uint64_t i = 1; i <= 100; i++)
        append_fmt(sp, i);
    spool_free(sp);
    char names[16][64], path[512];
    assert_true(count_files(f->dir, ".seg", names, 16) >= 3);
    int count;
    snprintf(path, sizeof path, "%s/%s", f->dir, names[0]);
    long at = rec_offset(path, 4, &count); /* record 5 */
    int fd = open(path, O_RDWR);
    assert_int_equal(pwrite(fd, "\x7f", 1, at + 1), 1);
    close(fd);
    snprintf(path, sizeof path, "%s/%s", f->dir, names[1]);
    at = rec_offset(path, 0, &count);
    uint64_t lost = strtoull(names[1], NULL, 10) + (uint64_t)count - 1;
    at = rec_offset(path, count - 1, &count);
    fd = open(path, O_RDWR);
    assert_int_equal(pwrite(fd, "\x00\x00", 2, at + 4), 2);
    close(fd);

    sp = open_or_die(f->dir, &o, ONE, 1);
    assert_int_equal(spool_corrupt_records(sp), 2);
    assert_int_equal(spool_truncated(sp), 0);
    assert_int_equal(spool_depth(sp), 98);
    struct spool_batch b;
    assert_int_equal(spool_next(sp, "out", 1000, &b), 0);
    assert_int_equal(b.n, 98);
    uint64_t want = 1;
    for (size_t i = 0; i < b.n; i++, want++) {
        if (want == 5 || want == lost)
            want++;
        assert_int_equal(b.recs[i].seq, want);
        char text[64];
        snprintf(text, sizeof text, "{\"event\":%llu}", (unsigned long long)want);
        assert_string_equal(b.recs[i].data, text);
    }
    spool_batch_free(&b);
    assert_int_equal(count_files(f->dir, ".corrupt", NULL, 0), 2);
    spool_free(sp);
}

static void segments_roll_and_are_deleted(void **state)
{
    struct fx *f = *state;
    /* 16-byte frames + 12-13 byte payloads: about 35 records per 1 KiB segment. */
    struct spool_opts o = { .segment_bytes = 1024 };
    struct spool *sp = open_or_die(f->dir, &o, TWO, 2);
    for (uint64_t i = 1; i <= 200; i++)
        append_fmt(sp, i);
    size_t segs = spool_segments(sp);
    assert_true(segs >= 5);
    assert_int_equal(count_files(f->dir, ".seg", NULL, 0), segs);
    char names[64][64];
    count_files(f->dir, ".seg", names, 64);
    for (size_t i = 0; i < segs; i++)
        assert_true(file_size(f->dir, names[i]) <= 1024);

    /* One sink caught up: nothing may go while the other lags. */
    assert_int_equal(spool_ack(sp, "http", 200), 0);
    assert_int_equal(spool_segments(sp), segs);
    uint64_t before = spool_bytes(sp);
    /* The slow sink passes some segments: they go, the rest stay. */
    assert_int_equal(spool_ack(sp, "alertmanager", 100), 0);
    assert_true(spool_segments(sp) < segs);
    assert_true(spool_segments(sp) > 1);
    assert_true(spool_bytes(sp) < before);
    assert_int_equal(count_files(f->dir, ".seg", NULL, 0), spool_segments(sp));
    assert_int_equal(spool_depth(sp), 100);
    struct spool_batch b;
    assert_int_equal(spool_next(sp, "alertmanager", 1000, &b), 0);
    assert_int_equal(b.n, 100);
    for (size_t i = 0; i < b.n; i++)
        assert_int_equal(b.recs[i].seq, 101 + i);
    spool_batch_free(&b);
    spool_free(sp);

    /* After a reopen the same records remain, across segment boundaries. */
    sp = open_or_die(f->dir, &o, TWO, 2);
    assert_int_equal(spool_depth(sp), 100);
    uint64_t want = 101;
    for (;;) {
        assert_int_equal(spool_next(sp, "alertmanager", 7, &b), 0);
        if (b.n == 0) {
            spool_batch_free(&b);
            break;
        }
        for (size_t i = 0; i < b.n; i++) {
            char exp[64];
            snprintf(exp, sizeof exp, "{\"event\":%llu}", (unsigned long long)want);
            assert_int_equal(b.recs[i].seq, want);
            assert_string_equal(b.recs[i].data, exp);
            want++;
        }
        assert_int_equal(spool_ack(sp, "alertmanager", b.recs[b.n - 1].seq), 0);
        spool_batch_free(&b);
    }
    assert_int_equal(want, 201);
    /* Everything acked: only the active segment is left. */
    assert_int_equal(spool_segments(sp), 1);
    assert_int_equal(count_files(f->dir, ".seg", NULL, 0), 1);
    assert_int_equal(spool_depth(sp), 0);
    spool_free(sp);
    sp = open_or_die(f->dir, &o, TWO, 2);
    assert_int_equal(append_str(sp, "next"), 201);
    spool_free(sp);
}

static void bound_drops_oldest_segment(void **state)
{
    struct fx *f = *state;
    /* 100-byte payloads make 116-byte frames: 8 per 1 KiB segment. */
    struct spool_opts o = { .segment_bytes = 1024, .max_bytes = 4096 };
    struct spool *sp = open_or_die(f->dir, &o, ONE, 1);
    char rec[100];
    uint64_t seq, dropped;
    /* 35 frames = 4060 bytes: under the bound, nothing dropped. */
    for (int i = 1; i <= 35; i++) {
        memset(rec, 'a' + i % 26, sizeof rec);
        assert_int_equal(spool_append(sp, rec, sizeof rec, &seq, &dropped), 0);
        assert_int_equal(dropped, 0);
        assert_int_equal(seq, (uint64_t)i);
    }
    assert_int_equal(spool_dropped(sp), 0);
    assert_int_equal(spool_depth(sp), 35);
    assert_int_equal(spool_bytes(sp), 35 * 116);
    /* The 36th would pass 4096: the oldest segment (records 1-8) goes. */
    memset(rec, 'Z', sizeof rec);
    assert_int_equal(spool_append(sp, rec, sizeof rec, &seq, &dropped), 0);
    assert_int_equal(seq, 36);
    assert_int_equal(dropped, 8);
    assert_int_equal(spool_dropped(sp), 8);
    assert_int_equal(spool_depth(sp), 28);
    assert_true(spool_bytes(sp) <= 4096);
    struct spool_batch b;
    assert_int_equal(spool_next(sp, "out", 1000, &b), 0);
    assert_int_equal(b.n, 28);
    assert_int_equal(b.recs[0].seq, 9);
    assert_int_equal(b.recs[27].seq, 36);
    assert_int_equal(b.recs[27].data[0], 'Z');
    spool_batch_free(&b);
    /* Acked records are not counted as dropped when their segment goes. */
    assert_int_equal(spool_ack(sp, "out", 20), 0);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(spool_append(sp, rec, sizeof rec, &seq, &dropped), 0);
        assert_true(spool_bytes(sp) <= 4096);
    }
    /* 1-8 were dropped unacked, 9-20 acked: the rest is dropped or pending. */
    assert_int_equal(spool_dropped(sp) + spool_depth(sp) + 12, 236);
    spool_free(sp);
}

/* A bound under the default segment size (spool.max_size: 1MiB on a small
 * disk) drops the oldest sixteenth or so, not everything undelivered at
 * once: the default segment is sized from the bound. */
static void small_bound_drops_a_slice(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = { .max_bytes = 64 * 1024 };
    struct spool *sp = open_or_die(f->dir, &o, ONE, 1);
    char rec[1008];
    uint64_t seq, dropped = 0, total = 0;
    int i;
    memset(rec, 'e', sizeof rec);
    for (i = 1; dropped == 0 && i <= 1000; i++) {
        assert_int_equal(spool_append(sp, rec, sizeof rec, &seq, &dropped), 0);
        total += dropped;
    }
    assert_true(dropped > 0);
    assert_true(spool_bytes(sp) <= 64 * 1024);
    /* 1 KiB frames: a sixteenth of 64 KiB is 4 of them */
    assert_true(dropped <= 5);
    assert_true(spool_depth(sp) >= 55);
    for (; i <= 1000; i++) {
        assert_int_equal(spool_append(sp, rec, sizeof rec, &seq, &dropped), 0);
        assert_true(dropped <= 5);
        total += dropped;
        assert_true(spool_bytes(sp) <= 64 * 1024);
    }
    assert_int_equal(spool_depth(sp) + total, 1000);
    spool_free(sp);
}

static void bound_with_single_segment(void **state)
{
    struct fx *f = *state;
    /* The bound is smaller than a segment: the active segment itself goes. */
    struct spool_opts o = { .segment_bytes = 1 << 20, .max_bytes = 300 };
    struct spool *sp = open_or_die(f->dir, &o, ONE, 1);
    char rec[100] = { 0 };
    uint64_t seq, dropped, total = 0;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(spool_append(sp, rec, sizeof rec, &seq, &dropped), 0);
        total += dropped;
        assert_true(spool_bytes(sp) <= 300);
    }
    assert_int_equal(total, spool_dropped(sp));
    assert_int_equal(spool_depth(sp) + total, 10);
    assert_true(spool_depth(sp) >= 1);
    struct spool_batch b;
    assert_int_equal(spool_next(sp, "out", 100, &b), 0);
    assert_int_equal(b.recs[b.n - 1].seq, 10);
    spool_batch_free(&b);
    spool_free(sp);
}

/* The child: appends numbered events until killed, reporting each number
 * after its append returned. Never returns. */
static void crash_child(const char *dir, uint32_t start, int wfd)
{
    struct spool_opts o = { .segment_bytes = 2048 };
    struct spool *sp = NULL;
    if (spool_open(dir, &o, ONE, 1, &sp, NULL, 0) != 0)
        _exit(3);
    for (uint32_t i = start; i < start + 100000; i++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "{\"n\":%u,\"pad\":\"%0*u\"}", i, (int)(i % 40), 0u);
        if (spool_append(sp, buf, (size_t)n, NULL, NULL) != 0)
            _exit(4);
        if (write(wfd, &i, sizeof i) != (ssize_t)sizeof i)
            _exit(5);
    }
    _exit(0);
}

static void crash_loses_nothing_acknowledged(void **state)
{
    struct fx *f = *state;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    print_message("crash test seed %u\n", seed);
    uint32_t present = 0; /* events 0..present-1 are in the spool */
    for (int round = 0; round < 4; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(f->dir, present, p[1]);
        }
        close(p[1]);
        long kill_after = 1 + rand() % 400;
        long seen = 0;
        int64_t last = -1;
        uint32_t v;
        while (seen < kill_after && read(p[0], &v, sizeof v) == (ssize_t)sizeof v) {
            last = v;
            seen++;
        }
        /* A little more rope, so the kill lands at varied points of a write. */
        usleep((useconds_t)(rand() % 3000));
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* Numbers written before the kill are still in the pipe. */
        while (read(p[0], &v, sizeof v) == (ssize_t)sizeof v)
            last = v;
        close(p[0]);
        assert_true(last >= (int64_t)present);

        struct spool_opts o = { .segment_bytes = 2048 };
        struct spool *sp = open_or_die(f->dir, &o, ONE, 1);
        uint32_t expect = 0;
        struct spool_batch b;
        assert_int_equal(spool_next(sp, "out", 1000000, &b), 0);
        for (size_t i = 0; i < b.n; i++) {
            char exp[64];
            snprintf(exp, sizeof exp, "{\"n\":%u,\"pad\":\"%0*u\"}", expect, (int)(expect % 40), 0u);
            assert_int_equal(b.recs[i].seq, (uint64_t)expect + 1);
            assert_string_equal(b.recs[i].data, exp);
            expect++;
        }
        spool_batch_free(&b);
        /* Every acknowledged event is there; at most the one in flight is extra. */
        assert_true((int64_t)expect >= last + 1);
        assert_true((int64_t)expect <= last + 2);
        present = expect;
        spool_free(sp);
    }
    assert_true(present > 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_known_value),
        cmocka_unit_test_setup_teardown(append_next_ack_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(two_sinks_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(new_sink_starts_at_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(unreadable_cursor_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(cursor_past_the_numbers_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_sink_names_and_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(too_big_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_middle_record_loses_only_it, setup, teardown),
        cmocka_unit_test_setup_teardown(damage_in_two_segments_loses_two_records, setup, teardown),
        cmocka_unit_test_setup_teardown(junk_before_first_record_keeps_all, setup, teardown),
        cmocka_unit_test_setup_teardown(segments_roll_and_are_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(bound_drops_oldest_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(small_bound_drops_a_slice, setup, teardown),
        cmocka_unit_test_setup_teardown(bound_with_single_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_loses_nothing_acknowledged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
