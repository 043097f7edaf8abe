/* One tcp exchange on the loop: resolve, connect, optional TLS handshake,
 * then the exchange's lines in order (a send is written at once, an expect
 * waits for its bytes). Every read is capped at data_max and the whole
 * exchange is under one timer; the handles are closed once, and done is
 * called from the last close callback, so nothing outlives it. */
#include "probes/kinds/tcp_int.h"

#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/err.h"
#include "probes/redact/redact.h"

enum tcp_phase { PH_DNS, PH_CONNECT, PH_TLS, PH_EXCHANGE };

struct tcp_x {
    uv_loop_t *loop;
    uv_getaddrinfo_t gai;
    struct addrinfo *ai_list;   /* the resolver's answer, kept to try the next address */
    const struct addrinfo *ai_next;
    uv_connect_t creq;
    uv_tcp_t tcp;
    uv_timer_t timer;
    bool gai_pending, tcp_open, finished;
    int open;                   /* handles not yet closed, writes not yet called back */
    enum tcp_phase phase;
    char *host, *server_name, *ca_file, *interface;
    char port[8];
    int port_n;
    bool tls, verify;
    struct tcp_tls *t;
    size_t n_lines, cur;
    struct tcp_line *lines;     /* copies: sends rendered, regexes compiled anew */
    struct redactor red;        /* the secret sends, kept out of facts.received */
    size_t data_max, window;    /* window: where the pending expect starts in the body */
    tl_usec t0, t_dns, t_conn;
    struct response *resp;
    cJSON *tls_facts;
    char unmet_why[128];        /* set when an expect line was not met */
    transfer_done_cb done;
    void *done_arg;
    char rbuf[16384];
};

struct tcp_write {
    uv_write_t req;
    struct tcp_x *x;
    char *data;
};

static void finish(struct tcp_x *x);

