#include "agent/endpoint/http.h"
#include "agent/endpoint/http_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "agent/log/log.h"

struct http_route {
    char *path;
    http_handler_fn fn;
    http_post_fn post;          /* set on POST routes instead of fn */
    http_stream_open_fn open;   /* set on streamed routes instead of fn */
    http_stream_next_fn next;
    http_stream_close_fn close;
    void *arg;
    char *auth;                 /* "Bearer <token>" a GET must send; NULL: open */
    size_t auth_len;
};

/* Held by MHD (until its completion callback) and by the handler (until
 * http_respond); freed when both let go. */
struct http_request {
    struct http *h;             /* NULL after http_free */
    struct MHD_Connection *c;   /* NULL once MHD is done with it */
    struct http_request *prev, *next; /* h's live requests */
    int refs;
    struct buf body;
    bool too_big, called, suspended, answered;
    unsigned status;
    const char *ctype;
    struct buf reply;
    char *xname, *xvalue;       /* http_respond_header's */
};

/* One client connection, from MHD's "started" to its "closed" notice:
 * MHD's own timeout restarts on every byte, so a client trickling its
 * headers or its body a byte at a time would hold a slot forever; the sweep
 * cuts a connection whose request (headers and body) is not in header_ms
 * after it opened or after its previous answer. */
struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    uint64_t since_ms;  /* loop time the current header read began */
    bool in_request;    /* request in, being answered */
    bool cut;
};

struct http {
    uv_loop_t *loop;
    struct MHD_Daemon *daemon;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_idle_t idle; /* "run MHD again next iteration" */
    uv_timer_t sweep; /* header deadlines, once a second while clients are connected */
    bool poll_open, timer_open, idle_open, sweep_open;
    struct http_conn *conns;
    uint64_t header_ms;
    int open_handles; /* h is freed when the last close callback ran */
    struct logger *log;
    uint16_t port;
    size_t n_routes, cap_routes;
    struct http_route *routes;
    struct http_request *requests; /* POSTs MHD still holds */
    struct http_stream *streams;   /* bodies being streamed */
};

static void http_on_timer(uv_timer_t *t);
static void http_on_idle(uv_idle_t *i);

/* MHD must run again within the time it names, even with no socket event:
 * that is how idle connections time out and how it finishes work left on
 * edge-triggered sockets. MHD_NO means nothing is pending: the timer rests.
 * "Now" (0, e.g. a streamed body with more to write) goes to the idle
 * handle, which runs once per loop iteration: libuv 1.44 would run a timer
 * re-armed at 0 again within the same timers phase, so a streamed body
 * would go out whole before the loop did anything else. */
static void http_arm(struct http *h)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(h->daemon, &ms) != MHD_YES) {
        uv_timer_stop(&h->timer);
        uv_idle_stop(&h->idle);
        return;
    }
    if (ms == 0) {
        uv_timer_stop(&h->timer);
        uv_idle_start(&h->idle, http_on_idle);
        return;
    }
    uv_idle_stop(&h->idle);
    if (ms > UINT32_MAX)
        ms = UINT32_MAX;
    uv_timer_start(&h->timer, http_on_timer, (uint64_t)ms, 0);
}

static unsigned http_nconns(struct http *h)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return i ? i->num_connections : 0;
}

/* At its connection limit MHD takes its listening socket out of its epoll
 * set and puts it back only at the start of a later MHD_run; connections it
 * closes at the end of a run leave nothing for the poll to see, so with no
 * timeout pending the backlog waited forever (sockets in CLOSE-WAIT). A run
 * that closed connections is therefore followed by one more. */
static void http_run(struct http *h)
{
    unsigned before = http_nconns(h);
    MHD_run(h->daemon);
    http_arm(h);
    if (http_nconns(h) < before)
        uv_idle_start(&h->idle, http_on_idle);
}

static void http_on_timer(uv_timer_t *t)
{
    http_run(t->data);
}

/* One MHD_run sends at most MHD's write buffer (~32 KB) per connection: at
 * one run per loop iteration, a loop busy with thousands of runs took
 * minutes to send a 16 MB scrape. So the idle handle sends the rest of the
 * slice now, with more runs, for at most HTTP_PUMP_US; the next slice is
 * produced on the next iteration, so the loop still turns between slices. */
