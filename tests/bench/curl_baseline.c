/* The floor for the probe engine's benchmark: a minimal curl-multi loop that
 * makes N GETs to one URL, C at a time, a fresh connection each, with the
 * same CA settings as probes/http/transfer.c (CAINFO file, CAPATH NULL, so the
 * parsed store is cached on the multi handle). Whatever tripline spends per
 * run beyond this loop is its own overhead.
 *
 *   curl_baseline [-n N] [-c C] [-r RATE [--slot US] [--timerfd]] [-t TIMEOUT_MS] [--cacert FILE] [--insecure] [--same-opts] URL
 *
 * -r RATE paces the starts at RATE per second (at most C in flight): the
 * loop at the same rate as the agent, which is the fair yardstick for the
 * agent's CPU per check at that rate (a loop flat out batches more work per
 * wake-up than a paced one can). Without -r the loop runs flat out.
 * --slot US rounds each paced due time down to a US grid, so the starts of
 * one slot are made on one wake-up: the agent's start slots (spread.h),
 * the yardstick with the same batching as the agent.
 *
 * --timerfd wakes the paced loop with a timerfd armed at the next (slotted)
 * due time, as the agent's scheduler does, instead of curl_multi_poll's whole
 * milliseconds: with it the loop's lateness is a floor for the agent's.
 *
 * --same-opts also sets the per-request curl options probes/http/transfer.c sets
 * (User-Agent, Accept-Encoding, a cookie engine on a per-request share, a
 * custom header list with Connection: close, no DNS cache, protocol limits, no
 * proxy), so that the difference to tripline is the engine and the journey,
 * not curl's work for those options.
 *
 * Prints one line of key=value pairs: requests, failures, wall_s, cpu_s
 * (user+sys of this process during the loop, from getrusage), user_s, sys_s,
 * runs_per_s, cpu_us_per_req; paced, also how late the starts were against
 * their (slotted) due times, in the agent's lateness buckets: late_p99_ms
 * (interpolated inside the bucket, as Prometheus' histogram_quantile and the
 * table do) and late_le_1ms_pct. Exit 1 when any request did not get a 2xx. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

struct opts {
    long n;
    long c;
    long timeout_ms;
    const char *cacert;
    const char *url;
    double rate; /* starts per second; 0 = flat out */
    long slot_us; /* paced starts rounded down to this grid; 0 = none */
    int insecure;
    int same_opts;
    int timerfd;
};

/* The agent's lateness buckets (schedules/scheduler.c), in seconds. */
static const double late_bounds[] = {0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0};
#define N_LATE (sizeof(late_bounds) / sizeof(late_bounds[0]) + 1)

static void late_observe(long *counts, double v)
{
    size_t i = 0;
    while (i < N_LATE - 1 && v > late_bounds[i])
        i++;
    counts[i]++;
}

/* histogram_quantile: linear inside the bucket; the last bucket's lower bound. */
static double late_quantile(const long *counts, double q)
{
    long total = 0;
    for (size_t i = 0; i < N_LATE; i++)
        total += counts[i];
    if (total == 0)
        return 0;
    double rank = q * (double)total, cum = 0, lo = 0;
    for (size_t i = 0; i < N_LATE - 1; i++) {
        if (cum + (double)counts[i] >= rank)
            return lo + (late_bounds[i] - lo) * (counts[i] ? (rank - cum) / (double)counts[i] : 0);
        cum += (double)counts[i];
        lo = late_bounds[i];
    }
    return lo;
}

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
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert);
    curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 86400L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    return e;
}

/* The options transfer.c sets beyond the minimal ones; freed with the easy. */
struct extra {
    CURLSH *share;
    struct curl_slist *headers;
};

static int add_same_opts(CURL *e, struct extra *x)
{
    x->share = curl_share_init();
    if (!x->share)
        return -1;
    curl_share_setopt(x->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    curl_share_setopt(x->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    x->headers = curl_slist_append(NULL, "X-Correlation-ID: 0c15b0d5-12a2-4d2f-af47-980a48becf06");
    x->headers = curl_slist_append(x->headers, "Expect:");
    x->headers = curl_slist_append(x->headers, "Connection: close");
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "tripline/0.1.0");
    curl_easy_setopt(e, CURLOPT_SHARE, x->share);
    curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x);
    return 0;
}

static CURL *start_one(CURLM *multi, const struct opts *o)
{
    CURL *e = make_easy(o);
    if (!e)
        return NULL;
    if (o->same_opts) {
        struct extra *x = calloc(1, sizeof(*x));
        if (!x || add_same_opts(e, x) != 0) {
            free(x);
            curl_easy_cleanup(e);
            return NULL;
        }
    }
    curl_multi_add_handle(multi, e);
    return e;
}

