/* The transfer engine: libcurl's multi interface on a libuv loop
 * (curl_multi_socket_action + one uv_poll_t per socket + one uv_timer_t).
 * One engine per loop; thousands of transfers in flight; no threads.
 *
 * A transfer is one HTTP request/response. A session groups the transfers of
 * one probe run: it carries the run's cookie jar. Every transfer opens a fresh
 * connection and resolves the name afresh (a synthetic check measures what a
 * new client sees). */
#ifndef TRIPLINE_TRANSFER_H
#define TRIPLINE_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/buf.h"
#include "probes/http/tls_facts.h"
#include "probes/probe.h"
#include "probes/triage/triage.h"

/* Phase timings in microseconds. dns, connect and tls are the length of each
 * phase; ttfb and total are measured from the start of the transfer. */
struct timings {
    tl_usec dns, connect, tls, ttfb, total;
};

struct http_header {
    char *name;
    char *value;
};

/* Why a transfer ended without a usable response, beyond curl's own code. */
enum transfer_fail {
    TRANSFER_OK = 0,
    TRANSFER_CURL,          /* curl_code says why (DNS, connect, TLS, timeout, ...) */
    TRANSFER_BODY_TOO_BIG,  /* decoded body passed body_max: aborted */
    TRANSFER_HEADERS_TOO_BIG,
    TRANSFER_BROKEN_FRAMING, /* Content-Length unusable or beside Transfer-Encoding: aborted */
    TRANSFER_KIND,          /* a step kind's exchange failed: kind_reason says why (probes/kinds) */
    TRANSFER_REDIRECT_REFUSED, /* a redirect not followed: it would resend the body to another origin */
};
const char *transfer_fail_str(enum transfer_fail f);

struct response {
    enum transfer_fail fail;
    int curl_code;              /* CURLcode; 0 on success */
    int os_errno;               /* errno of a failed connect (CURLINFO_OS_ERRNO); 0 if none */
    char error[256];            /* curl's error buffer or our reason; empty on success */
    long status;                /* 0 when no response was received */
    size_t n_headers;
    struct http_header *headers; /* of the final response (after redirects) */
    struct buf body;            /* decoded, capped at body_max */
    struct timings timings;
    char primary_ip[64];        /* the address connected to, "" if none */
    long http_version;          /* 10, 11, 20, 30; 0 unknown */
    char *url;                  /* where the final response came from, after redirects
                                 * (follow_redirects); NULL when no redirect was followed */
    int redirects;              /* redirects followed to get there */
    /* Step kinds other than HTTP (probes/kinds/kind.h). */
    enum reason kind_reason;    /* with TRANSFER_KIND: REASON_CONNECT, REASON_TIMEOUT, ... */
    cJSON *facts;               /* what the exchange learned (answers, banner); owned, may be NULL */
    struct tls_facts tls;       /* the peer certificate; tls.present false for http:// */
};

/* The first header named `name` (case-insensitive), or NULL. */
const char *response_header(const struct response *r, const char *name);
void response_free(struct response *r); /* frees members; r itself is caller's */
/* response_free, then r itself: the done callback's response goes back for reuse. */
void response_release(struct response *r);

struct transfer_engine;
struct transfer_session;

struct transfer_engine_opts {
    const char *ca_file;        /* default /etc/ssl/certs/ca-certificates.crt */
    const char *user_agent;     /* default "tripline/VERSION" */
    size_t max_total_connections; /* 0 = unlimited */
};

int transfer_engine_new(struct transfer_engine **out, uv_loop_t *loop,
                        const struct transfer_engine_opts *opts);
/* Aborts transfers still running (their callbacks are not called), closes
 * the engine's handles. The caller then runs the loop until it is empty. */
void transfer_engine_free(struct transfer_engine *e);
size_t transfer_engine_in_flight(const struct transfer_engine *e);
/* The loop the engine runs on (step kinds run their exchanges there too). */
uv_loop_t *transfer_engine_loop(const struct transfer_engine *e);

