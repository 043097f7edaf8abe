/* Agent tests: a whole agent on a loop, probing hostile_server on loopback;
 * a client thread waits for a completed run, reads /healthz and /status,
 * then asks for the drain; the loop must close cleanly afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <uv.h>

#include "agent/daemon/agent.h"
#include "tests/lib/spawn_fixture.h"

struct fixture {
    pid_t pid;
    int http;                    /* hostile_server's port */
    char dir[64], probes[128];
    uint16_t port;               /* the agent's */
    uv_async_t stop;
    struct agent *a;
    long healthz;
    double runs;
    bool status_ok;
};

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
    struct buf *b = arg;
    return buf_append(b, p, sz * n) ? 0 : sz * n;
}

/* A blocking GET from the client thread. */
static long get(uint16_t port, const char *path, struct buf *body)
{
    char url[128];
    long code = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    CURL *c = curl_easy_init();
    buf_reset(body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

/* The runs of the first probe in /status, or -1. */
static double status_runs(const struct buf *body)
{
    cJSON *o = cJSON_ParseWithLength(body->data, body->len);
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "probes"), 0);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "runs");
    double v = cJSON_IsNumber(r) ? r->valuedouble : -1;
    cJSON_Delete(o);
    return v;
}

static void *client(void *arg)
{
    struct fixture *fx = arg;
    struct buf body;
    buf_init(&body, 1 << 20);
    for (int i = 0; i < 600 && fx->runs < 1; i++) { /* 30 s at most */
        fx->status_ok = get(fx->port, "/status", &body) == 200;
        fx->runs = fx->status_ok ? status_runs(&body) : -1;
        if (fx->runs < 1)
            usleep(50 * 1000);
    }
    fx->healthz = get(fx->port, "/healthz", &body);
    buf_free(&body);
    uv_async_send(&fx->stop);
    return NULL;
}

static void on_close(uv_handle_t *h)
{
    (void)h;
}

static void on_stop(uv_async_t *h)
{
    struct fixture *fx = h->data;
    agent_stop(fx->a);
    uv_close((uv_handle_t *)h, on_close);
}

static int start_server(struct fixture *fx)
{
    char line[128];
    if (spawn_fixture("hostile_server", &fx->pid, line, sizeof(line)) || strncmp(line, "http=", 5) != 0)
        return -1;
    fx->http = (int)strtol(line + 5, NULL, 10);
    return fx->http > 0 ? 0 : -1;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx || start_server(fx))
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/tripline-agent-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->probes, sizeof(fx->probes), "%s/probes.yaml", fx->dir);
    FILE *f = fopen(fx->probes, "w");
    if (!f)
        return -1;
    fprintf(f, "- probe: ok\n  schedule: {every: 200ms, timeout: 200ms}\n"
               "  steps: [{name: get, request: {url: \"http://127.0.0.1:%d/ok\"}, expect: {status: 200}}]\n",
            fx->http);
    fclose(f);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];
    kill(fx->pid, SIGTERM);
    waitpid(fx->pid, NULL, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx->dir);
    free(fx);
    return 0;
}

static void replace(char **field, const char *v)
{
    free(*field);
    *field = strdup(v);
    assert_non_null(*field);
}

static void test_run_status_drain(void **state)
{
    struct fixture *fx = *state;
    uv_loop_t loop;
    struct config cfg;
    char spool[128];
    assert_int_equal(uv_loop_init(&loop), 0);
    config_defaults(&cfg);
    snprintf(spool, sizeof(spool), "%s/spool", fx->dir);
    replace(&cfg.listen, "127.0.0.1:0");
    replace(&cfg.spool_dir, spool);
    cfg.drain_timeout = 5 * 1000 * 1000;
    struct strv files;
    strv_init(&files);
    strv_push(&files, fx->probes);
    assert_int_equal(agent_new(&loop, &cfg, &files, &fx->a), 0);
    fx->port = agent_port(fx->a);
    assert_true(fx->port > 0);
    assert_int_equal(uv_async_init(&loop, &fx->stop, on_stop), 0);
    fx->stop.data = fx;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client, fx), 0);
    int rc = agent_run(fx->a);
    pthread_join(th, NULL);
    agent_free(fx->a);
    assert_int_equal(uv_loop_close(&loop), 0);
    strv_free(&files);
    config_free(&cfg);
    assert_int_equal(rc, 0);
    assert_true(fx->status_ok);
    assert_true(fx->runs >= 1);
    assert_int_equal(fx->healthz, 200);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_status_drain, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
