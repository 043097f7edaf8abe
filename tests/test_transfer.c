/* Transfer engine tests: real transfers on loopback against hostile_server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "base/err.h"
#include "probes/http/transfer.h"

extern char **environ;

#define MS 1000
#define SEC (1000 * MS)
#define MIB (1024 * 1024)

struct fixture {
    pid_t pid;
    int http;
    int tls;
};

/* One finished transfer as the done callback saw it. */
struct slot {
    int calls;
    struct response *resp;
    struct transfer_engine *free_engine; /* freed from inside the callback when set */
};

struct env {
    uv_loop_t loop;
    struct transfer_engine *engine;
    struct transfer_session *session;
};

static void done_cb(struct response *r, void *arg)
{
    struct slot *s = arg;
    s->calls++;
    if (s->resp) {
        response_free(s->resp);
        free(s->resp);
    }
    s->resp = r;
    if (s->free_engine)
        transfer_engine_free(s->free_engine);
}

static void slot_clear(struct slot *s)
{
    if (s->resp) {
        response_free(s->resp);
        free(s->resp);
    }
    memset(s, 0, sizeof(*s));
}

static void env_init(struct env *v, const struct transfer_engine_opts *opts)
{
    assert_int_equal(uv_loop_init(&v->loop), 0);
    assert_int_equal(transfer_engine_new(&v->engine, &v->loop, opts), 0);
    assert_int_equal(transfer_session_new(&v->session, v->engine), 0);
}

/* The shutdown every loop-based test ends with. */
static void env_done(struct env *v)
{
    transfer_session_free(v->session);
    transfer_engine_free(v->engine);
    uv_run(&v->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&v->loop), 0);
}

/* Runs the loop until `*calls` reaches n or nothing is left to run. */
static void run_until(uv_loop_t *loop, const int *calls, int n)
{
    while (*calls < n) {
        if (uv_run(loop, UV_RUN_ONCE) == 0 && *calls < n)
            break;
    }
}

static struct transfer_req req_get(const char *url)
{
    struct transfer_req r;
    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.url = url;
    r.timeout = 10 * SEC;
    r.body_max = MIB;
    return r;
}

/* Starts req in session s and runs the loop until it is done (exactly once). */
static struct response *fetch_in(struct env *v, struct transfer_session *s,
                                 const struct transfer_req *req, struct slot *slot)
{
    memset(slot, 0, sizeof(*slot));
    assert_int_equal(transfer_start(s, req, done_cb, slot), 0);
    assert_int_equal(transfer_engine_in_flight(v->engine), 1);
    run_until(&v->loop, &slot->calls, 1);
    assert_int_equal(slot->calls, 1);
    assert_int_equal(transfer_engine_in_flight(v->engine), 0);
    assert_non_null(slot->resp);
    return slot->resp;
}

static struct response *fetch(struct env *v, const struct transfer_req *req, struct slot *slot)
{
    return fetch_in(v, v->session, req, slot);
}

static void url_of(char *out, size_t cap, const struct fixture *fx, bool tls, const char *path)
{
    snprintf(out, cap, "%s://127.0.0.1:%d%s", tls ? "https" : "http", tls ? fx->tls : fx->http,
             path);
}

/* --- tests ------------------------------------------------------------- */

static void test_ok_with_timings(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/delay?ms=50");
    struct transfer_req req = req_get(url);
    struct response *r = fetch(&v, &req, &s);
    assert_int_equal(r->fail, TRANSFER_OK);
    assert_int_equal(r->curl_code, 0);
    assert_string_equal(r->error, "");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body.data, "{\"ok\":true}");
    assert_true(r->timings.ttfb >= 50 * MS);
    assert_true(r->timings.total >= r->timings.ttfb);
    assert_true(r->timings.dns >= 0 && r->timings.connect >= 0);
    assert_int_equal(r->timings.tls, 0);
    assert_string_equal(r->primary_ip, "127.0.0.1");
    assert_int_equal(r->http_version, 11);
    /* Header lookup ignores case. */
    assert_string_equal(response_header(r, "CONTENT-TYPE"), "application/json");
    assert_null(response_header(r, "X-Not-There"));
    slot_clear(&s);
    env_done(&v);
}

