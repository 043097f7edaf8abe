/* The agent's HTTP endpoint (/metrics, /status, /healthz): libmicrohttpd
 * joined to the agent's libuv loop without a thread of its own. MHD runs in
 * epoll mode; one uv_poll_t watches its epoll descriptor and calls MHD_run
 * when it turns readable, and one uv_timer_t, re-armed from MHD_get_timeout
 * after every MHD_run, drives connection timeouts; work MHD wants done now
 * (a streamed body with more to send) runs from a uv_idle_t, at most one
 * new slice per loop iteration (sent whole then, within a time budget), so
 * timers and other I/O get their turn between slices.
 * Handlers therefore run on the loop thread and need no locks. */
#ifndef TRIPLINE_HTTP_H
#define TRIPLINE_HTTP_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "base/buf.h"

struct logger;
struct http;


/* Fills body (capped at HTTP_BODY_MAX) and sets *content_type to a string
 * that outlives the call; returns the HTTP status. A status < 100 or > 599
 * is answered as 500. Called for GET and HEAD (MHD drops a HEAD body). */
typedef int (*http_handler_fn)(void *arg, struct buf *body, const char **content_type);

/* /metrics holds ~9.5 KB per probe (its duration and phase histograms):
 * 10,000 probes need ~95 MB, which a 64 MiB cap answered with a 500. */
#define HTTP_BODY_MAX (256u << 20)

/* A streamed GET route, for bodies too large to build at once (/metrics
 * at 10,000 probes is ~16 MB). open is called once per GET or HEAD and
 * returns 0 with *stream and *content_type set (negative: answered 500).
 * The body then goes out chunked, in slices: next appends
 * about budget bytes to out and returns 0 while more remains, 1 at the end
 * (with or without a last piece), negative on error (the connection is cut,
 * so the client sees a truncated body, never a short "complete" one). close
 * is called exactly once per opened stream: at the end, when the client goes
 * away mid-body, or when the server stops. All on the loop thread; each
 * slice is separate loop work, so a scrape never holds the loop long. */
typedef int (*http_stream_open_fn)(void *arg, void **stream, const char **content_type);
typedef int (*http_stream_next_fn)(void *stream, struct buf *out, size_t budget);
typedef void (*http_stream_close_fn)(void *stream);

/* The budget passed to next, and the cap of the slice buffer (a slice may
 * pass its budget by one whole unit of the producer's output). A producer
 * that can be slow per byte should also stop on time (metrics_cursor_clock
 * does for /metrics). */
#define HTTP_STREAM_SLICE (256u << 10)
#define HTTP_STREAM_SLICE_MAX (4u << 20)
/* After producing a slice, one loop iteration goes on sending it (MHD
 * sends ~32 KB a run) for at most HTTP_PUMP_US and HTTP_PUMP_RUNS runs. */
#define HTTP_PUMP_US 2000u
#define HTTP_PUMP_RUNS 64

/* A POST in progress. The handler answers it exactly once with
 * http_respond(), during the call or later from any loop callback (the
 * connection waits, suspended, without blocking the loop). */
struct http_request;

/* Called once per POST with the whole body (at most HTTP_POST_MAX bytes; a
 * larger body is answered 413 without a call). */
typedef void (*http_post_fn)(void *arg, struct http_request *req, const char *body, size_t len);

#define HTTP_POST_MAX (64u << 10)

/* Connection limits: a scrape takes one connection and a peer run holds one
 * for as long as its probe runs, so 256 leaves room for several scrapers
 * and dozens of peers at once; one address gets at most 32 of them, so a
 * single misbehaving client cannot take every slot. A client whose request
 * headers are not complete after HTTP_HEADER_TIMEOUT_S (slowloris) is cut. */
#define HTTP_CONN_LIMIT 256u
#define HTTP_PER_CLIENT_LIMIT 32u
#define HTTP_HEADER_TIMEOUT_S 10u

struct http_opts {
    const char *listen;       /* "127.0.0.1:9464" or "[::1]:9464"; port 0 = ephemeral */
    unsigned conn_timeout_s;  /* idle connections are closed after this; 0 = 30 s */
    unsigned conn_limit;      /* concurrent connections; 0 = HTTP_CONN_LIMIT */
    unsigned per_client_limit; /* concurrent connections from one address; 0 = HTTP_PER_CLIENT_LIMIT */
    unsigned header_timeout_s; /* request headers due by then; 0 = HTTP_HEADER_TIMEOUT_S */
    struct logger *log;       /* NULL = log_default() */
};

/* Parses a listen address: an IPv4 literal or a bracketed IPv6 literal, a
 * colon and a port 0-65535. Host names are refused (no DNS at start-up). */
int http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len);

/* Binds and starts serving on loop. */
int http_new(uv_loop_t *loop, const struct http_opts *opts, struct http **out);
/* Adds a route for an exact path (no query string); a later route for the
 * same path replaces the earlier one. */
int http_route(struct http *h, const char *path, http_handler_fn fn, void *arg);
/* Adds a POST route (GET and HEAD on it get 405); replaces any route for
 * the same path. */
int http_route_post(struct http *h, const char *path, http_post_fn fn, void *arg);
/* Adds a streamed GET/HEAD route; replaces any route for the same path. */
int http_route_stream(struct http *h, const char *path, http_stream_open_fn open_fn,
                      http_stream_next_fn next_fn, http_stream_close_fn close_fn, void *arg);
/* GET and HEAD on the route at path must carry "Authorization: Bearer
 * <token>" (len bytes, copied; compared in constant time); others get 401.
 * TL_ENOTFOUND when no route has that path. */
int http_route_token(struct http *h, const char *path, const char *token, size_t len);
/* A request header (case-insensitive name), or NULL. Only during the
 * handler's call. */
const char *http_request_header(const struct http_request *req, const char *name);
/* Adds one header (copied) to the answer http_respond will send; a second
 * call replaces it. Call before http_respond. */
int http_respond_header(struct http_request *req, const char *name, const char *value);
/* Answers req (body copied; content_type NULL = text/plain). After it req is
 * gone. Answering a request whose server was freed just drops it. */
void http_respond(struct http_request *req, int status, const char *content_type, const char *body, size_t len);
/* The bound port (the real one when the address asked for port 0). */
uint16_t http_port(const struct http *h);
/* Stops MHD (closing every connection) and closes the libuv handles; the
 * memory goes in their close callbacks, so run the loop once more before
 * uv_loop_close. http_free(NULL) is a no-op. Not from inside a handler:
 * MHD is running then; stop from another loop callback. */
void http_free(struct http *h);

#endif
