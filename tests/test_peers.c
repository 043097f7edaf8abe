/* Peers: which /peer/run requests are accepted (signature, freshness,
 * destination agent, replays), the summary's wording, the answer's shape,
 * and the peers keys of the config. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/config.h"
#include "agent/fleet/peers.h"
#include "agent/sinks/sink.h"

#define KEY "peer key"
#define NOW 1800000000LL

struct fx {
    char key_file[64];
    struct peers_config cfg;
    struct peers *p;
    int emitted;
    cJSON *last;
};

static void emit(void *arg, cJSON *ev)
{
    struct fx *fx = arg;
    fx->emitted++;
    cJSON_Delete(fx->last);
    fx->last = ev;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    snprintf(fx->key_file, sizeof(fx->key_file), "/tmp/tripline-peers-key.XXXXXX");
    int fd = mkstemp(fx->key_file);
    if (fd < 0 || write(fd, KEY, strlen(KEY)) != (ssize_t)strlen(KEY))
        return -1;
    close(fd);
    fx->cfg.key_file = fx->key_file;
    fx->cfg.timeout = 1000000;
    struct peers_opts o = {.cfg = &fx->cfg, .region = "a", .agent = "agent-a", .emit = emit, .emit_arg = fx};
    char err[256];
    if (peers_new(&fx->p, &o, err, sizeof(err)))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    peers_free(fx->p);
    unlink(fx->key_file);
    cJSON_Delete(fx->last);
    free(fx);
    return 0;
}

static int check(struct fx *fx, const char *body, const char *key, int64_t now, char *probe)
{
    char sig[72], why[256];
    assert_int_equal(sink_signature(key, strlen(key), body, strlen(body), sig), 0);
    char nonce[64];
    return peers_check(fx->p, sig, body, strlen(body), now, probe, 64, nonce, sizeof(nonce), why, sizeof(why));
}

static void test_check(void **state)
{
    struct fx *fx = *state;
    char probe[64], why[256];
    char *body = peers_request_json("checkout", NOW, "nonce-1", "b", "agent-b", NULL);
    assert_non_null(body);
    assert_int_equal(check(fx, body, KEY, NOW + 5, probe), 200);
    assert_string_equal(probe, "checkout");
    /* the same signed bytes again are a replay */
    assert_int_equal(check(fx, body, KEY, NOW + 6, probe), 401);
    free(body);

    body = peers_request_json("checkout", NOW, "nonce-2", "b", "agent-b", NULL);
    assert_int_equal(check(fx, body, "another key", NOW, probe), 401);
    char nonce[64];
    assert_int_equal(peers_check(fx->p, NULL, body, strlen(body), NOW, probe, 64, nonce, 64, why, sizeof(why)), 401);
    assert_int_equal(peers_check(fx->p, "sha256=00", body, strlen(body), NOW, probe, 64, nonce, 64, why, sizeof(why)),
                     401);
    /* a minute of clock skew either way, no more */
    assert_int_equal(check(fx, body, KEY, NOW + 61, probe), 401);
    assert_int_equal(check(fx, body, KEY, NOW - 61, probe), 401);
    assert_int_equal(check(fx, body, KEY, NOW - 60, probe), 200);
    free(body);

    assert_int_equal(check(fx, "{\"probe\": \"x\"}", KEY, NOW, probe), 400);
    assert_int_equal(check(fx, "{\"probe\": \"\", \"ts\": 1800000000}", KEY, NOW, probe), 400);
    assert_int_equal(check(fx, "not json", KEY, NOW, probe), 400);
}

/* The replay cache remembers every request for as long as it is fresh,
 * however many others come in between (it used to forget after 1,024). */
