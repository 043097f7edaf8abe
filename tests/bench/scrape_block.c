/* How long one /metrics scrape holds the agent's loop (run by hand, not in
 * ctest). Runs the real agent in-process with an extra 1 ms repeating
 * uv_timer on its loop; the largest gap between two ticks while a
 * `curl -s .../metrics -o /dev/null` runs is the longest the loop was held.
 *
 *   cc -O2 -I. -o scrape_block tests/bench/scrape_block.c BUILD/libtripline_core.a \
 *      -luv -lcurl -lmicrohttpd -lyaml -lcjson -lssl -lcrypto -lm -lpthread
 *   ./scrape_block agent.yaml probes.yaml [scrapes [path]]     (path: /metrics, or /status)
 * Prints, per scrape: body bytes, curl's total time, the max tick gap; and
 * the max gap over an idle second before the scrapes for comparison. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "agent/daemon/agent.h"
#include "agent/config/config.h"

static int scraping; /* __atomic: set by the scrape thread */
static uint64_t last_tick, max_gap; /* loop thread only, read after join */
static uint64_t max_gap_scrape, max_gap_idle;
static uint16_t port;
static int n_scrapes = 5;
static const char *path = "/metrics";

static void on_tick(uv_timer_t *t)
{
    uint64_t now = uv_hrtime();
    uint64_t gap = last_tick ? now - last_tick : 0;
    last_tick = now;
    if (__atomic_load_n(&scraping, __ATOMIC_SEQ_CST)) {
        if (gap > max_gap_scrape)
            max_gap_scrape = gap;
    } else if (gap > max_gap_idle) {
        max_gap_idle = gap;
    }
    (void)t;
}

static void *scrape_main(void *arg)
{
    (void)arg;
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "curl -s http://127.0.0.1:%u%s -o /dev/null -w '%%{size_download} %%{time_total}'",
             (unsigned)port, path);
    sleep(2); /* start-up done */
    __atomic_store_n(&max_gap_idle, 0, __ATOMIC_SEQ_CST);
    sleep(1);
    printf("idle: max tick gap %.2f ms\n", (double)__atomic_load_n(&max_gap_idle, __ATOMIC_SEQ_CST) / 1e6);
    for (int i = 0; i < n_scrapes; i++) {
        __atomic_store_n(&max_gap_scrape, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&scraping, 1, __ATOMIC_SEQ_CST);
        FILE *p = popen(cmd, "r");
        char out[128] = "";
        if (p) {
            if (!fgets(out, sizeof(out), p))
                out[0] = '\0';
            pclose(p);
        }
        usleep(5000); /* the tick after the last byte */
        __atomic_store_n(&scraping, 0, __ATOMIC_SEQ_CST);
        printf("scrape %d: bytes/seconds %s, max tick gap %.2f ms\n", i, out,
               (double)__atomic_load_n(&max_gap_scrape, __ATOMIC_SEQ_CST) / 1e6);
        fflush(stdout);
        usleep(300000);
    }
    kill(getpid(), SIGTERM);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s agent.yaml probes.yaml [scrapes [path]]\n", argv[0]);
        return 2;
    }
    if (argc > 3)
        n_scrapes = (int)strtol(argv[3], NULL, 10);
    if (argc > 4)
        path = argv[4];
    struct config cfg;
    struct strv errs, files;
    config_defaults(&cfg);
    strv_init(&errs);
    strv_init(&files);
    if (config_load(&cfg, argv[1], &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.v[i]);
        return 1;
    }
    free(cfg.listen);
    cfg.listen = strdup("127.0.0.1:0");
    strv_push(&files, argv[2]);
    uv_loop_t *loop = uv_default_loop();
    struct agent *a = NULL;
    if (agent_new(loop, &cfg, &files, &a) != 0)
        return 1;
    port = agent_port(a);
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 1, 1);
    uv_unref((uv_handle_t *)&tick);
    pthread_t t;
    pthread_create(&t, NULL, scrape_main, NULL);
    int rc = agent_run(a);
    pthread_join(t, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    agent_free(a);
    uv_run(loop, UV_RUN_DEFAULT);
    strv_free(&files);
    strv_free(&errs);
    return rc;
}
