/* The stdout / file sink: each event as one JSON line. The embedded default
 * when nothing else is configured. No fsync: the spool is the durable copy. */
#include "agent/sinks/sink.h"
#include "base/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>


struct sink_stdout {
    struct sink base;
    int fd;
    bool own_fd;
    char *path;
};

/* One event, one line: an event that was pretty-printed is compacted. */
static int write_event(int fd, const char *ev, size_t len)
{
    cJSON *doc = NULL;
    char *flat = NULL;
    int rc;

    if (!memchr(ev, '\n', len) && !memchr(ev, '\r', len)) {
        rc = tl_write_all(fd, ev, len);
        if (rc == 0)
            rc = tl_write_all(fd, "\n", 1);
        return rc;
    }
    rc = TL_EINVAL;
    doc = cJSON_ParseWithLength(ev, len);
    if (doc) {
        rc = TL_ENOMEM;
        flat = cJSON_PrintUnformatted(doc);
    }
    if (flat) {
        rc = tl_write_all(fd, flat, strlen(flat));
        if (rc == 0)
            rc = tl_write_all(fd, "\n", 1);
    }
    cJSON_free(flat);
    cJSON_Delete(doc);
    return rc;
}

static int stdout_send(struct sink *base, const char *const *events, const size_t *lens, size_t n,
                       sink_done_cb cb, void *arg)
{
    struct sink_stdout *s = sink_impl(base, struct sink_stdout);
    struct sink_result res;
    size_t i;

    memset(&res, 0, sizeof(res));
    res.retry_after = -1;
    res.outcome = SINK_DELIVERED;
    for (i = 0; i < n; i++) {
        if (write_event(s->fd, events[i], lens[i]) != 0) {
            /* A full disk or a closed pipe may heal; the spool keeps the batch. */
            res.outcome = SINK_RETRY;
            snprintf(res.reason, sizeof(res.reason), "write to %s: %s",
                     s->path ? s->path : "stdout", strerror(errno));
            break;
        }
    }
    cb(&res, arg);
    return 0;
}

static int stdout_reload(struct sink *base)
{
    struct sink_stdout *s = sink_impl(base, struct sink_stdout);
    int fd;

    if (!s->path)
        return 0;
    /* Reopen so a rotated file is followed. */
    fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(s->base.err, sizeof(s->base.err), "cannot open %s: %s", s->path,
                 strerror(errno));
        return TL_EIO;
    }
    close(s->fd);
    s->fd = fd;
    return 0;
}

static void stdout_free(struct sink *base)
{
    struct sink_stdout *s = sink_impl(base, struct sink_stdout);

    if (s->own_fd)
        close(s->fd);
    free(s->path);
    free(s);
}

static const struct sink_ops stdout_ops = {
    .kind = "stdout",
    .send = stdout_send,
    .reload = stdout_reload,
    .free = stdout_free,
};

int sink_stdout_new(struct sink **out, const char *path, char *err, size_t errlen)
{
    struct sink_stdout *s;
    int rc = TL_ENOMEM;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->base.ops = &stdout_ops;
    s->fd = STDOUT_FILENO;
    if (path) {
        s->path = strdup(path);
        if (!s->path)
            goto out;
        s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (s->fd < 0) {
            rc = TL_EIO;
            if (err)
                snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            goto out;
        }
        s->own_fd = true;
    }
    *out = &s->base;
    s = NULL;
    rc = 0;
out:
    if (s) {
        free(s->path);
        free(s);
    }
    return rc;
}