static void test_replay_after_many(void **state)
{
    struct fx *fx = *state;
    char probe[64], nonce[32];
    char *first = peers_request_json("checkout", NOW, "first", "b", "agent-b", NULL);
    assert_non_null(first);
    assert_int_equal(check(fx, first, KEY, NOW, probe), 200);
    for (int i = 0; i < 5000; i++) {
        snprintf(nonce, sizeof(nonce), "n-%d", i);
        char *body = peers_request_json("checkout", NOW + i / 100, nonce, "b", "agent-b", NULL);
        assert_non_null(body);
        assert_int_equal(check(fx, body, KEY, NOW + i / 100, probe), 200);
        free(body);
    }
    /* 50 s and 5,000 requests later, still inside the window: refused */
    assert_int_equal(check(fx, first, KEY, NOW + 50, probe), 401);
    /* past the window it is refused as stale, not remembered forever */
    assert_int_equal(check(fx, first, KEY, NOW + PEERS_MAX_SKEW_S + 1, probe), 401);
    free(first);
}

/* One log line per interval, with counts per reason, however many refusals. */
static void test_refusal_log(void **state)
{
    struct fx *fx = *state;
    char probe[64], line[256];
    char *body = peers_request_json("checkout", NOW, "r", "b", "agent-b", NULL);
    assert_non_null(body);
    assert_int_equal(check(fx, body, KEY, NOW, probe), 200);
    assert_null(peers_refusal(fx->p));
    assert_int_equal(check(fx, body, KEY, NOW, probe), 401);
    assert_string_equal(peers_refusal(fx->p), "replay");
    assert_true(peers_refusal_log(fx->p, NOW, line, sizeof(line)));
    assert_string_equal(line, "replay 1");
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(check(fx, body, "wrong key", NOW + 1, probe), 401);
        assert_int_equal(check(fx, body, KEY, NOW + 1, probe), 401);
        assert_false(peers_refusal_log(fx->p, NOW + 1, line, sizeof(line)));
    }
    assert_string_equal(peers_refusal(fx->p), "replay");
    assert_true(peers_refusal_log(fx->p, NOW + PEERS_REFUSAL_LOG_S, line, sizeof(line)));
    assert_string_equal(line, "signature 1000, replay 1000");
    free(body);
}

/* A request naming its destination is taken only by that agent: another
 * agent holding the same key refuses it (421), under its own reason, and
 * does not remember it (the right agent may still take it). */
static void test_bound(void **state)
{
    struct fx *fx = *state;
    char probe[64];
    char *body = peers_request_json("checkout", NOW, "bound-1", "b", "agent-b", "agent-z");
    assert_non_null(body);
    assert_non_null(strstr(body, "\"to\":\"agent-z\""));
    assert_int_equal(check(fx, body, KEY, NOW, probe), 421);
    assert_string_equal(peers_refusal(fx->p), "other_agent");
    assert_string_equal(probe, "");
    free(body);
    assert_int_equal(check(fx, "{\"probe\": \"x\", \"ts\": 1800000000, \"to\": 7}", KEY, NOW, probe), 421);
    body = peers_request_json("checkout", NOW, "bound-2", "b", "agent-b", "agent-a");
    assert_int_equal(check(fx, body, KEY, NOW, probe), 200);
    assert_string_equal(probe, "checkout");
    free(body);
    char line[256];
    assert_true(peers_refusal_log(fx->p, NOW, line, sizeof(line)));
    assert_string_equal(line, "other_agent 2");
}

static int load_config(struct config *cfg, const char *yaml, struct strv *errors)
{
    char path[] = "/tmp/tripline-peers-cfg.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    config_defaults(cfg);
    strv_init(errors);
    int rc = config_load(cfg, path, errors);
    unlink(path);
    return rc;
}

