/* Tests for the demo API fixture (tests/fixtures/demo_api.c), over real loopback sockets.
 *
 * Starts $TRIPLINE_BUILD_DIR/demo_api --port 0, reads the port from its first stdout line
 * and drives every endpoint with libcurl. The README's example probes depend on exactly
 * these statuses, headers and bodies, so each one is pinned here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define BODY_CAP (1024 * 1024)
#define DOCS "https://docs.example.test/errors/"

struct server {
    pid_t pid;
    int out_fd;
    long port;
    char base[64];
};

struct reply {
    CURL *easy;
    long status;
    char *body;
    size_t len;
    cJSON *json;
};

/* ---- the server process ------------------------------------------------- */

/* Reads the first stdout line of the child within a generous deadline. */
static int read_line(int fd, char *line, size_t cap)
{
    size_t used = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};

    while (used + 1 < cap) {
        ssize_t n;
        int pr = poll(&p, 1, 30000);
        if (pr <= 0)
            return -1;
        n = read(fd, line + used, 1);
        if (n <= 0)
            return -1;
        if (line[used] == '\n') {
            line[used] = '\0';
            return 0;
        }
        used++;
    }
    return -1;
}

/* Starts demo_api on an ephemeral port; password NULL leaves DEMO_PASSWORD unset. */
static int server_start(struct server *s, const char *password)
{
    const char *dir = getenv("TRIPLINE_BUILD_DIR");
    char path[4096], line[256], pwvar[128];
    char *argv[] = {path, "--port", "0", NULL};
    char **envp = NULL;
    size_t n = 0, i, j = 0;
    const char *prefix = "listening on http://127.0.0.1:";
    char *end = NULL;
    int fds[2];

    memset(s, 0, sizeof(*s));
    s->out_fd = -1;
    if (dir == NULL || snprintf(path, sizeof(path), "%s/demo_api", dir) >= (int)sizeof(path))
        return -1;
    /* Build the child's environment before fork: only exec happens in the child. */
    while (environ[n] != NULL)
        n++;
    envp = calloc(n + 2, sizeof(*envp));
    if (envp == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], "DEMO_PASSWORD=", 14) != 0)
            envp[j++] = environ[i];
    }
    if (password != NULL) {
        snprintf(pwvar, sizeof(pwvar), "DEMO_PASSWORD=%s", password);
        envp[j++] = pwvar;
    }
    if (pipe(fds) != 0) {
        free(envp);
        return -1;
    }
    s->pid = fork();
    if (s->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execve(path, argv, envp);
        _exit(127);
    }
    free(envp);
    close(fds[1]);
    s->out_fd = fds[0];
    if (s->pid < 0 || read_line(s->out_fd, line, sizeof(line)) != 0)
        return -1;
    if (strncmp(line, prefix, strlen(prefix)) != 0)
        return -1;
    errno = 0;
    s->port = strtol(line + strlen(prefix), &end, 10);
    if (errno != 0 || end == line + strlen(prefix) || *end != '\0' || s->port <= 0 ||
        s->port > 65535)
        return -1;
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%ld", s->port);
    return 0;
}

/* Sends SIGTERM and returns the wait status, or -1 if it did not exit in 30 s. */
static int server_stop(struct server *s)
{
    int status = -1, i;

    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    for (i = 0; i < 3000; i++) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid)
            break;
        usleep(10000);
    }
    if (i == 3000) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        status = -1;
    }
    s->pid = 0;
    if (s->out_fd >= 0)
        close(s->out_fd);
    s->out_fd = -1;
    return status;
}