/* A failure of the exchange: the first one wins. */
static void fail(struct tcp_x *x, enum reason r, const char *what, const char *detail)
{
    if (x->finished || x->resp->fail != TRANSFER_OK)
        return;
    x->resp->fail = TRANSFER_KIND;
    x->resp->kind_reason = r;
    snprintf(x->resp->error, sizeof(x->resp->error), "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    finish(x);
}

static void unmet(struct tcp_x *x, const char *why)
{
    snprintf(x->unmet_why, sizeof(x->unmet_why), "%s", why);
    finish(x);
}

/* This host's own failures (triage_connect_errno; libuv's codes are -errno
 * here), else dflt. ENOBUFS is the kernel's (alloc_cb never hands libuv an
 * empty buffer): out of memory, as for http, icmp and dns steps. */
static enum reason uv_reason(int status, enum reason dflt)
{
    enum reason own = triage_connect_errno(-status);
    return own != REASON_OK ? own : dflt;
}

/* --- the end ------------------------------------------------------------- */

static int facts_unmet(struct tcp_x *x, cJSON *f)
{
    const struct tcp_line *l = &x->lines[x->cur];
    char exp[300];
    snprintf(exp, sizeof(exp), l->kind == TCP_MATCHES ? "a match of /%s/" : "\"%s\"", l->text);
    cJSON *u = cJSON_AddObjectToObject(f, "unmet");
    return u && cJSON_AddNumberToObject(u, "line", (double)x->cur) && cJSON_AddStringToObject(u, "expect", exp) &&
                   cJSON_AddStringToObject(u, "why", x->unmet_why)
               ? 0
               : -1;
}

/* {"address", "tls", "received", "unmet"}; received without the secrets sent. */
static cJSON *facts_build(struct tcp_x *x)
{
    cJSON *f = cJSON_CreateObject();
    char *esc = tcp_escape(x->resp->body.data, x->resp->body.len, TCP_RECEIVED_MAX);
    char *clean = esc ? redact_text(&x->red, esc) : NULL;
    bool ok = f && clean;
    if (ok && x->resp->primary_ip[0]) {
        char addr[96];
        snprintf(addr, sizeof(addr), strchr(x->resp->primary_ip, ':') ? "[%s]:%s" : "%s:%s", x->resp->primary_ip,
                 x->port);
        ok = cJSON_AddStringToObject(f, "address", addr) != NULL;
    }
    if (ok && x->tls_facts) {
        cJSON_AddItemToObject(f, "tls", x->tls_facts);
        x->tls_facts = NULL;
    }
    ok = ok && cJSON_AddStringToObject(f, "received", clean) && cJSON_AddNumberToObject(f, "bytes", (double)x->resp->body.len);
    if (ok && x->unmet_why[0])
        ok = facts_unmet(x, f) == 0;
    free(esc);
    free(clean);
    if (!ok) {
        cJSON_Delete(f);
        return NULL;
    }
    return f;
}

static void x_free(struct tcp_x *x)
{
    if (x->ai_list)
        uv_freeaddrinfo(x->ai_list);
    for (size_t i = 0; i < x->n_lines; i++) {
        free(x->lines[i].text);
        if (x->lines[i].has_re)
            regfree(&x->lines[i].re);
    }
    free(x->lines);
    redactor_free(&x->red);
    tcp_tls_free(x->t);
    cJSON_Delete(x->tls_facts);
    free(x->host);
    free(x->server_name);
    free(x->ca_file);
    free(x->interface);
    free(x);
}

/* Called as each handle closes, each write and the resolver call back. */
static void maybe_deliver(struct tcp_x *x)
{
    if (!x->finished || x->open > 0 || x->gai_pending)
        return;
    struct response *r = x->resp;
    r->facts = facts_build(x);
    if (!r->facts && r->fail == TRANSFER_OK) {
        r->fail = TRANSFER_KIND;
        r->kind_reason = REASON_OUT_OF_MEMORY;
        snprintf(r->error, sizeof(r->error), "out of memory");
    }
    transfer_done_cb done = x->done;
    void *arg = x->done_arg;
    x->resp = NULL;
    x_free(x);
    done(r, arg);
}

static void close_cb(uv_handle_t *h)
{
    struct tcp_x *x = h->data;
    x->open--;
    maybe_deliver(x);
}

static void finish(struct tcp_x *x)
{
    if (x->finished)
        return;
    x->finished = true;
    x->resp->timings.total = tl_mono_us() - x->t0;
    if (x->gai_pending)
        uv_cancel((uv_req_t *)&x->gai);
    if (x->tcp_open)
        uv_close((uv_handle_t *)&x->tcp, close_cb);
    uv_close((uv_handle_t *)&x->timer, close_cb);
}

/* --- writing and the lines ------------------------------------------------ */

static void write_cb(uv_write_t *req, int status)
{
    struct tcp_write *w = req->data;
    struct tcp_x *x = w->x;
    free(w->data);
    free(w);
    x->open--;
    if (status < 0 && status != UV_ECANCELED)
        fail(x, uv_reason(status, REASON_RESET), "sending failed", uv_strerror(status));
    maybe_deliver(x);
}

/* Writes data (taken over) to the socket. */
static int raw_write(struct tcp_x *x, char *data, size_t n)
{
    struct tcp_write *w = calloc(1, sizeof(*w));
    if (!w) {
        free(data);
        return UV_ENOMEM;
    }
    w->x = x;
    w->data = data;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(data, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)&x->tcp, &b, 1, write_cb);
    if (rc) {
        free(data);
        free(w);
        return rc;
    }
    x->open++;
    return 0;
}

/* Sends what TLS has queued for the peer. */
static int tls_flush(struct tcp_x *x)
{
    size_t n;
    char *p = tcp_tls_pending(x->t, &n);
    return p ? raw_write(x, p, n) : 0;
}

static int send_line(struct tcp_x *x, const struct tcp_line *l)
{
    size_t n = strlen(l->text);
    if (x->t)
        return tcp_tls_write(x->t, l->text, n) ? UV_EPROTO : tls_flush(x);
    char *copy = malloc(n ? n : 1);
    if (!copy)
        return UV_ENOMEM;
    memcpy(copy, l->text, n);
    return raw_write(x, copy, n);
}

