#include "probes/http/response_headers.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A header's name and value share one allocation, "name\0value\0", owned
 * through name: one malloc per header line instead of two. */
void resp_hdr_clear(struct response *r)
{
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->headers[i].name);
    r->n_headers = 0;
}

void resp_hdr_too_big(const struct resp_hdr *h, char *buf, size_t len)
{
    if (h->too_many)
        snprintf(buf, len, "response with more than %d headers", RESP_HDR_COUNT_MAX);
    else
        snprintf(buf, len, "response headers larger than %d bytes", RESP_HDR_BYTES_MAX);
}

static bool is_status_line(const char *p, size_t len)
{
    return len >= 5 && memcmp(p, "HTTP/", 5) == 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* p..*len without leading and trailing blanks. */
static const char *trim(const char *p, size_t *len)
{
    size_t n = *len;
    while (n && is_blank(p[0])) {
        p++;
        n--;
    }
    while (n && is_blank(p[n - 1]))
        n--;
    *len = n;
    return p;
}

/* "name\0value\0" from the two spans (value2, if any, joins value after
 * one space), into *hd. */
static int set_pair(struct http_header *hd, const char *name, size_t nlen, const char *value, size_t vlen,
                    const char *value2, size_t v2len)
{
    size_t total = nlen + 1 + vlen + (v2len ? 1 + v2len : 0) + 1;
    char *s = malloc(total), *v;
    if (!s)
        return TL_ENOMEM;
    memcpy(s, name, nlen);
    s[nlen] = '\0';
    v = s + nlen + 1;
    memcpy(v, value, vlen);
    if (v2len) {
        v[vlen] = ' ';
        memcpy(v + vlen + 1, value2, v2len);
        vlen += 1 + v2len;
    }
    v[vlen] = '\0';
    *hd = (struct http_header){.name = s, .value = v};
    return 0;
}

/* Printable ASCII without ':' (a name may not hold what would split or
 * smuggle a header when it is echoed, logged or captured). */
static bool valid_name(const char *s, size_t len)
{
    if (!len)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ':')
            return false;
    return true;
}

/* obs-fold: the line's text joins the previous value after one space. */
static int fold(struct response *r, const char *p, size_t len)
{
    if (r->n_headers == 0)
        return 0; /* nothing to continue: junk */
    const char *more = trim(p, &len);
    len = strnlen(more, len); /* read as text: up to a NUL */
    if (!len)
        return 0;
    struct http_header *last = &r->headers[r->n_headers - 1];
    char *old = last->name;
    int rc = set_pair(last, old, strlen(old), last->value, strlen(last->value), more, len);
    if (rc == 0)
        free(old);
    return rc;
}

/* value as a Content-Length: one number, or a list of equal numbers
 * ("11, 11"), each 1*DIGIT and at most 19 digits (curl's curl_off_t);
 * -1 for anything else. */
static long long content_length(const char *v, size_t len)
{
    long long n = -1;
    size_t i = 0;
    while (i <= len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t'))
            i++;
        long long one = 0;
        size_t digits = 0;
        for (; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
            if (one > (INT64_MAX - (v[i] - '0')) / 10)
                return -1;
            one = one * 10 + (v[i] - '0');
        }
        while (i < len && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (!digits || (n >= 0 && one != n) || (i < len && v[i] != ','))
            return -1;
        n = one;
        i++; /* past the comma, or past the end */
    }
    return n;
}

/* The response's framing headers so far: 0, or TL_ESYNTAX with h->broken
 * set. The value is the server's, quoted in part (never a secret of ours). */
static int framing(struct resp_hdr *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    bool cl = nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0;
    bool te = nlen == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0;
    if (!cl && !te)
        return 0;
    int shown = vlen > 40 ? 40 : (int)vlen;
    const char *more = vlen > 40 ? "..." : "";
    if (cl) {
        long long n = content_length(value, vlen);
        if (n < 0) {
            snprintf(h->broken, sizeof(h->broken), "broken framing: Content-Length \"%.*s%s\" is not a length",
                     shown, value, more);
            return TL_ESYNTAX;
        }
        if (h->has_length && n != h->length) {
            snprintf(h->broken, sizeof(h->broken), "broken framing: Content-Length %lld and %lld disagree",
                     h->length, n);
            return TL_ESYNTAX;
        }
        h->has_length = true;
        h->length = n;
    } else {
        h->has_te = true;
    }
    if (h->has_te && h->has_length) {
        snprintf(h->broken, sizeof(h->broken),
                 "broken framing: Content-Length beside Transfer-Encoding (the request-smuggling shape)");
        return TL_ESYNTAX;
    }
    return 0;
}

static int add(struct resp_hdr *h, struct response *r, const char *p, size_t len)
{
    int rc = 0;
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return 0; /* the blank line or junk: nothing to keep */
    size_t nlen = (size_t)(colon - p), vlen = len - nlen - 1;
    const char *name = trim(p, &nlen);
    const char *value = trim(colon + 1, &vlen);
    nlen = strnlen(name, nlen); /* read as text: up to a NUL */
    if (!valid_name(name, nlen))
        goto out;
    if (!h->in_body) {
        rc = framing(h, name, nlen, value, strnlen(value, vlen));
        if (rc)
            goto out;
    }
    if (r->n_headers == RESP_HDR_COUNT_MAX) {
        h->too_many = true;
        rc = TL_ETOOBIG;
        goto out;
    }
    if (r->n_headers == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        struct http_header *more = realloc(r->headers, cap * sizeof(*more));
        if (!more) {
            rc = TL_ENOMEM;
            goto out;
        }
        r->headers = more;
        h->cap = cap;
    }
    rc = set_pair(&r->headers[r->n_headers], name, nlen, value, vlen, NULL, 0);
    if (rc == 0)
        r->n_headers++;
out:
    return rc;
}

int resp_hdr_line(struct resp_hdr *h, struct response *r, const char *p, size_t len)
{
    bool status = !h->in_body && is_status_line(p, len);
    if (status) {
        resp_hdr_clear(r);
        h->bytes = 0;
        h->has_length = h->has_te = false;
    }
    /* trailers count too: curl keeps every one, and a server can send them
     * without end after the last chunk */
    if (len > RESP_HDR_BYTES_MAX - h->bytes)
        return TL_ETOOBIG;
    h->bytes += len;
    if (h->in_body && !h->keep_trailers)
        return 0; /* trailers: not part of the response headers we report */
    if (status)
        return 0;
    if (len && (p[0] == ' ' || p[0] == '\t'))
        return fold(r, p, len);
    return add(h, r, p, len);
}