static void test_connection_refused(void **state)
{
    struct env v;
    struct slot s;
    char url[128];
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    /* A bound socket that never listens: connecting to it is refused, and
     * holding it keeps the port from being taken by anyone else. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", ntohs(sa.sin_port));

    env_init(&v, NULL);
    struct transfer_req req = req_get(url);
    struct response *r = fetch(&v, &req, &s);
    assert_int_equal(r->fail, TRANSFER_CURL);
    assert_int_equal(r->curl_code, CURLE_COULDNT_CONNECT);
    assert_int_equal(r->status, 0);
    assert_true(r->error[0] != '\0');
    slot_clear(&s);
    env_done(&v);
    close(fd);
}

static void test_unresolvable_name(void **state)
{
    struct env v;
    struct slot s;

    env_init(&v, NULL);
    struct transfer_req req = req_get("http://no-such-host.invalid/ok");
    struct response *r = fetch(&v, &req, &s);
    assert_int_equal(r->fail, TRANSFER_CURL);
    assert_int_equal(r->curl_code, CURLE_COULDNT_RESOLVE_HOST);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->primary_ip, "");
    slot_clear(&s);
    env_done(&v);
}

static void test_tls_verification(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, true, "/ok");
    struct transfer_req req = req_get(url);
    struct response *r = fetch(&v, &req, &s);
    assert_int_equal(r->fail, TRANSFER_CURL);
    assert_int_equal(r->curl_code, CURLE_PEER_FAILED_VERIFICATION);
    slot_clear(&s);

    /* insecure skips verification: the self-signed server answers. */
    req.insecure = true;
    r = fetch(&v, &req, &s);
    assert_int_equal(r->fail, TRANSFER_OK);
    assert_int_equal(r->status, 200);
    assert_true(r->timings.tls > 0);
    assert_string_equal(r->body.data, "{\"ok\":true}");
    slot_clear(&s);
    env_done(&v);
}

static void test_ca_file_is_used(void **state)
{
    struct fixture *fx = *state;
    struct transfer_engine_opts opts = {.ca_file = "/nonexistent/ca.pem"};
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, &opts);
    url_of(url, sizeof(url), fx, true, "/ok");
    struct transfer_req req = req_get(url);
    struct response *r = fetch(&v, &req, &s);
    assert_int_equal(r->fail, TRANSFER_CURL);
    assert_int_equal(r->curl_code, CURLE_SSL_CACERT_BADFILE);
    slot_clear(&s);
    env_done(&v);
}

static void test_timeout_on_drip(void **state)
{
    struct fixture *fx = *state;
    const char *paths[] = {"/drip", "/slow-headers"};
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    for (size_t i = 0; i < 2; i++) {
        url_of(url, sizeof(url), fx, false, paths[i]);
        struct transfer_req req = req_get(url);
        req.timeout = 1500 * MS;
        uint64_t t0 = uv_hrtime();
        struct response *r = fetch(&v, &req, &s);
        uint64_t took = (uv_hrtime() - t0) / 1000;
        assert_int_equal(r->fail, TRANSFER_CURL);
        assert_int_equal(r->curl_code, CURLE_OPERATION_TIMEDOUT);
        /* Ends at the deadline: not before it, and not long after. */
        assert_true(took >= 1400 * MS);
        assert_true(took < 6 * SEC);
        if (i == 1)
            assert_int_equal(r->status, 0);
        slot_clear(&s);
    }
    env_done(&v);
}

static void test_body_caps(void **state)
{
    struct fixture *fx = *state;
    const char *paths[] = {"/endless", "/gzip-bomb"};
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    for (size_t i = 0; i < 2; i++) {
        url_of(url, sizeof(url), fx, false, paths[i]);
        struct transfer_req req = req_get(url);
        req.body_max = MIB;
        struct response *r = fetch(&v, &req, &s);
        assert_int_equal(r->fail, TRANSFER_BODY_TOO_BIG);
        assert_int_equal(r->curl_code, CURLE_WRITE_ERROR);
        assert_string_equal(r->error, "response body larger than 1048576 bytes");
        assert_int_equal(r->status, 200);
        assert_true(r->body.len <= MIB);
        slot_clear(&s);
    }
    env_done(&v);
}