/* A session: the cookie jar of one probe run. */
int transfer_session_new(struct transfer_session **out, struct transfer_engine *e);
void transfer_session_free(struct transfer_session *s);
/* Ends the session's transfers in flight now, without their callbacks (as
 * freeing the engine does): for an owner going away that would otherwise
 * leave its callbacks' arguments to a transfer that may never end. */
void transfer_session_cancel(struct transfer_session *s);
/* Calls cb(arg) once, delay from now, on the engine's loop (a timer, never
 * a sleep); never when the engine is freed first, like a transfer in
 * flight. Returns 0 or a TL_E* code. */
int transfer_session_after(struct transfer_session *s, tl_usec delay, void (*cb)(void *arg), void *arg);

struct transfer_req {
    const char *method;         /* "GET", "POST", ... */
    const char *url;
    size_t n_headers;
    const struct http_header *headers; /* sent as given; "Name:" with empty value sends an empty header */
    const char *body;           /* may be NULL */
    size_t body_len;
    tl_usec timeout;            /* whole transfer; must be > 0 */
    size_t body_max;            /* decoded bytes kept; over it the transfer fails */
    bool follow_redirects;      /* at most 10 hops; the headers go only to url's origin (transfer_start) */
    bool insecure;              /* skip TLS verification (never the default) */
    const char *resolve;        /* optional CURLOPT_RESOLVE entries "host:port:addr", one per line (vantages) */
    const char *proxy;          /* optional proxy URL (vantages) */
    const char *interface;      /* optional source interface/address (vantages) */
    long http_version;          /* CURL_HTTP_VERSION_*; 0 = curl's default (grpc: steps ask for HTTP/2) */
    bool keep_trailers;         /* trailers join the response headers (grpc-status comes in them) */
    /* TLS settings (transfer_tls_pick fills them from a probe file); NULL/0 = default */
    const char *ca_file;        /* instead of the engine's CA bundle */
    const char *cert_file;      /* client certificate */
    const char *key_file;       /* its key: curl reads it, never the agent */
    const char *pinned_public_key;
    int tls_min_version;        /* 10..13: TLS 1.0..1.3 */
};

/* The TLS settings of a step: each from the step's own `tls:` block, else
 * the probe's. Sets insecure only when one of them says `verify`. */
void transfer_tls_pick(struct transfer_req *req, const struct tls_opts *step, const struct tls_opts *probe);

/* Called once per transfer, on the loop thread, when it ends for any reason.
 * resp belongs to the callee: it must response_free() it and free() it. */
typedef void (*transfer_done_cb)(struct response *resp, void *arg);

/* A header as it goes on the wire must stay one header line: a name of
 * visible characters without ':', a value without CR, LF, NUL or other
 * control bytes (a tab is allowed). Returns 0, or TL_EINVAL with a message
 * naming the header (never the value, which may hold a secret) in err. */
int transfer_header_check(const char *name, const char *value, char *err, size_t errlen);

/* "scheme://host:port" of url (the port written out, all lowercase) into
 * out. Returns 0, TL_EINVAL when url has none, TL_ETOOBIG, TL_ENOMEM. */
#define TRANSFER_ORIGIN_MAX 320
int transfer_url_origin(const char *url, char *out, size_t len);
/* a and b have the same origin (scheme, host and port): false when either has none. */
bool transfer_same_origin(const char *a, const char *b);

/* Starts a transfer. Everything in req is copied. With follow_redirects, a
 * redirect to another origin (scheme, host or port: https to http is
 * another) is followed without req's headers but Accept, Accept-Encoding,
 * Accept-Language, Content-Type, User-Agent and X-Correlation-ID, and not
 * at all when it would resend the body (307, 308): the response is the
 * redirect, failed with TRANSFER_REDIRECT_REFUSED. A header that fails
 * transfer_header_check() refuses the whole transfer: it is never sent. Returns 0, or a negative
 * value when the transfer could not be started (then cb is never called). */
int transfer_start(struct transfer_session *s, const struct transfer_req *req,
                   transfer_done_cb cb, void *arg);

#endif
