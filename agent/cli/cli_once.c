/* `tripline once FILES...`: run every probe once, concurrently, print the
 * results (a table, or JSON lines with --json) and exit 0 when all passed,
 * 1 when any failed, 2 for usage or file errors. A CI gate. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/config/config.h"
#include "agent/daemon/probe_files.h"
#include "probes/run/journey.h"
#include "probes/load/load.h"

struct once {
    struct run_result **results;
    size_t pending;
    /* runs start at most `concurrency` at a time, in file order */
    const struct journey_env *env;
    struct probe **torun;
    struct once_slot *slots;
    size_t n_run, next, running, concurrency;
    bool start_failed;
};

struct once_slot {
    struct once *once;
    size_t index;
};

static void on_done(struct run_result *r, void *arg);

static void start_more(struct once *o)
{
    while (o->next < o->n_run && o->running < o->concurrency) {
        size_t i = o->next++;
        o->slots[i].once = o;
        o->slots[i].index = i;
        o->running++;
        if (journey_start(o->env, o->torun[i], on_done, &o->slots[i])) {
            o->running--;
            o->pending--;
            o->start_failed = true;
            fprintf(stderr, "tripline once: cannot start probe %s\n", o->torun[i]->id);
        }
    }
}

static void on_done(struct run_result *r, void *arg)
{
    struct once_slot *slot = arg;
    struct once *o = slot->once;
    o->results[slot->index] = r;
    o->pending--;
    o->running--;
    start_more(o);
}

static void fmt_ms(char *out, size_t n, tl_usec us, bool ran)
{
    if (!ran)
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%.1fms", (double)us / 1000.0);
}

static void print_table(FILE *f, struct run_result **rs, size_t n, bool color)
{
    const char *red = color ? "\033[31m" : "", *green = color ? "\033[32m" : "", *dim = color ? "\033[2m" : "",
               *off = color ? "\033[0m" : "";
    fprintf(f, "%-22s %-16s %-8s %-10s %-6s %9s %9s  %s\n", "PROBE", "STEP", "VERDICT", "BUCKET", "STATUS",
            "TTFB", "TOTAL", "FAILED CHECK");
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct run_result *r = rs[i];
        if (!r->ok)
            failed++;
        for (size_t k = 0; k < r->n_steps; k++) {
            const struct step_result *s = &r->steps[k];
            char ttfb[32], total[32], status[24];
            fmt_ms(ttfb, sizeof(ttfb), s->timings.ttfb, s->ran);
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
            fprintf(f, "%-22s %-16s %s%-8s%s %-10s %-6s %9s %9s  %s\n", r->probe_id, s->name, col, verdict, off,
                    s->ran && !s->ok ? bucket_str(s->bucket) : "-", status, ttfb, total,
                    colon ? colon + 2 : first);
            for (size_t m = 1; m < s->failures.n; m++) {
                const char *c2 = strstr(s->failures.v[m], ": ");
                fprintf(f, "%-22s %-16s %-8s %-10s %-6s %9s %9s  %s\n", "", "", "", "", "", "", "",
                        c2 ? c2 + 2 : s->failures.v[m]);
            }
        }
        for (size_t m = 0; m < r->failures.n; m++)
            fprintf(f, "%-22s %-16s %s%-8s%s %-10s %-6s %9s %9s  %s\n", r->probe_id, "(journey)", red, "FAIL", off,
                    bucket_str(r->bucket), "-", "-", "-", r->failures.v[m]);
    }
    fprintf(f, "\n%zu probe%s, %s%zu passed%s, %s%zu failed%s\n", n, n == 1 ? "" : "s", green, n - failed, off,
            failed ? red : "", failed, off);
}

static int usage(void)
{
    fprintf(stderr, "usage: tripline once [--json] [--region NAME] [--var NAME=VALUE]... [--config FILE] "
                    "[--probe ID]... FILES...\n"
                    "Runs every probe in FILES once (or those of the config's probe globs) and exits 0 when all\n"
                    "passed, 1 when any failed, 2 on usage or file errors.\n");
    return 2;
}