static void test_broken_responses(void **state)
{
    struct fixture *fx = *state;
    const char *paths[] = {"/bad-chunk", "/reset"};
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    for (size_t i = 0; i < 2; i++) {
        url_of(url, sizeof(url), fx, false, paths[i]);
        struct transfer_req req = req_get(url);
        struct response *r = fetch(&v, &req, &s);
        assert_int_equal(r->fail, TRANSFER_CURL);
        assert_int_not_equal(r->curl_code, CURLE_OK);
        assert_true(r->error[0] != '\0');
        slot_clear(&s);
    }
    env_done(&v);
}

static void test_headers_cap(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/big-headers");
    struct transfer_req req = req_get(url);
    struct response *r = fetch(&v, &req, &s);
    assert_int_equal(r->fail, TRANSFER_HEADERS_TOO_BIG);
    assert_string_equal(r->error, "response headers larger than 65536 bytes");
    slot_clear(&s);
    env_done(&v);
}

static void test_big_json_within_cap(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/big-json");
    struct transfer_req req = req_get(url);
    req.body_max = 16 * MIB;
    struct response *r = fetch(&v, &req, &s);
    assert_int_equal(r->fail, TRANSFER_OK);
    assert_int_equal(r->status, 200);
    assert_true(r->body.len >= 10 * MIB);
    const char *cl = response_header(r, "Content-Length");
    assert_non_null(cl);
    assert_int_equal(strtoul(cl, NULL, 10), r->body.len);
    cJSON *doc = cJSON_ParseWithLength(r->body.data, r->body.len);
    assert_non_null(doc);
    cJSON_Delete(doc);
    slot_clear(&s);
    env_done(&v);
}

static void test_status_and_headers(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/status?code=429&retry_after=7");
    struct transfer_req req = req_get(url);
    struct response *r = fetch(&v, &req, &s);
    /* A non-2xx answer is still a usable response. */
    assert_int_equal(r->fail, TRANSFER_OK);
    assert_int_equal(r->status, 429);
    assert_string_equal(response_header(r, "retry-after"), "7");
    assert_string_equal(response_header(r, "X-RateLimit-Remaining"), "0");
    assert_non_null(strstr(r->body.data, "\"demo.rate_limit.too_many_requests\""));
    slot_clear(&s);
    env_done(&v);
}

static size_t collect(char *p, size_t size, size_t n, void *userp)
{
    struct buf *b = userp;
    return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* The Accept-Encoding curl itself sends for CURLOPT_ACCEPT_ENCODING "":
 * the engine builds that list once instead of having curl expand "". */
static char *curl_own_accept_encoding(const char *url)
{
    struct buf b;
    char *out = NULL;
    buf_init(&b, 64 * 1024);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    cJSON *doc = cJSON_Parse(b.data);
    assert_non_null(doc);
    const cJSON *ae = cJSON_GetObjectItem(doc, "Accept-Encoding");
    assert_true(cJSON_IsString(ae));
    out = strdup(ae->valuestring);
    cJSON_Delete(doc);
    curl_easy_cleanup(c);
    buf_free(&b);
    return out;
}

static void test_request_shape(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    char url[256];
    const struct http_header hdrs[] = {{"X-Test", "one"}, {"X-Empty", ""}};
    char body[4096];

    memset(body, 'b', sizeof(body));
    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/echo-headers");
    struct transfer_req req = req_get(url);
    req.method = "POST";
    req.headers = hdrs;
    req.n_headers = 2;
    req.body = body;
    req.body_len = sizeof(body);
    struct response *r = fetch(&v, &req, &s);
    assert_int_equal(r->status, 200);
    cJSON *doc = cJSON_Parse(r->body.data);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, ":method")->valuestring, "POST");
    assert_string_equal(cJSON_GetObjectItem(doc, "X-Test")->valuestring, "one");
    assert_string_equal(cJSON_GetObjectItem(doc, "X-Empty")->valuestring, "");
    assert_string_equal(cJSON_GetObjectItem(doc, "Content-Length")->valuestring, "4096");
    /* Compressed bodies are asked for (and decoded); no 100-continue round trip. */
    assert_non_null(cJSON_GetObjectItem(doc, "Accept-Encoding"));
    char *own = curl_own_accept_encoding(url);
    assert_string_equal(cJSON_GetObjectItem(doc, "Accept-Encoding")->valuestring, own);
    free(own);
    assert_null(cJSON_GetObjectItem(doc, "Expect"));
    const cJSON *ua = cJSON_GetObjectItem(doc, "User-Agent");
    assert_non_null(ua);
    assert_memory_equal(ua->valuestring, "tripline/", 9);
    cJSON_Delete(doc);
    slot_clear(&s);

    /* Other methods go out as given, with or without a body. */
    req.method = "DELETE";
    req.body = NULL;
    req.body_len = 0;
    r = fetch(&v, &req, &s);
    doc = cJSON_Parse(r->body.data);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, ":method")->valuestring, "DELETE");
    assert_null(cJSON_GetObjectItem(doc, "Content-Length"));
    cJSON_Delete(doc);
    slot_clear(&s);
    req.method = "PATCH";
    req.body = "{}";
    req.body_len = 2;
    r = fetch(&v, &req, &s);
    doc = cJSON_Parse(r->body.data);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, ":method")->valuestring, "PATCH");
    assert_string_equal(cJSON_GetObjectItem(doc, "Content-Length")->valuestring, "2");
    cJSON_Delete(doc);
    slot_clear(&s);
    env_done(&v);
}

