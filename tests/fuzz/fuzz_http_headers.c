/* Response header lines, split on \n as curl's header callback gets them:
 * the first byte says after how many blank lines the body starts (trailers
 * follow). Headers stay under both caps and every name kept is printable
 * ASCII without ':'; a broken framing (Content-Length) says why. */
#include "tests/fuzz/fuzz_util.h"

#include "probes/http/response_headers.h"

static void check(const struct resp_hdr *h, const struct response *r)
{
    if (r->n_headers > RESP_HDR_COUNT_MAX || h->bytes > RESP_HDR_BYTES_MAX || r->n_headers > h->cap)
        abort();
    for (size_t i = 0; i < r->n_headers; i++) {
        const unsigned char *n = (const unsigned char *)r->headers[i].name;
        if (!n[0] || !r->headers[i].value || strchr(r->headers[i].value, '\n'))
            abort();
        for (; *n; n++)
            if (*n <= 0x20 || *n >= 0x7f || *n == ':')
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned body_after = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    struct resp_hdr h = {0};
    struct response r = {0};
    unsigned blanks = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        int rc = resp_hdr_line(&h, &r, p, len);
        if (rc == TL_ETOOBIG) {
            char why[100];
            resp_hdr_too_big(&h, why, sizeof(why));
            break; /* the transfer fails here */
        }
        if (rc == TL_ESYNTAX) {
            if (!strstr(h.broken, "Content-Length"))
                abort(); /* the framing says why */
            break;        /* the transfer fails here too */
        }
        if (rc)
            abort(); /* nothing else can fail short of memory */
        check(&h, &r);
        if ((len == 1 || (len == 2 && p[0] == '\r')) && ++blanks == body_after)
            h.in_body = true;
        p += len;
    }
    check(&h, &r);
    (void)response_header(&r, "Content-Type");
    response_free(&r);
    return 0;
}
