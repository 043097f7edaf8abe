#include "probes/http/response_headers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void resp_hdr_clear(struct response *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
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

/* p..len without leading and trailing blanks, as a new string. */
static char *dup_trimmed(const char *p, size_t len)
{
    while (len && is_blank(p[0])) {
        p++;
        len--;
    }
    while (len && is_blank(p[len - 1]))
        len--;
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* Printable ASCII without ':' (a name may not hold what would split or
 * smuggle a header when it is echoed, logged or captured). */
static bool valid_name(const char *s)
{
    if (!s[0])
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == ':')
            return false;
    return true;
}

/* obs-fold: the line's text joins the previous value after one space. */
static int fold(struct response *r, const char *p, size_t len)
{
    if (r->n_headers == 0)
        return 0; /* nothing to continue: junk */
    char *more = dup_trimmed(p, len);
    if (!more)
        return TL_ENOMEM;
    int rc = 0;
    char **v = &r->headers[r->n_headers - 1].value;
    size_t a = strlen(*v), b = strlen(more);
    if (b) {
        char *joined = realloc(*v, a + b + 2);
        if (!joined) {
            rc = TL_ENOMEM;
            goto out;
        }
        joined[a] = ' ';
        memcpy(joined + a + 1, more, b + 1);
        *v = joined;
    }
out:
    free(more);
    return rc;
}

static int add(struct resp_hdr *h, struct response *r, const char *p, size_t len)
{
    int rc = 0;
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return 0; /* the blank line or junk: nothing to keep */
    char *name = dup_trimmed(p, (size_t)(colon - p));
    char *value = dup_trimmed(colon + 1, len - (size_t)(colon - p) - 1);
    if (!name || !value) {
        rc = TL_ENOMEM;
        goto out;
    }
    if (!valid_name(name))
        goto out;
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
    r->headers[r->n_headers++] = (struct http_header){.name = name, .value = value};
    name = value = NULL;
out:
    free(name);
    free(value);
    return rc;
}

int resp_hdr_line(struct resp_hdr *h, struct response *r, const char *p, size_t len)
{
    if (h->in_body && !h->keep_trailers)
        return 0; /* trailers: not part of the response headers we report */
    bool status = is_status_line(p, len);
    if (status) {
        resp_hdr_clear(r);
        h->bytes = 0;
    }
    if (len > RESP_HDR_BYTES_MAX - h->bytes)
        return TL_ETOOBIG;
    h->bytes += len;
    if (status)
        return 0;
    if (len && (p[0] == ' ' || p[0] == '\t'))
        return fold(r, p, len);
    return add(h, r, p, len);
}