/* Runs the lines as far as the bytes read allow; all done: success. */
static void advance(struct tcp_x *x)
{
    for (; !x->finished && x->cur < x->n_lines; x->cur++) {
        const struct tcp_line *l = &x->lines[x->cur];
        struct buf *b = &x->resp->body;
        size_t end;
        if (l->kind == TCP_SEND) {
            int rc = send_line(x, l);
            if (rc)
                fail(x, uv_reason(rc, REASON_RESET), "sending failed", uv_strerror(rc));
            continue;
        }
        if (!tcp_line_match(l, b->data + x->window, b->len - x->window, &end))
            return;
        x->window += end;
    }
    finish(x);
}

/* --- reading ------------------------------------------------------------- */

/* Keeps bytes from the peer, up to data_max; past it the exchange fails. */
static int keep(struct tcp_x *x, const char *p, size_t n)
{
    struct buf *b = &x->resp->body;
    if (!x->resp->timings.ttfb && n)
        x->resp->timings.ttfb = tl_mono_us() - x->t0;
    size_t room = x->data_max > b->len ? x->data_max - b->len : 0;
    if (buf_append(b, p, n < room ? n : room)) {
        fail(x, REASON_OUT_OF_MEMORY, "out of memory", NULL);
        return -1;
    }
    if (n > room) {
        x->resp->fail = TRANSFER_BODY_TOO_BIG;
        snprintf(x->resp->error, sizeof(x->resp->error), "the peer sent more than %zu bytes", x->data_max);
        finish(x);
        return -1;
    }
    return 0;
}

static void handshake(struct tcp_x *x)
{
    char err[256];
    enum tcp_tls_err rc = tcp_tls_handshake(x->t, err, sizeof(err));
    if (tls_flush(x) != 0 && rc == TCP_TLS_OK)
        rc = TCP_TLS_NOMEM;
    if (rc == TCP_TLS_AGAIN)
        return;
    if (rc != TCP_TLS_OK) {
        fail(x, rc == TCP_TLS_NOMEM ? REASON_OUT_OF_MEMORY : REASON_TLS, err, NULL);
        return;
    }
    x->resp->timings.tls = tl_mono_us() - x->t0 - x->t_conn;
    x->tls_facts = tcp_tls_facts(x->t);
    x->phase = PH_EXCHANGE;
    advance(x);
}

/* Plaintext from TLS (after the handshake) into the body. */
static void tls_data(struct tcp_x *x)
{
    char err[256];
    struct buf plain;
    buf_init(&plain, sizeof(x->rbuf) * 4 + 1);
    enum tcp_tls_err rc = tcp_tls_read(x->t, &plain, sizeof(x->rbuf) * 4, err, sizeof(err));
    bool kept = keep(x, plain.data ? plain.data : "", plain.len) == 0;
    buf_free(&plain);
    if (!kept)
        return;
    if (rc == TCP_TLS_FAIL || rc == TCP_TLS_NOMEM) {
        fail(x, rc == TCP_TLS_FAIL ? REASON_TLS : REASON_OUT_OF_MEMORY, err, NULL);
        return;
    }
    advance(x);
    if (rc == TCP_TLS_CLOSED && !x->finished)
        unmet(x, "the peer closed the connection");
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct tcp_x *x = h->data;
    *b = uv_buf_init(x->rbuf, sizeof(x->rbuf));
}

static void read_eof(struct tcp_x *x, ssize_t nread)
{
    if (nread != UV_EOF) {
        fail(x, uv_reason((int)nread, REASON_RESET), "the connection failed", uv_strerror((int)nread));
        return;
    }
    if (x->phase == PH_TLS)
        fail(x, REASON_TLS, "the peer closed the connection during the TLS handshake", NULL);
    else
        unmet(x, "the peer closed the connection");
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct tcp_x *x = s->data;
    if (x->finished || nread == 0)
        return;
    if (nread < 0) {
        read_eof(x, nread);
        return;
    }
    if (!x->t) {
        if (keep(x, b->base, (size_t)nread) == 0)
            advance(x);
        return;
    }
    if (!x->resp->timings.ttfb && x->phase == PH_EXCHANGE)
        x->resp->timings.ttfb = tl_mono_us() - x->t0;
    if (tcp_tls_feed(x->t, b->base, (size_t)nread)) {
        fail(x, REASON_OUT_OF_MEMORY, "out of memory", NULL);
        return;
    }
    if (x->phase == PH_TLS)
        handshake(x);
    if (!x->finished && x->phase == PH_EXCHANGE)
        tls_data(x);
}

