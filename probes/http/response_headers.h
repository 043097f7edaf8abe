/* Response header lines as curl hands them to its header callback, one line
 * (with its CRLF) at a time: status lines, "Name: value", folded
 * continuations, the blank line, and trailers after the body. Only the
 * headers of the last response are kept, within two caps. */
#ifndef TRIPLINE_RESPONSE_HEADERS_H
#define TRIPLINE_RESPONSE_HEADERS_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdbool.h>
#include <stddef.h>

#include "probes/http/transfer.h"

#define RESP_HDR_BYTES_MAX (64 * 1024) /* one response's header block */
#define RESP_HDR_COUNT_MAX 1024        /* header lines kept of one response */

/* What the parser keeps between lines of one transfer; zero it to start. */
struct resp_hdr {
    size_t bytes;     /* header bytes of the current response */
    size_t cap;       /* slots allocated in response.headers */
    bool in_body;     /* set by the caller when the body starts: trailers follow */
    bool keep_trailers; /* trailers join the headers (gRPC's status comes in them), under the caps */
    bool too_many;    /* the count cap, not the byte cap, was passed */
    /* framing of the current response (RFC 9112 6.3), before its body */
    long long length; /* its Content-Length, when has_length */
    bool has_length;
    bool has_te;      /* a Transfer-Encoding header */
    char broken[128]; /* why its framing is broken (TL_ESYNTAX) */
};

/* Takes one line into r->headers. Every status line ("HTTP/...") before the
 * body starts afresh; lines after the body (trailers) are ignored unless
 * keep_trailers, but count toward the byte cap either way; a line whose name is
 * empty or holds a space, a control byte or a non-ASCII byte is junk and
 * skipped; a line starting with a space or tab continues the previous
 * header's value. TL_ETOOBIG: the header block passed a cap (the caller
 * fails the transfer with TRANSFER_HEADERS_TOO_BIG). TL_ESYNTAX: the
 * response's framing is broken, h->broken says how (a Content-Length that
 * is not a number of at most 19 digits, two that differ, or one beside a
 * Transfer-Encoding: what a client cannot trust to find the body's end;
 * the caller fails the transfer with TRANSFER_BROKEN_FRAMING). TL_ENOMEM. */
int resp_hdr_line(struct resp_hdr *h, struct response *r, const char *p, size_t len);

/* Why the last TL_ETOOBIG, for response.error. */
void resp_hdr_too_big(const struct resp_hdr *h, char *buf, size_t len);

/* Frees the names and values kept so far (not the array). */
void resp_hdr_clear(struct response *r);

#endif
