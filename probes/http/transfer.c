/* The transfer engine: libcurl's multi interface driven by a libuv loop.
 *
 * curl tells us which sockets to watch (socket_cb) and when to wake it up
 * (timer_cb); libuv tells curl when a socket is ready or the timer fired
 * (curl_multi_socket_action). After every call into curl, finished transfers
 * are drained from curl_multi_info_read and handed to their done callbacks. */
#include "probes/http/transfer.h"
#include "probes/http/transfer_tls.h"
#include "probes/http/easy_pool.h"
#include "probes/http/share_pool.h"
#include "probes/http/sockwatch.h"
#include "probes/http/response_headers.h"

#include "base/err.h"
#include "base/freelist.h"
#include "probes/http/transfer_wait.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#define TRANSFER_CA_FILE_DEFAULT "/etc/ssl/certs/ca-certificates.crt"
#define TRANSFER_BODY_MAX_DEFAULT (1024 * 1024)
#define TRANSFER_MAX_REDIRS 10L /* hops of follow_redirects, as curl was held to */
#define TRANSFER_HEADER_LINE_MAX (64 * 1024)

#ifndef TRIPLINE_VERSION
#define TRIPLINE_VERSION "dev"
#endif

_Static_assert(sizeof(((struct response *)0)->error) >= CURL_ERROR_SIZE,
               "response.error must hold curl's error buffer");

struct transfer_engine {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    char *ca_file;
    char *user_agent;
    char *accept_encoding;    /* curl's expansion of "", built once */
    bool ca_file_is_default;  /* what curl_easy_reset leaves: not set again */
    size_t in_flight;
    struct xfer *xfers;       /* transfers in flight */
    struct sockwatch *watch;  /* the sockets curl asked for (sockwatch.h) */
    int depth;                /* > 0 while inside a drain (callbacks may free us) */
    bool dying;               /* transfer_engine_free was called during a drain */
    struct transfer_wait *waits; /* transfer_session_after timers pending */
    struct easy_pool easy_pool; /* reset handles for the next transfers */
};

struct transfer_session {
    struct transfer_engine *e;
    CURLSH *share;
    int refs;                 /* the owner plus every transfer in flight */
    bool dirty;               /* share may hold a cookie or a pinned address (share_pool.h) */
};


struct xfer {
    struct transfer_engine *e;
    struct transfer_session *s;
    CURL *easy;
    bool keep;                /* easy goes back to the pool without a reset */
    struct curl_slist *headers;
    struct curl_slist *resolve;
    struct response *resp;
    struct resp_hdr hdr;      /* the header parser's state; hdr.in_body once the body starts */
    size_t body_max;
    char reason[256];         /* why we aborted; curl overwrites its error buffer */
    int socket_errno;         /* socket() failed with it (open_socket); curl keeps no errno then */
    transfer_done_cb cb;
    void *arg;
    struct xfer *prev, *next;
    /* follow_redirects: the agent follows, never curl (xfer_follow) */
    bool follow;
    bool has_body;            /* the request as it goes now sends a body */
    int hops;                 /* redirects followed so far */
    char *method;             /* as it goes now: a POST may become a GET */
    char *origin;             /* the step's URL's, "scheme://host:port"; NULL: none */
    struct curl_slist *cross_headers; /* what another origin may see (cross_origin_headers) */
    tl_usec timeout;          /* the whole chain's */
    struct timings spent;     /* of the hops before this one */
};

const char *transfer_fail_str(enum transfer_fail f)
{
    switch (f) {
    case TRANSFER_OK:
        return "ok";
    case TRANSFER_CURL:
        return "curl";
    case TRANSFER_BODY_TOO_BIG:
        return "body_too_big";
    case TRANSFER_HEADERS_TOO_BIG:
        return "headers_too_big";
    case TRANSFER_BROKEN_FRAMING:
        return "broken_framing";
    case TRANSFER_KIND:
        return "kind";
    case TRANSFER_REDIRECT_REFUSED:
        return "redirect_refused";
    }
    return "unknown";
}

