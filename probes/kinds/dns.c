/* One DNS question on the run's loop: a c-ares channel per exchange (its
 * servers, transport and source address are the step's own), one uv_poll_t
 * per socket c-ares opens (ARES_OPT_SOCK_STATE_CB), one timer for c-ares'
 * retransmissions (ares_timeout) and one for the exchange's deadline, which
 * also hands the response over outside c-ares' callbacks. */
#include "probes/kinds/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ares.h>

#include "base/container.h"
#include "probes/kinds/dns_int.h"

struct dns_sock {
    uv_poll_t poll;
    ares_socket_t fd;
    struct dns_q *q;
    struct dns_sock *next;
};

struct dns_q {
    uv_loop_t *loop;
    ares_channel ch;
    bool has_ch;
    uv_timer_t tick;            /* c-ares' own retransmission timeouts */
    uv_timer_t deadline;        /* the exchange's timeout, then the hand-over */
    int handles;                /* open libuv handles: q is freed when the last closes */
    bool answered, finished;
    enum reason fault;          /* the agent's own failure (a socket it cannot watch) */
    struct dns_sock *socks;
    int qtype;
    tl_usec t0, timeout;
    char server[256];           /* the servers asked, "127.0.0.1:5353" */
    struct response *resp;
    transfer_done_cb done;
    void *done_arg;
};

static void kind_fail(struct response *r, enum reason why, const char *msg)
{
    r->fail = TRANSFER_KIND;
    r->kind_reason = why;
    snprintf(r->error, sizeof(r->error), "%s", msg);
}

/* --- handles ------------------------------------------------------------ */

static void q_handle_closed(struct dns_q *q)
{
    if (--q->handles == 0 && q->finished) {
        response_free(q->resp);
        free(q->resp);
        free(q);
    }
}

static void sock_closed(uv_handle_t *h)
{
    struct dns_sock *s = container_of((uv_poll_t *)h, struct dns_sock, poll);
    struct dns_q *q = s->q;
    free(s);
    q_handle_closed(q);
}

static void timer_closed(uv_handle_t *h)
{
    q_handle_closed(h->data);
}

static void sock_drop(struct dns_q *q, struct dns_sock **link)
{
    struct dns_sock *s = *link;
    *link = s->next;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static void on_deadline(uv_timer_t *t);

static void on_tick(uv_timer_t *t);

/* After every call into c-ares: hand over once the answer is in, else wait
 * for the retransmission c-ares asks for next. */
static void q_after(struct dns_q *q)
{
    struct timeval tv;
    if (q->finished)
        return;
    if (q->answered || q->fault) {
        uv_timer_stop(&q->tick);
        uv_timer_start(&q->deadline, on_deadline, 0, 0);
        return;
    }
    if (!ares_timeout(q->ch, NULL, &tv)) {
        uv_timer_stop(&q->tick);
        return;
    }
    uint64_t ms = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
    uv_timer_start(&q->tick, on_tick, ms, 0);
}

static void on_tick(uv_timer_t *t)
{
    struct dns_q *q = t->data;
    ares_process_fd(q->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    q_after(q);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct dns_sock *s = container_of(h, struct dns_sock, poll);
    struct dns_q *q = s->q;
    if (status < 0)
        events = UV_READABLE | UV_WRITABLE; /* let c-ares meet the error on its socket */
    ares_process_fd(q->ch, events & UV_READABLE ? s->fd : ARES_SOCKET_BAD,
                    events & UV_WRITABLE ? s->fd : ARES_SOCKET_BAD);
    q_after(q);
}

/* c-ares opens, watches and closes its sockets through this: a socket is
 * closed only after its poll is stopped here. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns_q *q = data;
    struct dns_sock **link = &q->socks;
    while (*link && (*link)->fd != fd)
        link = &(*link)->next;
    if (!readable && !writable) {
        if (*link)
            sock_drop(q, link);
        return;
    }
    struct dns_sock *s = *link;
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s || uv_poll_init_socket(q->loop, &s->poll, fd) != 0) {
            q->fault = s ? REASON_FD_LIMIT : REASON_OUT_OF_MEMORY;
            free(s);
            return;
        }
        s->fd = fd;
        s->q = q;
        s->next = q->socks;
        q->socks = s;
        q->handles++;
    }
    if (uv_poll_start(&s->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), on_poll) != 0)
        q->fault = REASON_FD_LIMIT;
}

/* c-ares' socket calls, as c-ares makes them, except that a socket the
 * system refuses for want of descriptors or memory is the agent's fault:
 * c-ares alone would report the server as refusing. */
static ares_socket_t sys_socket(int domain, int type, int protocol, void *arg)
{
    struct dns_q *q = arg;
    int fd = socket(domain, type, protocol);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE))
        q->fault = REASON_FD_LIMIT;
    else if (fd < 0 && (errno == ENOMEM || errno == ENOBUFS))
        q->fault = REASON_OUT_OF_MEMORY;
    return fd;
}

