/* Tests of agent/endpoint/http.c: the endpoint serves on the agent's libuv loop (no
 * thread of its own) while a client thread talks to it over loopback with
 * libcurl or a raw socket; then it stops and the loop closes cleanly. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "agent/endpoint/http.h"
#include "agent/log/log.h"
#include "agent/endpoint/metrics.h"

#define BIG_BODY (1u << 20)

struct response {
    long status;
    long connects; /* new connections curl opened for this request */
    char ctype[128];
    char allow[64];
    size_t body_len;
    uint64_t hash; /* FNV-1a of the whole body */
    int curl_rc;
    char body[4096];
};

struct fixture {
    uv_loop_t loop;
    uv_async_t done;
    struct http *h;
    struct metrics *m;
    struct logger *log;
    pthread_t loop_thread;
    const char *host; /* "127.0.0.1" or "[::1]" */
    const char *source; /* the client's own address, NULL: the kernel's choice */
    uint16_t port;
    void (*client)(struct fixture *);
    /* filled by handlers, on the loop thread */
    int health_calls;
    bool handler_off_loop;
    /* filled by the client thread, read after join */
    struct response r[32];
    size_t nr;
    long idle_recv;     /* recv() result on an idle connection */
    long partial_recv;  /* recv() result after half a request */
    /* streamed routes: counted on the loop thread, polled by the client */
    uv_check_t check;
    unsigned long iter;        /* loop iterations */
    unsigned long slice_iter;  /* the iteration of the last slice */
    int slices_this_iter, max_slices_per_iter;
    size_t slices;
    unsigned long first_slice_iter; /* the iterations of a body's first and last slices */
    int opens, closes;         /* read with __atomic from the client */
    bool stream_off_loop;
    uint64_t stream_hash;      /* of the /stream body the client got */
    size_t stream_len;
    long cut_recv;             /* bytes the disconnecting client read */
    int flood_errors;
    bool slowloris_cut, no_slowloris;
    bool body_cut[2];          /* a trickled GET body, a trickled POST body */
    long health_ms;
};

static int health(void *arg, struct buf *body, const char **ctype)
{
    struct fixture *fx = arg;
    fx->health_calls++;
    if (!pthread_equal(pthread_self(), fx->loop_thread))
        fx->handler_off_loop = true;
    *ctype = "text/plain; charset=utf-8";
    return buf_puts(body, "ok\n") == 0 ? 200 : 500;
}

static int broken(void *arg, struct buf *body, const char **ctype)
{
    buf_puts(body, "secret partial output");
    return 42; /* not an HTTP status */
}

static void post_ok(void *arg, struct http_request *req, const char *body, size_t len)
{
    (void)arg;
    (void)body;
    (void)len;
    http_respond(req, 200, NULL, "ok\n", 3);
}

static int big(void *arg, struct buf *body, const char **ctype)
{
    *ctype = "application/octet-stream";
    for (size_t i = 0; i < BIG_BODY; i++) {
        char c = (char)('a' + i % 26);
        if (buf_append(body, &c, 1) != 0)
            return 500;
    }
    return 200;
}

#define STREAM_BODY (5u << 20)

/* The streamed body: a known byte pattern (lines of letters), so the client
 * can check every byte by hashing what arrives. */