const char *response_header(const struct response *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

/* Responses are above malloc's per-thread cache size: reused (freelist.h). */
static struct freelist responses = FREELIST_INIT(sizeof(struct response));

void response_release(struct response *r)
{
    response_free(r);
    freelist_put(&responses, r);
}

void response_free(struct response *r)
{
    if (!r)
        return;
    resp_hdr_clear(r);
    free(r->headers);
    r->headers = NULL;
    buf_free(&r->body);
    cJSON_Delete(r->facts);
    r->facts = NULL;
    free(r->url);
    r->url = NULL;
    r->redirects = 0;
}

/* --- the curl <-> libuv seam ------------------------------------------- */

static void engine_drain(struct transfer_engine *e);
static void engine_destroy(struct transfer_engine *e);
static int xfer_follow(struct xfer *x);

static void on_ready(void *arg, int fd, int cselect)
{
    struct transfer_engine *e = arg;
    int running = 0;
    curl_multi_socket_action(e->multi, fd, cselect, &running);
}

/* Finished transfers are handed over once per batch of ready sockets. */
static void on_batch(void *arg)
{
    engine_drain(arg);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct transfer_engine *e = userp;
    return sockwatch_set(e->watch, s, what) == 0 ? 0 : -1;
}

static void timer_fire_cb(uv_timer_t *t)
{
    struct transfer_engine *e = t->data;
    int running = 0;
    curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    engine_drain(e);
}

/* curl asks to be woken after timeout_ms; 0 goes through the timer too so
 * that curl is never re-entered from inside one of its own callbacks. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct transfer_engine *e = userp;
    if (timeout_ms < 0)
        return uv_timer_stop(&e->timer) == 0 ? 0 : -1;
    return uv_timer_start(&e->timer, timer_fire_cb, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

/* --- transfers ----------------------------------------------------------- */

static void session_unref(struct transfer_session *s)
{
    if (!s || --s->refs > 0)
        return;
    share_pool_put(s->share, !s->dirty);
    free(s);
}

static void xfer_unlink(struct xfer *x)
{
    struct transfer_engine *e = x->e;
    if (x->prev)
        x->prev->next = x->next;
    else
        e->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    e->in_flight--;
}

/* Frees everything but the response, which goes to the done callback. */
static void xfer_free(struct xfer *x)
{
    if (!x)
        return;
    easy_pool_put(&x->e->easy_pool, x->easy, x->keep);
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->cross_headers);
    curl_slist_free_all(x->resolve);
    free(x->method);
    free(x->origin);
    session_unref(x->s);
    free(x);
}

static void set_too_big(struct xfer *x, const char *what, size_t n)
{
    snprintf(x->reason, sizeof(x->reason), "response %s larger than %zu bytes", what, n);
}

static size_t write_cb(char *p, size_t size, size_t n, void *userp)
{
    struct xfer *x = userp;
    size_t len = size * n;
    int rc;

    x->hdr.in_body = true;
    rc = buf_append(&x->resp->body, p, len);
    if (rc == TL_ETOOBIG) {
        x->resp->fail = TRANSFER_BODY_TOO_BIG;
        set_too_big(x, "body", x->body_max);
        return 0;
    }
    if (rc != 0)
        return 0;
    return len;
}

static size_t header_cb(char *p, size_t size, size_t n, void *userp)
{
    struct xfer *x = userp;
    size_t len = size * n;
    /* curl stored its cookie before handing us the line; p[3] first
     * keeps "Server:" out of strncasecmp */
    if (len >= 10 && p[3] == '-' && (p[0] | 0x20) == 's' && strncasecmp(p, "Set-Cookie", 10) == 0)
        x->s->dirty = true;
    int rc = resp_hdr_line(&x->hdr, x->resp, p, len);
    if (rc == TL_ETOOBIG) {
        x->resp->fail = TRANSFER_HEADERS_TOO_BIG;
        resp_hdr_too_big(&x->hdr, x->reason, sizeof(x->reason));
    } else if (rc == TL_ESYNTAX) {
        /* curl would read to the close, or trust one of two lengths */
        x->resp->fail = TRANSFER_BROKEN_FRAMING;
        snprintf(x->reason, sizeof(x->reason), "%s", x->hdr.broken);
    }
    return rc ? 0 : len;
}

static tl_usec info_usec(CURL *easy, CURLINFO what)
{
    curl_off_t v = 0;
    if (curl_easy_getinfo(easy, what, &v) != CURLE_OK || v < 0)
        return 0;
    return (tl_usec)v;
}

/* A connect that failed on this host's side, said as such (triage makes it
 * the agent's fault); r->error stays empty for the target's own failures. */
static void connect_fault_text(struct response *r)
{
    const char *why = NULL;
    switch (triage_connect_errno(r->os_errno)) {
    case REASON_LOCAL_PORTS:
        why = "no local port left to connect from: this host's ephemeral port range "
              "(net.ipv4.ip_local_port_range) is in use or held in TIME_WAIT, or it has no source "
              "address of the target's family (EADDRNOTAVAIL); the target was not asked";
        break;
    case REASON_FD_LIMIT:
        why = "the agent has no file descriptor left for the connection (LimitNOFILE, "
              "limits.concurrency); the target was not asked";
        break;
    case REASON_OUT_OF_MEMORY:
        why = "the kernel had no memory for the connection's socket; the target was not asked";
        break;
    default:
        return;
    }
    snprintf(r->error, sizeof(r->error), "%s", why);
}