static void http_on_idle(uv_idle_t *i)
{
    struct http *h = i->data;
    uint64_t t0 = uv_hrtime();
    http_run(h);
    for (int n = 0; n < HTTP_PUMP_RUNS && h->daemon && http_stream_buffered(h->streams); n++) {
        MHD_UNSIGNED_LONG_LONG ms = 1;
        if (MHD_get_timeout(h->daemon, &ms) != MHD_YES || ms != 0 || uv_hrtime() - t0 >= HTTP_PUMP_US * 1000u)
            break;
        http_run(h);
    }
}

static void http_on_poll(uv_poll_t *p, int status, int events)
{
    /* On a poll error too: MHD looks at its own sockets and sorts it out. */
    http_run(p->data);
}

/* Cuts connections past their header deadline: shutdown() (not close: the
 * descriptor stays MHD's) makes the socket readable at EOF, and MHD closes
 * it on its next run. */
static void http_on_sweep(uv_timer_t *t)
{
    struct http *h = t->data;
    uint64_t now = uv_now(h->loop);
    unsigned cut = 0;
    for (struct http_conn *k = h->conns; k; k = k->next) {
        if (k->in_request || k->cut || now - k->since_ms < h->header_ms)
            continue;
        k->cut = true;
        shutdown(k->fd, SHUT_RDWR);
        cut++;
    }
    if (cut) {
        log_kv(h->log, LOG_DEBUG, LOG_FIELDS(LOG_INT("connections", cut)), "http: headers too slow, cut");
        uv_idle_start(&h->idle, http_on_idle);
    }
    if (!h->conns)
        uv_timer_stop(&h->sweep);
}

static struct http_conn *http_conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

static void http_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    struct http *h = cls;
    struct http_conn *k = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (!k)
            return;
        if (k->prev)
            k->prev->next = k->next;
        else
            h->conns = k->next;
        if (k->next)
            k->next->prev = k->prev;
        free(k);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    k = calloc(1, sizeof(*k));
    if (!k || !fi) {
        free(k); /* untracked: MHD's idle timeout still applies */
        return;
    }
    k->fd = fi->connect_fd;
    k->since_ms = uv_now(h->loop);
    k->next = h->conns;
    if (h->conns)
        h->conns->prev = k;
    h->conns = k;
    *socket_context = k;
    if (h->sweep_open && !uv_is_active((uv_handle_t *)&h->sweep))
        uv_timer_start(&h->sweep, http_on_sweep, 1000, 1000);
}

/* Queues r with the headers every answer carries, and lets go of r. */
/* One more header (name NULL: none): Allow, WWW-Authenticate, a signature. */
struct http_extra {
    const char *name, *value;
};

/* The request is in (headers and any body): the request deadline no longer
 * applies while it is answered, however long that takes (a peer run). A
 * body trickled a byte at a time stays under the deadline, like headers. */
static void http_answering(struct MHD_Connection *c)
{
    struct http_conn *k = http_conn_of(c);
    if (k)
        k->in_request = true;
}

static enum MHD_Result http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                                  const char *content_type, struct http_extra x)
{
    http_answering(c);
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (ok == MHD_YES)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (ok == MHD_YES && x.name)
        ok = MHD_add_response_header(r, x.name, x.value);
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status, struct buf *body,
                                  const char *content_type, struct http_extra x)
{
    size_t len = body->len;
    char *data = buf_take(body);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    return http_queue(c, status, r, content_type, x);
}

/* Opens the producer and queues a chunked response reading from it; a
 * producer that will not open is a 500. HEAD opens and closes it (same
 * status and headers) and sends an empty buffer: MHD 0.9.75 writes the
 * closing "0" chunk after a HEAD's headers, which a keep-alive client then
 * reads as the start of its next response. */