/* ---- HTTP helpers ------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct reply *r = userp;
    size_t n = size * nmemb;

    if (r->len + n > BODY_CAP)
        return 0;
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static void reply_free(struct reply *r)
{
    if (r->easy != NULL)
        curl_easy_cleanup(r->easy);
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof(*r));
}

/* Prepares an easy handle for METHOD base+path with an optional body and headers. */
static void reply_prepare(struct reply *r, struct curl_slist **hl, const struct server *s,
                          const char *method, const char *path, const char *body,
                          const char *const *headers)
{
    char url[512];

    memset(r, 0, sizeof(*r));
    *hl = NULL;
    r->body = calloc(1, BODY_CAP + 1);
    assert_non_null(r->body);
    r->easy = curl_easy_init();
    assert_non_null(r->easy);
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(r->easy, CURLOPT_NOPROXY, "*");
    if (body != NULL) {
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        *hl = curl_slist_append(*hl, "Content-Type: application/json");
    }
    for (; headers != NULL && *headers != NULL; headers++)
        *hl = curl_slist_append(*hl, *headers);
    *hl = curl_slist_append(*hl, "Expect:");
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, *hl);
}

static void reply_finish(struct reply *r)
{
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->len > 0)
        r->json = cJSON_ParseWithLength(r->body, r->len);
}

static void http(struct reply *r, const struct server *s, const char *method, const char *path,
                 const char *body, const char *const *headers)
{
    struct curl_slist *hl = NULL;
    CURLcode rc;

    reply_prepare(r, &hl, s, method, path, body, headers);
    rc = curl_easy_perform(r->easy);
    curl_slist_free_all(hl);
    assert_int_equal(rc, CURLE_OK);
    reply_finish(r);
}