static void xfer_collect(struct xfer *x, CURLcode result)
{
    struct response *r = x->resp;
    CURL *easy = x->easy;
    long v = 0;
    char *ip = NULL;

    r->curl_code = (int)result;
    if (result != CURLE_OK && r->fail == TRANSFER_OK)
        r->fail = TRANSFER_CURL;
    if (result != CURLE_OK) {
        long oe = 0;
        if (curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &oe) == CURLE_OK)
            r->os_errno = (int)oe;
        if (!r->os_errno && x->socket_errno)
            r->os_errno = x->socket_errno;
    }
    if (x->reason[0])
        snprintf(r->error, sizeof(r->error), "%s", x->reason);
    else if (result == CURLE_COULDNT_CONNECT)
        connect_fault_text(r);
    if (result != CURLE_OK && r->error[0] == '\0')
        snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(result));
    if (result == CURLE_OK)
        r->error[0] = '\0';

    tl_usec dns = info_usec(easy, CURLINFO_NAMELOOKUP_TIME_T);
    tl_usec conn = info_usec(easy, CURLINFO_CONNECT_TIME_T);
    tl_usec app = info_usec(easy, CURLINFO_APPCONNECT_TIME_T);
    r->timings.dns = dns;
    r->timings.connect = conn > dns ? conn - dns : 0;
    r->timings.tls = app > conn ? app - conn : 0;
    r->timings.ttfb = info_usec(easy, CURLINFO_STARTTRANSFER_TIME_T);
    r->timings.total = info_usec(easy, CURLINFO_TOTAL_TIME_T);

    if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &v) == CURLE_OK)
        r->status = v;
    /* after a redirect the response is not the step URL's: say whose it is
     * (out of memory, the evidence goes without it) */
    char *at = NULL;
    free(r->url);
    r->url = NULL;
    r->redirects = x->hops;
    if (x->hops > 0 && curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &at) == CURLE_OK && at)
        r->url = strdup(at);
    if (curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip) {
        size_t n = strnlen(ip, sizeof(r->primary_ip) - 1);
        memcpy(r->primary_ip, ip, n);
        r->primary_ip[n] = '\0';
    }
    v = 0;
    if (curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &v) == CURLE_OK) {
        switch (v) {
        case CURL_HTTP_VERSION_1_0:
            r->http_version = 10;
            break;
        case CURL_HTTP_VERSION_1_1:
            r->http_version = 11;
            break;
        case CURL_HTTP_VERSION_2_0:
            r->http_version = 20;
            break;
        case CURL_HTTP_VERSION_3:
            r->http_version = 30;
            break;
        default:
            r->http_version = 0;
        }
    }
    /* Callers read the body as text: give them "" rather than NULL. */
    if (!r->body.data)
        buf_append(&r->body, "", 0);
}

/* Hands every finished transfer to its callback. Unconditional: a guard on
 * "still running" would lose the last transfer's DONE. */
static void engine_drain(struct transfer_engine *e)
{
    CURLMsg *msg;
    int left = 0;

    e->depth++;
    while (!e->dying) {
        msg = curl_multi_info_read(e->multi, &left);
        if (!msg)
            break;
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode result = msg->data.result; /* msg is invalid once the handle is removed */
        CURL *easy = msg->easy_handle;
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        struct xfer *x = (struct xfer *)priv;
        if (!x)
            continue;
        xfer_collect(x, result);
        curl_multi_remove_handle(e->multi, easy);
        if (x->follow && xfer_follow(x) == 0)
            continue; /* the next hop is in flight */
        xfer_unlink(x);
        struct response *resp = x->resp;
        transfer_done_cb cb = x->cb;
        void *arg = x->arg;
        xfer_free(x);
        cb(resp, arg);
    }
    e->depth--;
    if (e->depth == 0 && e->dying)
        engine_destroy(e);
}

static int add_header(struct curl_slist **l, const char *line)
{
    struct curl_slist *n = curl_slist_append(*l, line);
    if (!n)
        return -1;
    *l = n;
    return 0;
}

/* The bytes a header may hold, one lookup per byte (NUL ends the walk):
 * every header of every run passes through here, the correlation id too.
 * A name: no control byte, space, DEL or ':'; a value: no control byte
 * but tab, no DEL. */
static const unsigned char NAME_OK[256] = {[0x21 ... 0x39] = 1, [0x3B ... 0x7E] = 1, [0x80 ... 0xFF] = 1};
static const unsigned char VALUE_OK[256] = {['\t'] = 1, [0x20 ... 0x7E] = 1, [0x80 ... 0xFF] = 1};

static bool all_ok(const unsigned char *ok, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (ok[*p])
        p++;
    return *p == '\0';
}

int transfer_header_check(const char *name, const char *value, char *err, size_t errlen)
{
    int rc = 0;

    if (!all_ok(NAME_OK, name ? name : "")) {
        rc = TL_EINVAL;
        snprintf(err, errlen, "a header name holds a control byte, a space or ':'; not sent");
    } else if (!all_ok(VALUE_OK, value ? value : "")) {
        rc = TL_EINVAL;
        snprintf(err, errlen,
                 "header %s: the rendered value holds CR, LF or another control byte "
                 "(header injection); not sent", name);
    }
    return rc;
}

