/* The floor for the probe engine's benchmark: a minimal curl-multi loop that
 * makes N GETs to one URL, C at a time, a fresh connection each, with the
 * same CA settings as probes/transfer.c (CAINFO file, CAPATH NULL, so the
 * parsed store is cached on the multi handle). Whatever tripline spends per
 * run beyond this loop is its own overhead.
 *
 *   curl_baseline [-n N] [-c C] [--cacert FILE] [--insecure] URL
 *
 * Prints one line of key=value pairs: requests, failures, wall_s, cpu_s
 * (user+sys of this process during the loop, from getrusage), user_s, sys_s,
 * runs_per_s, cpu_us_per_req. Exit 1 when any request did not get a 2xx. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>

struct opts {
    long n;
    long c;
    const char *cacert;
    const char *url;
    int insecure;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cpu_s(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The body is thrown away: the loop measures transport, not parsing. */
static size_t discard(char *p, size_t size, size_t n, void *userp)
{
    (void)p;
    (void)userp;
    return size * n;
}

static int parse_long(const char *s, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!end || *end != '\0' || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static CURL *make_easy(const struct opts *o)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert);
    curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 86400L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    return e;
}

static int usage(void)
{
    fprintf(stderr, "usage: curl_baseline [-n N] [-c C] [--cacert FILE] [--insecure] URL\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"cacert", required_argument, NULL, 'a'},
        {"insecure", no_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.n = 1000, .c = 1000, .cacert = "/etc/ssl/certs/ca-certificates.crt"};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:c:a:k", lopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (parse_long(optarg, &o.n))
                return usage();
            break;
        case 'c':
            if (parse_long(optarg, &o.c))
                return usage();
            break;
        case 'a':
            o.cacert = optarg;
            break;
        case 'k':
            o.insecure = 1;
            break;
        default:
            return usage();
        }
    }
    if (optind != argc - 1)
        return usage();
    o.url = argv[optind];
    if (o.c > o.n)
        o.c = o.n;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    long started = 0, done = 0, failures = 0;
    double u0, s0, u1, s1;
    cpu_s(&u0, &s0);
    double t0 = now_s();

    for (; started < o.c; started++)
        curl_multi_add_handle(multi, make_easy(&o));
    while (done < o.n) {
        int running = 0, left = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURL *e = m->easy_handle;
            long code = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            if (m->data.result != CURLE_OK || code < 200 || code > 299) {
                if (failures < 5)
                    fprintf(stderr, "curl_baseline: %s (status %ld)\n", curl_easy_strerror(m->data.result), code);
                failures++;
            }
            curl_multi_remove_handle(multi, e);
            curl_easy_cleanup(e);
            done++;
            if (started < o.n) {
                curl_multi_add_handle(multi, make_easy(&o));
                started++;
            }
        }
        if (done < o.n)
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }

    double wall = now_s() - t0;
    cpu_s(&u1, &s1);
    double user = u1 - u0, sys = s1 - s0;
    printf("requests=%ld concurrency=%ld failures=%ld wall_s=%.4f cpu_s=%.4f user_s=%.4f sys_s=%.4f "
           "runs_per_s=%.1f cpu_us_per_req=%.1f\n",
           o.n, o.c, failures, wall, user + sys, user, sys, (double)o.n / wall, (user + sys) * 1e6 / (double)o.n);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return failures ? 1 : 0;
}