static void test_redirects(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/redirect");
    struct transfer_req req = req_get(url);
    struct response *r = fetch(&v, &req, &s);
    assert_int_equal(r->status, 302);
    assert_string_equal(response_header(r, "Location"), "/ok");
    slot_clear(&s);

    /* Followed: only the final response's headers are kept. */
    req.follow_redirects = true;
    r = fetch(&v, &req, &s);
    assert_int_equal(r->status, 200);
    assert_null(response_header(r, "Location"));
    assert_null(response_header(r, "X-Hop"));
    assert_string_equal(r->body.data, "{\"ok\":true}");
    slot_clear(&s);
    env_done(&v);
}

/* The origin a redirect is judged by: scheme, host and port, as a client
 * compares them (https to http on the same host is another origin). */
static void test_same_origin(void **state)
{
    char o[TRANSFER_ORIGIN_MAX];
    (void)state;

    assert_int_equal(transfer_url_origin("HTTPS://Api.Example.test/v1?q=1", o, sizeof o), 0);
    assert_string_equal(o, "https://api.example.test:443");
    assert_true(transfer_same_origin("http://h/a", "http://H:80/b?c"));
    assert_true(transfer_same_origin("https://u:p@h/a", "https://h:443/"));
    assert_false(transfer_same_origin("https://h/a", "http://h/a"));
    assert_false(transfer_same_origin("https://h/a", "http://h:443/a"));
    assert_false(transfer_same_origin("http://h:8080/", "http://h:8081/"));
    assert_false(transfer_same_origin("http://h/", "http://h.evil.test/"));
    assert_false(transfer_same_origin("http://h/", "not a url"));
    assert_false(transfer_same_origin(NULL, "http://h/"));
}

static void test_cookies_per_session(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    struct transfer_session *other = NULL;
    char set[256], echo[256];

    env_init(&v, NULL);
    assert_int_equal(transfer_session_new(&other, v.engine), 0);
    url_of(set, sizeof(set), fx, false, "/set-cookie");
    url_of(echo, sizeof(echo), fx, false, "/echo-cookie");
    struct transfer_req rs = req_get(set);
    struct transfer_req re = req_get(echo);

    fetch(&v, &rs, &s);
    assert_int_equal(s.resp->status, 200);
    slot_clear(&s);
    fetch(&v, &re, &s);
    assert_string_equal(s.resp->body.data, "sid=abc");
    slot_clear(&s);
    /* Another session of the same engine never sees that jar. */
    fetch_in(&v, other, &re, &s);
    assert_int_equal(s.resp->status, 200);
    assert_string_equal(s.resp->body.data, "");
    slot_clear(&s);
    transfer_session_free(other);
    env_done(&v);
}

/* Easy handles are reused: every HTTPS check still makes a full handshake,
 * never resuming the TLS session an earlier check on that handle got. */
static void test_tls_never_resumed(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    char url[256];

    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, true, "/tls-resumed");
    struct transfer_req req = req_get(url);
    req.insecure = true;
    for (int i = 0; i < 3; i++) {
        fetch(&v, &req, &s);
        assert_int_equal(s.resp->status, 200);
        assert_string_equal(s.resp->body.data, "no");
        assert_true(s.resp->timings.tls > 0);
        slot_clear(&s);
    }
    env_done(&v);
}

