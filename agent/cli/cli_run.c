/* `tripline run`: the daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "agent/daemon/agent.h"
#include "agent/cli/cli.h"
#include "agent/cli/cli_vars.h"
#include "agent/log/log.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: tripline run [--config FILE] [--region NAME] [--name NAME] [--listen ADDR:PORT]\n"
               "                    [--spool-dir DIR] [--log-level LEVEL] [--var NAME=VALUE]...\n"
               "                    [--var-file NAME=PATH]... [FILES...]\n"
               "Runs the probes on their schedules until SIGTERM or SIGINT (then drains), reloading the\n"
               "probe files on SIGHUP. FILES replace the config's probe globs.\n");
    return f == stderr ? 2 : 0;
}

static int replace(char **field, const char *value)
{
    char *v = strdup(value);
    if (!v)
        return -1;
    free(*field);
    *field = v;
    return 0;
}

/* Type=notify: systemctl start returns once probes are loaded and the
 * endpoint listens, and fails when `run` exits before this. */
static void notify_ready(struct agent *a)
{
    (void)sd_notifyf(0, "READY=1\nSTATUS=serving on port %u", (unsigned)agent_port(a));
}

/* The daemon on its own loop until it has drained; the exit code. */
static int run_agent(struct config *cfg, const struct strv *files, const struct tpl_vars *overrides)
{
    uv_loop_t loop;
    int uerr = uv_loop_init(&loop);
    if (uerr) {
        fprintf(stderr, "tripline run: cannot create the event loop: %s\n", uv_strerror(uerr));
        return 1;
    }
    struct agent *a = NULL;
    if (agent_new(&loop, cfg, files, &a)) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return 2; /* could not start: no probe loads, the address cannot be bound (man page) */
    }
    agent_set_overrides(a, overrides);
    notify_ready(a);
    int rc = agent_run(a);
    agent_free(a);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "tripline run: event loop did not close cleanly\n");
    return rc;
}

int cli_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},    {"region", required_argument, NULL, 'r'},
        {"name", required_argument, NULL, 'n'},      {"listen", required_argument, NULL, 'l'},
        {"spool-dir", required_argument, NULL, 's'}, {"log-level", required_argument, NULL, 'L'},
        {"var", required_argument, NULL, 'v'},       {"help", no_argument, NULL, 'h'},
        {"var-file", required_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_file = NULL, *region = NULL, *name = NULL, *listen = NULL, *spool = NULL, *level = NULL;
    struct strv files, errors;
    struct tpl_vars overrides;
    strv_init(&files);
    strv_init(&errors);
    tpl_vars_init(&overrides);
    struct config cfg;
    config_defaults(&cfg);
    int rc = 2, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:r:n:l:s:L:v:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_file = optarg; break;
        case 'r': region = optarg; break;
        case 'n': name = optarg; break;
        case 'l': listen = optarg; break;
        case 's': spool = optarg; break;
        case 'L': level = optarg; break;
        case 'v':
        case 'V':
            if (cli_var_arg(&overrides, "run", optarg, c == 'V'))
                goto out;
            break;
        case 'h': rc = usage(stdout); goto out;
        default: rc = usage(stderr); goto out;
        }
    }
    /* a token or key file that cannot be read stops the daemon anyway: said
     * here, at the config's key that named it */
    if (config_file && (config_load(&cfg, config_file, &errors) || cli_config_secret_files(&cfg, &errors))) {
        for (size_t i = 0; i < errors.n; i++)
            fprintf(stderr, "%s\n", errors.v[i]);
        goto out;
    }
    if ((region && replace(&cfg.region, region)) || (name && replace(&cfg.name, name)) ||
        (listen && replace(&cfg.listen, listen)) || (spool && replace(&cfg.spool_dir, spool)))
        goto out;
    if (level && log_level_parse(level, &cfg.log_level)) {
        fprintf(stderr, "tripline run: unknown log level \"%s\" (expected debug, info, warn or error)\n", level);
        goto out;
    }
    for (int i = optind; i < argc; i++)
        strv_push(&files, argv[i]);
    if (files.n == 0 && cfg.n_probe_globs == 0) {
        fprintf(stderr, "tripline run: no probe files (give FILES or a config with `probes:`)\n");
        goto out;
    }

    /* a typo in --var must not start the daemon against the file's default */
    if (cli_vars_check_files(&cfg, &files, &overrides))
        goto out;
    rc = run_agent(&cfg, &files, &overrides);
out:
    config_free(&cfg);
    strv_free(&files);
    strv_free(&errors);
    tpl_vars_free(&overrides);
    return rc;
}