static enum MHD_Result http_stream_reply(struct http *h, const struct http_route *r, struct MHD_Connection *c,
                                         const char *url, bool head)
{
    void *stream = NULL;
    const char *ctype = NULL;
    int rc = r->open(r->arg, &stream, &ctype);
    if (rc != 0 || !ctype) {
        if (rc == 0)
            r->close(stream);
        log_kv(h->log, LOG_ERROR, LOG_FIELDS(LOG_STR("path", url), LOG_INT("rc", rc)), "http: stream would not open");
        struct buf body;
        buf_init(&body, HTTP_BODY_MAX);
        buf_puts(&body, "internal error\n");
        enum MHD_Result ok = http_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, &body, "text/plain; charset=utf-8", (struct http_extra){0});
        buf_free(&body);
        return ok;
    }
    if (head) {
        r->close(stream);
        struct buf none;
        buf_init(&none, 1);
        enum MHD_Result ok = http_reply(c, MHD_HTTP_OK, &none, ctype, (struct http_extra){0});
        buf_free(&none);
        return ok;
    }
    struct MHD_Response *resp = http_stream_response(&h->streams, h->log, r->next, r->close, stream);
    if (!resp)
        return MHD_NO;
    log_kv(h->log, LOG_DEBUG, LOG_FIELDS(LOG_STR("path", url), LOG_INT("status", 200)), "http: stream");
    return http_queue(c, MHD_HTTP_OK, resp, ctype, (struct http_extra){0});
}

static const struct http_route *http_find(const struct http *h, const char *path)
{
    for (size_t i = 0; i < h->n_routes; i++) {
        if (strcmp(h->routes[i].path, path) == 0)
            return &h->routes[i];
    }
    return NULL;
}

static void req_unref(struct http_request *rq)
{
    if (!rq || --rq->refs > 0)
        return;
    buf_free(&rq->body);
    buf_free(&rq->reply);
    free(rq->xname);
    free(rq->xvalue);
    free(rq);
}

static enum MHD_Result http_plain(struct MHD_Connection *c, unsigned status, const char *text, const char *allow)
{
    struct buf body;
    buf_init(&body, HTTP_BODY_MAX);
    buf_puts(&body, text);
    struct http_extra x = {allow ? MHD_HTTP_HEADER_ALLOW : NULL, allow};
    enum MHD_Result ok = http_reply(c, status, &body, "text/plain; charset=utf-8", x);
    buf_free(&body);
    return ok;
}

/* A POST route: the body is gathered under its cap, the handler called on
 * the last call, and the connection suspended until http_respond when the
 * handler answers later. MHD calls again after a resume; then the answer is
 * queued. */
static enum MHD_Result http_post_access(struct http *h, const struct http_route *r, struct MHD_Connection *c,
                                        const char *method, const char *upload_data, size_t *upload_data_size,
                                        void **req_cls)
{
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return http_plain(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "POST");
    struct http_request *rq = *req_cls;
    if (!rq) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > HTTP_POST_MAX))
            return http_plain(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n", NULL);
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        rq->h = h;
        rq->c = c;
        rq->refs = 1;
        buf_init(&rq->body, HTTP_POST_MAX);
        buf_init(&rq->reply, HTTP_BODY_MAX);
        rq->next = h->requests;
        if (h->requests)
            h->requests->prev = rq;
        h->requests = rq;
        *req_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* a chunked body has no Content-Length: the cap applies here too */
        if (!rq->too_big && buf_append(&rq->body, upload_data, *upload_data_size))
            rq->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_big)
        return http_plain(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n", NULL);
    if (!rq->called) {
        rq->called = true;
        rq->refs++; /* the handler's, until http_respond */
        r->post(r->arg, rq, rq->body.data ? rq->body.data : "", rq->body.len);
    }
    if (!rq->answered) {
        rq->suspended = true;
        http_answering(c);
        MHD_suspend_connection(c);
        return MHD_YES;
    }
    log_kv(h->log, LOG_DEBUG, LOG_FIELDS(LOG_STR("method", method), LOG_INT("status", rq->status)),
           "http: request");
    return http_reply(c, rq->status, &rq->reply, rq->ctype, (struct http_extra){rq->xname, rq->xvalue});
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    return req && req->c ? MHD_lookup_connection_value(req->c, MHD_HEADER_KIND, name) : NULL;
}

int http_respond_header(struct http_request *req, const char *name, const char *value)
{
    if (!req || req->answered || !name || !value)
        return TL_EINVAL;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return TL_ENOMEM;
    }
    free(req->xname);
    free(req->xvalue);
    req->xname = n;
    req->xvalue = v;
    return 0;
}