/* The method and Accept-Encoding /echo-headers saw, "-" when absent. */
static void echo_shape(struct env *v, const struct transfer_req *req, char *method, char *enc)
{
    struct slot s;
    struct response *r = fetch(v, req, &s);
    cJSON *doc = cJSON_Parse(r->body.data);
    const cJSON *m = cJSON_GetObjectItem(doc, ":method");
    const cJSON *e = cJSON_GetObjectItem(doc, "Accept-Encoding");
    const cJSON *ua = cJSON_GetObjectItem(doc, "User-Agent");

    assert_int_equal(r->status, 200);
    assert_non_null(ua);
    assert_memory_equal(ua->valuestring, "tripline/", 9);
    snprintf(method, 16, "%s", m ? m->valuestring : "-");
    snprintf(enc, 64, "%s", e ? e->valuestring : "-");
    cJSON_Delete(doc);
    slot_clear(&s);
}

/* One handle serves every transfer here: a plain GET after a plain GET
 * keeps the constant options without a reset, and nothing a POST, an
 * insecure or a redirect-following transfer set carries over. */
static void test_handle_reuse_options(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    char url[256], tls[256], redir[256], m[16], enc[64], enc0[64];

    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/echo-headers");
    url_of(tls, sizeof(tls), fx, true, "/ok");
    url_of(redir, sizeof(redir), fx, false, "/redirect");
    struct transfer_req get = req_get(url);
    struct transfer_req post = req_get(url);
    post.method = "POST";
    post.body = "{}";
    post.body_len = 2;
    echo_shape(&v, &get, m, enc0);
    assert_string_equal(m, "GET");
    assert_string_not_equal(enc0, "-");
    echo_shape(&v, &get, m, enc);
    assert_string_equal(m, "GET");
    assert_string_equal(enc, enc0);
    echo_shape(&v, &post, m, enc);
    assert_string_equal(m, "POST");
    echo_shape(&v, &get, m, enc);
    assert_string_equal(m, "GET");
    assert_string_equal(enc, enc0);

    struct transfer_req t = req_get(tls);
    t.insecure = true;
    assert_int_equal(fetch(&v, &t, &s)->status, 200);
    slot_clear(&s);
    t.insecure = false;
    assert_int_equal(fetch(&v, &t, &s)->curl_code, CURLE_PEER_FAILED_VERIFICATION);
    slot_clear(&s);

    struct transfer_req rd = req_get(redir);
    rd.follow_redirects = true;
    assert_int_equal(fetch(&v, &rd, &s)->status, 200);
    slot_clear(&s);
    rd.follow_redirects = false;
    assert_int_equal(fetch(&v, &rd, &s)->status, 302);
    slot_clear(&s);
    env_done(&v);
}

/* A session's share may go to a later session: never with the cookie or
 * the pinned address an earlier one left in it. */
static void test_later_session_starts_clean(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    struct transfer_session *a = NULL, *b = NULL;
    char set[256], echo[256], pinned[256], pin[128];

    env_init(&v, NULL);
    url_of(set, sizeof(set), fx, false, "/set-cookie");
    url_of(echo, sizeof(echo), fx, false, "/echo-cookie");
    snprintf(pinned, sizeof(pinned), "http://vantage.invalid:%d/ok", fx->http);
    snprintf(pin, sizeof(pin), "vantage.invalid:%d:127.0.0.1", fx->http);
    struct transfer_req rs = req_get(set);
    struct transfer_req re = req_get(echo);
    struct transfer_req rp = req_get(pinned);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(transfer_session_new(&a, v.engine), 0);
        fetch_in(&v, a, &re, &s);
        assert_string_equal(s.resp->body.data, "");
        slot_clear(&s);
        fetch_in(&v, a, &rs, &s);
        slot_clear(&s);
        fetch_in(&v, a, &re, &s);
        assert_string_equal(s.resp->body.data, "sid=abc");
        slot_clear(&s);
        transfer_session_free(a);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(transfer_session_new(&b, v.engine), 0);
        rp.resolve = i == 0 ? pin : NULL;
        fetch_in(&v, b, &rp, &s);
        assert_int_equal(s.resp->status, i == 0 ? 200 : 0);
        if (i)
            assert_int_equal(s.resp->curl_code, CURLE_COULDNT_RESOLVE_HOST);
        slot_clear(&s);
        transfer_session_free(b);
    }
    env_done(&v);
}

