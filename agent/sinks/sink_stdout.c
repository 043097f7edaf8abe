/* The stdout / file sink: each event as one JSON line, or as one short human
 * line (sink_stdout_set_lines). The embedded default when nothing else is
 * configured. No fsync: the spool is the durable copy. */
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
    bool lines;
};

static const char *str_of(const cJSON *o, const char *key)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return v ? v : "-";
}

/* The actions on the incident's timeline so far, as "name kind outcome, ...". */
static void timeline_text(const cJSON *ev, char *out, size_t cap)
{
    const cJSON *x;
    size_t len = 0;

    out[0] = '\0';
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(ev, "timeline")) {
        int n = snprintf(out + len, cap - len, "%s%s %s %s", len ? ", " : "", str_of(x, "action"),
                         str_of(x, "kind"), str_of(x, "outcome"));
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
}

/* One line per transition: time probe region level transition bucket/reason actions. */
static int write_line(int fd, const char *ev, size_t len)
{
    char line[1024], acts[512];
    cJSON *doc = cJSON_ParseWithLength(ev, len);
    int rc = TL_EINVAL, n;

    if (!doc)
        goto out;
    timeline_text(doc, acts, sizeof(acts));
    n = snprintf(line, sizeof(line), "%s %s %s %s %s %s/%s%s%s\n", str_of(doc, "dateTime"),
                 str_of(doc, "probe"), str_of(doc, "region"), str_of(doc, "level"),
                 str_of(doc, "transition"), str_of(doc, "bucket"), str_of(doc, "reason"),
                 acts[0] ? " actions: " : "", acts);
    if (n < 0)
        goto out;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n'; /* cut, still one line */
    }
    rc = tl_write_all(fd, line, (size_t)n);
out:
    cJSON_Delete(doc);
    return rc;
}

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
        int rc = s->lines ? write_line(s->fd, events[i], lens[i])
                          : write_event(s->fd, events[i], lens[i]);
        if (rc != 0) {
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

void sink_stdout_set_lines(struct sink *base)
{
    sink_impl(base, struct sink_stdout)->lines = true;
}

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