/* "Name: value", or "Name;" (curl reads "Name:" as "remove this header"
 * and "Name;" as "send it empty"), appended to l: no printf per run. */
static int add_header_line(struct curl_slist **l, const char *name, const char *value)
{
    char small[256], *line = small;
    size_t n = strlen(name), v = value ? strlen(value) : 0;
    size_t len = n + (v ? 2 + v : 1);
    int rc;

    if (len > TRANSFER_HEADER_LINE_MAX)
        return -1;
    if (len >= sizeof(small) && !(line = malloc(len + 1)))
        return -1;
    memcpy(line, name, n);
    if (v) {
        memcpy(line + n, ": ", 2);
        memcpy(line + n + 2, value, v);
    } else {
        line[n] = ';';
    }
    line[len] = '\0';
    rc = add_header(l, line);
    if (line != small)
        free(line);
    return rc;
}

static int build_headers(struct xfer *x, const struct transfer_req *req, bool sends_body)
{
    bool has_expect = false, has_connection = false;
    int rc = 0;

    for (size_t i = 0; i < req->n_headers && rc == 0; i++) {
        const struct http_header *h = &req->headers[i];
        if (!h->name || !h->name[0])
            continue;
        char why[160];
        if (transfer_header_check(h->name, h->value, why, sizeof why)) {
            rc = -1;
            break;
        }
        if (strcasecmp(h->name, "Expect") == 0)
            has_expect = true;
        if (strcasecmp(h->name, "Connection") == 0)
            has_connection = true;
        rc = add_header_line(&x->headers, h->name, h->value);
    }
    /* Expect: 100-continue would add a round trip to every POST we time;
     * curl sends it only with a body. */
    if (rc == 0 && !has_expect && sends_body)
        rc = add_header(&x->headers, "Expect:");
    /* Every check opens a fresh connection and never reuses it: saying so
     * lets the server close first, so TIME_WAIT stays on its side. When the
     * agent closed first, each check held one of this host's ephemeral ports
     * for a minute, and ~28,000 ports / 60 s ran out at ~470 checks/s to one
     * address (curl leaves the header out of HTTP/2 requests). */
    if (rc == 0 && !has_connection)
        rc = add_header(&x->headers, "Connection: close");
    return rc ? -1 : 0;
}

#define SETOPT(opt, val)                                                       \
    do {                                                                       \
        if (rc == 0 && curl_easy_setopt(easy, opt, val) != CURLE_OK)           \
            rc = -1;                                                           \
    } while (0)

/* An option only some requests set: the handle that saw it is reset before
 * its next transfer instead of going back to the pool as it is (easy_pool.h). */
#define SETOPT_EXTRA(opt, val)                                                 \
    do {                                                                       \
        x->keep = false;                                                       \
        SETOPT(opt, val);                                                      \
    } while (0)

/* curl's own socket(), plus close-on-exec (action hooks are child
 * processes: they must not inherit probe connections), and the errno kept
 * when it fails: curl reports "couldn't connect" without it, and a host out
 * of descriptors would read as the target refusing. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = clientp;
    (void)purpose;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0) {
        x->socket_errno = errno;
        return CURL_SOCKET_BAD;
    }
    return fd;
}

/* The options every transfer of the engine sets alike. */
static int setup_constant(const struct transfer_engine *e, CURL *easy)
{
    int rc = 0;

    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_FRESH_CONNECT, 1L);
    SETOPT(CURLOPT_FORBID_REUSE, 1L);
    SETOPT(CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    SETOPT(CURLOPT_ACCEPT_ENCODING, e->accept_encoding);
    /* The bitmask form, deprecated since 7.85 but kept by curl: the _STR
     * form parsed its string against every scheme on every transfer. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    SETOPT(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#pragma GCC diagnostic pop
    SETOPT(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_USERAGENT, e->user_agent);
    /* With CAPATH unset curl caches the parsed CA store on the multi handle
     * (CA_CACHE_TIMEOUT) instead of parsing the bundle for every connection. */
    SETOPT(CURLOPT_CAPATH, NULL);
    if (!e->ca_file_is_default)
        SETOPT(CURLOPT_CAINFO, e->ca_file);
    SETOPT(CURLOPT_CA_CACHE_TIMEOUT, 86400L);
    /* Handles are reused (easy_pool.h): no TLS session may carry over, so
     * every check keeps its full handshake. */
    SETOPT(CURLOPT_SSL_SESSIONID_CACHE, 0L);
    /* verification on and redirects off are what curl_easy_reset leaves:
     * follow_redirects is the agent's own (xfer_follow) */
    /* An explicit proxy or none at all: never one picked up from the environment. */
    SETOPT(CURLOPT_PROXY, "");
    return rc;
}

