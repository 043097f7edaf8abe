/* The engine's own epoll set (sockwatch.h). */
#include "probes/http/sockwatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/err.h"

#define SOCKWATCH_BATCH 256

struct sockwatch {
    uv_poll_t poll;
    int epfd;
    sockwatch_ready_cb ready;
    sockwatch_batch_cb batch;
    void *arg;
    unsigned char *mask; /* per descriptor: the EPOLLIN/EPOLLOUT set in epfd, 0 = not in it */
    size_t cap;
    size_t n_fds;        /* descriptors in epfd: the loop stays alive while > 0 */
};

static int ensure(struct sockwatch *w, int fd)
{
    if ((size_t)fd < w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap <= (size_t)fd)
        cap *= 2;
    unsigned char *m = realloc(w->mask, cap);
    if (!m)
        return TL_ENOMEM;
    memset(m + w->cap, 0, cap - w->cap);
    w->mask = m;
    w->cap = cap;
    return 0;
}

static int ctl(struct sockwatch *w, int op, int fd, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(w->epfd, op, fd, &ev) == 0)
        return 0;
    /* curl closed a socket without telling us, and the number came back */
    if (op == EPOLL_CTL_MOD && errno == ENOENT)
        return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : TL_EIO;
    if (op == EPOLL_CTL_ADD && errno == EEXIST)
        return epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : TL_EIO;
    return op == EPOLL_CTL_DEL ? 0 : TL_EIO; /* a DEL after close has nothing left to do */
}

int sockwatch_set(struct sockwatch *w, int fd, int what)
{
    if (fd < 0 || ensure(w, fd))
        return TL_ENOMEM;
    unsigned want = 0;
    if (what != CURL_POLL_REMOVE) {
        want |= (what & CURL_POLL_IN) ? EPOLLIN : 0;
        want |= (what & CURL_POLL_OUT) ? EPOLLOUT : 0;
    }
    unsigned have = w->mask[fd];
    int rc = 0;
    if (want == have)
        return 0;
    if (!want)
        rc = ctl(w, EPOLL_CTL_DEL, fd, 0);
    else
        rc = ctl(w, have ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, want);
    w->mask[fd] = rc == 0 ? (unsigned char)want : 0;
    /* as a uv_poll_t per socket would: an idle engine does not hold the loop */
    if (!have && w->mask[fd] && w->n_fds++ == 0)
        uv_ref((uv_handle_t *)&w->poll);
    else if (have && !w->mask[fd] && --w->n_fds == 0)
        uv_unref((uv_handle_t *)&w->poll);
    return rc;
}

static void on_epfd(uv_poll_t *h, int status, int events)
{
    struct sockwatch *w = h->data;
    struct epoll_event ev[SOCKWATCH_BATCH];
    (void)status;
    (void)events;
    int n = epoll_wait(w->epfd, ev, SOCKWATCH_BATCH, 0);
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd, cs = 0;
        /* removed by an earlier socket's action in this batch */
        if ((size_t)fd >= w->cap || !w->mask[fd])
            continue;
        if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
            cs |= CURL_CSELECT_IN;
        if (ev[i].events & EPOLLOUT)
            cs |= CURL_CSELECT_OUT;
        if (ev[i].events & EPOLLERR)
            cs |= CURL_CSELECT_ERR;
        w->ready(w->arg, fd, cs);
    }
    if (n > 0)
        w->batch(w->arg);
}

int sockwatch_new(struct sockwatch **out, uv_loop_t *loop, sockwatch_ready_cb ready, sockwatch_batch_cb batch,
                  void *arg)
{
    struct sockwatch *w = calloc(1, sizeof(*w));
    int rc = TL_ENOMEM;
    *out = NULL;
    if (!w)
        goto out;
    w->ready = ready;
    w->batch = batch;
    w->arg = arg;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    rc = TL_EIO;
    if (w->epfd < 0)
        goto out;
    if (uv_poll_init(loop, &w->poll, w->epfd) != 0) {
        close(w->epfd);
        goto out;
    }
    w->poll.data = w;
    if (uv_poll_start(&w->poll, UV_READABLE, on_epfd) != 0) {
        sockwatch_free(w);
        w = NULL;
        goto out;
    }
    uv_unref((uv_handle_t *)&w->poll);
    *out = w;
    w = NULL;
    rc = 0;
out:
    free(w);
    return rc;
}

static void closed(uv_handle_t *h)
{
    struct sockwatch *w = h->data;
    close(w->epfd);
    free(w->mask);
    free(w);
}

void sockwatch_free(struct sockwatch *w)
{
    if (w)
        uv_close((uv_handle_t *)&w->poll, closed);
}
