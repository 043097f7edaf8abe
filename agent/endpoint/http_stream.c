/* Streamed bodies (http_stream.h): the slices of /metrics and /status text
 * handed to MHD, one produced only when the last one is used up. */
#include "agent/endpoint/http_stream.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "agent/log/log.h"

/* One streamed body, owned by its MHD response: freed (and the producer
 * closed) in the response's free callback, which MHD calls when it is done
 * with the connection for any reason. */
struct http_stream {
    struct http_stream **list;       /* the server's live streams */
    struct http_stream *prev, *next;
    struct logger *log;
    http_stream_next_fn next_fn;
    http_stream_close_fn close;
    void *stream;
    struct buf slice; /* produced, not yet handed to MHD from off on */
    size_t off;
    bool done;
};

bool http_stream_buffered(const struct http_stream *list)
{
    for (const struct http_stream *st = list; st; st = st->next) {
        if (st->off == st->slice.len && !st->done)
            return false;
    }
    return list != NULL;
}

/* MHD's content reader: asks for at most max bytes into its write buffer
 * (a few KB to ~32 KB), once per connection per MHD_run. A slice is
 * produced only when the last one is used up, so the producer runs in
 * HTTP_STREAM_SLICE steps and MHD_run returns between them. */
static ssize_t http_stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct http_stream *st = cls;
    (void)pos;
    while (st->off == st->slice.len) {
        if (st->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        buf_reset(&st->slice);
        st->off = 0;
        int rc = st->next_fn(st->stream, &st->slice, HTTP_STREAM_SLICE);
        if (rc == 0 && st->slice.len == 0)
            rc = TL_ESTATE; /* "more" with nothing would spin here */
        if (rc < 0) {
            log_kv(st->log, LOG_ERROR, LOG_FIELDS(LOG_INT("rc", rc)), "http: stream failed, connection cut");
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        st->done = rc > 0;
    }
    size_t n = st->slice.len - st->off;
    if (n > max)
        n = max;
    memcpy(out, st->slice.data + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static void http_stream_free(void *cls)
{
    struct http_stream *st = cls;
    if (st->prev)
        st->prev->next = st->next;
    else if (*st->list == st)
        *st->list = st->next;
    if (st->next)
        st->next->prev = st->prev;
    st->close(st->stream);
    buf_free(&st->slice);
    free(st);
}

struct MHD_Response *http_stream_response(struct http_stream **list, struct logger *log,
                                          http_stream_next_fn next_fn, http_stream_close_fn close_fn,
                                          void *stream)
{
    struct http_stream *st = malloc(sizeof(*st));
    if (!st) {
        close_fn(stream);
        return NULL;
    }
    *st = (struct http_stream){.list = list, .next = *list, .log = log, .next_fn = next_fn,
                               .close = close_fn, .stream = stream};
    buf_init(&st->slice, HTTP_STREAM_SLICE_MAX);
    if (*list)
        (*list)->prev = st;
    *list = st;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32u << 10, http_stream_read, st, http_stream_free);
    if (!resp)
        http_stream_free(st); /* unlinks it and closes the producer */
    return resp;
}