/* A response header's value, or NULL. */
static const char *header(struct reply *r, const char *name)
{
    struct curl_header *h = NULL;

    if (curl_easy_header(r->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

static const char *jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is_hex(const char *s, size_t n)
{
    size_t i;

    if (s == NULL || strlen(s) != n)
        return 0;
    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

static int is_uuid4(const char *s)
{
    size_t i;

    if (s == NULL || strlen(s) != 36 || s[14] != '4' || strchr("89ab", s[19]) == NULL)
        return 0;
    for (i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex((char[]){s[i], '\0'}, 1))
            return 0;
    }
    return 1;
}

/* YYYY-MM-DDTHH:MM:SSZ */
static int is_iso_utc(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    size_t i;

    if (s == NULL || strlen(s) != sizeof(shape) - 1)
        return 0;
    for (i = 0; shape[i] != '\0'; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    }
    return 1;
}

/* Checks a valid one-issue body; cid NULL means the server had to make a UUID up. */
static const cJSON *assert_issue(struct reply *r, long status, const char *code, const char *cid)
{
    const cJSON *issues, *issue, *msg, *links;
    const char *top;
    char docs[256];

    assert_int_equal(r->status, status);
    assert_non_null(header(r, "Content-Type"));
    assert_string_equal(header(r, "Content-Type"), "application/json");
    assert_non_null(r->json);
    top = jstr(r->json, "correlationId");
    assert_non_null(top);
    if (cid != NULL) {
        assert_string_equal(top, cid);
        assert_non_null(header(r, "X-Correlation-ID"));
        assert_string_equal(header(r, "X-Correlation-ID"), cid);
    } else {
        assert_true(is_uuid4(top));
        assert_null(header(r, "X-Correlation-ID"));
    }
    issues = cJSON_GetObjectItemCaseSensitive(r->json, "issues");
    assert_true(cJSON_IsArray(issues));
    assert_int_equal(cJSON_GetArraySize(issues), 1);
    issue = cJSON_GetArrayItem(issues, 0);
    assert_string_equal(jstr(issue, "issue"), code);
    assert_string_equal(jstr(issue, "severity"), "error");
    assert_string_equal(jstr(issue, "correlationId"), top);
    assert_true(is_iso_utc(jstr(issue, "dateTime")));
    msg = cJSON_GetObjectItemCaseSensitive(issue, "message");
    assert_non_null(jstr(msg, "title"));
    assert_non_null(jstr(msg, "detail"));
    links = cJSON_GetObjectItemCaseSensitive(issue, "links");
    snprintf(docs, sizeof(docs), "%s%s", DOCS, code);
    assert_string_equal(jstr(links, "documentation"), docs);
    return issue;
}

/* ---- tests -------------------------------------------------------------- */

static void test_health(void **state)
{
    struct server *s = *state;
    struct reply r;

    http(&r, s, "GET", "/v1/health", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type"), "application/json");
    assert_string_equal(jstr(r.json, "status"), "ok");
    reply_free(&r);
}

static void login(const struct server *s, char id[17], char token[33])
{
    struct reply r;
    const cJSON *sess;

    http(&r, s, "POST", "/v1/sessions", "{\"user\":\"synthetic\",\"password\":\"demo-secret\"}",
         NULL);
    assert_int_equal(r.status, 201);
    sess = cJSON_GetObjectItemCaseSensitive(r.json, "session");
    assert_true(is_hex(jstr(sess, "id"), 16));
    assert_true(is_hex(jstr(sess, "token"), 32));
    memcpy(id, jstr(sess, "id"), 17);
    memcpy(token, jstr(sess, "token"), 33);
    reply_free(&r);
}

static void test_journey(void **state)
{
    struct server *s = *state;
    const char *cid_hdr[] = {"X-Correlation-ID: 11111111-2222-4333-8444-555555555555", NULL};
    const char *cid = "11111111-2222-4333-8444-555555555555";
    struct reply r;
    const cJSON *sess, *cart, *issue;
    char id[17], token[33], path[128], auth[128], cookie[64];
    const char *auth_hdr[] = {auth, NULL};

    /* login, with a correlation id that must come back on the header */
    http(&r, s, "POST", "/v1/sessions", "{\"user\":\"synthetic\",\"password\":\"demo-secret\"}",
         cid_hdr);
    assert_int_equal(r.status, 201);
    assert_string_equal(header(&r, "X-Correlation-ID"), cid);
    sess = cJSON_GetObjectItemCaseSensitive(r.json, "session");
    assert_true(is_hex(jstr(sess, "id"), 16));
    assert_true(is_hex(jstr(sess, "token"), 32));
    memcpy(id, jstr(sess, "id"), 17);
    memcpy(token, jstr(sess, "token"), 33);
    snprintf(cookie, sizeof(cookie), "sid=%s; HttpOnly", id);
    assert_non_null(header(&r, "Set-Cookie"));
    assert_string_equal(header(&r, "Set-Cookie"), cookie);
    reply_free(&r);

    /* me */
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    http(&r, s, "GET", "/v1/me", NULL, auth_hdr);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "user"), "synthetic");
    assert_string_equal(jstr(r.json, "session"), id);
    reply_free(&r);

    /* two adds: items counts quantities (qty defaults to 1) */
    snprintf(path, sizeof(path), "/v1/carts/%s/items", id);
    http(&r, s, "POST", path, "{\"sku\":\"A-1\",\"qty\":2}", NULL);
    assert_int_equal(r.status, 201);
    cart = cJSON_GetObjectItemCaseSensitive(r.json, "cart");
    assert_string_equal(jstr(cart, "id"), id);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(cart, "items")->valueint, 2);
    reply_free(&r);
    http(&r, s, "POST", path, "{\"sku\":\"B-2\"}", NULL);
    assert_int_equal(r.status, 201);
    cart = cJSON_GetObjectItemCaseSensitive(r.json, "cart");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(cart, "items")->valueint, 3);
    reply_free(&r);

    /* pay: a declined card is a valid, inactive issue */
    snprintf(path, sizeof(path), "/v1/carts/%s/pay", id);
    http(&r, s, "POST", path, NULL, cid_hdr);
    issue = assert_issue(&r, 402, "payment.unauthorized.card_declined", cid);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(issue, "active")));
    reply_free(&r);

    /* logout, then the session is gone everywhere */
    snprintf(path, sizeof(path), "/v1/sessions/%s", id);
    http(&r, s, "DELETE", path, NULL, cid_hdr);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.len, 0);
    assert_string_equal(header(&r, "X-Correlation-ID"), cid);
    reply_free(&r);
    http(&r, s, "DELETE", path, NULL, NULL);
    assert_issue(&r, 404, "account.validation.unknown_session", NULL);
    reply_free(&r);
    http(&r, s, "GET", "/v1/me", NULL, auth_hdr);
    assert_issue(&r, 401, "auth.unauthorized.invalid_token", NULL);
    reply_free(&r);
    snprintf(path, sizeof(path), "/v1/carts/%s/items", id);
    http(&r, s, "POST", path, "{\"sku\":\"A-1\"}", NULL);
    assert_issue(&r, 404, "cart.validation.unknown_cart", NULL);
    reply_free(&r);
}