/* What only some requests set; a handle that saw any of it is reset. */
static int setup_extras(struct xfer *x, const struct transfer_req *req)
{
    CURL *easy = x->easy;
    int rc = 0;

    if (req->insecure) {
        SETOPT_EXTRA(CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT_EXTRA(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req->proxy)
        SETOPT_EXTRA(CURLOPT_PROXY, req->proxy);
    if (req->interface)
        SETOPT_EXTRA(CURLOPT_INTERFACE, req->interface);
    if (req->http_version)
        SETOPT_EXTRA(CURLOPT_HTTP_VERSION, req->http_version);
    if (rc == 0 && req->resolve) {
        x->s->dirty = true; /* the entries stay in the share's DNS cache */
        /* one CURLOPT_RESOLVE entry per line */
        for (const char *at = req->resolve; rc == 0 && *at;) {
            const char *nl = strchr(at, '\n');
            size_t n = nl ? (size_t)(nl - at) : strlen(at);
            char *entry = strndup(at, n);
            if (!entry || add_header(&x->resolve, entry) != 0)
                rc = -1;
            free(entry);
            at += n + (nl ? 1 : 0);
        }
        SETOPT_EXTRA(CURLOPT_RESOLVE, x->resolve);
    }
    return rc;
}

static int setup_method(struct xfer *x, const struct transfer_req *req)
{
    CURL *easy = x->easy;
    int rc = 0;
    const char *m = req->method ? req->method : "GET";
    bool sends_body = false;

    if (strcmp(m, "HEAD") == 0) {
        SETOPT_EXTRA(CURLOPT_NOBODY, 1L);
    } else if (req->body || strcmp(m, "POST") == 0) {
        sends_body = true;
        SETOPT_EXTRA(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT_EXTRA(CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
        if (strcmp(m, "POST") != 0)
            SETOPT_EXTRA(CURLOPT_CUSTOMREQUEST, m);
    } else if (strcmp(m, "GET") != 0) {
        SETOPT_EXTRA(CURLOPT_CUSTOMREQUEST, m);
    }
    if (rc == 0)
        rc = build_headers(x, req, sends_body);
    SETOPT(CURLOPT_HTTPHEADER, x->headers);
    x->has_body = sends_body;
    if (rc == 0 && x->follow && !(x->method = strdup(m)))
        rc = -1;
    return rc;
}

/* kept: the handle still holds setup_constant's options (easy_pool.h). */
static int xfer_setup(struct xfer *x, const struct transfer_req *req, bool kept)
{
    CURL *easy = x->easy;
    int rc = kept ? 0 : setup_constant(x->e, easy);
    long ms = (long)((req->timeout + 999) / 1000);

    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_PRIVATE, (void *)x);
    SETOPT(CURLOPT_OPENSOCKETDATA, (void *)x);
    SETOPT(CURLOPT_TIMEOUT_MS, ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, ms);
    SETOPT(CURLOPT_ERRORBUFFER, x->resp->error);
    SETOPT(CURLOPT_WRITEDATA, (void *)x);
    SETOPT(CURLOPT_HEADERDATA, (void *)x);
    SETOPT(CURLOPT_SHARE, x->s->share);
    SETOPT(CURLOPT_COOKIEFILE, ""); /* turns the cookie engine on, reads no file */
    bool tls_custom = false;
    if (rc == 0)
        rc = transfer_tls_setup(easy, req, &x->resp->tls, &tls_custom);
    x->keep = !tls_custom; /* cleared by every SETOPT_EXTRA below */
    if (rc == 0)
        rc = setup_extras(x, req);
    if (rc == 0)
        rc = setup_method(x, req);
    if (rc)
        x->keep = false;
    return rc;
}

/* --- redirects ------------------------------------------------------------
 *
 * curl would send every CURLOPT_HTTPHEADER line to whatever host a redirect
 * names (it strips only Authorization and Cookie, and only on a change of
 * host, port or scheme): a probe's API key would go to any host its API, or
 * whoever took it over, redirects to. So curl never follows: after each hop
 * the agent reads where curl would have gone (CURLINFO_REDIRECT_URL) and
 * starts the next hop on the same handle, with the probe's headers when the
 * target is the origin the step's URL names and only CROSS_ORIGIN_OK ones
 * otherwise. The method and body change as curl changes them, the chain
 * keeps one deadline and curl's limit of hops, and the timings add up. */

/* Headers that say what the client accepts or sends, never who it is. */
static const char *const CROSS_ORIGIN_OK[] = {
    "Accept", "Accept-Encoding", "Accept-Language", "Content-Type", "User-Agent", "X-Correlation-ID",
    "Connection", "Expect", /* the transfer's own: Connection: close, Expect: */
};

int transfer_url_origin(const char *url, char *out, size_t len)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = TL_EINVAL;

    if (!u)
        return TL_ENOMEM;
    if (url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        int n = snprintf(out, len, "%s://%s:%s", scheme, host, port);
        rc = n > 0 && (size_t)n < len ? 0 : TL_ETOOBIG;
        /* curl keeps the case of a host name as written: DNS ignores it */
        for (char *p = out; rc == 0 && *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

bool transfer_same_origin(const char *a, const char *b)
{
    char oa[TRANSFER_ORIGIN_MAX], ob[TRANSFER_ORIGIN_MAX];
    return transfer_url_origin(a, oa, sizeof oa) == 0 && transfer_url_origin(b, ob, sizeof ob) == 0 &&
           strcmp(oa, ob) == 0;
}

static bool cross_origin_ok(const char *line)
{
    size_t n = strcspn(line, ":;");
    for (size_t i = 0; i < sizeof(CROSS_ORIGIN_OK) / sizeof(CROSS_ORIGIN_OK[0]); i++)
        if (strlen(CROSS_ORIGIN_OK[i]) == n && strncasecmp(line, CROSS_ORIGIN_OK[i], n) == 0)
            return true;
    return false;
}

/* The lines of x->headers another origin may see, built once per transfer. */
static struct curl_slist *cross_origin_headers(struct xfer *x)
{
    if (x->cross_headers)
        return x->cross_headers;
    for (const struct curl_slist *l = x->headers; l; l = l->next) {
        if (cross_origin_ok(l->data) && add_header(&x->cross_headers, l->data) != 0) {
            curl_slist_free_all(x->cross_headers);
            x->cross_headers = NULL;
            return NULL;
        }
    }
    /* an empty list would send the probe's full one: curl keeps the last set */
    if (!x->cross_headers && add_header(&x->cross_headers, "Connection: close") != 0)
        return NULL;
    return x->cross_headers;
}

static void timings_add(struct timings *sum, const struct timings *hop)
{
    sum->dns += hop->dns;
    sum->connect += hop->connect;
    sum->tls += hop->tls;
    sum->total += hop->total;
}

/* Ends the chain with the response in hand: failed for `code` and `why`
 * unless code is CURLE_OK. */
static int chain_end(struct xfer *x, int code, enum transfer_fail fail, const char *why)
{
    struct response *r = x->resp;
    struct timings *t = &r->timings;

    if (code != CURLE_OK || fail != TRANSFER_OK) {
        r->curl_code = code;
        r->fail = fail;
        snprintf(r->error, sizeof(r->error), "%s", why);
    }
    /* ttfb and total from the start of the first hop, phases summed (as curl does) */
    if (t->ttfb)
        t->ttfb += x->spent.total;
    timings_add(t, &x->spent);
    return -1;
}

/* The response of the hop before goes; the next hop's comes into it. */
static void response_restart(struct xfer *x)
{
    struct response *r = x->resp;
    resp_hdr_clear(r);
    x->hdr.bytes = 0;
    x->hdr.in_body = false;
    x->hdr.too_many = false;
    x->hdr.has_length = x->hdr.has_te = false;
    buf_free(&r->body);
    buf_init(&r->body, x->body_max);
    r->status = 0;
    r->curl_code = 0;
    r->os_errno = 0;
    r->error[0] = '\0';
    r->primary_ip[0] = '\0';
    r->http_version = 0;
    memset(&r->tls, 0, sizeof(r->tls)); /* the final server's, none over http:// */
    x->reason[0] = '\0';
    x->socket_errno = 0;
}

/* Called when a hop is done and its handle removed. Returns 0 when the next
 * hop is in flight; otherwise x->resp is the chain's final response. */
static int xfer_follow(struct xfer *x)
{
    struct response *r = x->resp;
    CURL *easy = x->easy;
    char *target = NULL, why[256], origin[TRANSFER_ORIGIN_MAX];
    int rc = 0;

    if (r->fail != TRANSFER_OK || r->curl_code != CURLE_OK ||
        curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &target) != CURLE_OK || !target)
        return chain_end(x, CURLE_OK, TRANSFER_OK, NULL);
    if (x->hops >= TRANSFER_MAX_REDIRS) {
        snprintf(why, sizeof why, "Maximum (%ld) redirects followed", TRANSFER_MAX_REDIRS);
        return chain_end(x, CURLE_TOO_MANY_REDIRECTS, TRANSFER_CURL, why);
    }
    struct timings spent = x->spent;
    timings_add(&spent, &r->timings);
    if (spent.total >= x->timeout) {
        snprintf(why, sizeof why, "Operation timed out after %lld milliseconds, %d redirects followed",
                 (long long)(spent.total / 1000), x->hops);
        return chain_end(x, CURLE_OPERATION_TIMEDOUT, TRANSFER_CURL, why);
    }
    /* curl's rules: 301 and 302 turn a POST into a GET, 303 anything but
     * a GET or HEAD; 307 and 308 resend the request as it was */
    bool to_get = ((r->status == 301 || r->status == 302) && strcmp(x->method, "POST") == 0) ||
                  (r->status == 303 && strcmp(x->method, "GET") != 0 && strcmp(x->method, "HEAD") != 0);
    bool parsed = transfer_url_origin(target, origin, sizeof origin) == 0;
    bool same = x->origin && parsed && strcmp(origin, x->origin) == 0;
    if (!same && x->has_body && !to_get) {
        /* a body can hold a secret as well as a header can, and a 307 or 308
         * cannot drop it: the chain stops here */
        if (!parsed)
            snprintf(origin, sizeof origin, "a URL without an origin");
        snprintf(why, sizeof why,
                 "redirect (%ld) to %.120s not followed: it would resend the request body to an origin "
                 "the step does not name", r->status, origin);
        return chain_end(x, CURLE_OK, TRANSFER_REDIRECT_REFUSED, why);
    }
    struct curl_slist *headers = same ? x->headers : cross_origin_headers(x);
    long ms = (long)((x->timeout - spent.total + 999) / 1000);
    if (!headers)
        rc = -1;
    if (to_get) {
        char *get = strdup("GET");
        if (!get)
            rc = -1;
        free(x->method);
        x->method = get;
        x->has_body = false;
        x->keep = false;
        SETOPT(CURLOPT_HTTPGET, 1L);
        SETOPT(CURLOPT_CUSTOMREQUEST, NULL);
    }
    SETOPT(CURLOPT_URL, target); /* curl copies it before it drops its own */
    SETOPT(CURLOPT_HTTPHEADER, headers);
    SETOPT(CURLOPT_TIMEOUT_MS, ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, ms);
    if (rc)
        return chain_end(x, CURLE_OUT_OF_MEMORY, TRANSFER_CURL, "out of memory following a redirect");
    x->spent = spent;
    x->hops++;
    response_restart(x);
    if (curl_multi_add_handle(x->e->multi, easy) != CURLM_OK)
        return chain_end(x, CURLE_FAILED_INIT, TRANSFER_CURL, "cannot start the redirect's transfer");
    return 0;
}

int transfer_start(struct transfer_session *s, const struct transfer_req *req,
                   transfer_done_cb cb, void *arg)
{
    struct transfer_engine *e;
    struct xfer *x = NULL;
    int rc = -1;

    if (!s || !req || !req->url || !cb || req->timeout <= 0)
        goto out;
    e = s->e;
    if (e->dying)
        goto out;
    x = calloc(1, sizeof(*x));
    if (!x)
        goto out;
    x->e = e;
    x->s = s;
    s->refs++;
    x->cb = cb;
    x->arg = arg;
    x->body_max = req->body_max ? req->body_max : TRANSFER_BODY_MAX_DEFAULT;
    x->hdr.keep_trailers = req->keep_trailers;
    x->follow = req->follow_redirects;
    x->timeout = req->timeout;
    x->resp = freelist_get(&responses);
    if (!x->resp)
        goto out;
    buf_init(&x->resp->body, x->body_max);
    if (x->follow) {
        char origin[TRANSFER_ORIGIN_MAX];
        /* a URL without an origin: every hop counts as another origin */
        if (transfer_url_origin(req->url, origin, sizeof origin) == 0 && !(x->origin = strdup(origin)))
            goto out;
    }
    bool kept;
    x->easy = easy_pool_get(&e->easy_pool, &kept);
    if (!x->easy)
        goto out;
    rc = xfer_setup(x, req, kept);
    if (rc)
        goto out;
    if (curl_multi_add_handle(e->multi, x->easy) != CURLM_OK) {
        rc = -1;
        goto out;
    }
    x->next = e->xfers;
    if (e->xfers)
        e->xfers->prev = x;
    e->xfers = x;
    e->in_flight++;
    x = NULL;
    rc = 0;
out:
    if (x) {
        response_release(x->resp);
        xfer_free(x);
    }
    return rc;
}

/* --- engine and sessions ----------------------------------------------- */

static char *dup_or(const char *s, const char *def)
{
    return strdup(s ? s : def);
}

/* What curl sends for CURLOPT_ACCEPT_ENCODING "": the encodings it was
 * built with, in the order of its table (content_encoding.c); expanding ""
 * cost every transfer ~1,500 instructions. test_transfer compares the two. */
static char *all_encodings(const curl_version_info_data *v)
{
    static const struct {
        int feature;
        const char *names;
    } table[] = {{CURL_VERSION_LIBZ, "deflate, gzip"}, {CURL_VERSION_BROTLI, "br"}, {CURL_VERSION_ZSTD, "zstd"}};
    char list[64];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        size_t len = strlen(table[i].names);
        if (!(v->features & table[i].feature) || n + len + 3 > sizeof(list))
            continue;
        if (n) {
            memcpy(list + n, ", ", 2);
            n += 2;
        }
        memcpy(list + n, table[i].names, len);
        n += len;
    }
    list[n] = '\0';
    return strdup(n ? list : "identity");
}

int transfer_engine_new(struct transfer_engine **out, uv_loop_t *loop,
                        const struct transfer_engine_opts *opts)
{
    struct transfer_engine *e = NULL;
    int rc = -1;

    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    e = calloc(1, sizeof(*e));
    if (!e)
        goto out;
    e->loop = loop;
    e->ca_file = dup_or(opts ? opts->ca_file : NULL, TRANSFER_CA_FILE_DEFAULT);
    e->user_agent = dup_or(opts ? opts->user_agent : NULL, "tripline/" TRIPLINE_VERSION);
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    e->accept_encoding = all_encodings(vi);
    if (!e->ca_file || !e->user_agent || !e->accept_encoding)
        goto out;
    e->ca_file_is_default = vi->cainfo && strcmp(vi->cainfo, e->ca_file) == 0;
    e->multi = curl_multi_init();
    if (!e->multi)
        goto out;
    if (uv_timer_init(loop, &e->timer) != 0) {
        curl_multi_cleanup(e->multi);
        e->multi = NULL;
        goto out;
    }
    e->timer.data = e;
    /* From here on the timer owns e: it is freed in the timer's close callback. */
    rc = sockwatch_new(&e->watch, loop, on_ready, on_batch, e) ? -1 : 0;
    if (rc == 0 && (curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
        curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, (void *)e) != CURLM_OK ||
        curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
        curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, (void *)e) != CURLM_OK))
        rc = -1;
    if (rc == 0 && opts && opts->max_total_connections &&
        curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                          (long)opts->max_total_connections) != CURLM_OK)
        rc = -1;
    if (rc) {
        engine_destroy(e);
        return rc;
    }
    *out = e;
    return 0;
out:
    if (e) {
        free(e->ca_file);
        free(e->user_agent);
        free(e->accept_encoding);
        free(e);
    }
    curl_global_cleanup();
    return rc;
}

