/* `tripline once FILES...`: run every probe once, concurrently, print the
 * results (a table, or JSON lines with --json) and exit 0 when all passed,
 * 1 when any failed, 2 for usage or file errors, 3 when the agent could not
 * run a probe and none failed (inconclusive). A CI gate. */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/container.h"
#include "base/nofile.h"
#include "agent/cli/cli.h"
#include "agent/cli/cli_vars.h"
#include "agent/cli/junit.h"
#include "agent/config/config.h"
#include "agent/daemon/probe_files.h"
#include "probes/run/journey.h"
#include "probes/load/load.h"
#include "schedules/limiter.h"


/* One run per probe; each waits for a slot of the shared limiter (the
 * config's limits.concurrency and limits.per_host, as the daemon). */
struct once_slot {
    struct once *once;
    size_t index;
    struct limiter_waiter waiter;
    char host[300];
};

struct once {
    struct run_result **results;
    size_t pending;
    const struct journey_env *env;
    struct probe **torun;
    struct once_slot *slots;
    size_t n_run;
    struct limiter *limiter;
    bool start_failed;
};

static void on_done(struct run_result *r, void *arg);

static void slot_start(struct once_slot *slot)
{
    struct once *o = slot->once;
    if (journey_start(o->env, o->torun[slot->index], on_done, slot) == 0)
        return;
    o->pending--;
    o->start_failed = true;
    fprintf(stderr, "tripline once: cannot start probe %s\n", o->torun[slot->index]->id);
    limiter_release(o->limiter, &slot->waiter);
}

static void on_grant(struct limiter_waiter *w)
{
    slot_start(container_of(w, struct once_slot, waiter));
}

static void on_done(struct run_result *r, void *arg)
{
    struct once_slot *slot = arg;
    struct once *o = slot->once;
    o->results[slot->index] = r;
    o->pending--;
    limiter_release(o->limiter, &slot->waiter);
}

/* Asks for a slot for every probe, in file order: the limiter's FIFO queue
 * starts them as slots free. */
static void start_all(struct once *o)
{
    struct probe_host_memo memo = {0};
    for (size_t i = 0; i < o->n_run; i++) {
        struct once_slot *slot = &o->slots[i];
        slot->once = o;
        slot->index = i;
        slot->waiter.grant = on_grant;
        probe_host_key(o->torun[i], &memo, slot->host, sizeof slot->host);
        int rc = limiter_acquire(o->limiter, slot->host, &slot->waiter);
        if (rc == 0) {
            slot_start(slot);
        } else if (rc < 0) {
            o->pending--;
            o->start_failed = true;
            fprintf(stderr, "tripline once: cannot start probe %s: %s\n", o->torun[i]->id,
                    tl_strerror(rc));
        }
    }
}

static void fmt_ms(char *out, size_t n, tl_usec us, bool ran)
{
    if (!ran)
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%.1fms", (double)us / 1000.0);
}

/* A name cut to width columns with an ellipsis and padded, so a long probe
 * or step name cannot push the table's columns apart. Columns are counted
 * as UTF-8 characters and a cut never splits one. */
static const char *fit(char *out, size_t n, const char *name, size_t width)
{
    size_t cols = 0, i = 0, o = 0, cut = 0;
    for (; name[i]; i++)
        if (((unsigned char)name[i] & 0xC0) != 0x80 && ++cols == width)
            cut = i;
    if (cols > width) {
        memcpy(out, name, cut < n - 4 ? cut : n - 4);
        o = cut < n - 4 ? cut : n - 4;
        memcpy(out + o, "\u2026", 3); /* … */
        o += 3;
        cols = width;
    } else {
        o = i < n - 1 ? i : n - 1;
        memcpy(out, name, o);
    }
    for (; cols < width && o < n - 1; cols++)
        out[o++] = ' ';
    out[o] = '\0';
    return out;
}