static void test_login_errors(void **state)
{
    struct server *s = *state;
    struct reply r;

    http(&r, s, "POST", "/v1/sessions", "{\"user\":\"synthetic\",\"password\":\"nope\"}", NULL);
    assert_issue(&r, 401, "account.unauthorized.bad_credentials", NULL);
    assert_null(header(&r, "Set-Cookie"));
    reply_free(&r);
    http(&r, s, "POST", "/v1/sessions", "{\"user\":\"synthetic\"}", NULL);
    assert_issue(&r, 401, "account.unauthorized.bad_credentials", NULL);
    reply_free(&r);
    http(&r, s, "POST", "/v1/sessions", "user=synthetic", NULL);
    assert_issue(&r, 422, "account.validation.missing_field", NULL);
    reply_free(&r);
    http(&r, s, "POST", "/v1/sessions", "{\"password\":\"demo-secret\"}", NULL);
    assert_issue(&r, 422, "account.validation.missing_field", NULL);
    reply_free(&r);
}

static void test_me_errors(void **state)
{
    struct server *s = *state;
    const char *bad[] = {"Authorization: Bearer 00000000000000000000000000000000", NULL};
    struct reply r;

    http(&r, s, "GET", "/v1/me", NULL, NULL);
    assert_issue(&r, 401, "auth.unauthorized.missing_token", NULL);
    reply_free(&r);
    http(&r, s, "GET", "/v1/me", NULL, bad);
    assert_issue(&r, 401, "auth.unauthorized.invalid_token", NULL);
    reply_free(&r);
}

static void test_cart_missing_sku(void **state)
{
    struct server *s = *state;
    struct reply r;
    char id[17], token[33], path[128];

    login(s, id, token);
    snprintf(path, sizeof(path), "/v1/carts/%s/items", id);
    http(&r, s, "POST", path, "{\"qty\":1}", NULL);
    assert_issue(&r, 422, "cart.validation.missing_field", NULL);
    reply_free(&r);
    http(&r, s, "POST", path, "not json", NULL);
    assert_issue(&r, 422, "cart.validation.missing_field", NULL);
    reply_free(&r);
}

/* The orders body must stay broken in exactly these three fields. */
static void test_orders_broken_body(void **state)
{
    struct server *s = *state;
    const char *cid_hdr[] = {"X-Correlation-ID: order-probe-1", NULL};
    const cJSON *issue;
    struct reply r;

    http(&r, s, "GET", "/v1/orders/42", NULL, cid_hdr);
    assert_int_equal(r.status, 404);
    assert_string_equal(header(&r, "X-Correlation-ID"), "order-probe-1");
    assert_string_equal(jstr(r.json, "correlationId"), "order-probe-1");
    issue = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "issues"), 0);
    assert_non_null(issue);
    assert_string_equal(jstr(issue, "issue"), "OrderNotFound");
    assert_string_equal(jstr(issue, "severity"), "fatal");
    assert_string_equal(jstr(issue, "dateTime"), "2024-11-01 12:34:56");
    assert_string_equal(jstr(issue, "correlationId"), "order-probe-1");
    reply_free(&r);
}

static void test_quote_rate_limited(void **state)
{
    struct server *s = *state;
    struct reply r;

    http(&r, s, "GET", "/v1/quote", NULL, NULL);
    assert_issue(&r, 429, "pricing.rate_limit.exceeded", NULL);
    assert_string_equal(header(&r, "Retry-After"), "30");
    assert_string_equal(header(&r, "X-RateLimit-Limit"), "100");
    assert_string_equal(header(&r, "X-RateLimit-Remaining"), "0");
    reply_free(&r);
}