/* --- connecting ----------------------------------------------------------- */

static void next_address_cb(uv_handle_t *h);

/* Failures another address of the name may not have; a reset or a timeout
 * is the peer's answer and stands. */
static bool next_address_worth_it(int status)
{
    return status == UV_ECONNREFUSED || status == UV_ENETUNREACH || status == UV_EHOSTUNREACH ||
           status == UV_EADDRNOTAVAIL || status == UV_EAFNOSUPPORT;
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct tcp_x *x = req->data;
    char err[256];
    if (x->finished)
        return;
    if (status < 0 && x->ai_next && next_address_worth_it(status)) {
        /* as any client does: the next address the name has (::1, then 127.0.0.1) */
        x->tcp_open = false;
        uv_close((uv_handle_t *)&x->tcp, next_address_cb);
        return;
    }
    if (status < 0) {
        /* a peer that accepts and resets at once can do so before connect reports */
        fail(x, uv_reason(status, status == UV_ECONNRESET ? REASON_RESET : REASON_CONNECT), "connect failed",
             uv_strerror(status));
        return;
    }
    x->t_conn = tl_mono_us() - x->t0;
    x->resp->timings.connect = x->t_conn - x->t_dns;
    int rc = uv_read_start((uv_stream_t *)&x->tcp, alloc_cb, read_cb);
    if (rc) {
        fail(x, uv_reason(rc, REASON_RESET), "reading failed", uv_strerror(rc));
        return;
    }
    if (!x->tls) {
        x->phase = PH_EXCHANGE;
        advance(x);
        return;
    }
    x->phase = PH_TLS;
    const char *name = x->server_name ? x->server_name : x->host;
    enum tcp_tls_err trc = tcp_tls_new(&x->t, name, x->ca_file, x->verify, err, sizeof(err));
    if (trc != TCP_TLS_OK)
        fail(x, trc == TCP_TLS_CA_FILE ? REASON_CA_FILE : REASON_OUT_OF_MEMORY, err, NULL);
    else
        handshake(x);
}

/* A vantage's source: an address to bind, else an interface name. */
static int bind_source(struct tcp_x *x, int family)
{
    struct sockaddr_storage ss;
    if (family == AF_INET && uv_ip4_addr(x->interface, 0, (struct sockaddr_in *)&ss) == 0)
        return uv_tcp_bind(&x->tcp, (struct sockaddr *)&ss, 0);
    if (family == AF_INET6 && uv_ip6_addr(x->interface, 0, (struct sockaddr_in6 *)&ss) == 0)
        return uv_tcp_bind(&x->tcp, (struct sockaddr *)&ss, 0);
    uv_os_fd_t fd;
    int rc = uv_fileno((uv_handle_t *)&x->tcp, &fd);
    if (rc)
        return rc;
    return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, x->interface, (socklen_t)strlen(x->interface)) ? UV_EINVAL
                                                                                                        : 0;
}

/* One address of the name: the resolver's first, then the next after a refusal. */
static void connect_to(struct tcp_x *x, const struct addrinfo *ai)
{
    uv_ip_name(ai->ai_addr, x->resp->primary_ip, sizeof(x->resp->primary_ip));
    int rc = uv_tcp_init_ex(x->loop, &x->tcp, (unsigned)ai->ai_family);
    if (rc) {
        fail(x, uv_reason(rc, REASON_FD_LIMIT), "no socket", uv_strerror(rc));
        return;
    }
    x->tcp.data = x;
    x->tcp_open = true;
    x->open++;
    x->phase = PH_CONNECT;
    if (x->interface && (rc = bind_source(x, ai->ai_family)) != 0) {
        fail(x, REASON_BAD_VAR, "the vantage's interface cannot be used", uv_strerror(rc));
        return;
    }
    x->creq.data = x;
    rc = uv_tcp_connect(&x->creq, &x->tcp, ai->ai_addr, connect_cb);
    if (rc && x->ai_next && next_address_worth_it(rc)) {
        x->tcp_open = false; /* an address family the host has no route for */
        uv_close((uv_handle_t *)&x->tcp, next_address_cb);
    } else if (rc) {
        fail(x, uv_reason(rc, REASON_CONNECT), "connect failed", uv_strerror(rc));
    }
}

