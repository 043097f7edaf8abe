/* Sink and delivery tests: real loopback transfers to the escalation_service
 * fixture, a real spool in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "agent/outbox/delivery.h"
#include "agent/sinks/sink.h"
#include "agent/outbox/spool.h"
#include "probes/http/transfer.h"
#include "base/uuid.h"

extern char **environ;

#define MS ((tl_usec)1000)
#define SEC (1000 * MS)
#define MAX_EVENTS 32

/* --- helpers: temp dirs, files ------------------------------------------- */

static void make_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/tripline-sinks.XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[1024];

    if (!d)
        return;
    for (e = readdir(d); e; e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Reads the JSON lines of path (0 lines when it does not exist). */
static size_t read_lines(const char *path, cJSON **out, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[65536];
    size_t n = 0;

    if (!f)
        return 0;
    while (n < cap && fgets(line, sizeof(line), f)) {
        out[n] = cJSON_Parse(line);
        assert_non_null(out[n]);
        n++;
    }
    fclose(f);
    return n;
}

static void free_lines(cJSON **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(v[i]);
}

static const char *str_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* --- the fixture ------------------------------------------------------------ */

struct fx {
    pid_t pid;
    int port;
    char url[128];   /* http://127.0.0.1:PORT */
};

static void fx_start(struct fx *fx, const char *const *args)
{
    const char *bdir = getenv("TRIPLINE_BUILD_DIR");
    char path[1024], line[256];
    char *argv[16];
    size_t n = 0;
    int pipefd[2];
    posix_spawn_file_actions_t fa;
    FILE *f;

    snprintf(path, sizeof(path), "%s/escalation_service", bdir ? bdir : ".");
    argv[n++] = path;
    argv[n++] = "--port";
    argv[n++] = "0";
    for (; args && *args && n < 15; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    assert_int_equal(pipe(pipefd), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    assert_int_equal(posix_spawn(&fx->pid, path, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    f = fdopen(pipefd[0], "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_int_equal(strncmp(line, "listening on http://127.0.0.1:", 30), 0);
    fx->port = (int)strtol(line + 30, NULL, 10);
    assert_true(fx->port > 0);
    snprintf(fx->url, sizeof(fx->url), "http://127.0.0.1:%d", fx->port);
}

static void fx_stop(struct fx *fx)
{
    int status = 0;

    kill(fx->pid, SIGTERM);
    assert_int_equal(waitpid(fx->pid, &status, 0), fx->pid);
    /* The fixture exits cleanly, so its own leak checks ran. */
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static size_t collect(char *p, size_t size, size_t n, void *userp)
{
    struct buf *b = userp;
    return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* A blocking request to the fixture; returns the status, body into *out. */
static long fx_http(const struct fx *fx, const char *path, const char *post, char **out)
{
    CURL *c = curl_easy_init();
    struct buf b;
    char url[256];
    long status = 0;

    buf_init(&b, 1 << 20);
    assert_non_null(c);
    snprintf(url, sizeof(url), "%s%s", fx->url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (out)
        *out = buf_take(&b);
    buf_free(&b);
    return status;
}

static void fx_control(const struct fx *fx, const char *json)
{
    assert_int_equal(fx_http(fx, "/_control", json, NULL), 200);
}

static double fx_stat(const struct fx *fx, const char *name)
{
    char *body = NULL;
    cJSON *doc;
    const cJSON *v;
    double d;

    assert_int_equal(fx_http(fx, "/_stats", NULL, &body), 200);
    doc = cJSON_Parse(body);
    free(body);
    v = cJSON_GetObjectItemCaseSensitive(doc, name);
    assert_true(cJSON_IsNumber(v));
    d = v->valuedouble;
    cJSON_Delete(doc);
    return d;
}

static char *fx_stat_str(const struct fx *fx, const char *name)
{
    char *body = NULL, *s;
    cJSON *doc;

    assert_int_equal(fx_http(fx, "/_stats", NULL, &body), 200);
    doc = cJSON_Parse(body);
    free(body);
    s = strdup(str_of(doc, name) ? str_of(doc, name) : "");
    cJSON_Delete(doc);
    return s;
}

/* --- events ------------------------------------------------------------------ */

struct ev {
    char id[UUID_STR_LEN];
    char json[2048];
};

static void make_event(struct ev *e, const char *incident, const char *transition,
                       const char *level, const char *severity, bool active)
{
    int n;

    assert_int_equal(uuid_v4(e->id), 0);
    n = snprintf(e->json, sizeof(e->json),
             "{\"issue\":\"checkout.upstream.timeout\",\"severity\":\"%s\",\"active\":%s,"
             "\"correlationId\":\"1b4e28ba-2fa1-41d2-883f-0016d3cca427\","
             "\"dateTime\":\"2026-11-22T00:31:56Z\","
             "\"message\":{\"title\":\"checkout failing in eu-west: upstream timeout\","
             "\"detail\":\"step pay: Operation timed out after 1000 milliseconds\"},"
             "\"links\":{\"documentation\":\"https://runbooks.example.test/checkout\"},"
             "\"eventId\":\"%s\",\"incidentId\":\"%s\",\"transition\":\"%s\",\"level\":\"%s\","
             "\"previousLevel\":\"none\",\"probe\":\"checkout\",\"step\":\"pay\","
             "\"region\":\"eu-west\",\"agent\":\"edge-eu-1\",\"bucket\":\"upstream\","
             "\"reason\":\"timeout\"}",
             severity, active ? "true" : "false", e->id, incident, transition, level);
    assert_true(n > 0 && (size_t)n < sizeof(e->json));
}

/* --- the loop, the spool, the delivery ---------------------------------------- */

struct env {
    char dir[64];
    uv_loop_t loop;
    struct transfer_engine *engine;
    struct spool *sp;
    struct delivery *d;
};

static void env_init(struct env *v, const char *sink_name, const struct delivery_opts *opts_in)
{
    const char *sinks[] = {sink_name};
    struct delivery_opts opts;
    char err[256];

    make_tmpdir(v->dir, sizeof(v->dir));
    assert_int_equal(uv_loop_init(&v->loop), 0);
    assert_int_equal(transfer_engine_new(&v->engine, &v->loop, NULL), 0);
    assert_int_equal(spool_open(v->dir, NULL, sinks, 1, &v->sp, err, sizeof(err)), 0);
    memset(&opts, 0, sizeof(opts));
    if (opts_in)
        opts = *opts_in;
    opts.dead_letter_dir = v->dir;
    assert_int_equal(delivery_new(&v->d, &v->loop, v->sp, &opts), 0);
}

static void env_done(struct env *v)
{
    delivery_free(v->d);
    transfer_engine_free(v->engine);
    uv_run(&v->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&v->loop), 0);
    spool_free(v->sp);
    rm_rf(v->dir);
}

static void append(struct env *v, const char *json)
{
    assert_int_equal(spool_append(v->sp, json, strlen(json), NULL, NULL), 0);
}

/* Runs the loop until the sink has acked everything and is idle (60 s cap). */
static void drain(struct env *v, const char *sink)
{
    uint64_t start = uv_hrtime();

    delivery_kick(v->d);
    while (spool_sink_depth(v->sp, sink) > 0 || !delivery_idle(v->d)) {
        assert_true(uv_hrtime() - start < 60ULL * 1000000000ULL);
        if (uv_run(&v->loop, UV_RUN_ONCE) == 0 && !delivery_idle(v->d))
            fail_msg("loop ran dry with work left");
    }
}

static struct sink *service_sink(struct env *v, const struct fx *fx, const char *token_file,
                                 const char *key_file)
{
    struct sink_service cfg;
    struct sink_identity id = {.agent = "edge-eu-1", .region = "eu-west"};
    struct sink *s = NULL;
    char url[256], err[256];

    snprintf(url, sizeof(url), "%s/events", fx->url);
    memset(&cfg, 0, sizeof(cfg));
    cfg.url = url;
    cfg.token_file = (char *)token_file;
    cfg.hmac_key_file = (char *)key_file;
    cfg.timeout = 10 * SEC;
    assert_int_equal(sink_service_new(&s, v->engine, &cfg, &id, err, sizeof(err)), 0);
    return s;
}

/* A fixture with a key and a token, and the matching files in dir. */
struct secured {
    struct fx fx;
    char key[128], token[128], record[128];
};

static void secured_start(struct secured *s, const char *dir)
{
    snprintf(s->key, sizeof(s->key), "%s/hmac.key", dir);
    snprintf(s->token, sizeof(s->token), "%s/token", dir);
    snprintf(s->record, sizeof(s->record), "%s/record.jsonl", dir);
    write_file(s->key, "a shared \x01 key\n");
    write_file(s->token, "s3cret-token\n");
    const char *args[] = {"--key-file", s->key, "--token", "s3cret-token", "--record", s->record,
                          NULL};
    fx_start(&s->fx, args);
}

/* --- tests: the service sink ---------------------------------------------------- */

static void test_service_delivers_signed_batch(void **state)
{
    struct env v;
    struct secured sec;
    struct ev evs[3];
    struct delivery_stats st;
    cJSON *lines[MAX_EVENTS];
    size_t n, i;
    char *idem;

    env_init(&v, "service", NULL);
    secured_start(&sec, v.dir);
    assert_int_equal(delivery_add(v.d, "service", service_sink(&v, &sec.fx, sec.token, sec.key)), 0);
    for (i = 0; i < 3; i++) {
        make_event(&evs[i], "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "opened", "warning",
                   "warning", true);
        append(&v, evs[i].json);
    }
    drain(&v, "service");

    /* The fixture checked the bearer token and the HMAC of the exact body. */
    assert_int_equal(fx_stat(&sec.fx, "unauthorized"), 0);
    assert_int_equal(fx_stat(&sec.fx, "verified"), 1);
    assert_int_equal(fx_stat(&sec.fx, "batches"), 1);
    assert_int_equal(fx_stat(&sec.fx, "events"), 3);
    idem = fx_stat_str(&sec.fx, "last_idempotency_key");
    assert_string_equal(idem, evs[0].id);
    free(idem);
    n = read_lines(sec.record, lines, MAX_EVENTS);
    assert_int_equal(n, 3);
    for (i = 0; i < n; i++)
        assert_string_equal(str_of(lines[i], "eventId"), evs[i].id);
    free_lines(lines, n);
    assert_int_equal(delivery_stats(v.d, "service", &st), 0);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.retried, 0);
    assert_int_equal(st.dead_lettered, 0);
    assert_int_equal(st.in_flight, 0);
    fx_stop(&sec.fx);
    env_done(&v);
}

/* Runs the loop until the sink has had `want` sends refused with 401/403. */
static void wait_auth_failures(struct env *v, const char *sink, uint64_t want)
{
    uint64_t start = uv_hrtime();
    struct delivery_stats st;

    for (;;) {
        assert_int_equal(delivery_stats(v->d, sink, &st), 0);
        if (st.auth_failures >= want)
            return;
        assert_true(uv_hrtime() - start < 60ULL * 1000000000ULL);
        uv_run(&v->loop, UV_RUN_ONCE);
    }
}

static void test_service_wrong_key_is_retried_not_dead_lettered(void **state)
{
    struct env v;
    struct secured sec;
    struct ev e;
    struct delivery_stats st;
    struct delivery_opts opts = {.backoff_min = 20 * MS, .backoff_max = 100 * MS};
    char other[128], dead[128], key[256];
    FILE *kf;
    size_t kn;

    env_init(&v, "service", &opts);
    secured_start(&sec, v.dir);
    snprintf(other, sizeof(other), "%s/other.key", v.dir);
    write_file(other, "not the shared key");
    assert_int_equal(delivery_add(v.d, "service", service_sink(&v, &sec.fx, sec.token, other)), 0);
    make_event(&e, "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "opened", "warning", "warning", true);
    append(&v, e.json);

    /* A bad signature is a 401: a credential mistake, retried with backoff. */
    wait_auth_failures(&v, "service", 3);
    assert_true(fx_stat(&sec.fx, "unauthorized") >= 3);
    assert_int_equal(fx_stat(&sec.fx, "events"), 0);
    assert_int_equal(spool_sink_depth(v.sp, "service"), 1);
    /* The right key put in place and reloaded: the waiting event goes. */
    kf = fopen(sec.key, "rb");
    assert_non_null(kf);
    kn = fread(key, 1, sizeof(key) - 1, kf);
    fclose(kf);
    key[kn] = '\0';
    write_file(other, key);
    assert_int_equal(delivery_reload(v.d), 0);
    drain(&v, "service");
    assert_int_equal(fx_stat(&sec.fx, "unique"), 1);
    snprintf(dead, sizeof(dead), "%s/dead-letter-service.jsonl", v.dir);
    assert_int_equal(access(dead, F_OK), -1);
    assert_int_equal(delivery_stats(v.d, "service", &st), 0);
    assert_true(st.auth_failures >= 3);
    assert_int_equal(st.dead_lettered, 0);
    assert_int_equal(st.delivered, 1);
    fx_stop(&sec.fx);
    env_done(&v);
}

/* A 401 then a 200: everything is delivered, nothing dead-lettered. */
static void test_service_401_then_200_delivers_everything(void **state)
{
    struct env v;
    struct secured sec;
    struct ev evs[5];
    struct delivery_stats st;
    struct delivery_opts opts = {.batch_max = 2, .backoff_min = 20 * MS, .backoff_max = 100 * MS};
    char dead[128];
    size_t i;

    env_init(&v, "service", &opts);
    secured_start(&sec, v.dir);
    fx_control(&sec.fx, "{\"mode\":\"401\",\"count\":3}");
    assert_int_equal(delivery_add(v.d, "service", service_sink(&v, &sec.fx, sec.token, sec.key)), 0);
    for (i = 0; i < 5; i++) {
        make_event(&evs[i], "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "renotified", "warning", "warning", true);
        append(&v, evs[i].json);
    }
    drain(&v, "service");
    assert_int_equal(fx_stat(&sec.fx, "unique"), 5);
    snprintf(dead, sizeof(dead), "%s/dead-letter-service.jsonl", v.dir);
    assert_int_equal(access(dead, F_OK), -1);
    assert_int_equal(delivery_stats(v.d, "service", &st), 0);
    assert_int_equal(st.auth_failures, 3);
    assert_int_equal(st.retried, 3);
    assert_int_equal(st.dead_lettered, 0);
    assert_int_equal(st.delivered, 5);
    fx_stop(&sec.fx);
    env_done(&v);
}

static void test_service_503_honours_retry_after(void **state)
{
    struct env v;
    struct secured sec;
    struct ev e;
    struct delivery_stats st;
    /* Backoff alone would retry within 50 ms: only Retry-After explains a wait. */
    struct delivery_opts opts = {.backoff_min = 10 * MS, .backoff_max = 50 * MS};
    uint64_t t0, t1;

    env_init(&v, "service", &opts);
    secured_start(&sec, v.dir);
    fx_control(&sec.fx, "{\"mode\":\"503\",\"retry_after\":2,\"count\":1}");
    assert_int_equal(delivery_add(v.d, "service", service_sink(&v, &sec.fx, sec.token, sec.key)), 0);
    make_event(&e, "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "opened", "warning", "warning", true);
    append(&v, e.json);
    t0 = uv_hrtime();
    drain(&v, "service");
    t1 = uv_hrtime();

    assert_true(t1 - t0 >= 1500ULL * 1000000ULL);
    assert_int_equal(fx_stat(&sec.fx, "unavailable"), 1);
    assert_int_equal(fx_stat(&sec.fx, "requests"), 2);
    assert_int_equal(fx_stat(&sec.fx, "unique"), 1);
    assert_int_equal(delivery_stats(v.d, "service", &st), 0);
    assert_int_equal(st.retried, 1);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.failures, 0);
    fx_stop(&sec.fx);
    env_done(&v);
}

static bool has_id(const struct ev *evs, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (id && strcmp(evs[i].id, id) == 0)
            return true;
    return false;
}

static void test_service_down_then_up_loses_nothing(void **state)
{
    struct env v;
    struct secured sec;
    struct ev evs[10];
    struct delivery_stats st;
    struct delivery_opts opts = {.batch_max = 4, .backoff_min = 20 * MS, .backoff_max = 200 * MS};
    cJSON *lines[MAX_EVENTS];
    size_t n, i, j;

    env_init(&v, "service", &opts);
    secured_start(&sec, v.dir);
    /* The service drops the connection for three requests, then answers. */
    fx_control(&sec.fx, "{\"mode\":\"down\",\"count\":3}");
    assert_int_equal(delivery_add(v.d, "service", service_sink(&v, &sec.fx, sec.token, sec.key)), 0);
    for (i = 0; i < 10; i++) {
        make_event(&evs[i], "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "renotified", "warning",
                   "warning", true);
        append(&v, evs[i].json);
    }
    drain(&v, "service");

    assert_int_equal(fx_stat(&sec.fx, "downs"), 3);
    assert_int_equal(fx_stat(&sec.fx, "unique"), 10);
    n = read_lines(sec.record, lines, MAX_EVENTS);
    assert_true(n >= 10);
    /* After dedup by eventId: every event is there, and nothing else is. */
    for (i = 0; i < n; i++)
        assert_true(has_id(evs, 10, str_of(lines[i], "eventId")));
    for (i = 0; i < 10; i++) {
        bool found = false;
        for (j = 0; j < n && !found; j++)
            found = strcmp(str_of(lines[j], "eventId"), evs[i].id) == 0;
        assert_true(found);
    }
    free_lines(lines, n);
    assert_int_equal(delivery_stats(v.d, "service", &st), 0);
    assert_int_equal(st.retried, 3);
    assert_int_equal(st.delivered, 10);
    assert_int_equal(st.dead_lettered, 0);
    fx_stop(&sec.fx);
    env_done(&v);
}

/* The service refuses the first batch of two, then the first event alone:
 * that event is dead-lettered, as sent; the other one of its batch and the
 * next batch reach the service. */
static void test_service_400_dead_letters_and_moves_on(void **state)
{
    struct env v;
    struct secured sec;
    struct ev evs[4];
    struct delivery_stats st;
    struct delivery_opts opts = {.batch_max = 2};
    cJSON *lines[MAX_EVENTS], *dead_lines[4];
    const cJSON *batch;
    char dead[128];
    size_t n, i;

    env_init(&v, "service", &opts);
    secured_start(&sec, v.dir);
    fx_control(&sec.fx, "{\"mode\":\"400\",\"count\":2}");
    assert_int_equal(delivery_add(v.d, "service", service_sink(&v, &sec.fx, sec.token, sec.key)), 0);
    for (i = 0; i < 4; i++) {
        make_event(&evs[i], "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "opened", "warning",
                   "warning", true);
        append(&v, evs[i].json);
    }
    drain(&v, "service");

    /* The event refused on its own is in the dead-letter file, as sent. */
    snprintf(dead, sizeof(dead), "%s/dead-letter-service.jsonl", v.dir);
    n = read_lines(dead, dead_lines, 4);
    assert_int_equal(n, 1);
    assert_string_equal(str_of(dead_lines[0], "sink"), "service");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(dead_lines[0], "status")->valueint, 400);
    batch = cJSON_GetObjectItemCaseSensitive(dead_lines[0], "events");
    assert_int_equal(cJSON_GetArraySize(batch), 1);
    assert_string_equal(str_of(cJSON_GetArrayItem(batch, 0), "eventId"), evs[0].id);
    assert_string_equal(str_of(cJSON_GetArrayItem(batch, 0), "issue"),
                        "checkout.upstream.timeout");
    free_lines(dead_lines, n);
    /* The delivery moved on: the rest reached the service. */
    n = read_lines(sec.record, lines, MAX_EVENTS);
    assert_int_equal(n, 3);
    assert_string_equal(str_of(lines[0], "eventId"), evs[1].id);
    assert_string_equal(str_of(lines[1], "eventId"), evs[2].id);
    assert_string_equal(str_of(lines[2], "eventId"), evs[3].id);
    free_lines(lines, n);
    assert_int_equal(spool_sink_depth(v.sp, "service"), 0);
    assert_int_equal(delivery_stats(v.d, "service", &st), 0);
    assert_int_equal(st.dead_lettered, 1);
    assert_int_equal(st.delivered, 3);
    fx_stop(&sec.fx);
    env_done(&v);
}

static void test_service_reload_reads_new_token(void **state)
{
    struct env v;
    struct secured sec;
    struct ev e;
    struct sink *s;
    char missing[128];

    env_init(&v, "service", NULL);
    secured_start(&sec, v.dir);
    write_file(sec.token, "stale-token\n");
    s = service_sink(&v, &sec.fx, sec.token, sec.key);
    assert_int_equal(delivery_add(v.d, "service", s), 0);
    /* Rotated on disk, then SIGHUP: the next batch carries the new token. */
    write_file(sec.token, "s3cret-token\n");
    assert_int_equal(delivery_reload(v.d), 0);
    make_event(&e, "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "opened", "warning", "warning", true);
    append(&v, e.json);
    drain(&v, "service");
    assert_int_equal(fx_stat(&sec.fx, "unauthorized"), 0);
    assert_int_equal(fx_stat(&sec.fx, "unique"), 1);

    /* A failed reload keeps the old secrets and says why without them. */
    snprintf(missing, sizeof(missing), "%s/no-such-token", v.dir);
    struct sink_service cfg = {.url = sec.fx.url, .token_file = missing, .timeout = SEC};
    struct sink *bad = NULL;
    char err[256];
    assert_int_equal(sink_service_new(&bad, v.engine, &cfg, NULL, err, sizeof(err)), TL_EIO);
    assert_null(bad);
    assert_non_null(strstr(err, "no-such-token"));
    write_file(sec.token, "line one\nline two\n");
    assert_int_not_equal(sink_reload(s), 0);
    assert_null(strstr(sink_error(s), "line one"));
    make_event(&e, "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "resolved", "warning", "warning", false);
    append(&v, e.json);
    drain(&v, "service");
    assert_int_equal(fx_stat(&sec.fx, "unauthorized"), 0);
    assert_int_equal(fx_stat(&sec.fx, "unique"), 2);
    fx_stop(&sec.fx);
    env_done(&v);
}

/* --- tests: the file sink and what the sinks share --------------------------------- */

static void test_file_sink_writes_json_lines(void **state)
{
    struct env v;
    struct ev e1, e2;
    struct sink *s = NULL;
    struct delivery_stats st;
    cJSON *lines[8];
    char path[128], dead[128], err[256];
    size_t n;

    env_init(&v, "file", NULL);
    snprintf(path, sizeof(path), "%s/events.jsonl", v.dir);
    assert_int_equal(sink_stdout_new(&s, path, err, sizeof(err)), 0);
    assert_int_equal(delivery_add(v.d, "file", s), 0);
    make_event(&e1, "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "opened", "warning", "warning", true);
    make_event(&e2, "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "resolved", "warning", "warning", false);
    append(&v, e1.json);
    /* A record that is not an event goes to the dead-letter file on its own. */
    append(&v, "this is not JSON");
    /* A pretty-printed event still becomes one line. */
    char pretty[2100];
    snprintf(pretty, sizeof(pretty), "%.*s\n}", (int)strlen(e2.json) - 1, e2.json);
    append(&v, pretty);
    drain(&v, "file");

    n = read_lines(path, lines, 8);
    assert_int_equal(n, 2);
    assert_string_equal(str_of(lines[0], "eventId"), e1.id);
    assert_string_equal(str_of(lines[1], "eventId"), e2.id);
    free_lines(lines, n);
    snprintf(dead, sizeof(dead), "%s/dead-letter-file.jsonl", v.dir);
    n = read_lines(dead, lines, 8);
    assert_int_equal(n, 1);
    assert_string_equal(str_of(lines[0], "raw"), "this is not JSON");
    free_lines(lines, n);
    assert_int_equal(delivery_stats(v.d, "file", &st), 0);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.dead_lettered, 1);
    env_done(&v);
}


/* --- tests: the Alertmanager sink against the fixture's API stand-in ------------- */

struct am_fx {
    struct fx fx;
    char record[128];
};

static void am_fx_start(struct am_fx *a, const char *dir, const char *name)
{
    snprintf(a->record, sizeof(a->record), "%s/%s.jsonl", dir, name);
    const char *args[] = {"--alerts-record", a->record, NULL};
    fx_start(&a->fx, args);
}

static struct sink *am_sink(struct env *v, struct am_fx *fxs, size_t n, tl_usec repost)
{
    struct sink_alertmanager cfg;
    struct sink_identity id = {.agent = "edge-eu-1", .region = "eu-west"};
    char *urls[4];
    struct sink *s = NULL;
    char err[256];

    for (size_t i = 0; i < n; i++)
        urls[i] = fxs[i].fx.url; /* the sink appends /api/v2/alerts */
    cfg.n_urls = n;
    cfg.urls = urls;
    cfg.repost = repost;
    assert_int_equal(sink_alertmanager_new(&s, &v->loop, v->engine, &cfg, &id, err, sizeof(err)), 0);
    return s;
}

static const cJSON *label(const cJSON *alert, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(alert, "labels"), name);
}

static const char *label_str(const cJSON *alert, const char *name)
{
    const cJSON *l = label(alert, name);
    return cJSON_IsString(l) ? l->valuestring : NULL;
}

/* Runs the loop until the fixture has seen `want` posts (30 s cap). */
static void wait_posts(struct env *v, const struct fx *fx, double want)
{
    uint64_t start = uv_hrtime();

    while (fx_stat(fx, "alerts_posts") < want) {
        assert_true(uv_hrtime() - start < 30ULL * 1000000000ULL);
        uv_run(&v->loop, UV_RUN_ONCE);
    }
}

static void test_alertmanager_fires_reposts_escalates_resolves(void **state)
{
    struct env v;
    struct am_fx fxs[2];
    struct ev opened, escalated, resolved;
    struct sink *s;
    cJSON *lines[MAX_EVENTS];
    const cJSON *a;
    size_t n, i;
    double before;
    const char *inc = "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21";

    env_init(&v, "alertmanager", NULL);
    am_fx_start(&fxs[0], v.dir, "am0");
    am_fx_start(&fxs[1], v.dir, "am1");
    s = am_sink(&v, fxs, 2, 300 * MS);
    assert_int_equal(delivery_add(v.d, "alertmanager", s), 0);

    make_event(&opened, inc, "opened", "warning", "warning", true);
    append(&v, opened.json);
    drain(&v, "alertmanager");
    assert_int_equal(sink_alertmanager_firing(s), 1);
    /* While firing, both instances hear of it again and again. */
    wait_posts(&v, &fxs[0].fx, 3);
    wait_posts(&v, &fxs[1].fx, 3);
    assert_true(sink_alertmanager_reposts(s) >= 2);

    make_event(&escalated, inc, "escalated", "critical", "error", true);
    append(&v, escalated.json);
    drain(&v, "alertmanager");
    make_event(&resolved, inc, "resolved", "critical", "error", false);
    append(&v, resolved.json);
    drain(&v, "alertmanager");
    assert_int_equal(sink_alertmanager_firing(s), 0);
    while (transfer_engine_in_flight(v.engine) > 0)
        uv_run(&v.loop, UV_RUN_ONCE);

    for (size_t k = 0; k < 2; k++) {
        bool saw_escalation = false;
        n = read_lines(fxs[k].record, lines, MAX_EVENTS);
        assert_true(n >= 5);
        /* The first post fires the opened incident with its labels, no endsAt. */
        assert_int_equal(cJSON_GetArraySize(lines[0]), 1);
        a = cJSON_GetArrayItem(lines[0], 0);
        assert_string_equal(label_str(a, "alertname"), "TriplineProbeFailing");
        assert_string_equal(label_str(a, "probe"), "checkout");
        assert_string_equal(label_str(a, "region"), "eu-west");
        assert_string_equal(label_str(a, "bucket"), "upstream");
        assert_string_equal(label_str(a, "level"), "warning");
        assert_string_equal(label_str(a, "severity"), "warning");
        assert_string_equal(label_str(a, "agent"), "edge-eu-1");
        assert_null(cJSON_GetObjectItemCaseSensitive(a, "endsAt"));
        assert_string_equal(str_of(a, "startsAt"), "2026-11-22T00:31:56Z");
        const cJSON *ann = cJSON_GetObjectItemCaseSensitive(a, "annotations");
        assert_string_equal(str_of(ann, "incident_id"), inc);
        assert_string_equal(str_of(ann, "event_id"), opened.id);
        assert_string_equal(str_of(ann, "runbook_url"), "https://runbooks.example.test/checkout");
        assert_string_equal(str_of(ann, "summary"), "checkout failing in eu-west: upstream timeout");
        assert_string_equal(str_of(ann, "correlation_id"), "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
        /* Re-posts repeat it, still without endsAt. */
        a = cJSON_GetArrayItem(lines[1], 0);
        assert_string_equal(label_str(a, "level"), "warning");
        assert_null(cJSON_GetObjectItemCaseSensitive(a, "endsAt"));
        for (i = 0; i < n; i++) {
            if (cJSON_GetArraySize(lines[i]) == 2) {
                /* Escalation: the warning label set ends, the critical one fires. */
                const cJSON *old = cJSON_GetArrayItem(lines[i], 0);
                const cJSON *cur = cJSON_GetArrayItem(lines[i], 1);
                assert_string_equal(label_str(old, "level"), "warning");
                assert_non_null(str_of(old, "endsAt"));
                assert_string_equal(label_str(cur, "level"), "critical");
                assert_string_equal(label_str(cur, "severity"), "error");
                assert_null(cJSON_GetObjectItemCaseSensitive(cur, "endsAt"));
                saw_escalation = true;
            }
        }
        /* The resolution is the last word: no re-post overtakes it. */
        a = cJSON_GetArrayItem(lines[n - 1], 0);
        assert_int_equal(cJSON_GetArraySize(lines[n - 1]), 1);
        assert_string_equal(label_str(a, "level"), "critical");
        assert_non_null(str_of(a, "endsAt"));
        assert_true(saw_escalation);
        free_lines(lines, n);
    }
    /* Resolved: nothing is re-posted any more. */
    before = fx_stat(&fxs[0].fx, "alerts_posts");
    uint64_t until = uv_hrtime() + 1000ULL * 1000000ULL;
    while (uv_hrtime() < until)
        uv_run(&v.loop, UV_RUN_ONCE);
    assert_true(fx_stat(&fxs[0].fx, "alerts_posts") == before);
    fx_stop(&fxs[0].fx);
    fx_stop(&fxs[1].fx);
    env_done(&v);
}

static void test_alertmanager_retries_only_the_failed_instance(void **state)
{
    struct env v;
    struct am_fx fxs[2];
    struct ev opened;
    struct delivery_stats st;
    struct delivery_opts opts = {.backoff_min = 20 * MS, .backoff_max = 100 * MS};

    env_init(&v, "alertmanager", &opts);
    am_fx_start(&fxs[0], v.dir, "am0");
    am_fx_start(&fxs[1], v.dir, "am1");
    fx_control(&fxs[1].fx, "{\"mode\":\"503\",\"count\":2}");
    assert_int_equal(delivery_add(v.d, "alertmanager", am_sink(&v, fxs, 2, 600 * SEC)), 0);
    make_event(&opened, "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "opened", "warning", "warning",
               true);
    append(&v, opened.json);
    drain(&v, "alertmanager");

    /* The instance that accepted at once got the batch once; the other one
     * failed twice and then accepted. */
    assert_int_equal(fx_stat(&fxs[0].fx, "alerts_posts"), 1);
    assert_int_equal(fx_stat(&fxs[1].fx, "unavailable"), 2);
    assert_int_equal(fx_stat(&fxs[1].fx, "alerts_posts"), 1);
    assert_int_equal(delivery_stats(v.d, "alertmanager", &st), 0);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.delivered, 1);
    fx_stop(&fxs[0].fx);
    fx_stop(&fxs[1].fx);
    env_done(&v);
}

static void wake_up(uv_timer_t *t)
{
    (void)t;
}

/* One instance of an HA pair down for long (its retry an hour away) does not
 * hold new alerts back from the other: an event appended while the batch
 * waits to be retried for the down instance goes to the healthy one at once
 * (the down one is tried again with it). */
static void test_alertmanager_one_instance_down_does_not_hold_back_the_other(void **state)
{
    struct env v;
    struct am_fx fxs[2];
    struct ev a, b;
    struct delivery_stats st;
    struct delivery_opts opts = {.backoff_min = 3600 * SEC, .backoff_max = 3600 * SEC};
    cJSON *lines[MAX_EVENTS];
    uint64_t start;
    size_t n;

    uv_timer_t wake; /* the loop must not sleep an hour in the retry timer: the waits below check their caps */

    env_init(&v, "alertmanager", &opts);
    assert_int_equal(uv_timer_init(&v.loop, &wake), 0);
    assert_int_equal(uv_timer_start(&wake, wake_up, 50, 50), 0);
    am_fx_start(&fxs[0], v.dir, "am0");
    am_fx_start(&fxs[1], v.dir, "am1");
    fx_control(&fxs[1].fx, "{\"mode\":\"down\"}");
    assert_int_equal(delivery_add(v.d, "alertmanager", am_sink(&v, fxs, 2, 600 * SEC)), 0);
    make_event(&a, "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "opened", "warning", "warning", true);
    append(&v, a.json);
    delivery_kick(v.d);
    start = uv_hrtime();
    do {
        assert_true(uv_hrtime() - start < 30ULL * 1000000000ULL);
        uv_run(&v.loop, UV_RUN_ONCE);
        assert_int_equal(delivery_stats(v.d, "alertmanager", &st), 0);
    } while (st.retried < 1);
    assert_int_equal(fx_stat(&fxs[0].fx, "alerts_posts"), 1);

    make_event(&b, "5b7e2c1a-3d4f-4e5a-8b9c-0d1e2f3a4b5c", "opened", "warning", "warning", true);
    append(&v, b.json);
    delivery_kick(v.d);
    wait_posts(&v, &fxs[0].fx, 2);
    n = read_lines(fxs[0].record, lines, MAX_EVENTS);
    assert_int_equal(n, 2);
    char *second = cJSON_PrintUnformatted(lines[1]);
    assert_non_null(second);
    assert_non_null(strstr(second, b.id)); /* the new incident's alert */
    cJSON_free(second);
    free_lines(lines, n);
    start = uv_hrtime();
    do {
        assert_true(uv_hrtime() - start < 30ULL * 1000000000ULL);
        uv_run(&v.loop, UV_RUN_ONCE);
        assert_int_equal(delivery_stats(v.d, "alertmanager", &st), 0);
    } while (st.retried < 2);
    assert_true(fx_stat(&fxs[1].fx, "downs") >= 2);
    uv_close((uv_handle_t *)&wake, NULL);
    fx_stop(&fxs[0].fx);
    fx_stop(&fxs[1].fx);
    env_done(&v);
}

/* --- a sink freed with a send in flight ---------------------------------------- */

/* A listener that never accepts: the kernel completes the handshake and takes
 * the request, nobody answers. Returns the fd; *port gets its port. */
static int silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Runs the loop until the engine has a transfer in flight (30 s cap). */
static void until_in_flight(struct env *v)
{
    uint64_t start = uv_hrtime();
    delivery_kick(v->d);
    while (transfer_engine_in_flight(v->engine) == 0) {
        assert_true(uv_hrtime() - start < 30ULL * 1000000000ULL);
        uv_run(&v->loop, UV_RUN_NOWAIT);
    }
}

/* The agent stops (or a reload replaces its sinks) while a batch is posted
 * to a service or an Alertmanager that does not answer: the sink goes, and
 * nothing it sent with stays behind (LeakSanitizer checks this test). */
static void test_sinks_freed_with_a_send_in_flight(void **state)
{
    (void)state;
    int port;
    int lfd = silent_listener(&port);
    struct fx fake;
    memset(&fake, 0, sizeof fake);
    snprintf(fake.url, sizeof fake.url, "http://127.0.0.1:%d", port);

    struct env v;
    struct ev e;
    env_init(&v, "service", NULL);
    assert_int_equal(delivery_add(v.d, "service", service_sink(&v, &fake, NULL, NULL)), 0);
    make_event(&e, "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21", "opened", "warning", "warning", true);
    append(&v, e.json);
    until_in_flight(&v);
    env_done(&v);

    struct am_fx am;
    memset(&am, 0, sizeof am);
    snprintf(am.fx.url, sizeof am.fx.url, "http://127.0.0.1:%d", port);
    env_init(&v, "alertmanager", NULL);
    assert_int_equal(delivery_add(v.d, "alertmanager", am_sink(&v, &am, 1, 60 * SEC)), 0);
    append(&v, e.json);
    until_in_flight(&v);
    env_done(&v);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_sink_writes_json_lines),
        cmocka_unit_test(test_service_delivers_signed_batch),
        cmocka_unit_test(test_service_wrong_key_is_retried_not_dead_lettered),
        cmocka_unit_test(test_service_401_then_200_delivers_everything),
        cmocka_unit_test(test_service_503_honours_retry_after),
        cmocka_unit_test(test_service_down_then_up_loses_nothing),
        cmocka_unit_test(test_service_400_dead_letters_and_moves_on),
        cmocka_unit_test(test_service_reload_reads_new_token),
        cmocka_unit_test(test_alertmanager_fires_reposts_escalates_resolves),
        cmocka_unit_test(test_alertmanager_retries_only_the_failed_instance),
        cmocka_unit_test(test_alertmanager_one_instance_down_does_not_hold_back_the_other),
        cmocka_unit_test(test_sinks_freed_with_a_send_in_flight),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