static void test_reports_upstream(void **state)
{
    struct server *s = *state;
    struct reply r;

    http(&r, s, "GET", "/v1/reports", NULL, NULL);
    assert_issue(&r, 503, "reports.upstream.timeout", NULL);
    assert_string_equal(header(&r, "Retry-After"), "5");
    reply_free(&r);
}

static void test_unknown_route_method_and_size(void **state)
{
    struct server *s = *state;
    struct reply r;
    char *big;

    http(&r, s, "GET", "/v2/nothing", NULL, NULL);
    assert_issue(&r, 404, "demo.validation.unknown_route", NULL);
    reply_free(&r);
    http(&r, s, "GET", "/v1/sessions", NULL, NULL);
    assert_issue(&r, 405, "demo.validation.method_not_allowed", NULL);
    assert_string_equal(header(&r, "Allow"), "POST");
    reply_free(&r);
    http(&r, s, "GET", "/v1/slow?ms=soon", NULL, NULL);
    assert_issue(&r, 422, "demo.validation.invalid_parameter", NULL);
    reply_free(&r);

    /* 70 KiB is past the 64 KiB cap */
    big = malloc(70 * 1024 + 1);
    assert_non_null(big);
    memset(big, 'a', 70 * 1024);
    big[70 * 1024] = '\0';
    http(&r, s, "POST", "/v1/sessions", big, NULL);
    assert_issue(&r, 413, "demo.validation.body_too_large", NULL);
    reply_free(&r);
    free(big);
}

/* A 2 s /v1/slow must not hold up /v1/health running beside it. */
static void test_slow_does_not_block(void **state)
{
    struct server *s = *state;
    struct reply slow, health;
    struct curl_slist *h1 = NULL, *h2 = NULL;
    CURLM *multi = curl_multi_init();
    CURL *first = NULL;
    int running = 1, done = 0, rounds = 0;

    assert_non_null(multi);
    reply_prepare(&slow, &h1, s, "GET", "/v1/slow?ms=2000", NULL, NULL);
    reply_prepare(&health, &h2, s, "GET", "/v1/health", NULL, NULL);
    assert_int_equal(curl_multi_add_handle(multi, slow.easy), CURLM_OK);
    assert_int_equal(curl_multi_add_handle(multi, health.easy), CURLM_OK);
    while (done < 2 && rounds++ < 60000) {
        CURLMsg *m;
        int left;
        assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
        for (m = curl_multi_info_read(multi, &left); m != NULL;
             m = curl_multi_info_read(multi, &left)) {
            if (m->msg != CURLMSG_DONE)
                continue;
            assert_int_equal(m->data.result, CURLE_OK);
            if (first == NULL)
                first = m->easy_handle;
            done++;
        }
        if (done < 2)
            assert_int_equal(curl_multi_poll(multi, NULL, 0, 100, NULL), CURLM_OK);
    }
    assert_int_equal(done, 2);
    assert_ptr_equal(first, health.easy);
    curl_multi_remove_handle(multi, slow.easy);
    curl_multi_remove_handle(multi, health.easy);
    reply_finish(&slow);
    reply_finish(&health);
    assert_int_equal(health.status, 200);
    assert_int_equal(slow.status, 200);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(slow.json, "slept_ms")->valueint, 2000);
    reply_free(&slow);
    reply_free(&health);
    curl_slist_free_all(h1);
    curl_slist_free_all(h2);
    curl_multi_cleanup(multi);
}

static void set_fault(const struct server *s, const char *json, const char *mode)
{
    struct reply r;

    http(&r, s, "POST", "/_control/fault", json, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "mode"), mode);
    reply_free(&r);
}