static int sys_close(ares_socket_t fd, void *arg)
{
    return close(fd);
}

static int sys_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len, void *arg)
{
    return connect(fd, sa, len);
}

static ares_ssize_t sys_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags, struct sockaddr *from,
                                 ares_socklen_t *fromlen, void *arg)
{
    return recvfrom(fd, buf, len, flags, from, fromlen);
}

static ares_ssize_t sys_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *arg)
{
    return writev(fd, iov, n);
}

static const struct ares_socket_functions sys_funcs = {sys_socket, sys_close, sys_connect, sys_recvfrom, sys_sendv};

/* --- the answer ----------------------------------------------------------- */

static enum reason status_reason(int st)
{
    switch (st) {
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
        return REASON_TIMEOUT;
    case ARES_ECONNREFUSED:
        return REASON_CONNECT;
    case ARES_EBADRESP:
        return REASON_BROKEN_RESPONSE;
    case ARES_EBADNAME:
    case ARES_EBADQUERY:
    case ARES_EBADFAMILY:
        return REASON_BAD_VAR;
    case ARES_ENOMEM:
        return REASON_OUT_OF_MEMORY;
    default:
        return REASON_DNS;
    }
}

static void answer_read(struct dns_q *q, const unsigned char *abuf, int alen)
{
    struct response *r = q->resp;
    struct dns_answer a = {0};
    char err[200] = "", rb[16];
    int rc = dns_answer_read(abuf, (size_t)alen, &a, &r->body, err, sizeof(err));
    if (!cJSON_AddStringToObject(r->facts, "rcode", dns_rcode_str(a.rcode, rb, sizeof(rb))) ||
        !cJSON_AddStringToObject(r->facts, "flags", a.flags))
        rc = TL_ENOMEM;
    if (a.answers && !cJSON_AddItemToObject(r->facts, "answers", a.answers)) {
        cJSON_Delete(a.answers);
        rc = TL_ENOMEM;
    }
    if (rc == TL_ESYNTAX)
        kind_fail(r, REASON_BROKEN_RESPONSE, err);
    else if (rc == TL_ETOOBIG) {
        r->fail = TRANSFER_BODY_TOO_BIG;
        snprintf(r->error, sizeof(r->error), "the answer passed %zu bytes as text", r->body.max);
    } else if (rc)
        kind_fail(r, REASON_OUT_OF_MEMORY, "out of memory reading the answer");
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct dns_q *q = arg;
    if (q->answered)
        return;
    q->answered = true;
    struct response *r = q->resp;
    tl_usec t = tl_mono_us() - q->t0;
    r->timings.dns = r->timings.ttfb = r->timings.total = t;
    bool timed_out = status == ARES_ETIMEOUT || status == ARES_ECANCELLED;
    if (abuf && alen > 0 && !timed_out && status != ARES_EDESTRUCTION) {
        answer_read(q, abuf, alen);
        return;
    }
    char msg[sizeof(r->error)];
    if (timed_out)
        snprintf(msg, sizeof(msg), "no answer from %.160s in %.0f ms", q->server, (double)t / 1000.0);
    else
        snprintf(msg, sizeof(msg), "%.60s (asking %.160s)", ares_strerror(status), q->server);
    kind_fail(r, status_reason(status), msg);
}

