/* TLS in probe files: the `tls:` block of a probe (the default for its
 * steps) and of a step's request, and `expect: {tls: {min_days: N}}`. The
 * files a block names must exist and be readable when the file is loaded;
 * they are opened, never read (a key file is a secret). */
#include "probes/load/load_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens path to see it is a readable regular file; 0 or an errno value. */
static int file_readable(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int err = 0;
    if (fd < 0)
        return errno;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (!S_ISREG(st.st_mode))
        err = EISDIR;
    close(fd);
    return err;
}

static int tls_path(struct yu *y, yaml_node_t *v, char **out, const char *what)
{
    if (yu_get_str(y, v, out))
        return -1;
    int err = (*out)[0] ? file_readable(*out) : ENOENT;
    if (err == 0)
        return 0;
    yu_error(y, v, "cannot read the %s \"%s\": %s (expected a readable PEM file)", what, *out, strerror(err));
    return -1;
}

static int tls_ca(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tls_opts *t = obj;
    return tls_path(y, v, &t->ca_file, "CA file");
}

static int tls_cert(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tls_opts *t = obj;
    return tls_path(y, v, &t->cert_file, "certificate file");
}

static int tls_key(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tls_opts *t = obj;
    return tls_path(y, v, &t->key_file, "key file");
}

/* One "sha256//" and 44 characters of base64 (a SHA-256 digest). */
static bool pin_one_ok(const char *s, size_t n)
{
    static const char pfx[] = "sha256//";
    if (n != sizeof(pfx) - 1 + 44 || strncmp(s, pfx, sizeof(pfx) - 1) != 0 || s[n - 1] != '=')
        return false;
    for (size_t i = sizeof(pfx) - 1; i < n - 1; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", s[i]))
            return false;
    return true;
}

static int tls_pin(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tls_opts *t = obj;
    const char *s = yu_str(v);
    bool ok = s && *s;
    for (const char *at = s; ok && *at;) {
        const char *semi = strchr(at, ';');
        size_t n = semi ? (size_t)(semi - at) : strlen(at);
        ok = pin_one_ok(at, n);
        at += n + (semi ? 1 : 0);
    }
    if (!ok) {
        yu_error(y, v, "bad pin \"%s\" (expected sha256//BASE64 of the public key, several joined by ';')",
                 s ? s : "");
        return -1;
    }
    return yu_get_str(y, v, &t->pinned_public_key);
}

static int tls_min_version(struct yu *y, void *obj, yaml_node_t *v)
{
    static const char *const versions[] = {"1.0", "1.1", "1.2", "1.3"};
    struct tls_opts *t = obj;
    int i = 0;
    if (yu_get_enum(y, v, versions, 4, "TLS version", "1.0, 1.1, 1.2 or 1.3", &i))
        return -1;
    t->min_version = 10 + i;
    return 0;
}

static int tls_verify(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tls_opts *t = obj;
    bool verify = true;
    if (yu_get_bool(y, v, &verify))
        return -1;
    t->verify = verify ? 1 : -1;
    return 0;
}

static const struct yu_key tls_keys[] = {
    {"verify", YU_FN_SCALAR, 0, tls_verify, 0},
    {"ca_file", YU_FN_SCALAR, 0, tls_ca, 0},
    {"cert_file", YU_FN_SCALAR, 0, tls_cert, 0},
    {"key_file", YU_FN_SCALAR, 0, tls_key, 0},
    {"pinned_public_key", YU_FN_SCALAR, 0, tls_pin, 0},
    {"min_version", YU_FN_SCALAR, 0, tls_min_version, 0},
    {NULL, 0, 0, NULL, 0},
};

int ld_tls(struct yu *y, yaml_node_t *v, struct tls_opts *t)
{
    if (yu_walk_map(y, v, tls_keys, t))
        return -1;
    /* a key alone is never sent; a certificate alone may hold its key */
    if (t->key_file && !t->cert_file) {
        yu_error(y, v, "key_file without cert_file (expected the client certificate too)");
        return -1;
    }
    return 0;
}

int ld_probe_tls(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    return ld_tls(y, v, &p->tls);
}

static const struct yu_key expect_tls_keys[] = {
    {"min_days", YU_INT, offsetof(struct expect, tls_min_days), NULL, YU_REQUIRED},
    {NULL, 0, 0, NULL, 0},
};

int ld_expect_tls(struct yu *y, void *obj, yaml_node_t *v)
{
    struct expect *e = obj;
    e->tls_expect = true;
    return yu_walk_map(y, v, expect_tls_keys, e) ? -1 : 0;
}
