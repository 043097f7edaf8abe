/* The scraper of the blackbox_exporter side of tests/bench/daemon.sh: what
 * Prometheus does when it is deployed with blackbox_exporter, one scrape of
 * /probe?target=...&module=... per target and interval, spread evenly over
 * the interval, on keep-alive connections.
 *
 *   daemon_scraper EXPORTER_URL TARGET_PREFIX N_TARGETS INTERVAL_MS SECONDS
 *
 * Target i is TARGET_PREFIX<i>. Scrape k is due at start + k * INTERVAL/N
 * (k-th scrape goes to target k mod N), so the rate is N/INTERVAL per second.
 * Prints one line: sent, done, success (the body says probe_success 1),
 * failed, late (due but could not be sent because 512 were in flight), and the
 * achieved rate. Built by daemon.sh with `cc -O2 ... -lcurl`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define MAX_IN_FLIGHT 512

struct scrape {
    CURL *h;
    char body[8192];
    size_t len;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct scrape *s = arg;
    size_t len = size * n;
    size_t room = sizeof(s->body) - 1 - s->len;
    memcpy(s->body + s->len, p, len < room ? len : room);
    s->len += len < room ? len : room;
    s->body[s->len] = '\0';
    return len;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: daemon_scraper EXPORTER_URL TARGET_PREFIX N_TARGETS INTERVAL_MS SECONDS\n");
        return 2;
    }
    const char *exporter = argv[1], *prefix = argv[2];
    long n = strtol(argv[3], NULL, 10), interval_ms = strtol(argv[4], NULL, 10);
    double seconds = strtod(argv[5], NULL);
    if (n <= 0 || interval_ms <= 0 || seconds <= 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)MAX_IN_FLIGHT);
    static struct scrape pool[MAX_IN_FLIGHT];
    struct scrape *free_list[MAX_IN_FLIGHT];
    size_t n_free = 0;
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++) {
        pool[i].h = curl_easy_init();
        free_list[n_free++] = &pool[i];
    }
    double step = (double)interval_ms / 1000.0 / (double)n;
    double start = now_s(), end = start + seconds;
    unsigned long long k = 0, sent = 0, done = 0, ok = 0, failed = 0, late = 0;
    int running = 0;
    for (;;) {
        double t = now_s();
        /* Send every scrape that is due, as long as a slot is free. */
        while (t < end && start + (double)k * step <= t) {
            if (n_free == 0) {
                late++;
                k++;
                continue;
            }
            struct scrape *s = free_list[--n_free];
            char url[1024];
            snprintf(url, sizeof(url), "%s/probe?module=http_2xx&target=%s%llu", exporter, prefix,
                     (unsigned long long)(k % (unsigned long long)n));
            s->len = 0;
            curl_easy_reset(s->h);
            curl_easy_setopt(s->h, CURLOPT_URL, url);
            curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_data);
            curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
            curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
            curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, 10000L);
            curl_multi_add_handle(m, s->h);
            sent++;
            k++;
        }
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct scrape *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            done++;
            if (msg->data.result == CURLE_OK && code == 200 && strstr(s->body, "\nprobe_success 1"))
                ok++;
            else
                failed++;
            curl_multi_remove_handle(m, s->h);
            free_list[n_free++] = s;
        }
        if (t >= end && running == 0)
            break;
        double next = start + (double)k * step - now_s();
        int wait_ms = t >= end ? 100 : next <= 0 ? 0 : (int)(next * 1000.0) + 1;
        curl_multi_poll(m, NULL, 0, wait_ms > 100 ? 100 : wait_ms, NULL);
    }
    double took = now_s() - start;
    printf("sent=%llu done=%llu success=%llu failed=%llu late=%llu rate=%.1f/s\n", sent, done, ok, failed, late,
           (double)done / took);
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
        curl_easy_cleanup(pool[i].h);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return failed || late ? 1 : 0;
}