static void test_resolve_pins_address_per_session(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s;
    struct transfer_session *other = NULL;
    char url[256], pin[128];

    env_init(&v, NULL);
    snprintf(url, sizeof(url), "http://vantage.invalid:%d/ok", fx->http);
    snprintf(pin, sizeof(pin), "vantage.invalid:%d:127.0.0.1", fx->http);
    struct transfer_req req = req_get(url);
    req.resolve = pin;
    fetch(&v, &req, &s);
    assert_int_equal(s.resp->fail, TRANSFER_OK);
    assert_int_equal(s.resp->status, 200);
    assert_string_equal(s.resp->primary_ip, "127.0.0.1");
    slot_clear(&s);

    /* The pinned address belongs to that session only. */
    assert_int_equal(transfer_session_new(&other, v.engine), 0);
    req.resolve = NULL;
    fetch_in(&v, other, &req, &s);
    assert_int_equal(s.resp->curl_code, CURLE_COULDNT_RESOLVE_HOST);
    slot_clear(&s);
    transfer_session_free(other);
    env_done(&v);
}

static void test_concurrent_transfers(void **state)
{
    struct fixture *fx = *state;
    enum { N = 300 };
    struct env v;
    struct slot *slots = calloc(N, sizeof(*slots));
    char url[256];

    assert_non_null(slots);
    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/delay?ms=100");
    struct transfer_req req = req_get(url);
    req.timeout = 60 * SEC;
    for (int i = 0; i < N; i++)
        assert_int_equal(transfer_start(v.session, &req, done_cb, &slots[i]), 0);
    assert_int_equal(transfer_engine_in_flight(v.engine), N);
    /* Wait until every slot has been called (or the loop runs dry). */
    for (;;) {
        int done = 0;
        for (int i = 0; i < N; i++)
            done += slots[i].calls > 0;
        if (done == N || uv_run(&v.loop, UV_RUN_ONCE) == 0)
            break;
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(slots[i].calls, 1);
        assert_int_equal(slots[i].resp->fail, TRANSFER_OK);
        assert_int_equal(slots[i].resp->status, 200);
        slot_clear(&slots[i]);
    }
    assert_int_equal(transfer_engine_in_flight(v.engine), 0);
    env_done(&v);
    free(slots);
}

static void on_stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void test_free_with_transfers_in_flight(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s[2];
    uv_timer_t stop;
    char url[256];

    memset(s, 0, sizeof(s));
    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/drip");
    struct transfer_req req = req_get(url);
    assert_int_equal(transfer_start(v.session, &req, done_cb, &s[0]), 0);
    url_of(url, sizeof(url), fx, true, "/drip");
    req.insecure = true;
    assert_int_equal(transfer_start(v.session, &req, done_cb, &s[1]), 0);
    /* Let both connect and start receiving, then pull the plug. */
    assert_int_equal(uv_timer_init(&v.loop, &stop), 0);
    assert_int_equal(uv_timer_start(&stop, on_stop_timer, 1500, 0), 0);
    uv_run(&v.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&stop, NULL);
    assert_int_equal(transfer_engine_in_flight(v.engine), 2);
    env_done(&v);
    /* Aborted transfers never call back. */
    assert_int_equal(s[0].calls, 0);
    assert_int_equal(s[1].calls, 0);
}

static void test_free_from_done_callback(void **state)
{
    struct fixture *fx = *state;
    struct env v;
    struct slot s[2];
    char url[256];

    memset(s, 0, sizeof(s));
    env_init(&v, NULL);
    url_of(url, sizeof(url), fx, false, "/ok");
    struct transfer_req req = req_get(url);
    assert_int_equal(transfer_start(v.session, &req, done_cb, &s[0]), 0);
    url_of(url, sizeof(url), fx, false, "/drip");
    assert_int_equal(transfer_start(v.session, &req, done_cb, &s[1]), 0);
    s[0].free_engine = v.engine;
    s[1].free_engine = v.engine;
    run_until(&v.loop, &s[0].calls, 1);
    assert_int_equal(s[0].calls, 1);
    assert_int_equal(s[1].calls, 0);
    /* The engine is already gone: only the session and the loop are left. */
    transfer_session_free(v.session);
    uv_run(&v.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&v.loop), 0);
    assert_int_equal(s[1].calls, 0);
    slot_clear(&s[0]);
}

/* Every byte, in a name and in a value, against the rule: a name holds no
 * control byte, space, DEL or ':'; a value no control byte but tab, no DEL. */