/* --- the exchange --------------------------------------------------------- */

/* Ends the exchange: c-ares closes its sockets (their polls close with
 * them), the timers close, and q goes when the last handle has closed. */
static void q_close(struct dns_q *q)
{
    q->finished = true;
    q->answered = true; /* ares_destroy ends a pending query through on_answer: ignored */
    if (q->has_ch) {
        ares_destroy(q->ch);
        q->has_ch = false;
        ares_library_cleanup();
    }
    while (q->socks)
        sock_drop(q, &q->socks);
    uv_close((uv_handle_t *)&q->tick, timer_closed);
    uv_close((uv_handle_t *)&q->deadline, timer_closed);
}

static void on_deadline(uv_timer_t *t)
{
    struct dns_q *q = t->data;
    if (!q->answered && !q->fault)
        ares_cancel(q->ch); /* calls on_answer with ARES_ECANCELLED: a timeout */
    if (q->fault)
        kind_fail(q->resp, q->fault, q->fault == REASON_FD_LIMIT ? "the agent has no descriptor left for the resolver's socket"
                                                                 : "out of memory for the resolver's socket");
    else if (!q->answered)
        kind_fail(q->resp, REASON_TIMEOUT, "no answer in time");
    struct response *r = q->resp;
    q->resp = NULL;
    q_close(q);
    q->done(r, q->done_arg);
}

/* The servers the channel asks, "127.0.0.1:5353,[::1]:53"; the first one's
 * address is the response's primary_ip. */
static int servers_desc(struct dns_q *q)
{
    struct ares_addr_port_node *list = NULL;
    int st = ares_get_servers_ports(q->ch, &list);
    if (st != ARES_SUCCESS)
        return st == ARES_ENOMEM ? TL_ENOMEM : TL_EINVAL;
    size_t at = 0;
    q->server[0] = '\0';
    for (struct ares_addr_port_node *n = list; n && at < sizeof(q->server); n = n->next) {
        char ip[INET6_ADDRSTRLEN] = "";
        inet_ntop(n->family, &n->addr, ip, sizeof(ip));
        int port = n->udp_port ? n->udp_port : 53;
        int w = snprintf(q->server + at, sizeof(q->server) - at, n->family == AF_INET6 ? "%s[%s]:%d" : "%s%s:%d",
                         at ? "," : "", ip, port);
        if (w < 0)
            break;
        if (n == list)
            snprintf(q->resp->primary_ip, sizeof(q->resp->primary_ip), "%s", ip);
        at += (size_t)w;
    }
    ares_free_data(list);
    return 0;
}

/* The source address (a vantage's) by address, else as a device name. */
static void source_set(ares_channel ch, const char *iface)
{
    struct in_addr a4;
    unsigned char a6[16];
    if (inet_pton(AF_INET, iface, &a4) == 1)
        ares_set_local_ip4(ch, ntohl(a4.s_addr));
    else if (inet_pton(AF_INET6, iface, a6) == 1)
        ares_set_local_ip6(ch, a6);
    else
        ares_set_local_dev(ch, iface);
}

/* Over UDP two tries of a third of the exchange's time (c-ares doubles the
 * second); over TCP one (c-ares never asks twice on one connection). Either
 * way c-ares gives up about when the deadline would. */