int cli_once(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},        {"region", required_argument, NULL, 'r'},
        {"var", required_argument, NULL, 'v'},   {"config", required_argument, NULL, 'c'},
        {"probe", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    const char *region = NULL, *config_file = NULL;
    struct tpl_vars overrides;
    struct strv only, errors, files;
    struct config cfg;
    tpl_vars_init(&overrides);
    strv_init(&only);
    strv_init(&errors);
    strv_init(&files);
    config_defaults(&cfg);
    int rc = 2, c;
    struct probe_set *set = NULL;
    struct transfer_engine *engine = NULL;
    uv_loop_t loop;
    bool loop_ok = false;
    struct once once = {0};
    struct once_slot *slots = NULL;
    struct probe **torun = NULL;
    size_t n_run = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "jr:v:c:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'r':
            region = optarg;
            break;
        case 'c':
            config_file = optarg;
            break;
        case 'p':
            strv_push(&only, optarg);
            break;
        case 'v': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                fprintf(stderr, "tripline once: --var expects NAME=VALUE, got \"%s\"\n", optarg);
                goto out;
            }
            *eq = '\0';
            tpl_vars_set(&overrides, optarg, eq + 1, false);
            *eq = '=';
            break;
        }
        case 'h':
            usage();
            rc = 0;
            goto out;
        default:
            rc = usage();
            goto out;
        }
    }
    if (config_file && config_load(&cfg, config_file, &errors)) {
        for (size_t i = 0; i < errors.n; i++)
            fprintf(stderr, "%s\n", errors.v[i]);
        goto out;
    }
    for (int i = optind; i < argc; i++)
        strv_push(&files, argv[i]);
    if (files.n == 0 && config_file && probe_files_expand(&cfg, &files, &errors)) {
        for (size_t i = 0; i < errors.n; i++)
            fprintf(stderr, "%s\n", errors.v[i]);
        goto out;
    }
    if (files.n == 0) {
        rc = usage();
        goto out;
    }
    int lrc = probe_load_files(&set, files.v, files.n, &errors);
    if (lrc) {
        for (size_t i = 0; i < errors.n; i++)
            fprintf(stderr, "%s\n", errors.v[i]);
        goto out;
    }
    /* Probes pick their regions; without --region or a config, run them all. */
    const char *filter = region ? region : config_file ? cfg.region : NULL;
    if (!region)
        region = cfg.region;

    torun = calloc(set->n ? set->n : 1, sizeof(*torun));
    if (!torun)
        goto out;
    for (size_t i = 0; i < set->n; i++) {
        struct probe *p = set->probes[i];
        bool wanted = only.n == 0;
        for (size_t k = 0; k < only.n; k++)
            wanted = wanted || strcmp(only.v[k], p->id) == 0;
        /* an explicit region skips probes not meant for it, as the daemon does */
        if (wanted && (!filter || probe_runs_in(p, filter)))
            torun[n_run++] = p;
    }
    for (size_t k = 0; k < only.n; k++) {
        if (!probe_set_find(set, only.v[k])) {
            fprintf(stderr, "tripline once: no probe \"%s\" in the files given\n", only.v[k]);
            goto out;
        }
    }

    if (n_run == 0) {
        /* a CI gate that ran nothing must not pass */
        fprintf(stderr, "tripline once: no probe to run%s%s\n", filter ? " in region " : "", filter ? filter : "");
        goto out;
    }
    if (uv_loop_init(&loop))
        goto out;
    loop_ok = true;
    struct transfer_engine_opts eo = {.ca_file = cfg.ca_file};
    if (transfer_engine_new(&engine, &loop, &eo)) {
        fprintf(stderr, "tripline once: cannot start the transfer engine\n");
        goto out;
    }
    struct journey_env env = {
        .engine = engine,
        .region = region,
        .agent_name = cfg.name,
        .body_max = cfg.body_max,
        .overrides = &overrides,
    };
    once.results = calloc(n_run ? n_run : 1, sizeof(*once.results));
    slots = calloc(n_run ? n_run : 1, sizeof(*slots));
    if (!once.results || !slots)
        goto out;
    once.env = &env;
    once.torun = torun;
    once.slots = slots;
    once.n_run = n_run;
    once.pending = n_run;
    once.concurrency = cfg.concurrency > 0 ? (size_t)cfg.concurrency : 256;
    start_more(&once);
    while (once.pending > 0 && uv_run(&loop, UV_RUN_ONCE))
        ;
    rc = 0;
    if (once.start_failed) {
        rc = 2;
        goto out;
    }
    for (size_t i = 0; i < n_run; i++) {
        if (!once.results[i]) {
            fprintf(stderr, "tripline once: probe %s did not finish\n", torun[i]->id);
            rc = 2;
            goto out;
        }
        if (!once.results[i]->ok)
            rc = 1;
    }
    if (json) {
        for (size_t i = 0; i < n_run; i++) {
            cJSON *o = run_result_json(once.results[i]);
            char *s = o ? cJSON_PrintUnformatted(o) : NULL;
            if (s)
                printf("%s\n", s);
            free(s);
            cJSON_Delete(o);
        }
    } else {
        print_table(stdout, once.results, n_run, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tripline once: cannot write the results\n");
        rc = 2;
    }

out:
    if (engine)
        transfer_engine_free(engine);
    if (loop_ok) {
        uv_run(&loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&loop) != 0)
            fprintf(stderr, "tripline once: event loop did not close cleanly\n");
    }
    for (size_t i = 0; once.results && i < n_run; i++)
        run_result_free(once.results[i]);
    free(once.results);
    free(slots);
    free(torun);
    probe_set_free(set);
    config_free(&cfg);
    tpl_vars_free(&overrides);
    strv_free(&only);
    strv_free(&errors);
    strv_free(&files);
    return rc;
}
