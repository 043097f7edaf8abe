/* tl_write_all: whole writes through pipes larger than their buffer, across
 * signals, and the error on a closed pipe or a full device. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/io.h"

#define BIG (4u << 20) /* far past a pipe's 64 KiB buffer */

struct reader {
    int fd;
    pthread_t writer; /* signalled while it writes, when interrupt is set */
    bool interrupt;
    unsigned char *got;
    size_t len;
};

static atomic_int delivered;

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&delivered, 1);
}

static void *read_all(void *arg)
{
    struct reader *r = arg;
    /* The pipe starts full, so once the writer is blocked in write(2) with
     * nothing written, each of these signals makes the call fail with EINTR. */
    for (int i = 0; r->interrupt && i < 200; i++) {
        int seen = atomic_load(&delivered);
        pthread_kill(r->writer, SIGUSR1);
        while (atomic_load(&delivered) == seen)
            sched_yield();
    }
    for (;;) {
        if (r->interrupt)
            pthread_kill(r->writer, SIGUSR1);
        ssize_t n = read(r->fd, r->got + r->len, BIG + 1 - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        r->len += (size_t)n;
    }
    return NULL;
}

static unsigned char *pattern(void)
{
    unsigned char *p = malloc(BIG);
    assert_non_null(p);
    for (size_t i = 0; i < BIG; i++)
        p[i] = (unsigned char)(i * 131 + (i >> 12));
    return p;
}

/* Writes the start of data until the pipe is full; returns how much went in. */
static size_t fill(int fd, const unsigned char *data)
{
    size_t off = 0;
    int fl = fcntl(fd, F_GETFL);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
    for (;;) {
        ssize_t n = write(fd, data + off, 4096);
        if (n < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        off += (size_t)n;
    }
    assert_int_equal(fcntl(fd, F_SETFL, fl), 0);
    assert_true(off > 0 && off < BIG);
    return off;
}

/* Writes BIG bytes into a pipe drained by a second thread; checks every byte. */
static void through_pipe(bool interrupt)
{
    int fds[2];
    unsigned char *data = pattern();
    struct reader r = {.writer = pthread_self(), .interrupt = interrupt};
    pthread_t t;

    r.got = malloc(BIG + 1);
    assert_non_null(r.got);
    assert_int_equal(pipe(fds), 0);
    r.fd = fds[0];
    size_t off = interrupt ? fill(fds[1], data) : 0;
    assert_int_equal(pthread_create(&t, NULL, read_all, &r), 0);
    assert_int_equal(tl_write_all(fds[1], data + off, BIG - off), 0);
    close(fds[1]);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(fds[0]);
    assert_int_equal(r.len, BIG);
    assert_memory_equal(r.got, data, BIG);
    free(r.got);
    free(data);
}

static void test_small(void **state)
{
    (void)state;
    int fds[2];
    char got[16] = "";
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(tl_write_all(fds[1], "hello", 5), 0);
    assert_int_equal(tl_write_all(fds[1], "", 0), 0);
    assert_int_equal(tl_write_all(fds[1], NULL, 0), 0);
    close(fds[1]);
    assert_int_equal(read(fds[0], got, sizeof got), 5);
    assert_memory_equal(got, "hello", 5);
    assert_int_equal(read(fds[0], got, sizeof got), 0);
    close(fds[0]);
}

static void test_big(void **state)
{
    (void)state;
    through_pipe(false);
}

static void test_interrupted(void **state)
{
    (void)state;
    /* no SA_RESTART: a blocked write fails with EINTR, or returns short */
    struct sigaction sa = {.sa_handler = on_usr1}, old;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    through_pipe(true);
    sigaction(SIGUSR1, &old, NULL);
}

static void test_closed_pipe(void **state)
{
    (void)state;
    int fds[2];
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    errno = 0;
    assert_int_equal(tl_write_all(fds[1], "x", 1), TL_EIO);
    assert_int_equal(errno, EPIPE);
    close(fds[1]);
    signal(SIGPIPE, old);
}

static void test_closed_fd(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    errno = 0;
    assert_int_equal(tl_write_all(fds[1], "x", 1), TL_EIO);
    assert_int_equal(errno, EBADF);
}

static void test_dev_full(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        skip();
    errno = 0;
    assert_int_equal(tl_write_all(fd, "line\n", 5), TL_EIO);
    assert_int_equal(errno, ENOSPC);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),       cmocka_unit_test(test_big),
        cmocka_unit_test(test_interrupted), cmocka_unit_test(test_closed_pipe),
        cmocka_unit_test(test_closed_fd),   cmocka_unit_test(test_dev_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