static char stream_byte(size_t i)
{
    return i % 64 == 63 ? '\n' : (char)('a' + (i / 64 + i) % 26);
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

struct gen {
    struct fixture *fx;
    size_t pos, total; /* total 0: endless */
};

static int gen_open(void *arg, void **stream, const char **ctype)
{
    struct fixture *fx = arg;
    struct gen *g = calloc(1, sizeof(*g));
    if (!g)
        return -1;
    g->fx = fx;
    g->total = STREAM_BODY;
    __atomic_add_fetch(&fx->opens, 1, __ATOMIC_SEQ_CST);
    *stream = g;
    *ctype = "text/plain; charset=utf-8";
    return 0;
}

static int endless_open(void *arg, void **stream, const char **ctype)
{
    int rc = gen_open(arg, stream, ctype);
    if (rc == 0)
        ((struct gen *)*stream)->total = 0;
    return rc;
}

static int refuse_open(void *arg, void **stream, const char **ctype)
{
    return -1;
}

static int gen_next(void *stream, struct buf *out, size_t budget)
{
    struct gen *g = stream;
    struct fixture *fx = g->fx;
    if (!pthread_equal(pthread_self(), fx->loop_thread))
        fx->stream_off_loop = true;
    fx->slices++;
    if (fx->slices == 1)
        fx->first_slice_iter = fx->iter;
    if (fx->slice_iter != fx->iter || fx->slices == 1)
        fx->slices_this_iter = 0;
    fx->slice_iter = fx->iter;
    if (++fx->slices_this_iter > fx->max_slices_per_iter)
        fx->max_slices_per_iter = fx->slices_this_iter;
    char line[64];
    while (out->len < budget && (g->total == 0 || g->pos < g->total)) {
        size_t n = 64 - g->pos % 64;
        if (g->total && n > g->total - g->pos)
            n = g->total - g->pos;
        for (size_t i = 0; i < n; i++)
            line[i] = stream_byte(g->pos + i);
        if (buf_append(out, line, n) != 0)
            return -1;
        g->pos += n;
    }
    return g->total && g->pos == g->total ? 1 : 0;
}

/* Fails after the first slice: the client must not see a complete body. */
static int failing_next(void *stream, struct buf *out, size_t budget)
{
    struct gen *g = stream;
    if (g->pos > 0)
        return -1;
    return gen_next(stream, out, budget) < 0 ? -1 : 0;
}

static void gen_close(void *stream)
{
    struct gen *g = stream;
    __atomic_add_fetch(&g->fx->closes, 1, __ATOMIC_SEQ_CST);
    free(g);
}

static void on_check(uv_check_t *c)
{
    struct fixture *fx = c->data;
    fx->iter++;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct response *r = arg;
    size_t len = size * n;
    size_t room = sizeof(r->body) - 1 - (r->body_len < sizeof(r->body) ? r->body_len : 0);
    if (r->body_len < sizeof(r->body) - 1) {
        size_t k = len < room ? len : room;
        memcpy(r->body + r->body_len, p, k);
        r->body[r->body_len + k] = '\0';
    }
    /* count every byte, and hash them for the streamed body */
    r->hash = fnv(r->hash, p, len);
    r->body_len += len;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct response *r = arg;
    size_t len = size * n;
    if (len > 6 && strncasecmp(p, "Allow:", 6) == 0) {
        size_t k = len - 6 < sizeof(r->allow) - 1 ? len - 6 : sizeof(r->allow) - 1;
        memcpy(r->allow, p + 6, k);
        r->allow[k] = '\0';
        while (k > 0 && (r->allow[k - 1] == '\r' || r->allow[k - 1] == '\n'))
            r->allow[--k] = '\0';
    }
    return len;
}

/* One request on curl handle c (reused between calls: keep-alive). */
static void fetch(struct fixture *fx, CURL *c, const char *method, const char *path)
{
    if (fx->nr >= sizeof(fx->r) / sizeof(fx->r[0]))
        return;
    struct response *r = &fx->r[fx->nr++];
    memset(r, 0, sizeof(*r));
    r->hash = 1469598103934665603ULL;
    char url[256];
    snprintf(url, sizeof(url), "http://%s:%u%s", fx->host, (unsigned)fx->port, path);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (fx->source)
        curl_easy_setopt(c, CURLOPT_INTERFACE, fx->source);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"x\":1}");
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    r->curl_rc = (int)curl_easy_perform(c);
    if (r->curl_rc != CURLE_OK) {
        r->status = -1;
        return;
    }
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct)
        snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
}

static void *client_main(void *arg)
{
    struct fixture *fx = arg;
    fx->client(fx);
    uv_async_send(&fx->done);
    return NULL;
}

static void on_done(uv_async_t *a)
{
    struct fixture *fx = a->data;
    http_free(fx->h);
    fx->h = NULL;
    uv_close((uv_handle_t *)&fx->done, NULL);
    uv_close((uv_handle_t *)&fx->check, NULL);
}

static int fixture_start_opts(struct fixture *fx, const char *listen, const struct http_opts *opts)
{
    memset(fx, 0, sizeof(*fx));
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    fx->loop_thread = pthread_self();
    fx->log = log_new(2, LOG_ERROR, LOG_FORMAT_JSON);
    assert_non_null(fx->log);
    fx->m = metrics_new();
    assert_non_null(fx->m);
    const char *l[] = {"probe"};
    const char *v[] = {"checkout"};
    metric_add(metrics_series(metrics_counter(fx->m, "tripline_probe_runs_total", "Runs.", l, 1),
                              v),
               3);
    struct http_opts o = *opts;
    o.listen = listen;
    o.log = fx->log;
    return http_new(&fx->loop, &o, &fx->h);
}

