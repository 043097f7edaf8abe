/* The icmp step kind: echo requests over an unprivileged ping socket
 * (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), IPv6 alike) polled by libuv.
 *
 *   icmp: {host: "10.0.0.1", count: 3, interval: 200ms}
 *   expect: {icmp: {max_loss: 0.0, max_rtt: 50ms}}
 *
 * The kernel gives such a socket its own echo id and hands it only its
 * replies; it refuses the socket to groups outside net.ipv4.ping_group_range,
 * which is the agent's limit (bucket agent), never the target's. */
#include "probes/kinds/icmp.h"

#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "base/rand.h"
#include "probes/yaml/yaml_util.h"

#define ICMP_COUNT_MAX 100

struct icmp_def {
    struct tpl host;
    long count;
    tl_usec interval;
    double max_loss;            /* default 1: fail only when nothing came back */
    tl_usec max_rtt;            /* 0: none */
};

struct icmp_x {
    uv_loop_t *loop;
    uv_getaddrinfo_t gai;
    uv_poll_t poll;
    uv_timer_t deadline, tick;
    bool gai_pending, poll_open, finished;
    int open;                   /* handles not yet closed */
    int fd, family;
    struct sockaddr_storage dst;
    char *host, *interface;
    int count, sent, received;
    tl_usec interval, t0, rtt_min, rtt_max, rtt_sum;
    uint16_t seq0;
    uint64_t nonce;
    tl_usec sent_at[ICMP_COUNT_MAX];
    bool got[ICMP_COUNT_MAX];
    struct response *resp;
    transfer_done_cb done;
    void *done_arg;
};

/* --- loading ---------------------------------------------------------------- */

static int k_host(struct yu *y, void *obj, yaml_node_t *v)
{
    struct icmp_def *d = obj;
    if (yu_is_null(v) || !yu_str(v)[0]) {
        yu_error(y, v, "empty host (expected a name or an address like 10.0.0.1)");
        return -1;
    }
    return kind_tpl(y, v, &d->host);
}

static int k_count(struct yu *y, void *obj, yaml_node_t *v)
{
    return yu_get_int(y, v, 1, ICMP_COUNT_MAX, &((struct icmp_def *)obj)->count);
}

static int k_max_loss(struct yu *y, void *obj, yaml_node_t *v)
{
    struct icmp_def *d = obj;
    if (yu_get_num(y, v, &d->max_loss))
        return -1;
    if (d->max_loss < 0 || d->max_loss > 1) {
        yu_error(y, v, "%g is out of range (expected a fraction 0..1: 0 fails on any loss)", d->max_loss);
        return -1;
    }
    return 0;
}