void http_respond(struct http_request *req, int status, const char *content_type, const char *body, size_t len)
{
    if (!req || req->answered)
        return;
    req->answered = true;
    req->status = status >= 100 && status <= 599 ? (unsigned)status : MHD_HTTP_INTERNAL_SERVER_ERROR;
    req->ctype = content_type ? content_type : "text/plain; charset=utf-8";
    if (body && buf_append(&req->reply, body, len)) {
        req->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        buf_reset(&req->reply);
    }
    if (req->suspended && req->c && req->h) {
        req->suspended = false;
        MHD_resume_connection(req->c);
        /* MHD picks the connection up on its next run: make that now */
        uv_idle_start(&req->h->idle, http_on_idle);
    }
    req_unref(req);
}

static void http_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;
    struct http_request *rq = *req_cls;
    struct http_conn *k = http_conn_of(c);
    (void)toe;
    if (k) {
        /* a kept-alive connection starts reading its next headers now */
        k->in_request = false;
        k->since_ms = uv_now(h->loop);
    }
    if (!rq || (void *)rq == (void *)h)
        return;
    *req_cls = NULL;
    if (rq->prev)
        rq->prev->next = rq->next;
    else if (h->requests == rq)
        h->requests = rq->next;
    if (rq->next)
        rq->next->prev = rq->prev;
    rq->prev = rq->next = NULL;
    rq->c = NULL;
    req_unref(rq);
}

static bool http_authorized(struct MHD_Connection *c, const struct http_route *r)
{
    if (!r->auth)
        return true;
    const char *got = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    /* constant time over the token: the answer's timing says nothing of it */
    return got && strlen(got) == r->auth_len && CRYPTO_memcmp(got, r->auth, r->auth_len) == 0;
}

