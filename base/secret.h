/* Reading secrets from files: sink tokens, HMAC keys, `{{ file:... }}` probe
 * values. One reader with one table of caps and rules per kind, so every
 * secret file is capped, cleansed from memory when freed, and reported by
 * path only (never its bytes). */
#ifndef TRIPLINE_SECRET_H
#define TRIPLINE_SECRET_H

#include <stddef.h>

enum secret_kind {
    SECRET_TOKEN, /* a bearer token: one line, trailing CR/LF cut, not empty, no control bytes */
    SECRET_KEY,   /* an HMAC key: raw bytes, not empty */
    SECRET_VALUE, /* a probe's file: value: trailing CR/LF cut, may be empty */
};

struct secret {
    unsigned char *data; /* NUL-terminated; NULL only when nothing was read */
    size_t len;
};

/* The most bytes a secret of this kind may hold. */
size_t secret_max(enum secret_kind kind);
/* Reads the whole file into out (which it resets first). Returns 0, TL_EIO
 * (cannot open or read), TL_ETOOBIG (over the cap), TL_EINVAL (empty or a
 * control byte where the kind forbids it) or TL_ENOMEM; err then names the
 * file and the reason. */
int secret_read(const char *path, enum secret_kind kind, struct secret *out, char *err,
                size_t errlen);
/* Overwrites and frees the bytes; the struct is left empty. NULL is a no-op. */
void secret_free(struct secret *s);

#endif