static void finish_one(CURLM *multi, CURL *e)
{
    struct extra *x = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(multi, e);
    curl_easy_cleanup(e);
    if (x) {
        curl_share_cleanup(x->share);
        curl_slist_free_all(x->headers);
        free(x);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: curl_baseline [-n N] [-c C] [-r RATE [--slot US]] [-t TIMEOUT_MS] [--cacert FILE] [--insecure] [--same-opts] [--timerfd] URL\n");
    return 2;
}

/* A due time rounded down to the --slot grid counted from t0: starts that
 * fall in one slot are made together, as the agent's start slots do. */
static double slotted(double due, double t0, long slot_us)
{
    if (slot_us <= 0)
        return due;
    double slot = (double)slot_us / 1e6;
    return t0 + (double)(long)((due - t0) / slot) * slot;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"cacert", required_argument, NULL, 'a'},
        {"insecure", no_argument, NULL, 'k'},
        {"same-opts", no_argument, NULL, 's'},
        {"slot", required_argument, NULL, 'S'},
        {"timerfd", no_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.n = 1000, .c = 1000, .timeout_ms = 30000, .cacert = "/etc/ssl/certs/ca-certificates.crt"};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:c:r:t:a:ksS:", lopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (parse_long(optarg, &o.n))
                return usage();
            break;
        case 'c':
            if (parse_long(optarg, &o.c))
                return usage();
            break;
        case 'r': {
            long r;
            if (parse_long(optarg, &r))
                return usage();
            o.rate = (double)r;
            break;
        }
        case 'S':
            if (parse_long(optarg, &o.slot_us))
                return usage();
            break;
        case 't':
            if (parse_long(optarg, &o.timeout_ms))
                return usage();
            break;
        case 'a':
            o.cacert = optarg;
            break;
        case 'k':
            o.insecure = 1;
            break;
        case 's':
            o.same_opts = 1;
            break;
        case 'T':
            o.timerfd = 1;
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

    /* Flat out: C started at once and one more as each ends. Paced: the
     * next start is due every 1/RATE s; starts that fell due while the loop
     * waited are made at once (at most C in flight). */
    double next = t0, step = o.rate > 0 ? 1.0 / o.rate : 0;
    long in_flight = 0;
    long late[N_LATE] = {0};
    struct curl_waitfd wfd = {.fd = -1, .events = CURL_WAIT_POLLIN};
    if (o.timerfd && step > 0) {
        wfd.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (wfd.fd < 0) {
            perror("curl_baseline: timerfd_create");
            return 2;
        }
    }
    double armed = -1;
    while (done < o.n) {
        double t = now_s();
        while (started < o.n && in_flight < o.c && (step == 0 || slotted(next, t0, o.slot_us) <= t)) {
            if (step > 0)
                late_observe(late, now_s() - slotted(next, t0, o.slot_us));
            start_one(multi, &o);
            started++;
            in_flight++;
            next += step;
        }
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
            finish_one(multi, e);
            done++;
            in_flight--;
        }
        if (done >= o.n)
            break;
        int wait_ms = 1000;
        if (step > 0 && started < o.n && wfd.fd >= 0) {
            /* the timerfd wakes the poll at the due time itself */
            double due = slotted(next, t0, o.slot_us);
            if (due <= now_s()) {
                wait_ms = 0;
            } else if (due != armed) {
                struct itimerspec its = {.it_value = {.tv_sec = (time_t)due,
                                                      .tv_nsec = (long)((due - (double)(time_t)due) * 1e9)}};
                if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                    its.it_value.tv_nsec = 1;
                timerfd_settime(wfd.fd, TFD_TIMER_ABSTIME, &its, NULL);
                armed = due;
            }
        } else if (step > 0 && started < o.n) {
            double d = (slotted(next, t0, o.slot_us) - now_s()) * 1000.0;
            wait_ms = d <= 0 ? 0 : d >= 1000 ? 1000 : (int)d + 1;
        } else if (started < o.n && in_flight < o.c) {
            wait_ms = 0;
        }
        if (wait_ms > 0 || in_flight > 0) {
            int nfds = 0;
            curl_multi_poll(multi, wfd.fd >= 0 ? &wfd : NULL, wfd.fd >= 0 ? 1 : 0, wait_ms, &nfds);
            uint64_t expired;
            if (wfd.fd >= 0 && (wfd.revents & CURL_WAIT_POLLIN) && read(wfd.fd, &expired, sizeof expired) > 0)
                armed = -1;
        }
    }

    double wall = now_s() - t0;
    cpu_s(&u1, &s1);
    double user = u1 - u0, sys = s1 - s0;
    printf("requests=%ld concurrency=%ld rate=%.0f failures=%ld wall_s=%.4f cpu_s=%.4f user_s=%.4f sys_s=%.4f "
           "runs_per_s=%.1f cpu_us_per_req=%.1f\n",
           o.n, o.c, o.rate, failures, wall, user + sys, user, sys, (double)o.n / wall, (user + sys) * 1e6 / (double)o.n);
    if (step > 0) {
        long le1 = late[0] + late[1] + late[2];
        printf("late_p99_ms=%.3f late_le_1ms_pct=%.2f timerfd=%d\n", late_quantile(late, 0.99) * 1000.0,
               100.0 * (double)le1 / (double)(started ? started : 1), wfd.fd >= 0);
    }
    if (wfd.fd >= 0)
        close(wfd.fd);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return failures ? 1 : 0;
}