/* The socket of a refused address is closed: on to the next one. */
static void next_address_cb(uv_handle_t *h)
{
    struct tcp_x *x = h->data;
    x->open--;
    if (x->finished) {
        maybe_deliver(x);
        return;
    }
    const struct addrinfo *ai = x->ai_next;
    x->ai_next = ai->ai_next;
    connect_to(x, ai);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct tcp_x *x = req->data;
    x->gai_pending = false;
    if (x->finished) {
        uv_freeaddrinfo(res);
        maybe_deliver(x);
        return;
    }
    x->t_dns = x->resp->timings.dns = tl_mono_us() - x->t0;
    if (status < 0 || !res)
        fail(x, status == UV_EAI_MEMORY ? REASON_OUT_OF_MEMORY : REASON_DNS, "the name did not resolve",
             uv_strerror(status));
    else {
        x->ai_list = res;
        x->ai_next = res->ai_next;
        connect_to(x, res);
        return;
    }
    uv_freeaddrinfo(res);
}

static void timer_cb(uv_timer_t *t)
{
    struct tcp_x *x = t->data;
    static const char *const what[] = {"name resolution", "connect", "the TLS handshake", "the exchange"};
    if (x->phase == PH_EXCHANGE && x->cur < x->n_lines && x->resp->body.len > x->window) {
        unmet(x, "not seen within the timeout");
        return;
    }
    char msg[96];
    snprintf(msg, sizeof(msg), "%s did not finish within the timeout", what[x->phase]);
    fail(x, REASON_TIMEOUT, msg, NULL);
}

/* --- start ---------------------------------------------------------------- */

/* The secret values of a send one by one: a peer that echoes a token
 * echoes the value, not the line around it. */
static int secret_parts(struct tcp_x *x, const struct tpl *t, const struct kind_run *run)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        struct tpl one = {.n = 1, .segs = &t->segs[i], .src = t->segs[i].text};
        char *v = NULL, err[64];
        bool secret = false;
        if (t->segs[i].kind == TPL_LIT || run->render(run->render_arg, &one, &v, &secret, err, sizeof(err)))
            continue;
        rc = secret ? redactor_add(&x->red, v) : 0;
        free(v);
    }
    return rc;
}

/* One line copied for the exchange: a send rendered, an expect's regex compiled anew. */
static int line_copy(struct tcp_x *x, const struct tcp_line *src, struct tcp_line *dst, const struct kind_run *run,
                     char *err, size_t errlen)
{
    dst->kind = src->kind;
    if (src->kind != TCP_SEND) {
        dst->text = strdup(src->text);
        if (!dst->text)
            return TL_ENOMEM;
        if (src->kind == TCP_MATCHES) {
            if (regcomp(&dst->re, src->text, REG_EXTENDED))
                return TL_ENOMEM; /* it compiled at load: only memory can fail */
            dst->has_re = true;
        }
        return 0;
    }
    bool secret = false;
    int rc = run->render(run->render_arg, &src->send, &dst->text, &secret, err, errlen);
    if (rc == 0 && secret)
        rc = secret_parts(x, &src->send, run);
    return rc;
}

/* Renders the host and the sends. */
static int prepare(struct tcp_x *x, const struct tcp_def *d, const struct kind_run *run, char *err, size_t errlen)
{
    bool secret = false;
    int rc = run->render(run->render_arg, &d->host, &x->host, &secret, err, errlen);
    if (rc)
        return rc;
    x->lines = calloc(d->n_lines ? d->n_lines : 1, sizeof(*x->lines));
    if (!x->lines)
        return TL_ENOMEM;
    for (; x->n_lines < d->n_lines; x->n_lines++) {
        rc = line_copy(x, &d->lines[x->n_lines], &x->lines[x->n_lines], run, err, errlen);
        if (rc) {
            x->n_lines++; /* freed with the others */
            return rc;
        }
    }
    return 0;
}