static const struct yu_key icmp_keys[] = {
    {"host", YU_FN_SCALAR, 0, k_host, YU_REQUIRED},
    {"count", YU_FN_SCALAR, 0, k_count, 0},
    {"interval", YU_DUR_POS, offsetof(struct icmp_def, interval), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static const struct yu_key expect_keys[] = {
    {"max_loss", YU_FN_SCALAR, 0, k_max_loss, 0},
    {"max_rtt", YU_DUR_POS, offsetof(struct icmp_def, max_rtt), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static void icmp_free(void *def)
{
    struct icmp_def *d = def;
    if (!d)
        return;
    tpl_free(&d->host);
    free(d);
}

static int icmp_load(struct yu *y, yaml_node_t *block, yaml_node_t *expect, void **out)
{
    struct icmp_def *d = calloc(1, sizeof(*d));
    if (!d) {
        yu_error(y, block, "out of memory");
        return -1;
    }
    d->count = 3;
    d->interval = 200 * 1000;
    d->max_loss = 1;
    int bad = yu_walk_map(y, block, icmp_keys, d);
    if (expect && expect->type != YAML_MAPPING_NODE) {
        yu_error(y, expect, "expected {max_loss: FRACTION, max_rtt: DURATION}, got %s", yu_type_name(expect));
        bad++;
    } else if (expect) {
        bad += yu_walk_map(y, expect, expect_keys, d);
    }
    if (bad) {
        icmp_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

/* --- the end ------------------------------------------------------------------ */

static void finish(struct icmp_x *x);

static void fail(struct icmp_x *x, enum reason r, const char *msg)
{
    if (x->finished)
        return;
    x->resp->fail = TRANSFER_KIND;
    x->resp->kind_reason = r;
    snprintf(x->resp->error, sizeof(x->resp->error), "%s", msg);
    finish(x);
}

/* {"address", "sent", "received", "loss", "rtt_ms": {min, avg, max} or null} */
static cJSON *facts_build(const struct icmp_x *x)
{
    cJSON *f = cJSON_CreateObject();
    bool ok = f && cJSON_AddStringToObject(f, "address", x->resp->primary_ip) &&
              cJSON_AddNumberToObject(f, "sent", x->sent) && cJSON_AddNumberToObject(f, "received", x->received) &&
              cJSON_AddNumberToObject(f, "loss", x->sent ? 1.0 - (double)x->received / x->sent : 0);
    if (ok && x->received) {
        cJSON *rtt = cJSON_AddObjectToObject(f, "rtt_ms");
        ok = rtt && cJSON_AddNumberToObject(rtt, "min", x->rtt_min / 1000.0) &&
             cJSON_AddNumberToObject(rtt, "avg", x->rtt_sum / 1000.0 / x->received) &&
             cJSON_AddNumberToObject(rtt, "max", x->rtt_max / 1000.0);
    } else if (ok) {
        ok = cJSON_AddNullToObject(f, "rtt_ms") != NULL;
    }
    if (!ok) {
        cJSON_Delete(f);
        return NULL;
    }
    return f;
}

static void maybe_deliver(struct icmp_x *x)
{
    if (!x->finished || x->open > 0 || x->gai_pending)
        return;
    if (x->fd >= 0)
        close(x->fd); /* after the poll handle that watched it */
    struct response *r = x->resp;
    r->facts = facts_build(x);
    if (!r->facts && r->fail == TRANSFER_OK) {
        r->fail = TRANSFER_KIND;
        r->kind_reason = REASON_OUT_OF_MEMORY;
        snprintf(r->error, sizeof(r->error), "out of memory");
    }
    transfer_done_cb done = x->done;
    void *arg = x->done_arg;
    free(x->host);
    free(x->interface);
    free(x);
    done(r, arg);
}

static void close_cb(uv_handle_t *h)
{
    struct icmp_x *x = h->data;
    x->open--;
    maybe_deliver(x);
}

static void finish(struct icmp_x *x)
{
    if (x->finished)
        return;
    x->finished = true;
    x->resp->timings.total = tl_mono_us() - x->t0;
    if (x->gai_pending)
        uv_cancel((uv_req_t *)&x->gai);
    if (x->poll_open)
        uv_close((uv_handle_t *)&x->poll, close_cb);
    uv_close((uv_handle_t *)&x->tick, close_cb);
    uv_close((uv_handle_t *)&x->deadline, close_cb);
}

/* --- echo requests and replies -------------------------------------------------- */

static void send_one(struct icmp_x *x)
{
    unsigned char pkt[16] = {0};
    uint16_t seq = (uint16_t)(x->seq0 + x->sent);
    pkt[0] = x->family == AF_INET6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
    pkt[6] = (unsigned char)(seq >> 8); /* id and checksum: the kernel's */
    pkt[7] = (unsigned char)seq;
    memcpy(pkt + 8, &x->nonce, sizeof(x->nonce));
    socklen_t len = x->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    x->sent_at[x->sent++] = tl_mono_us();
    if (sendto(x->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&x->dst, len) < 0 && errno != EAGAIN) {
        char msg[160];
        snprintf(msg, sizeof(msg), "sending the echo request failed: %s", strerror(errno));
        fail(x, errno == ENOBUFS || errno == ENOMEM ? REASON_OUT_OF_MEMORY : REASON_CONNECT, msg);
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct icmp_x *x = t->data;
    if (x->sent < x->count)
        send_one(x);
    if (x->sent >= x->count && !x->finished)
        uv_timer_stop(&x->tick);
}

/* One datagram: an echo reply of ours (the kernel strips the IPv4 header). */
static void reply(struct icmp_x *x, const unsigned char *p, ssize_t n)
{
    if (n < 16 || p[0] != (x->family == AF_INET6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) ||
        memcmp(p + 8, &x->nonce, sizeof(x->nonce)) != 0)
        return;
    uint16_t i = (uint16_t)(((p[6] << 8) | p[7]) - x->seq0);
    if (i >= x->sent || x->got[i])
        return;
    tl_usec now = tl_mono_us(), rtt = now - x->sent_at[i];
    x->got[i] = true;
    if (x->received++ == 0) {
        x->resp->timings.ttfb = now - x->t0;
        x->rtt_min = x->rtt_max = rtt;
    }
    x->rtt_min = rtt < x->rtt_min ? rtt : x->rtt_min;
    x->rtt_max = rtt > x->rtt_max ? rtt : x->rtt_max;
    x->rtt_sum += rtt;
    if (x->received == x->count)
        finish(x);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    struct icmp_x *x = h->data;
    unsigned char buf[512];
    (void)events;
    if (status < 0 || x->finished)
        return;
    for (int i = 0; i < 64 && !x->finished; i++) { /* bounded: a flood cannot hold the loop */
        ssize_t n = recv(x->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n >= 0)
            reply(x, buf, n); /* errors (an ICMP unreachable) just leave the request unanswered */
    }
}

static void deadline_cb(uv_timer_t *t)
{
    struct icmp_x *x = t->data;
    char msg[128];
    if (x->received > 0) {
        finish(x);
        return;
    }
    snprintf(msg, sizeof(msg), "no echo reply to %d request%s within the timeout", x->sent, x->sent == 1 ? "" : "s");
    fail(x, REASON_ICMP_LOSS, msg);
}

/* --- the socket --------------------------------------------------------------- */

static void refused(struct icmp_x *x, int err)
{
    char msg[256];
    if (err == EACCES || err == EPERM)
        snprintf(msg, sizeof(msg),
                 "the kernel refuses ping sockets to this agent's group %u: add it to net.%s.ping_group_range "
                 "(sysctl)", (unsigned)getgid(), "ipv4");
    else
        snprintf(msg, sizeof(msg), "no ping socket: %s", strerror(err));
    fail(x, err == EMFILE || err == ENFILE ? REASON_FD_LIMIT : REASON_ICMP_NOT_PERMITTED, msg);
}

static int bind_source(struct icmp_x *x)
{
    struct sockaddr_storage ss;
    if (x->family == AF_INET && uv_ip4_addr(x->interface, 0, (struct sockaddr_in *)&ss) == 0)
        return bind(x->fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in));
    if (x->family == AF_INET6 && uv_ip6_addr(x->interface, 0, (struct sockaddr_in6 *)&ss) == 0)
        return bind(x->fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in6));
    return setsockopt(x->fd, SOL_SOCKET, SO_BINDTODEVICE, x->interface, (socklen_t)strlen(x->interface));
}

/* Opens the socket to addr and sends the first request. */
static void open_to(struct icmp_x *x, const struct sockaddr *addr)
{
    x->family = addr->sa_family;
    memcpy(&x->dst, addr, x->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    uv_ip_name(addr, x->resp->primary_ip, sizeof(x->resp->primary_ip));
    x->fd = socket(x->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   x->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
    if (x->fd < 0) {
        refused(x, errno);
        return;
    }
    if (x->interface && bind_source(x) != 0) {
        fail(x, REASON_BAD_VAR, "the vantage's interface cannot be used for icmp");
        return;
    }
    if (uv_poll_init_socket(x->loop, &x->poll, x->fd) != 0) {
        fail(x, REASON_FD_LIMIT, "the socket cannot be polled");
        return;
    }
    x->poll.data = x;
    x->poll_open = true;
    x->open++;
    uv_poll_start(&x->poll, UV_READABLE, poll_cb);
    send_one(x);
    if (!x->finished && x->count > 1)
        uv_timer_start(&x->tick, tick_cb, (uint64_t)(x->interval / 1000 > 0 ? x->interval / 1000 : 1),
                       (uint64_t)(x->interval / 1000 > 0 ? x->interval / 1000 : 1));
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct icmp_x *x = req->data;
    x->gai_pending = false;
    if (!x->finished) {
        x->resp->timings.dns = tl_mono_us() - x->t0;
        if (status < 0 || !res)
            fail(x, status == UV_EAI_MEMORY ? REASON_OUT_OF_MEMORY : REASON_DNS, "the name did not resolve");
        else
            open_to(x, res->ai_addr);
    }
    uv_freeaddrinfo(res);
    maybe_deliver(x);
}

/* --- start, judge, target ------------------------------------------------------- */

static int icmp_start(const struct kind_run *run)
{
    const struct icmp_def *d = run->def;
    static uint64_t seed;
    char err[256] = "";
    bool secret = false;
    int rc = TL_ENOMEM;
    struct icmp_x *x = calloc(1, sizeof(*x));
    if (!x || !(x->resp = calloc(1, sizeof(*x->resp))) || (run->interface && !(x->interface = strdup(run->interface))))
        goto out;
    if ((rc = run->render(run->render_arg, &d->host, &x->host, &secret, err, sizeof(err))) != 0)
        goto out;
    x->fd = -1;
    x->loop = run->loop;
    x->done = run->done;
    x->done_arg = run->done_arg;
    x->count = (int)d->count;
    x->interval = d->interval;
    seed ^= (uint64_t)tl_mono_us() ^ (uint64_t)(uintptr_t)x; /* tells our replies from a stale run's */
    x->nonce = tl_rand_next(&seed);
    x->seq0 = (uint16_t)x->nonce;
    uv_timer_init(x->loop, &x->deadline);
    uv_timer_init(x->loop, &x->tick);
    x->deadline.data = x->tick.data = x;
    x->open = 2;
    uv_update_time(x->loop);
    x->t0 = tl_mono_us();
    uv_timer_start(&x->deadline, deadline_cb, run->timeout > 1000 ? (uint64_t)run->timeout / 1000 : 1, 0);
    struct sockaddr_storage ss;
    if (uv_ip4_addr(x->host, 0, (struct sockaddr_in *)&ss) == 0 || uv_ip6_addr(x->host, 0, (struct sockaddr_in6 *)&ss) == 0) {
        open_to(x, (struct sockaddr *)&ss);
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    x->gai.data = x;
    if (uv_getaddrinfo(x->loop, &x->gai, gai_cb, x->host, NULL, &hints) == 0)
        x->gai_pending = true;
    else
        fail(x, REASON_DNS, "the name did not resolve");
    return 0;
out:
    if (run->err && run->errlen)
        snprintf(run->err, run->errlen, "%s", err[0] ? err : tl_strerror(rc));
    if (x) {
        free(x->resp);
        free(x->host);
        free(x->interface);
        free(x);
    }
    return rc;
}

static double num_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Loss over max_loss is the network's (upstream); a slow reply a budget's. */
static int icmp_judge(const void *def, const struct response *resp, const struct tpl_vars *vars,
                      struct check_outcome *co, struct verdict *answer)
{
    const struct icmp_def *d = def;
    (void)vars;
    double loss = num_at(resp->facts, "loss", NULL), rtt = num_at(resp->facts, "rtt_ms", "max");
    int rc = 0;
    if (loss > d->max_loss + 1e-9) {
        co->checks_failed = true;
        *answer = (struct verdict){BUCKET_UPSTREAM, REASON_ICMP_LOSS, 0};
        rc = strv_pushf(&co->failures, "icmp loss %.0f%% > max_loss %.0f%%", loss * 100, d->max_loss * 100);
    }
    if (rc == 0 && d->max_rtt && rtt > d->max_rtt / 1000.0) {
        co->checks_failed = true;
        if (answer->bucket == BUCKET_NONE)
            *answer = (struct verdict){BUCKET_BUDGET, REASON_BUDGET, 0};
        rc = strv_pushf(&co->failures, "icmp rtt %.1f ms > max_rtt %.1f ms", rtt, d->max_rtt / 1000.0);
    }
    return rc ? TL_ENOMEM : 0;
}

static char *icmp_target(const struct kind_run *run)
{
    const struct icmp_def *d = run->def;
    char *host = NULL, err[128];
    bool secret = false;
    if (run->render(run->render_arg, &d->host, &host, &secret, err, sizeof(err)))
        return NULL;
    size_t n = strlen(host) + 16;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "icmp://%s", secret ? "[redacted]" : host);
    free(host);
    return out;
}

static void icmp_host_key(const void *def, char *out, size_t outlen)
{
    const struct icmp_def *d = def;
    if (tpl_is_const(&d->host))
        snprintf(out, outlen, "icmp:%s", d->host.src);
}

int icmp_permitted(char *msg, size_t msglen)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    int e = errno;
    snprintf(msg, msglen,
             "icmp steps will fail: the kernel refuses ping sockets to group %u (%s); "
             "add it to net.ipv4.ping_group_range (sysctl)",
             (unsigned)getgid(), strerror(e));
    return e == EACCES || e == EPERM ? TL_EINVAL : TL_EIO;
}

bool icmp_set_warning(const struct probe_set *set, char *msg, size_t msglen)
{
    for (size_t i = 0; set && i < set->n; i++)
        for (size_t k = 0; k < set->probes[i]->n_steps; k++)
            if (set->probes[i]->steps[k].kind == STEP_ICMP)
                return icmp_permitted(msg, msglen) != 0;
    return false;
}

const struct kind_ops icmp_kind_ops = {
    .kind = STEP_ICMP,
    .key = "icmp",
    .load = icmp_load,
    .free = icmp_free,
    .start = icmp_start,
    .judge = icmp_judge,
    .target = icmp_target,
    .host_key = icmp_host_key,
};