static void print_table(FILE *f, struct run_result **rs, size_t n, bool color)
{
    const char *red = color ? "\033[31m" : "", *green = color ? "\033[32m" : "", *dim = color ? "\033[2m" : "",
               *off = color ? "\033[0m" : "";
    char pname[96], sname[80];
    fprintf(f, "%-22s %-16s %-8s %-10s %-6s %9s %9s  %s\n", "PROBE", "STEP", "VERDICT", "BUCKET", "STATUS",
            "TTFB", "TOTAL", "FAILED CHECK");
    size_t failed = 0, faults = 0;
    for (size_t i = 0; i < n; i++) {
        const struct run_result *r = rs[i];
        if (bucket_is_agent(r->bucket))
            faults++;
        else if (!r->ok)
            failed++;
        for (size_t k = 0; k < r->n_steps; k++) {
            const struct step_result *s = &r->steps[k];
            char ttfb[32], total[32], status[24];
            /* no answer, no first byte: "-" rather than 0.0ms */
            fmt_ms(ttfb, sizeof(ttfb), s->timings.ttfb, s->ran && s->status > 0);
            fmt_ms(total, sizeof(total), s->timings.total, s->ran);
            if (s->ran && s->status > 0)
                snprintf(status, sizeof(status), "%ld", s->status);
            else
                snprintf(status, sizeof(status), "-");
            const char *verdict = !s->ran ? "skipped" : s->ok ? "ok" : "FAIL";
            const char *col = !s->ran ? dim : s->ok ? green : red;
            const char *first = s->failures.n ? s->failures.v[0] : "";
            /* the table shows the message after "step NAME: " */
            const char *colon = strstr(first, ": ");
            fprintf(f, "%s %s %s%-8s%s %-10s %-6s %9s %9s  %s\n", fit(pname, sizeof pname, r->probe_id, 22),
                    fit(sname, sizeof sname, s->name, 16), col, verdict, off,
                    s->ran && !s->ok ? bucket_str(s->bucket) : "-", status, ttfb, total,
                    colon ? colon + 2 : first);
            for (size_t m = 1; m < s->failures.n; m++) {
                const char *c2 = strstr(s->failures.v[m], ": ");
                fprintf(f, "%-22s %-16s %-8s %-10s %-6s %9s %9s  %s\n", "", "", "", "", "", "", "",
                        c2 ? c2 + 2 : s->failures.v[m]);
            }
        }
        for (size_t m = 0; m < r->failures.n; m++)
            fprintf(f, "%s %-16s %s%-8s%s %-10s %-6s %9s %9s  %s\n", fit(pname, sizeof pname, r->probe_id, 22),
                    "(journey)", red, "FAIL", off,
                    bucket_str(r->bucket), "-", "-", "-", r->failures.v[m]);
    }
    fprintf(f, "\n%zu probe%s, %s%zu passed%s, %s%zu failed%s", n, n == 1 ? "" : "s", green, n - failed - faults,
            off, failed ? red : "", failed, off);
    if (faults)
        fprintf(f, ", %zu could not run (bucket agent)", faults);
    fprintf(f, "\n");
}

static int usage(void)
{
    fprintf(stderr, "usage: tripline once [--json] [--junit FILE] [--region NAME] [--var NAME=VALUE]... [--var-file NAME=PATH]... "
                    "[--config FILE] "
                    "[--probe ID]... FILES...\n"
                    "Runs every probe in FILES once (or those of the config's probe globs) and exits 0 when all\n"
                    "passed, 1 when any failed, 2 on usage or file errors, 3 when the agent could not\n"
                    "run a probe (a missing secret or CA file: bucket agent) and none failed.\n"
                    "--junit FILE also writes the results as a JUnit XML report for CI servers.\n");
    return 2;
}

/* What the command line asks for. */
struct once_args {
    bool json;
    const char *region, *config_file, *junit;
    struct tpl_vars overrides;
    struct strv only, files;
};