/* An address as the host needs no resolver (nor its thread pool). */
static bool literal(struct tcp_x *x)
{
    struct sockaddr_storage ss;
    struct addrinfo ai = {.ai_socktype = SOCK_STREAM, .ai_addr = (struct sockaddr *)&ss};
    if (uv_ip4_addr(x->host, x->port_n, (struct sockaddr_in *)&ss) == 0)
        ai.ai_family = AF_INET;
    else if (uv_ip6_addr(x->host, x->port_n, (struct sockaddr_in6 *)&ss) == 0)
        ai.ai_family = AF_INET6;
    else
        return false;
    connect_to(x, &ai);
    return true;
}

static char *dup_or_null(const char *s, bool *ok)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *ok = false;
    return d;
}

static int tcp_start(const struct kind_run *run)
{
    const struct tcp_def *d = run->def;
    struct tcp_x *x = calloc(1, sizeof(*x));
    bool ok = x != NULL;
    char err[256] = "";
    int rc = TL_ENOMEM;
    if (!ok)
        goto out;
    redactor_init(&x->red);
    x->resp = calloc(1, sizeof(*x->resp));
    x->server_name = dup_or_null(d->server_name, &ok);
    x->ca_file = dup_or_null(d->ca_file, &ok);
    x->interface = dup_or_null(run->interface, &ok);
    if (!ok || !x->resp)
        goto out;
    /* a template that cannot be rendered is the journey's to classify: done is never called */
    if ((rc = prepare(x, d, run, err, sizeof(err))) != 0)
        goto out;
    if ((rc = uv_timer_init(run->loop, &x->timer)) != 0) {
        snprintf(err, sizeof(err), "no timer: %s", uv_strerror(rc));
        rc = TL_ELOOP;
        goto out;
    }
    buf_init(&x->resp->body, run->data_max + 1);
    x->loop = run->loop;
    x->done = run->done;
    x->done_arg = run->done_arg;
    x->data_max = run->data_max;
    x->tls = d->tls;
    x->verify = d->verify;
    snprintf(x->port, sizeof(x->port), "%d", d->port);
    x->port_n = d->port;
    x->timer.data = x;
    x->open = 1;
    uv_update_time(x->loop); /* the loop's cached time may be old: the timeout counts from now */
    x->t0 = tl_mono_us();
    uv_timer_start(&x->timer, timer_cb, run->timeout > 1000 ? (uint64_t)run->timeout / 1000 : 1, 0);
    if (literal(x))
        return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    x->gai.data = x;
    rc = uv_getaddrinfo(x->loop, &x->gai, gai_cb, x->host, x->port, &hints);
    if (rc)
        fail(x, uv_reason(rc, REASON_DNS), "the name did not resolve", uv_strerror(rc));
    else
        x->gai_pending = true;
    return 0;
out:
    if (run->err && run->errlen)
        snprintf(run->err, run->errlen, "%s", err[0] ? err : tl_strerror(rc));
    if (x) {
        free(x->resp);
        x_free(x);
    }
    return rc;
}

static char *tcp_target(const struct kind_run *run)
{
    const struct tcp_def *d = run->def;
    char *host = NULL, err[128];
    bool secret = false;
    if (run->render(run->render_arg, &d->host, &host, &secret, err, sizeof(err)))
        return NULL;
    size_t n = strlen(host) + 32;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", d->tls ? "tls" : "tcp",
                 secret ? REDACTED : host, d->port);
    free(host);
    return out;
}

/* "host:port" for limits.per_host when the host is a constant. */
static void tcp_host_key(const void *def, char *out, size_t outlen)
{
    const struct tcp_def *d = def;
    if (tpl_is_const(&d->host))
        snprintf(out, outlen, strchr(d->host.src, ':') ? "[%s]:%d" : "%s:%d", d->host.src, d->port);
}

const struct kind_ops tcp_kind_ops = {
    .kind = STEP_TCP,
    .key = "tcp",
    .load = tcp_load,
    .free = tcp_free,
    .start = tcp_start,
    .judge = tcp_judge,
    .target = tcp_target,
    .host_key = tcp_host_key,
};