static int fixture_start(struct fixture *fx, const char *listen, unsigned idle_s)
{
    return fixture_start_opts(fx, listen, &(struct http_opts){.conn_timeout_s = idle_s});
}

/* Serves until the client function returns, then stops the endpoint and
 * checks that every handle is gone. */
static void fixture_run(struct fixture *fx, void (*client)(struct fixture *))
{
    fx->port = http_port(fx->h);
    assert_int_not_equal(fx->port, 0);
    assert_int_equal(http_route(fx->h, "/metrics", metrics_serve, fx->m), 0);
    assert_int_equal(http_route(fx->h, "/healthz", health, fx), 0);
    assert_int_equal(http_route(fx->h, "/broken", broken, fx), 0);
    assert_int_equal(http_route(fx->h, "/big", big, fx), 0);
    assert_int_equal(http_route_post(fx->h, "/post", post_ok, fx), 0);
    assert_int_equal(http_route_stream(fx->h, "/stream", gen_open, gen_next, gen_close, fx), 0);
    assert_int_equal(http_route_stream(fx->h, "/endless", endless_open, gen_next, gen_close, fx), 0);
    assert_int_equal(http_route_stream(fx->h, "/refused", refuse_open, gen_next, gen_close, fx), 0);
    assert_int_equal(http_route_stream(fx->h, "/failing", gen_open, failing_next, gen_close, fx), 0);
    /* counts loop iterations; unreferenced, so it keeps nothing alive */
    assert_int_equal(uv_check_init(&fx->loop, &fx->check), 0);
    fx->check.data = fx;
    assert_int_equal(uv_check_start(&fx->check, on_check), 0);
    uv_unref((uv_handle_t *)&fx->check);
    assert_int_equal(uv_async_init(&fx->loop, &fx->done, on_done), 0);
    fx->done.data = fx;
    fx->client = client;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_main, fx), 0);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void fixture_end(struct fixture *fx)
{
    http_free(fx->h);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    metrics_free(fx->m);
    log_free(fx->log);
}

static void client_routes(struct fixture *fx)
{
    CURL *c = curl_easy_init();
    if (!c)
        return;
    fetch(fx, c, "GET", "/metrics");     /* 0 */
    fetch(fx, c, "GET", "/healthz");     /* 1 */
    fetch(fx, c, "GET", "/nope");        /* 2 */
    fetch(fx, c, "POST", "/metrics");    /* 3 */
    fetch(fx, c, "HEAD", "/healthz");    /* 4 */
    fetch(fx, c, "GET", "/healthz?x=1"); /* 5 */
    fetch(fx, c, "DELETE", "/nope");     /* 6 */
    fetch(fx, c, "GET", "/broken");      /* 7 */
    fetch(fx, c, "GET", "/big");         /* 8 */
    for (int i = 0; i < 10; i++)
        fetch(fx, c, "GET", "/healthz"); /* 9..18 */
    curl_easy_cleanup(c);
}