static void test_header_check_bytes(void **state)
{
    char err[256], text[4];
    (void)state;

    for (int c = 1; c < 256; c++) {
        snprintf(text, sizeof text, "a%cb", c);
        bool name_bad = c <= 0x20 || c == 0x7F || c == ':';
        bool value_bad = (c < 0x20 && c != '\t') || c == 0x7F;
        assert_int_equal(transfer_header_check(text, "v", err, sizeof err) != 0, name_bad);
        assert_int_equal(transfer_header_check("X-Name", text, err, sizeof err) != 0, value_bad);
    }
    assert_int_equal(transfer_header_check("X-Name", "", err, sizeof err), 0);
    assert_int_equal(transfer_header_check("X-Name", NULL, err, sizeof err), 0);
    assert_int_equal(transfer_header_check("X-Name", "a\r\nX-Evil: 1", err, sizeof err), TL_EINVAL);
    assert_non_null(strstr(err, "header injection"));
}

static void test_fail_strings(void **state)
{
    assert_string_equal(transfer_fail_str(TRANSFER_OK), "ok");
    assert_string_equal(transfer_fail_str(TRANSFER_CURL), "curl");
    assert_string_equal(transfer_fail_str(TRANSFER_BODY_TOO_BIG), "body_too_big");
    assert_string_equal(transfer_fail_str(TRANSFER_HEADERS_TOO_BIG), "headers_too_big");
    response_free(NULL);
    transfer_engine_free(NULL);
    transfer_session_free(NULL);
}

/* --- the fixture server --------------------------------------------------- */

static int start_fixture(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    const char *dir = getenv("TRIPLINE_BUILD_DIR");
    char path[1024];
    char line[128];
    int pipefd[2];
    posix_spawn_file_actions_t fa;

    if (!fx)
        return -1;
    snprintf(path, sizeof(path), "%s/hostile_server", dir ? dir : ".");
    char *argv[] = {path, "--bind", "127.0.0.1", NULL};
    if (pipe(pipefd) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    int rc = posix_spawn(&fx->pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        fprintf(stderr, "cannot start %s\n", path);
        close(pipefd[0]);
        free(fx);
        return -1;
    }
    FILE *f = fdopen(pipefd[0], "r");
    char *end = NULL;
    if (!f || !fgets(line, sizeof(line), f) || strncmp(line, "http=", 5) != 0) {
        fprintf(stderr, "hostile_server did not print its ports\n");
        kill(fx->pid, SIGKILL);
        waitpid(fx->pid, NULL, 0);
        free(fx);
        return -1;
    }
    fclose(f);
    fx->http = (int)strtol(line + 5, &end, 10);
    const char *tls = strstr(line, "tls=");
    fx->tls = tls ? (int)strtol(tls + 4, NULL, 10) : 0;
    if (fx->http <= 0 || fx->tls <= 0) {
        kill(fx->pid, SIGKILL);
        waitpid(fx->pid, NULL, 0);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int stop_fixture(void **state)
{
    struct fixture *fx = *state;
    if (fx) {
        kill(fx->pid, SIGTERM);
        waitpid(fx->pid, NULL, 0);
        free(fx);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_strings),
        cmocka_unit_test(test_header_check_bytes),
        cmocka_unit_test(test_ok_with_timings),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_unresolvable_name),
        cmocka_unit_test(test_tls_verification),
        cmocka_unit_test(test_ca_file_is_used),
        cmocka_unit_test(test_timeout_on_drip),
        cmocka_unit_test(test_body_caps),
        cmocka_unit_test(test_broken_responses),
        cmocka_unit_test(test_headers_cap),
        cmocka_unit_test(test_big_json_within_cap),
        cmocka_unit_test(test_status_and_headers),
        cmocka_unit_test(test_request_shape),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_same_origin),
        cmocka_unit_test(test_cookies_per_session),
        cmocka_unit_test(test_tls_never_resumed),
        cmocka_unit_test(test_handle_reuse_options),
        cmocka_unit_test(test_later_session_starts_clean),
        cmocka_unit_test(test_resolve_pins_address_per_session),
        cmocka_unit_test(test_concurrent_transfers),
        cmocka_unit_test(test_free_with_transfers_in_flight),
        cmocka_unit_test(test_free_from_done_callback),
    };
    /* Kept from dying when a transfer's peer goes away mid-write. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, start_fixture, stop_fixture);
}