/* peers.urls items: a URL (unbound) or {url, agent}; peers.listen. */
static void test_config_urls(void **state)
{
    (void)state;
    struct config cfg;
    struct strv errors;
    assert_int_equal(load_config(&cfg,
                                 "peers:\n  key_file: /k\n  listen: 127.0.0.1:9465\n  urls:\n"
                                 "    - http://10.0.0.2:9464\n    - {url: http://10.0.0.3:9464, agent: edge-3}\n",
                                 &errors),
                     0);
    assert_int_equal(cfg.peers.n_urls, 2);
    assert_string_equal(cfg.peers.urls[0], "http://10.0.0.2:9464");
    assert_null(cfg.peers.agents[0]);
    assert_string_equal(cfg.peers.urls[1], "http://10.0.0.3:9464");
    assert_string_equal(cfg.peers.agents[1], "edge-3");
    assert_string_equal(cfg.peers.listen, "127.0.0.1:9465");
    config_free(&cfg);
    strv_free(&errors);

    static const char *const bad[] = {
        "peers: {key_file: /k, urls: [{url: http://10.0.0.3:9464}]}\n",
        "peers: {key_file: /k, urls: [{url: http://10.0.0.3:9464, agent: \"a b\"}]}\n",
        "peers: {key_file: /k, urls: [{url: ftp://x, agent: a}]}\n",
        "peers: {key_file: /k, urls: [{url: http://x, agent: a, region: b}]}\n",
        "peers: {key_file: /k, urls: [[http://x]]}\n",
        "peers: {key_file: /k, urls: [http://x], listen: nowhere}\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(load_config(&cfg, bad[i], &errors), 0);
        assert_true(errors.n > 0);
        config_free(&cfg);
        strv_free(&errors);
    }
}

static void test_summary(void **state)
{
    (void)state;
    char s[160];
    peers_summary(2, 1, 0, s, sizeof(s));
    assert_string_equal(s, "failing in 2 of 3 regions");
    peers_summary(1, 0, 0, s, sizeof(s));
    assert_string_equal(s, "failing in 1 of 1 region");
    peers_summary(2, 0, 1, s, sizeof(s));
    assert_string_equal(s, "failing in 2 of 2 regions; no answer from 1 peer");
    peers_summary(1, 3, 2, s, sizeof(s));
    assert_string_equal(s, "failing in 1 of 4 regions; no answer from 2 peers");
}

static void test_answer(void **state)
{
    (void)state;
    struct run_result r = {.probe_id = "checkout", .ok = false, .bucket = BUCKET_SERVER, .reason = "status_503",
                           .duration = 1500};
    char *s = peers_answer_json(&r, "eu-west", "edge-1", "nonce-7");
    cJSON *o = cJSON_Parse(s);
    assert_string_equal(cJSON_GetObjectItem(o, "region")->valuestring, "eu-west");
    assert_string_equal(cJSON_GetObjectItem(o, "nonce")->valuestring, "nonce-7");
    assert_string_equal(cJSON_GetObjectItem(o, "agent")->valuestring, "edge-1");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "ok")));
    assert_string_equal(cJSON_GetObjectItem(o, "bucket")->valuestring, "server");
    cJSON_Delete(o);
    free(s);
    r.ok = true;
    s = peers_answer_json(&r, "eu-west", "edge-1", "nonce-7");
    o = cJSON_Parse(s);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "bucket")));
    cJSON_Delete(o);
    free(s);
}

/* With nothing waiting an event that needs no opinion goes out at once, untouched. */
static void test_submit_without_ask(void **state)
{
    struct fx *fx = *state;
    assert_true(peers_idle(fx->p));
    peers_submit(fx->p, cJSON_Parse("{\"transition\": \"resolved\"}"), "checkout", "a", false);
    assert_int_equal(fx->emitted, 1);
    assert_null(cJSON_GetObjectItem(fx->last, "secondOpinion"));
    assert_true(peers_idle(fx->p));
    peers_hold(fx->p);
    assert_false(peers_idle(fx->p));
    peers_release(fx->p);
    assert_true(peers_idle(fx->p));
}

static void test_bad_key_file(void **state)
{
    (void)state;
    struct peers_config cfg = {.key_file = "/nonexistent/peer.key", .timeout = 1000000};
    struct peers_opts o = {.cfg = &cfg, .region = "a", .agent = "a"};
    struct peers *p = NULL;
    char err[256];
    assert_int_equal(peers_new(&p, &o, err, sizeof(err)), TL_EKEY);
    assert_null(p);
    assert_non_null(strstr(err, "/nonexistent/peer.key"));
    peers_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_after_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
        cmocka_unit_test(test_config_urls),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_answer),
        cmocka_unit_test_setup_teardown(test_submit_without_ask, setup, teardown),
        cmocka_unit_test(test_bad_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