static void test_routes(void **state)
{
    struct fixture fx;
    assert_int_equal(fixture_start(&fx, "127.0.0.1:0", 0), 0);
    fx.host = "127.0.0.1";
    fixture_run(&fx, client_routes);
    assert_int_equal(fx.nr, 19);
    struct response *r = fx.r;

    assert_int_equal(r[0].status, 200);
    assert_string_equal(r[0].ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r[0].body, "# TYPE tripline_probe_runs_total counter\n"
                                      "tripline_probe_runs_total{probe=\"checkout\"} 3\n"));

    assert_int_equal(r[1].status, 200);
    assert_string_equal(r[1].body, "ok\n");

    assert_int_equal(r[2].status, 404);

    /* a known path with another method: 405 and the methods it takes */
    assert_int_equal(r[3].status, 405);
    assert_string_equal(r[3].allow, " GET, HEAD");

    /* HEAD: the headers of a GET, no body */
    assert_int_equal(r[4].status, 200);
    assert_int_equal(r[4].body_len, 0);
    assert_string_equal(r[4].ctype, "text/plain; charset=utf-8");

    /* the query string does not change the route */
    assert_int_equal(r[5].status, 200);
    assert_string_equal(r[5].body, "ok\n");

    assert_int_equal(r[6].status, 404);

    /* a handler that returns nonsense becomes a 500 without its output */
    assert_int_equal(r[7].status, 500);
    assert_null(strstr(r[7].body, "secret"));

    /* a body much larger than a socket buffer arrives whole */
    assert_int_equal(r[8].status, 200);
    assert_int_equal(r[8].body_len, BIG_BODY);
    assert_memory_equal(r[8].body, "abcdefghijklmnopqrstuvwxyzabc", 29);

    for (int i = 9; i < 19; i++) {
        assert_int_equal(r[i].status, 200);
        /* keep-alive: the connection is reused, no new one per request */
        assert_int_equal(r[i].connects, 0);
    }
    /* GET and HEAD both reach the handler; all on the loop's own thread */
    assert_int_equal(fx.health_calls, 13);
    assert_false(fx.handler_off_loop);
    fixture_end(&fx);
}

static int connect_loopback(uint16_t port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 60};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s);
        return -1;
    }
    return s;
}

static void client_idle(struct fixture *fx)
{
    char tmp[256];
    /* an idle connection is closed by the server: recv sees EOF (0), not
     * the 60 s receive timeout (-1) */
    int s = connect_loopback(fx->port);
    fx->idle_recv = s < 0 ? -2 : (long)recv(s, tmp, sizeof(tmp), 0);
    if (s >= 0)
        close(s);
    /* so is one that sends half a request and stalls (slowloris) */
    s = connect_loopback(fx->port);
    if (s >= 0) {
        const char *half = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
        if (send(s, half, strlen(half), 0) < 0)
            fx->partial_recv = -3;
        else
            fx->partial_recv = (long)recv(s, tmp, sizeof(tmp), 0);
        close(s);
    } else {
        fx->partial_recv = -2;
    }
    /* and the endpoint still serves */
    CURL *c = curl_easy_init();
    if (!c)
        return;
    fetch(fx, c, "GET", "/healthz");
    curl_easy_cleanup(c);
}

static void test_idle_connections_time_out(void **state)
{
    struct fixture fx;
    assert_int_equal(fixture_start(&fx, "127.0.0.1:0", 1), 0);
    fx.host = "127.0.0.1";
    fixture_run(&fx, client_idle);
    /* only the timer can close these: no socket event happens */
    assert_int_equal(fx.idle_recv, 0);
    assert_int_equal(fx.partial_recv, 0);
    assert_int_equal(fx.nr, 1);
    assert_int_equal(fx.r[0].status, 200);
    fixture_end(&fx);
}

/* A burst of 200 connections at once (a scrape storm, or slow peers):
 * each sends a request and hangs up without reading; then a slowloris
 * sends one header byte per second. Afterwards /healthz must answer. */
static void client_flood(struct fixture *fx)
{
    enum { N = 200 };
    int s[N];
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < N; i++) {
        s[i] = connect_loopback(fx->port);
        if (s[i] >= 0 && send(s[i], req, strlen(req), MSG_NOSIGNAL) < 0)
            fx->flood_errors++;
    }
    for (int i = 0; i < N; i++) {
        if (s[i] >= 0)
            close(s[i]);
    }
    /* slowloris: one byte a second, never finishing its headers */
    int sl = fx->no_slowloris ? -1 : connect_loopback(fx->port);
    const char *slow = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char tmp[256];
    for (size_t i = 0; sl >= 0 && i < strlen(slow); i++) {
        if (send(sl, slow + i, 1, MSG_NOSIGNAL) != 1) {
            fx->slowloris_cut = true; /* the server cut it (EPIPE, ECONNRESET): what we want */
            break;
        }
        struct timeval tv = {.tv_sec = 1};
        setsockopt(sl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ssize_t n = recv(sl, tmp, sizeof(tmp), 0);
        /* a cut shows as end of stream or, when bytes were unread, a reset */
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            fx->slowloris_cut = true;
            break;
        }
    }
    if (sl >= 0)
        close(sl);
    /* Another client (a scraper on another address of the host) is served
     * at once: the flood used up only its own per-client slots. */
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    CURL *c = curl_easy_init();
    if (!c)
        return;
    fx->source = "127.0.0.2";
    fetch(fx, c, "GET", "/healthz");
    fx->source = NULL;
    gettimeofday(&t1, NULL);
    fx->health_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    /* The flooding client itself gets its slots back once the server has
     * seen its closes: how soon depends on the machine, so wait for it. */
    for (int tries = 0; tries < 200; tries++) {
        size_t at = fx->nr;
        fetch(fx, c, "GET", "/healthz");
        if (fx->r[at].status == 200)
            break;
        fx->nr = at; /* not kept: try again */
        usleep(100 * 1000);
    }
    curl_easy_cleanup(c);
}

