#include "base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/err.h"

static const struct {
    const char *what;
    size_t max;
    bool trim_eol, nonempty, no_ctl;
} kinds[] = {
    [SECRET_TOKEN] = {"token file", 64 * 1024, true, true, true},
    [SECRET_KEY] = {"key file", 4096, false, true, false},
    [SECRET_VALUE] = {"secret file", 64 * 1024, true, false, false},
};

size_t secret_max(enum secret_kind kind)
{
    return kinds[kind].max;
}

void secret_free(struct secret *s)
{
    if (!s)
        return;
    if (s->data) {
        OPENSSL_cleanse(s->data, s->len + 1);
        free(s->data);
    }
    s->data = NULL;
    s->len = 0;
}

static int check(const char *path, enum secret_kind kind, struct secret *s, char *err,
                 size_t errlen)
{
    if (kinds[kind].trim_eol) {
        while (s->len > 0 && (s->data[s->len - 1] == '\n' || s->data[s->len - 1] == '\r'))
            s->data[--s->len] = '\0';
    }
    if (kinds[kind].nonempty && s->len == 0) {
        snprintf(err, errlen, "the %s %s is empty", kinds[kind].what, path);
        return TL_EINVAL;
    }
    for (size_t i = 0; kinds[kind].no_ctl && i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            snprintf(err, errlen, "the %s %s holds a control character", kinds[kind].what, path);
            return TL_EINVAL;
        }
    }
    return 0;
}

int secret_read(const char *path, enum secret_kind kind, struct secret *out, char *err,
                size_t errlen)
{
    size_t max = kinds[kind].max, len = 0;
    struct secret s = {0};
    int rc = TL_EIO;
    /* O_NONBLOCK for open() only: a named pipe without a writer reads as
     * empty instead of stopping the caller (the agent's loop) in open() */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
    if (fd >= 0 && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)) {
        int e = errno;
        close(fd);
        errno = e;
        fd = -1;
    }

    secret_free(out);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the %s %s: %s", kinds[kind].what, path, strerror(errno));
        return TL_EIO;
    }
    s.data = malloc(max + 1);
    if (!s.data) {
        rc = TL_ENOMEM;
        snprintf(err, errlen, "cannot read the %s %s: out of memory", kinds[kind].what, path);
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, s.data + len, max + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read the %s %s: %s", kinds[kind].what, path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > max) {
            snprintf(err, errlen, "the %s %s is larger than %zu bytes", kinds[kind].what, path, max);
            rc = TL_ETOOBIG;
            goto out;
        }
    }
    s.data[len] = '\0';
    s.len = len;
    rc = check(path, kind, &s, err, errlen);
    if (rc == 0) {
        *out = s;
        s.data = NULL;
        s.len = 0;
    }
out:
    if (s.data) {
        OPENSSL_cleanse(s.data, max + 1);
        free(s.data);
    }
    close(fd);
    return rc;
}