static enum MHD_Result http_unauthorized(struct MHD_Connection *c)
{
    struct buf body;
    buf_init(&body, HTTP_BODY_MAX);
    buf_puts(&body, "unauthorized\n");
    struct http_extra x = {MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer"};
    enum MHD_Result ok = http_reply(c, MHD_HTTP_UNAUTHORIZED, &body, "text/plain; charset=utf-8", x);
    buf_free(&body);
    return ok;
}

/* MHD calls this first with the headers, then with any body, then once with
 * *upload_data_size == 0. GET and HEAD are answered on that last call: a
 * response queued earlier makes MHD close the connection (no keep-alive).
 * Other methods are answered at once, so an unwanted body is never read. */
static enum MHD_Result http_access(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **req_cls)
{
    struct http *h = cls;
    const struct http_route *pr = http_find(h, url);
    if (pr && pr->post)
        return http_post_access(h, pr, c, method, upload_data, upload_data_size, req_cls);
    bool read_only =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (read_only && *req_cls == NULL) {
        *req_cls = h; /* any non-NULL value marks "headers seen" */
        return MHD_YES;
    }
    if (read_only && *upload_data_size != 0) {
        *upload_data_size = 0; /* a GET with a body: drop it */
        return MHD_YES;
    }
    struct buf body;
    buf_init(&body, HTTP_BODY_MAX);
    const char *ctype = "text/plain; charset=utf-8";
    int status;
    const char *allow = NULL;
    const struct http_route *r = pr;
    if (!read_only) {
        status = r ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
        allow = r ? "GET, HEAD" : NULL;
        buf_puts(&body, r ? "method not allowed\n" : "not found\n");
    } else if (!r) {
        status = MHD_HTTP_NOT_FOUND;
        buf_puts(&body, "not found\n");
    } else if (!http_authorized(c, r)) {
        buf_free(&body);
        return http_unauthorized(c);
    } else if (r->open) {
        buf_free(&body);
        return http_stream_reply(h, r, c, url, strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
    } else {
        status = r->fn(r->arg, &body, &ctype);
        if (status < 100 || status > 599 || !ctype) {
            log_kv(h->log, LOG_ERROR, LOG_FIELDS(LOG_STR("path", url), LOG_INT("status", status)),
                   "http: handler failed");
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            ctype = "text/plain; charset=utf-8";
            buf_reset(&body);
            buf_puts(&body, "internal error\n");
        }
    }
    log_kv(h->log, LOG_DEBUG,
           LOG_FIELDS(LOG_STR("method", method), LOG_STR("path", url), LOG_INT("status", status)),
           "http: request");
    struct http_extra x = {allow ? MHD_HTTP_HEADER_ALLOW : NULL, allow};
    enum MHD_Result ok = http_reply(c, (unsigned)status, &body, ctype, x);
    buf_free(&body);
    return ok;
}

__attribute__((format(printf, 2, 0))) static void http_mhd_log(void *cls, const char *fmt,
                                                               va_list ap)
{
    struct http *h = cls;
    if (log_enabled(h->log, LOG_WARN))
        log_vwrite(h->log, LOG_WARN, LOG_FIELDS(LOG_STR("component", "microhttpd")), fmt, ap);
}

static void http_on_close(uv_handle_t *handle)
{
    struct http *h = handle->data;
    if (--h->open_handles > 0)
        return;
    for (size_t i = 0; i < h->n_routes; i++) {
        free(h->routes[i].path);
        if (h->routes[i].auth)
            OPENSSL_cleanse(h->routes[i].auth, h->routes[i].auth_len);
        free(h->routes[i].auth);
    }
    free(h->routes);
    free(h);
}

void http_free(struct http *h)
{
    if (!h)
        return;
    /* Close the poll first: uv_close stops it and takes the epoll descriptor
     * out of libuv's set before MHD_stop_daemon closes that descriptor. */
    if (h->poll_open)
        uv_close((uv_handle_t *)&h->poll, http_on_close);
    if (h->timer_open)
        uv_close((uv_handle_t *)&h->timer, http_on_close);
    if (h->idle_open)
        uv_close((uv_handle_t *)&h->idle, http_on_close);
    if (h->sweep_open)
        uv_close((uv_handle_t *)&h->sweep, http_on_close);
    h->poll_open = h->timer_open = h->idle_open = h->sweep_open = false;
    /* MHD will not stop with suspended connections: resume them to close
     * them; their handlers' later answers are dropped */
    for (struct http_request *rq = h->requests; rq; rq = rq->next) {
        if (rq->suspended && rq->c && h->daemon)
            MHD_resume_connection(rq->c);
        rq->suspended = false;
        rq->h = NULL;
    }
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    h->daemon = NULL;
    while (h->conns) { /* MHD notified every close; this is only a backstop */
        struct http_conn *k = h->conns;
        h->conns = k->next;
        free(k);
    }
    if (h->open_handles == 0) {
        h->open_handles = 1;
        http_on_close((uv_handle_t *)&h->timer);
    }
}

int http_new(uv_loop_t *loop, const struct http_opts *opts, struct http **out)
{
    int rc = 0;
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    struct http *h = calloc(1, sizeof(*h));
    if (!h)
        return TL_ENOMEM;
    h->loop = loop;
    h->log = opts->log;
    h->poll.data = h;
    h->timer.data = h;
    h->idle.data = h;
    h->sweep.data = h;
    h->header_ms = 1000u * (opts->header_timeout_s ? opts->header_timeout_s : HTTP_HEADER_TIMEOUT_S);
    rc = http_parse_listen(opts->listen, &ss, &sslen);
    if (rc) {
        log_kv(h->log, LOG_ERROR, LOG_FIELDS(LOG_STR("listen", opts->listen)),
               "http: listen address must be IPv4:port or [IPv6]:port");
        goto out;
    }
    if (uv_timer_init(loop, &h->timer) != 0) {
        rc = TL_ELOOP;
        goto out;
    }
    h->timer_open = true;
    h->open_handles++;
    if (uv_idle_init(loop, &h->idle) != 0) {
        rc = TL_ELOOP;
        goto out;
    }
    h->idle_open = true;
    h->open_handles++;
    if (uv_timer_init(loop, &h->sweep) != 0) {
        rc = TL_ELOOP;
        goto out;
    }
    h->sweep_open = true;
    h->open_handles++;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_access, h, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
        MHD_OPTION_NOTIFY_COMPLETED, http_completed, h, MHD_OPTION_NOTIFY_CONNECTION, http_notify, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(opts->conn_timeout_s ? opts->conn_timeout_s : 30), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(opts->conn_limit ? opts->conn_limit : HTTP_CONN_LIMIT), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)(opts->per_client_limit ? opts->per_client_limit : HTTP_PER_CLIENT_LIMIT), MHD_OPTION_END);
    if (!h->daemon) {
        log_kv(h->log, LOG_ERROR, LOG_FIELDS(LOG_STR("listen", opts->listen)),
               "http: cannot listen (address in use or not available?)");
        rc = TL_ESTART;
        goto out;
    }
    const union MHD_DaemonInfo *epi = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!epi || !pi) {
        rc = TL_ESTART;
        goto out;
    }
    h->port = pi->port;
    if (uv_poll_init(loop, &h->poll, epi->epoll_fd) != 0) {
        rc = TL_ELOOP;
        goto out;
    }
    h->poll_open = true;
    h->open_handles++;
    if (uv_poll_start(&h->poll, UV_READABLE, http_on_poll) != 0) {
        rc = TL_ELOOP;
        goto out;
    }
    http_arm(h);
    log_kv(h->log, LOG_INFO, LOG_FIELDS(LOG_STR("listen", opts->listen), LOG_INT("port", h->port)),
           "http: listening");
