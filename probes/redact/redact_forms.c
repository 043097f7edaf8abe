/* The encoded forms of a secret: what a server echoing it, a JSON printer or
 * a URL builder makes of the bytes. Each form is matched as plain text. */
#include "probes/redact/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int push_form(struct strv *out, const char *s)
{
    if (strlen(s) < 3)
        return 0;
    return strv_add(out, s) ? TL_ENOMEM : 0;
}

static int push_buf(struct strv *out, struct buf *b, int rc)
{
    if (!rc && b->data)
        rc = push_form(out, b->data);
    buf_free(b);
    return rc;
}

/* JSON string escaping as printers write it, with "/" bare or as "\/". */
static int json_form(struct strv *out, const char *s, bool slash)
{
    static const char hex[] = "0123456789abcdef";
    struct buf b;
    buf_init(&b, strlen(s) * 6 + 1);
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
        const char *esc = *p == '"' ? "\\\"" : *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r"
                        : *p == '\t' ? "\\t" : *p == '\b' ? "\\b" : *p == '\f' ? "\\f"
                        : *p == '/' && slash ? "\\/" : NULL;
        if (esc) {
            rc = buf_puts(&b, esc);
        } else if (*p < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            rc = buf_append(&b, u, 6);
        } else {
            rc = buf_append(&b, p, 1);
        }
    }
    return push_buf(out, &b, rc);
}

/* Percent-encoding of everything but unreserved bytes, hex digits in the
 * given case; plus_space gives the form encoding (space as '+'). */
static int pct_form(struct strv *out, const char *s, const char *hex, bool plus_space)
{
    struct buf b;
    buf_init(&b, strlen(s) * 3 + 1);
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
        if (isalnum(*p) || strchr("-_.~", *p)) {
            rc = buf_append(&b, p, 1);
        } else if (*p == ' ' && plus_space) {
            rc = buf_append(&b, "+", 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = buf_append(&b, e, 3);
        }
    }
    return push_buf(out, &b, rc);
}

/* Base64 of the secret at each of the three alignments it can have inside a
 * longer encoded string ("user:secret" in Basic auth): only the characters
 * that depend on the secret's bytes alone are kept. */
static int base64_forms(struct strv *out, const char *s, const char *alphabet)
{
    size_t n = strlen(s);
    int rc = 0;
    for (size_t k = 0; !rc && k < 3; k++) {
        size_t bits = 8 * (k + n);
        size_t first = (8 * k + 5) / 6, last = bits / 6; /* chars [first, last) */
        if (last <= first + 2)
            continue;
        struct buf b;
        buf_init(&b, last + 1);
        for (size_t i = first; !rc && i < last; i++) {
            unsigned v = 0;
            for (size_t bit = 6 * i; bit < 6 * i + 6; bit++) {
                size_t byte = bit / 8;
                unsigned c = byte < k ? 0 : (unsigned char)s[byte - k];
                v = v << 1 | ((c >> (7 - bit % 8)) & 1);
            }
            rc = buf_append(&b, alphabet + v, 1);
        }
        rc = push_buf(out, &b, rc);
    }
    return rc;
}

/* A value folded across header lines comes back with its line breaks and
 * runs of blanks made one space, or dropped. */
static int fold_forms(struct strv *out, const char *s)
{
    if (!strpbrk(s, " \t\r\n"))
        return 0;
    int rc = 0;
    for (int drop = 0; !rc && drop < 2; drop++) {
        struct buf b;
        buf_init(&b, strlen(s) + 1);
        for (const char *p = s; !rc && *p;) {
            size_t ws = strspn(p, " \t\r\n");
            rc = ws ? (drop ? 0 : buf_append(&b, " ", 1)) : buf_append(&b, p, 1);
            p += ws ? ws : 1;
        }
        rc = push_buf(out, &b, rc);
    }
    return rc;
}

/* Halves of a long secret: a value split across a JSON key and its value,
 * or cut by a snippet, still loses the part that remains. */
static int half_forms(struct strv *out, const char *s)
{
    size_t n = strlen(s);
    if (n < 16)
        return 0;
    char *a = strndup(s, n / 2);
    int rc = a ? push_form(out, a) : TL_ENOMEM;
    free(a);
    return rc ? rc : push_form(out, s + n / 2);
}

int redact_forms(const char *secret, struct strv *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int rc = push_form(out, secret);
    if (!rc)
        rc = json_form(out, secret, false);
    if (!rc)
        rc = json_form(out, secret, true);
    if (!rc)
        rc = pct_form(out, secret, "0123456789ABCDEF", false);
    if (!rc)
        rc = pct_form(out, secret, "0123456789abcdef", false);
    if (!rc)
        rc = pct_form(out, secret, "0123456789ABCDEF", true);
    if (!rc)
        rc = base64_forms(out, secret, b64);
    if (!rc)
        rc = base64_forms(out, secret, b64url);
    if (!rc)
        rc = fold_forms(out, secret);
    if (!rc)
        rc = half_forms(out, secret);
    return rc;
}