static void flood_and_slowloris(const struct http_opts *o, bool slowloris)
{
    struct fixture fx;
    assert_int_equal(fixture_start_opts(&fx, "127.0.0.1:0", o), 0);
    fx.no_slowloris = !slowloris;
    fx.host = "127.0.0.1";
    fixture_run(&fx, client_flood);
    assert_int_equal(fx.nr, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fx.r[i].status, 200);
        assert_string_equal(fx.r[i].body, "ok\n");
    }
    /* the slowloris was cut by the header deadline, well before its 60
     * bytes ran out */
    assert_true(fx.slowloris_cut || !slowloris);
    print_message("flood: /healthz answered in %ld ms after the burst\n",
                  fx.health_ms);
    print_message("flood: %d of 200 sends failed\n", fx.flood_errors);
    assert_true(fx.health_ms < 20000);
    fixture_end(&fx);
}

/* Sends head, then one byte of body a second until the server cuts the
 * connection (true) or 40 bytes went out (false). */
static bool trickle_body(int port, const char *head, const char *byte)
{
    char tmp[256];
    bool cut = false;
    int s = connect_loopback(port);
    if (s < 0 || send(s, head, strlen(head), MSG_NOSIGNAL) < 0) {
        if (s >= 0)
            close(s);
        return false;
    }
    struct timeval tv = {.tv_sec = 1};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (int i = 0; i < 40 && !cut; i++) {
        if (send(s, byte, strlen(byte), MSG_NOSIGNAL) < 0) {
            cut = true;
            break;
        }
        ssize_t n = recv(s, tmp, sizeof(tmp), 0);
        cut = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    close(s);
    return cut;
}

/* A slowloris on the body: complete headers, then a body trickled a byte a
 * second (a GET's chunked body the server drops, a POST's under its cap).
 * MHD's idle timeout restarts on every byte, so only the request deadline
 * can free the slot. */
static void client_body_trickle(struct fixture *fx)
{
    fx->body_cut[0] = trickle_body(fx->port,
                                   "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                                   "1\r\na\r\n");
    fx->body_cut[1] = trickle_body(fx->port, "POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n",
                                   "a");
    CURL *c = curl_easy_init();
    if (!c)
        return;
    fetch(fx, c, "GET", "/healthz");
    curl_easy_cleanup(c);
}

static void test_body_trickle_is_cut(void **state)
{
    struct fixture fx;
    assert_int_equal(
        fixture_start_opts(&fx, "127.0.0.1:0", &(struct http_opts){.conn_timeout_s = 30, .header_timeout_s = 2}), 0);
    fx.host = "127.0.0.1";
    fixture_run(&fx, client_body_trickle);
    assert_true(fx.body_cut[0]);
    assert_true(fx.body_cut[1]);
    assert_int_equal(fx.nr, 1);
    assert_int_equal(fx.r[0].status, 200);
    fixture_end(&fx);
}

/* The default limits: one client gets at most HTTP_PER_CLIENT_LIMIT slots. */
static void test_flood_and_slowloris(void **state)
{
    flood_and_slowloris(&(struct http_opts){.conn_timeout_s = 30, .header_timeout_s = 2}, true);
}

/* The burst alone fills the whole server (no per-client limit in the way): once
 * the connections go, MHD must be run again to take its listening socket
 * back, or the port stays dead with the backlog in CLOSE-WAIT. */
static void test_flood_past_conn_limit(void **state)
{
    flood_and_slowloris(&(struct http_opts){
        .conn_timeout_s = 30, .header_timeout_s = 2, .conn_limit = 64, .per_client_limit = 1000}, false);
}

static void client_health_only(struct fixture *fx)
{
    CURL *c = curl_easy_init();
    if (!c)
        return;
    fetch(fx, c, "GET", "/healthz");
    curl_easy_cleanup(c);
}

static void test_ipv6_loopback(void **state)
{
    struct fixture fx;
    int rc = fixture_start(&fx, "[::1]:0", 0);
    if (rc == TL_ESTART) {
        /* no IPv6 on this host */
        fixture_end(&fx);
        skip();
    }
    assert_int_equal(rc, 0);
    fx.host = "[::1]";
    fixture_run(&fx, client_health_only);
    assert_int_equal(fx.nr, 1);
    assert_int_equal(fx.r[0].status, 200);
    assert_string_equal(fx.r[0].body, "ok\n");
    fixture_end(&fx);
}

static void client_stream(struct fixture *fx)
{
    CURL *c = curl_easy_init();
    if (!c)
        return;
    fetch(fx, c, "GET", "/stream");  /* 0 */
    fetch(fx, c, "HEAD", "/stream"); /* 1 */
    fetch(fx, c, "GET", "/refused"); /* 2: on the same connection */
    fetch(fx, c, "GET", "/failing"); /* 3 */
    fetch(fx, c, "GET", "/healthz"); /* 4: still serving */
    curl_easy_cleanup(c);
}

static void test_stream_route(void **state)
{
    struct fixture fx;
    assert_int_equal(fixture_start(&fx, "127.0.0.1:0", 0), 0);
    fx.host = "127.0.0.1";
    fixture_run(&fx, client_stream);
    assert_int_equal(fx.nr, 5);
    struct response *r = fx.r;
    /* 5 MB arrive whole and in order */
    assert_int_equal(r[0].status, 200);
    assert_string_equal(r[0].ctype, "text/plain; charset=utf-8");
    assert_int_equal(r[0].body_len, STREAM_BODY);
    uint64_t want = 1469598103934665603ULL;
    for (size_t i = 0; i < STREAM_BODY; i++) {
        char b = stream_byte(i);
        want = fnv(want, &b, 1);
    }
    assert_true(r[0].hash == want);
    /* produced in many slices, on the loop thread, with the loop turning
     * between them: no loop iteration ran more than a couple of slices */
    assert_true(fx.slices >= STREAM_BODY / HTTP_STREAM_SLICE);
    assert_true(fx.max_slices_per_iter <= 2);
    /* ...and each iteration sends its slice whole: MHD sends ~32 KB a run,
     * and at one run per iteration (idle, plus a socket event) a busy loop
     * starved a scrape; here 5 MB take ~25 iterations where that took ~240 */
    assert_true(fx.slice_iter - fx.first_slice_iter <= STREAM_BODY / (64u << 10));
    assert_false(fx.stream_off_loop);
    /* HEAD: headers only, and nothing stray left on the kept-alive
     * connection to spoil the next answer */
    assert_int_equal(r[1].status, 200);
    assert_int_equal(r[1].body_len, 0);
    assert_string_equal(r[1].ctype, "text/plain; charset=utf-8");
    assert_int_equal(r[2].connects, 0);
    /* a producer that will not open is a 500 */
    assert_int_equal(r[2].status, 500);
    /* one that fails midway cuts the connection: the client sees an error,
     * not a short body passed off as complete */
    assert_int_equal(r[3].status, -1);
    assert_int_not_equal(r[3].curl_rc, CURLE_OK);
    assert_int_equal(r[4].status, 200);
    /* every stream opened was closed exactly once */
    assert_int_equal(fx.opens, 3);
    assert_int_equal(fx.closes, 3);
    fixture_end(&fx);
}

/* Reads part of an endless body, then hangs up; waits (generously) for
 * the server to notice and close the producer. */
static void client_cut(struct fixture *fx)
{
    int s = connect_loopback(fx->port);
    if (s < 0)
        return;
    const char *req = "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n";
    char tmp[16384];
    long got = 0;
    if (send(s, req, strlen(req), 0) == (ssize_t)strlen(req)) {
        while (got < (256 << 10)) {
            ssize_t n = recv(s, tmp, sizeof(tmp), 0);
            if (n <= 0)
                break;
            got += n;
        }
    }
    fx->cut_recv = got;
    close(s);
    for (int i = 0; i < 3000 && __atomic_load_n(&fx->closes, __ATOMIC_SEQ_CST) == 0; i++)
        usleep(10000);
}

static void test_stream_client_gone(void **state)
{
    struct fixture fx;
    assert_int_equal(fixture_start(&fx, "127.0.0.1:0", 0), 0);
    fx.host = "127.0.0.1";
    fixture_run(&fx, client_cut);
    assert_true(fx.cut_recv >= (256 << 10));
    /* closed when the client went, not at shutdown: the body never ends */
    assert_int_equal(fx.opens, 1);
    assert_int_equal(fx.closes, 1);
    fixture_end(&fx);
}

/* Stopping the server mid-stream closes the producer too (no leak). */
static void client_stop_mid_stream(struct fixture *fx)
{
    int s = connect_loopback(fx->port);
    if (s < 0)
        return;
    const char *req = "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n";
    char tmp[4096];
    if (send(s, req, strlen(req), 0) == (ssize_t)strlen(req))
        fx->cut_recv = (long)recv(s, tmp, sizeof(tmp), 0);
    /* the server stops while this socket is still open and unread */
    uv_async_send(&fx->done);
    for (int i = 0; i < 3000 && __atomic_load_n(&fx->closes, __ATOMIC_SEQ_CST) == 0; i++)
        usleep(10000);
    close(s);
}

static void test_stream_server_stops(void **state)
{
    struct fixture fx;
    assert_int_equal(fixture_start(&fx, "127.0.0.1:0", 0), 0);
    fx.host = "127.0.0.1";
    fixture_run(&fx, client_stop_mid_stream);
    assert_true(fx.cut_recv > 0);
    assert_int_equal(fx.opens, 1);
    assert_int_equal(fx.closes, 1);
    fixture_end(&fx);
}

static void test_start_errors(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct logger *lg = log_new(2, LOG_ERROR + 1, LOG_FORMAT_JSON); /* silent */
    struct http *h = NULL, *h2 = NULL;
    struct http_opts o = {.listen = "localhost:9464", .log = lg};
    assert_int_equal(http_new(&loop, &o, &h), TL_EADDR);
    assert_null(h);

    o.listen = "127.0.0.1:0";
    assert_int_equal(http_new(&loop, &o, &h), 0);
    char taken[64];
    snprintf(taken, sizeof(taken), "127.0.0.1:%u", (unsigned)http_port(h));
    /* the port is in use: a start error, and nothing left behind */
    o.listen = taken;
    assert_int_equal(http_new(&loop, &o, &h2), TL_ESTART);
    assert_null(h2);
    assert_int_equal(http_route(h, "relative", health, NULL), TL_EINVAL);
    assert_int_equal(http_route(h, "/x", NULL, NULL), TL_EINVAL);
    assert_int_equal(http_route_stream(h, "/x", gen_open, NULL, gen_close, NULL), TL_EINVAL);
    http_free(h);
    http_free(NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    log_free(lg);
}

static void test_parse_listen(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(http_parse_listen("127.0.0.1:9464", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9464);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(http_parse_listen("0.0.0.0:0", &ss, &len), 0);
    assert_int_equal(http_parse_listen("[::1]:9464", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9464);
    assert_int_equal(http_parse_listen("[::]:65535", &ss, &len), 0);
    const char *bad[] = {"",           "9464",          ":9464",         "127.0.0.1",
                         "127.0.0.1:", "127.0.0.1:x",   "127.0.0.1:65536", "127.0.0.1:-1",
                         "::1:9464",   "[::1]",         "[::1:9464",     "localhost:9464",
                         "[]:9464",    "1.2.3.4:000009464", "127.0.0.1:94 64", "[127.0.0.1]:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (http_parse_listen(bad[i], &ss, &len) != TL_EADDR)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(http_parse_listen(NULL, &ss, &len), TL_EADDR);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_idle_connections_time_out),
        cmocka_unit_test(test_flood_and_slowloris),
        cmocka_unit_test(test_body_trickle_is_cut),
        cmocka_unit_test(test_flood_past_conn_limit),
        cmocka_unit_test(test_ipv6_loopback),
        cmocka_unit_test(test_stream_route),
        cmocka_unit_test(test_stream_client_gone),
        cmocka_unit_test(test_stream_server_stops),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_parse_listen),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