/* Returns -1 to go on, else the exit code. */
static int parse_args(struct once_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},        {"region", required_argument, NULL, 'r'},
        {"var", required_argument, NULL, 'v'},   {"config", required_argument, NULL, 'c'},
        {"var-file", required_argument, NULL, 'V'},
        {"probe", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {"junit", required_argument, NULL, 'J'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "jr:v:c:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            a->json = true;
            break;
        case 'J':
            a->junit = optarg;
            break;
        case 'r':
            a->region = optarg;
            break;
        case 'c':
            a->config_file = optarg;
            break;
        case 'p':
            strv_push(&a->only, optarg);
            break;
        case 'v':
        case 'V':
            if (cli_var_arg(&a->overrides, "once", optarg, c == 'V'))
                return 2;
            break;
        case 'h':
            usage();
            return 0;
        default:
            return usage();
        }
    }
    for (int i = optind; i < argc; i++)
        strv_push(&a->files, argv[i]);
    return -1;
}

static void print_errors(const struct strv *errors)
{
    for (size_t i = 0; i < errors->n; i++)
        fprintf(stderr, "%s\n", errors->v[i]);
}

/* Loads the config and the probe files. Returns -1 to go on, else the exit code. */
static int load_all(struct once_args *a, struct config *cfg, struct probe_set **set)
{
    struct strv errors;
    int rc = 2;

    strv_init(&errors);
    if (a->config_file && config_load(cfg, a->config_file, &errors)) {
        print_errors(&errors);
        goto out;
    }
    if (a->files.n == 0 && a->config_file && probe_files_expand(cfg, &a->files, &errors)) {
        print_errors(&errors);
        goto out;
    }
    if (a->files.n == 0) {
        rc = usage();
        goto out;
    }
    if (probe_load_files(set, a->files.v, a->files.n, &errors)) {
        print_errors(&errors);
        goto out;
    }
    /* a typo in --var must not run the probes against the file's default */
    if (cli_vars_check(*set, &a->overrides, &errors)) {
        print_errors(&errors);
        goto out;
    }
    rc = -1;
out:
    strv_free(&errors);
    return rc;
}

/* The probes to run, in file order, into torun (n_run of them); false
 * (after saying why) when there is none or a --probe names none. */
static bool select_probes(const struct once_args *a, struct probe_set *set, const char *filter,
                          struct probe **torun, size_t *n_run)
{
    for (size_t i = 0; i < set->n; i++) {
        struct probe *p = set->probes[i];
        bool wanted = a->only.n == 0;
        for (size_t k = 0; k < a->only.n; k++)
            wanted = wanted || strcmp(a->only.v[k], p->id) == 0;
        /* an explicit region skips probes not meant for it, as the daemon does */
        if (wanted && (!filter || probe_runs_in(p, filter)))
            torun[(*n_run)++] = p;
    }
    for (size_t k = 0; k < a->only.n; k++) {
        if (!probe_set_find(set, a->only.v[k])) {
            fprintf(stderr, "tripline once: no probe \"%s\" in the files given\n", a->only.v[k]);
            return false;
        }
    }
    if (*n_run == 0) {
        /* a CI gate that ran nothing must not pass */
        fprintf(stderr, "tripline once: no probe to run%s%s\n", filter ? " in region " : "",
                filter ? filter : "");
        return false;
    }
    return true;
}

/* Prints the results; returns 0 when all passed, 1 when any failed, 3 when
 * none failed but the agent could not run one (bucket agent: inconclusive),
 * 2 when one did not finish or the output cannot be written. */