static void test_fault_injection(void **state)
{
    struct server *s = *state;
    struct reply r;

    set_fault(s, "{\"mode\":\"all\"}", "all");
    http(&r, s, "GET", "/_control/fault", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "mode"), "all");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(r.json, "status")->valueint, 503);
    reply_free(&r);
    http(&r, s, "GET", "/v1/health", NULL, NULL);
    assert_issue(&r, 503, "demo.upstream.injected", NULL);
    reply_free(&r);
    /* the control plane itself is never faulted, or it could not be switched back */
    http(&r, s, "GET", "/_control/stats", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);

    /* "from" another address leaves us alone; "from" ours hits us with the chosen status */
    set_fault(s, "{\"mode\":\"from\",\"addr\":\"10.0.0.2\",\"status\":503}", "from");
    http(&r, s, "GET", "/v1/health", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    set_fault(s, "{\"mode\":\"from\",\"addr\":\"127.0.0.1\",\"status\":502}", "from");
    http(&r, s, "GET", "/_control/fault", NULL, NULL);
    assert_string_equal(jstr(r.json, "addr"), "127.0.0.1");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(r.json, "status")->valueint, 502);
    reply_free(&r);
    http(&r, s, "GET", "/v1/health", NULL, NULL);
    assert_issue(&r, 502, "demo.upstream.injected", NULL);
    reply_free(&r);

    http(&r, s, "POST", "/_control/fault", "{\"mode\":\"sometimes\"}", NULL);
    assert_issue(&r, 422, "demo.validation.invalid_fault", NULL);
    reply_free(&r);

    set_fault(s, "{\"mode\":\"none\"}", "none");
    http(&r, s, "GET", "/v1/health", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "status"), "ok");
    reply_free(&r);
}

static double stat_of(const cJSON *stats, const char *path)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(stats, "by_path"), path);

    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static void test_stats_count_requests(void **state)
{
    struct server *s = *state;
    struct reply before, after, r;
    double total_before;

    http(&before, s, "GET", "/_control/stats", NULL, NULL);
    assert_int_equal(before.status, 200);
    total_before = cJSON_GetObjectItemCaseSensitive(before.json, "requests")->valuedouble;
    http(&r, s, "GET", "/v1/health", NULL, NULL);
    reply_free(&r);
    http(&r, s, "GET", "/v1/health", NULL, NULL);
    reply_free(&r);
    http(&after, s, "GET", "/_control/stats", NULL, NULL);
    assert_int_equal(after.status, 200);
    /* two health checks and the second stats call itself */
    assert_true(cJSON_GetObjectItemCaseSensitive(after.json, "requests")->valuedouble ==
                total_before + 3);
    assert_true(stat_of(after.json, "/v1/health") == stat_of(before.json, "/v1/health") + 2);
    reply_free(&before);
    reply_free(&after);
}

static void test_sigterm_exits_zero(void **state)
{
    struct server *s = *state;
    int status = server_stop(s);

    assert_true(status != -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_demo_password_env(void **state)
{
    struct server own;
    struct reply r;
    int status;

    assert_int_equal(server_start(&own, "hunter2"), 0);
    http(&r, &own, "POST", "/v1/sessions", "{\"user\":\"u\",\"password\":\"demo-secret\"}", NULL);
    assert_issue(&r, 401, "account.unauthorized.bad_credentials", NULL);
    reply_free(&r);
    http(&r, &own, "POST", "/v1/sessions", "{\"user\":\"u\",\"password\":\"hunter2\"}", NULL);
    assert_int_equal(r.status, 201);
    reply_free(&r);
    status = server_stop(&own);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int group_setup(void **state)
{
    static struct server s;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    if (server_start(&s, NULL) != 0) {
        server_stop(&s);
        return -1;
    }
    *state = &s;
    return 0;
}

static int group_teardown(void **state)
{
    struct server *s = *state;

    if (s != NULL && s->pid > 0)
        server_stop(s);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_journey),
        cmocka_unit_test(test_login_errors),
        cmocka_unit_test(test_me_errors),
        cmocka_unit_test(test_cart_missing_sku),
        cmocka_unit_test(test_orders_broken_body),
        cmocka_unit_test(test_quote_rate_limited),
        cmocka_unit_test(test_reports_upstream),
        cmocka_unit_test(test_unknown_route_method_and_size),
        cmocka_unit_test(test_slow_does_not_block),
        cmocka_unit_test(test_fault_injection),
        cmocka_unit_test(test_stats_count_requests),
        /* last in the group: it stops the shared server */
        cmocka_unit_test(test_sigterm_exits_zero),
        cmocka_unit_test(test_demo_password_env),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
