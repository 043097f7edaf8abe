/* tripline check [--config FILE] [--var NAME=VALUE]... [FILES...]: validates
 * probe files (and the agent config, its files, the overrides) without
 * running anything. One "ok" line per good file on
 * stdout, every error on stderr; exit 0, 1 on errors, 2 on usage or
 * unreadable files. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/cli/cli.h"
#include "agent/cli/cli_vars.h"
#include "agent/config/config.h"
#include "probes/load/load.h"

static int check_usage(FILE *f)
{
    fprintf(f,
            "usage: tripline check [--config FILE] [--var NAME=VALUE]... [FILES...]\n"
            "\n"
            "Validates probe files: every key, type, duration, URL and template.\n"
            "With --config, validates the agent config too (and opens its CA, token\n"
            "and key files), and checks the probe files it names when no FILES are\n"
            "given. Each --var must name a var of some probe, with a valid value.\n"
            "Exit status: 0 all good, 1 errors found, 2 usage error or unreadable file.\n");
    return f == stderr ? 2 : 0;
}

static void print_errors(struct strv *errors, size_t from)
{
    for (size_t i = from; i < errors->n; i++)
        fprintf(stderr, "%s\n", errors->v[i]);
}

/* Checked up front so a missing file is exit 2, not a validation error. */
static bool readable(const char *file)
{
    struct stat st;
    if (stat(file, &st) != 0 || S_ISDIR(st.st_mode))
        return false;
    FILE *f = fopen(file, "rb");
    if (!f)
        return false;
    fclose(f);
    return true;
}

static int check_files(struct probe_set *set, char **files, size_t n, struct strv *errors, bool *unreadable)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t before_errors = errors->n, before_probes = set->n;
        if (!readable(files[i]))
            *unreadable = true;
        int rc = probe_load_file(set, files[i], errors);
        print_errors(errors, before_errors);
        if (rc) {
            bad++;
            continue;
        }
        size_t steps = 0;
        for (size_t j = before_probes; j < set->n; j++)
            steps += set->probes[j]->n_steps;
        size_t probes = set->n - before_probes;
        printf("%s: ok (%zu probe%s, %zu step%s)\n", files[i], probes, probes == 1 ? "" : "s", steps,
               steps == 1 ? "" : "s");
    }
    return bad;
}

static int check_globs(struct probe_set *set, const struct config *cfg, struct strv *errors, bool *unreadable)
{
    int bad = 0;
    for (size_t i = 0; i < cfg->n_probe_globs; i++) {
        glob_t g;
        memset(&g, 0, sizeof(g));
        int rc = glob(cfg->probe_globs[i], 0, NULL, &g);
        if (rc == GLOB_NOMATCH)
            fprintf(stderr, "%s: no probe files match \"%s\"\n", cfg->file, cfg->probe_globs[i]);
        else if (rc == 0)
            bad += check_files(set, g.gl_pathv, g.gl_pathc, errors, unreadable);
        globfree(&g);
    }
    return bad;
}

int cli_check(int argc, char **argv)
{
    const char *config_file = NULL;
    int bad = 0;
    struct tpl_vars overrides;
    tpl_vars_init(&overrides);
    int first = 1;
    for (; first < argc; first++) {
        const char *a = argv[first];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bad = -2;
            break;
        }
        if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
            if (first + 1 >= argc) {
                fprintf(stderr, "tripline check: %s needs a file\n", a);
                bad = -1;
                break;
            }
            config_file = argv[++first];
        } else if (strncmp(a, "--config=", 9) == 0) {
            config_file = a + 9;
        } else if (strcmp(a, "--var") == 0 && first + 1 < argc) {
            if (cli_vars_parse("check", argv[++first], &overrides))
                bad = -1;
        } else if (strcmp(a, "--") == 0) {
            first++;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "tripline check: unknown option \"%s\"\n", a);
            bad = -1;
            break;
        } else {
            break;
        }
    }
    size_t n_files = (size_t)(argc - first);
    if ((n_files == 0 && !config_file) || bad < 0) {
        tpl_vars_free(&overrides);
        return check_usage(bad == -2 ? stdout : stderr);
    }

    struct strv errors;
    strv_init(&errors);
    struct config cfg;
    config_defaults(&cfg);
    bool unreadable = false;
    if (config_file) {
        if (!readable(config_file))
            unreadable = true;
        if (config_load(&cfg, config_file, &errors) || cli_config_files(&cfg, &errors)) {
            bad++;
            print_errors(&errors, 0);
        } else {
            printf("%s: ok (config)\n", config_file);
        }
    }
    struct probe_set *set = probe_set_new();
    if (!set) {
        fprintf(stderr, "tripline check: out of memory\n");
        bad++;
    } else if (n_files) {
        bad += check_files(set, argv + first, n_files, &errors, &unreadable);
    } else if (bad == 0) {
        bad += check_globs(set, &cfg, &errors, &unreadable);
    }
    size_t before = errors.n;
    /* a var of a file that did not load would read as unknown */
    if (set && bad == 0 && cli_vars_check(set, &overrides, &errors)) {
        print_errors(&errors, before);
        bad++;
    }
    tpl_vars_free(&overrides);
    probe_set_free(set);
    config_free(&cfg);
    strv_free(&errors);
    if (unreadable)
        return 2;
    return bad ? 1 : 0;
}