static int report(const struct once *o, bool json, const char *junit)
{
    int rc = 0;
    for (size_t i = 0; i < o->n_run; i++) {
        const struct run_result *r = o->results[i];
        if (!r) {
            fprintf(stderr, "tripline once: probe %s did not finish\n", o->torun[i]->id);
            return 2;
        }
        /* an API failure is a verdict; the agent's own fault only hides one */
        if (!r->ok && !bucket_is_agent(r->bucket))
            rc = 1;
        else if (!r->ok && rc == 0)
            rc = 3;
    }
    if (json) {
        for (size_t i = 0; i < o->n_run; i++) {
            cJSON *j = run_result_json(o->results[i]);
            char *s = j ? cJSON_PrintUnformatted(j) : NULL;
            if (s) {
                printf("%s\n", s);
            } else {
                fprintf(stderr, "tripline once: out of memory: the result of %s is missing\n", o->torun[i]->id);
                rc = 2;
            }
            free(s);
            cJSON_Delete(j);
        }
    } else {
        print_table(stdout, o->results, o->n_run, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
    }
    int err = fflush(stdout) != 0 ? errno : 0;
    if (err || ferror(stdout)) {
        fprintf(stderr, "tripline once: cannot write the results to stdout: %s\n", err ? strerror(err) : "write error");
        rc = 2;
    }
    int jrc = junit ? junit_write(junit, o->results, o->n_run) : 0;
    if (jrc) {
        fprintf(stderr, "tripline once: cannot write the JUnit report %s: %s\n", junit, tl_strerror(jrc));
        rc = 2;
    }
    return rc;
}

/* Runs o's probes on a loop of their own and reports; returns the exit code. */
static int run_all(struct once *o, const struct config *cfg, struct journey_env *env, const struct once_args *a)
{
    struct transfer_engine *engine = NULL;
    struct transfer_engine_opts eo = {.ca_file = cfg->ca_file};
    uv_loop_t loop;
    int rc = 2;

    int uerr = uv_loop_init(&loop);
    if (uerr) {
        fprintf(stderr, "tripline once: cannot create the event loop: %s\n", uv_strerror(uerr));
        return 2;
    }
    if (transfer_engine_new(&engine, &loop, &eo)) {
        fprintf(stderr, "tripline once: cannot start the transfer engine\n");
        goto out;
    }
    env->engine = engine;
    o->env = env;
    o->pending = o->n_run;
    start_all(o);
    while (o->pending > 0 && uv_run(&loop, UV_RUN_ONCE))
        ;
    rc = o->start_failed ? 2 : report(o, a->json, a->junit);
out:
    if (engine)
        transfer_engine_free(engine);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "tripline once: event loop did not close cleanly\n");
    return rc;
}

int cli_once(int argc, char **argv)
{
    struct once_args a = {0};
    struct config cfg;
    struct probe_set *set = NULL;
    struct once once = {0};
    int rc;

    tpl_vars_init(&a.overrides);
    strv_init(&a.only);
    strv_init(&a.files);
    config_defaults(&cfg);
    rc = parse_args(&a, argc, argv);
    if (rc < 0)
        rc = load_all(&a, &cfg, &set);
    if (rc >= 0)
        goto out;
    rc = 2;
    /* Probes pick their regions; without --region or a config, run them all. */
    const char *filter = a.region ? a.region : a.config_file ? cfg.region : NULL;
    once.torun = calloc(set->n ? set->n : 1, sizeof(*once.torun));
    if (!once.torun || !select_probes(&a, set, filter, once.torun, &once.n_run))
        goto out;
    once.results = calloc(once.n_run, sizeof(*once.results));
    once.slots = calloc(once.n_run, sizeof(*once.slots));
    unsigned concurrency = cfg.concurrency > 0 ? (unsigned)cfg.concurrency : 256;
    once.limiter = limiter_new(concurrency, cfg.per_host > 0 ? (unsigned)cfg.per_host : 0);
    if (!once.results || !once.slots || !once.limiter)
        goto out;
    /* As `run` does: up to `concurrency` runs hold a socket each at once. */
    unsigned long at_once = once.n_run < concurrency ? (unsigned long)once.n_run : concurrency;
    unsigned long long limit;
    if (tl_nofile_raise(at_once, &limit))
        fprintf(stderr,
                "tripline once: warning: the descriptor limit is %llu, below the %lu runs at once + %d: runs "
                "past it fail as agent/fd_limit; raise ulimit -n or lower limits.concurrency\n",
                limit, at_once, TL_NOFILE_RESERVE);
    struct journey_env env = {
        .region = a.region ? a.region : cfg.region,
        .agent_name = cfg.name,
        .body_max = cfg.body_max,
        .overrides = &a.overrides,
    };
    rc = run_all(&once, &cfg, &env, &a);
out:
    for (size_t i = 0; once.results && i < once.n_run; i++)
        run_result_free(once.results[i]);
    free(once.results);
    free(once.slots);
    free(once.torun);
    limiter_free(once.limiter);
    probe_set_free(set);
    config_free(&cfg);
    tpl_vars_free(&a.overrides);
    strv_free(&a.only);
    strv_free(&a.files);
    return rc;
}