static int channel_open(struct dns_q *q, const struct dns_def *d, const struct kind_run *run)
{
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    o.flags = ARES_FLAG_NOCHECKRESP | (d->tcp ? ARES_FLAG_USEVC : 0);
    o.tries = d->tcp ? 1 : 2;
    tl_usec per_try = d->tcp ? run->timeout / 1000 : run->timeout / 3000;
    o.timeout = (int)(per_try > 0 ? per_try : 1);
    o.sock_state_cb = on_sock_state;
    o.sock_state_cb_data = q;
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
        return TL_ENOMEM;
    int st = ares_init_options(&q->ch, &o, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
    if (st != ARES_SUCCESS) {
        ares_library_cleanup();
        return st == ARES_ENOMEM ? TL_ENOMEM : TL_EIO;
    }
    q->has_ch = true;
    ares_set_socket_functions(q->ch, &sys_funcs, q);
    if (d->server) {
        st = ares_set_servers_ports_csv(q->ch, d->server);
        if (st != ARES_SUCCESS)
            return st == ARES_ENOMEM ? TL_ENOMEM : TL_EINVAL;
    }
    if (run->interface && *run->interface)
        source_set(q->ch, run->interface);
    return servers_desc(q);
}

static int facts_new(struct dns_q *q, const struct dns_def *d)
{
    cJSON *f = cJSON_CreateObject();
    q->resp->facts = f;
    if (!f || !cJSON_AddStringToObject(f, "server", q->server) ||
        !cJSON_AddStringToObject(f, "transport", d->tcp ? "tcp" : "udp"))
        return TL_ENOMEM;
    return 0;
}

static struct dns_q *q_new(const struct kind_run *run)
{
    struct dns_q *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->resp = calloc(1, sizeof(*q->resp));
    if (!q->resp) {
        free(q);
        return NULL;
    }
    buf_init(&q->resp->body, run->data_max);
    q->loop = run->loop;
    q->timeout = run->timeout;
    q->done = run->done;
    q->done_arg = run->done_arg;
    uv_timer_init(q->loop, &q->tick);
    uv_timer_init(q->loop, &q->deadline);
    q->tick.data = q->deadline.data = q;
    q->handles = 2;
    return q;
}

static int dns_start(const struct kind_run *run)
{
    const struct dns_def *d = run->def;
    char *name = NULL;
    bool secret = false;
    int rc = run->render(run->render_arg, &d->name, &name, &secret, run->err, run->errlen);
    if (rc)
        return rc;
    struct dns_q *q = q_new(run);
    if (!q) {
        free(name);
        return TL_ENOMEM;
    }
    rc = channel_open(q, d, run);
    if (rc == 0)
        rc = facts_new(q, d);
    if (rc == 0)
        rc = uv_timer_start(&q->deadline, on_deadline, (uint64_t)((run->timeout + 999) / 1000), 0) ? TL_ELOOP : 0;
    if (rc) {
        snprintf(run->err, run->errlen, "cannot set up the resolver: %s", tl_strerror(rc));
        q_close(q); /* frees q and its response once the timers have closed */
        goto out;
    }
    q->t0 = tl_mono_us();
    ares_query(q->ch, name, 1 /* class IN */, dns_qtype_wire(d->type), on_answer, q);
    q_after(q);
out:
    free(name);
    return rc;
}

static char *dns_target(const struct kind_run *run)
{
    const struct dns_def *d = run->def;
    char err[256], *name = NULL;
    bool secret = false;
    if (run->render(run->render_arg, &d->name, &name, &secret, err, sizeof(err)))
        return NULL;
    struct buf b;
    buf_init(&b, 1024);
    int rc = d->server ? buf_printf(&b, "dns://%s/%s?type=%s", d->server, secret ? "(secret)" : name, dns_qtype_str(d->type))
                       : buf_printf(&b, "dns:%s?type=%s", secret ? "(secret)" : name, dns_qtype_str(d->type));
    if (rc == 0 && d->tcp)
        rc = buf_puts(&b, "&transport=tcp");
    free(name);
    if (rc) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

/* Runs against one server count as that server's; the system resolver's
 * are left to the probe's own key. */
static void dns_host_key(const void *def, char *out, size_t outlen)
{
    const struct dns_def *d = def;
    if (d->server)
        snprintf(out, outlen, "%s", d->server);
}

const struct kind_ops dns_kind_ops = {
    .kind = STEP_DNS,
    .key = "dns",
    .load = dns_def_load,
    .free = dns_def_free,
    .start = dns_start,
    .judge = dns_judge,
    .target = dns_target,
    .host_key = dns_host_key,
};