static void engine_timer_close_cb(uv_handle_t *h)
{
    struct transfer_engine *e = h->data;
    free(e->ca_file);
    free(e->user_agent);
    free(e->accept_encoding);
    free(e);
    curl_global_cleanup();
}

/* The loop and the pending-wait list of s's engine (transfer_wait.c); NULL
 * once the engine is going. */
struct transfer_wait **transfer_session_waits(struct transfer_session *s, uv_loop_t **loop)
{
    *loop = s->e->loop;
    return s->e->dying ? NULL : &s->e->waits;
}

static void engine_destroy(struct transfer_engine *e)
{
    /* Transfers still running end here without their callbacks. */
    while (e->xfers) {
        struct xfer *x = e->xfers;
        curl_multi_remove_handle(e->multi, x->easy);
        xfer_unlink(x);
        response_release(x->resp);
        xfer_free(x);
    }
    easy_pool_clear(&e->easy_pool);
    curl_multi_cleanup(e->multi);
    e->multi = NULL;
    transfer_waits_drop(&e->waits);
    sockwatch_free(e->watch);
    uv_timer_stop(&e->timer);
    uv_close((uv_handle_t *)&e->timer, engine_timer_close_cb);
}

void transfer_engine_free(struct transfer_engine *e)
{
    if (!e || e->dying)
        return;
    e->dying = true;
    if (e->depth == 0)
        engine_destroy(e);
}

uv_loop_t *transfer_engine_loop(const struct transfer_engine *e)
{
    return e->loop;
}

size_t transfer_engine_in_flight(const struct transfer_engine *e)
{
    return e ? e->in_flight : 0;
}

int transfer_session_new(struct transfer_session **out, struct transfer_engine *e)
{
    struct transfer_session *s;
    int rc = -1;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->e = e;
    s->refs = 1;
    s->share = share_pool_get();
    if (!s->share)
        goto out;
    *out = s;
    s = NULL;
    rc = 0;
out:
    free(s);
    return rc;
}

void transfer_session_free(struct transfer_session *s)
{
    session_unref(s);
}

void transfer_session_cancel(struct transfer_session *s)
{
    if (!s || !s->e || s->e->dying)
        return; /* a dying engine ends them all itself */
    struct transfer_engine *e = s->e;
    s->refs++; /* the last transfer's unref must not free s under us */
    for (struct xfer *x = e->xfers, *next; x; x = next) {
        next = x->next;
        if (x->s != s)
            continue;
        curl_multi_remove_handle(e->multi, x->easy);
        xfer_unlink(x);
        response_release(x->resp);
        xfer_free(x);
    }
    session_unref(s);
}