out:
    if (rc)
        http_free(h);
    else
        *out = h;
    return rc;
}

static int route_add(struct http *h, const char *path, const struct http_route *nr)
{
    if (!h || !path || path[0] != '/')
        return TL_EINVAL;
    for (size_t i = 0; i < h->n_routes; i++) {
        if (strcmp(h->routes[i].path, path) == 0) {
            /* a new handler keeps the path and any token: replacing a
             * route never opens it */
            struct http_route old = h->routes[i];
            h->routes[i] = *nr;
            h->routes[i].path = old.path;
            h->routes[i].auth = old.auth;
            h->routes[i].auth_len = old.auth_len;
            return 0;
        }
    }
    if (h->n_routes == h->cap_routes) {
        size_t cap = h->cap_routes ? h->cap_routes * 2 : 8;
        struct http_route *r = realloc(h->routes, cap * sizeof(*r));
        if (!r)
            return TL_ENOMEM;
        h->routes = r;
        h->cap_routes = cap;
    }
    char *p = strdup(path);
    if (!p)
        return TL_ENOMEM;
    h->routes[h->n_routes] = *nr;
    h->routes[h->n_routes++].path = p;
    return 0;
}

int http_route(struct http *h, const char *path, http_handler_fn fn, void *arg)
{
    return fn ? route_add(h, path, &(struct http_route){.fn = fn, .arg = arg}) : TL_EINVAL;
}

int http_route_post(struct http *h, const char *path, http_post_fn fn, void *arg)
{
    return fn ? route_add(h, path, &(struct http_route){.post = fn, .arg = arg}) : TL_EINVAL;
}

int http_route_stream(struct http *h, const char *path, http_stream_open_fn open_fn,
                      http_stream_next_fn next_fn, http_stream_close_fn close_fn, void *arg)
{
    if (!open_fn || !next_fn || !close_fn)
        return TL_EINVAL;
    return route_add(h, path,
                     &(struct http_route){.open = open_fn, .next = next_fn, .close = close_fn, .arg = arg});
}

int http_route_token(struct http *h, const char *path, const char *token, size_t len)
{
    if (!h || !path || !token || !len)
        return TL_EINVAL;
    for (size_t i = 0; i < h->n_routes; i++) {
        struct http_route *r = &h->routes[i];
        if (strcmp(r->path, path) != 0)
            continue;
        char *auth = malloc(len + 8);
        if (!auth)
            return TL_ENOMEM;
        memcpy(auth, "Bearer ", 7);
        memcpy(auth + 7, token, len);
        auth[len + 7] = '\0';
        if (r->auth)
            OPENSSL_cleanse(r->auth, r->auth_len);
        free(r->auth);
        r->auth = auth;
        r->auth_len = len + 7;
        return 0;
    }
    return TL_ENOTFOUND;
}

uint16_t http_port(const struct http *h)
{
    return h ? h->port : 0;
}
