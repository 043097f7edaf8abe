/* tripline check [--json] [--config FILE] [--var NAME=VALUE]... [FILES...]:
 * validates probe files (and the agent config, the files it names, the
 * overrides) without running anything. One "ok" line per good
 * file on stdout, every error on stderr (with --json: one JSON object per
 * error and a summary, on stdout); exit 0, 1 on errors, 2 on usage or
 * unreadable files. */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/cli/cli.h"
#include "agent/cli/cli_vars.h"
#include "agent/config/config.h"
#include "agent/daemon/probe_files.h"
#include "base/utf8.h"
#include "probes/kinds/icmp.h"
#include "probes/load/load.h"

static int check_usage(FILE *f)
{
    fprintf(f,
            "usage: tripline check [--json] [--config FILE] [--var NAME=VALUE]... [FILES...]\n"
            "\n"
            "Validates probe files: every key, type, duration, URL and template.\n"
            "With --config, validates the agent config too (and opens its CA, token\n"
            "and key files), and checks the probe files it names when no FILES are\n"
            "given. Each --var must name a var of some probe, with a valid value.\n"
            "With --json, prints one JSON object per error ({file, line, column,\n"
            "message}) and a summary object, one per line, on stdout.\n"
            "Exit status: 0 all good, 1 errors found, 2 usage error or unreadable file.\n");
    return f == stderr ? 2 : 0;
}

/* How the errors are shown, and the counts for the JSON summary. */
struct check_out {
    bool json;
    size_t files, ok, errors;
};

static void print_json(cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    if (text)
        printf("%s\n", text);
    else
        fprintf(stderr, "tripline check: out of memory\n");
    free(text);
    cJSON_Delete(o);
}

/* Errors read "FILE:LINE:COLUMN: message" or "FILE: message"; the file is
 * known, so its name is taken off the front rather than split on colons. */
static void print_error_json(const char *file, const char *e)
{
    cJSON *o = cJSON_CreateObject();
    size_t flen = file ? strlen(file) : 0;
    const char *msg = e;
    long line = 0, col = 0;
    if (file && strncmp(e, file, flen) == 0 && e[flen] == ':') {
        char *end;
        msg = e + flen + 1;
        line = strtol(msg, &end, 10);
        if (end != msg && *end == ':') {
            col = strtol(end + 1, &end, 10);
            msg = end;
        } else {
            line = 0;
        }
        msg += strspn(msg, ": ");
    }
    /* a file name need not be UTF-8; JSON must */
    char *clean_file = file ? tl_utf8_clean(file) : NULL, *clean_msg = tl_utf8_clean(msg);
    if (o) {
        if (file)
            cJSON_AddStringToObject(o, "file", clean_file ? clean_file : "");
        else
            cJSON_AddNullToObject(o, "file"); /* --var problems belong to no file */
        if (line > 0) {
            cJSON_AddNumberToObject(o, "line", (double)line);
            cJSON_AddNumberToObject(o, "column", (double)col);
        } else {
            cJSON_AddNullToObject(o, "line");
            cJSON_AddNullToObject(o, "column");
        }
        cJSON_AddStringToObject(o, "message", clean_msg ? clean_msg : "");
    }
    free(clean_file);
    free(clean_msg);
    print_json(o);
}

static void print_errors(struct check_out *out, const char *file, struct strv *errors, size_t from)
{
    for (size_t i = from; i < errors->n; i++) {
        out->errors++;
        if (out->json)
            print_error_json(file, errors->v[i]);
        else
            fprintf(stderr, "%s\n", errors->v[i]);
    }
}

static void print_summary(const struct check_out *out, int code)
{
    cJSON *o = cJSON_CreateObject(), *sum = cJSON_AddObjectToObject(o, "summary");
    if (sum) {
        cJSON_AddNumberToObject(sum, "files", (double)out->files);
        cJSON_AddNumberToObject(sum, "ok", (double)out->ok);
        cJSON_AddNumberToObject(sum, "failed", (double)(out->files - out->ok));
        cJSON_AddNumberToObject(sum, "errors", (double)out->errors);
        cJSON_AddNumberToObject(sum, "exit", code);
    }
    print_json(o);
}

/* Checked up front so a missing file is exit 2, not a validation error. */
static bool readable(const char *file)
{
    struct stat st;
    /* access(), not open(): opening a named pipe waits for its writer */
    return stat(file, &st) == 0 && !S_ISDIR(st.st_mode) && access(file, R_OK) == 0;
}

static int check_files(struct check_out *out, struct probe_set *set, char **files, size_t n, struct strv *errors,
                       bool *unreadable)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t before_errors = errors->n, before_probes = set->n;
        if (!readable(files[i]))
            *unreadable = true;
        int rc = probe_load_file(set, files[i], errors);
        out->files++;
        print_errors(out, files[i], errors, before_errors);
        if (rc) {
            bad++;
            continue;
        }
        size_t steps = 0;
        for (size_t j = before_probes; j < set->n; j++)
            steps += set->probes[j]->n_steps;
        size_t probes = set->n - before_probes;
        out->ok++;
        if (!out->json)
                printf("%s: ok (%zu probe%s, %zu step%s)\n", files[i], probes, probes == 1 ? "" : "s", steps,
                   steps == 1 ? "" : "s");
    }
    return bad;
}

static int check_globs(struct check_out *out, struct probe_set *set, const struct config *cfg, struct strv *errors, bool *unreadable)
{
    int bad = 0;
    for (size_t i = 0; i < cfg->n_probe_globs; i++) {
        glob_t g;
        memset(&g, 0, sizeof(g));
        errno = 0;
        /* GLOB_ERR, as `run` expands them: a folder it cannot read is an
         * error there (a reload keeps the files it had), so it is one here */
        int rc = glob(cfg->probe_globs[i], GLOB_ERR, NULL, &g);
        int e = errno;
        if (rc == GLOB_NOMATCH || (rc == GLOB_ABORTED && e == ENOENT)) { /* no such folder: nothing matches */
            fprintf(stderr, "%s: no probe files match \"%s\"\n", cfg->file, cfg->probe_globs[i]);
        } else if (rc == 0) {
            bad += check_files(out, set, g.gl_pathv, g.gl_pathc, errors, unreadable);
        } else {
            size_t before = errors->n;
            probe_glob_error(errors, cfg, cfg->probe_globs[i], rc, e);
            print_errors(out, cfg->file, errors, before);
            *unreadable = true;
        }
        globfree(&g);
    }
    return bad;
}

struct check_args {
    int first;                   /* argv[first...] are the files */
    const char *config_file;
    struct tpl_vars overrides;   /* --var: validated against the probes */
};

/* Returns -1 to go on with the files, else the exit code. */
static int parse_args(int argc, char **argv, struct check_args *ca, bool *json)
{
    for (ca->first = 1; ca->first < argc; ca->first++) {
        const char *a = argv[ca->first];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return check_usage(stdout);
        if (strcmp(a, "--json") == 0) {
            *json = true;
        } else if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
            if (ca->first + 1 >= argc) {
                fprintf(stderr, "tripline check: %s needs a file\n", a);
                return check_usage(stderr);
            }
            ca->config_file = argv[++ca->first];
        } else if (strncmp(a, "--config=", 9) == 0) {
            ca->config_file = a + 9;
        } else if (strcmp(a, "--var") == 0 && ca->first + 1 < argc) {
            if (cli_vars_parse("check", argv[++ca->first], &ca->overrides))
                return 2;
        } else if (strcmp(a, "--") == 0) {
            ca->first++;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "tripline check: unknown option \"%s\"\n", a);
            return check_usage(stderr);
        } else {
            break;
        }
    }
    if (ca->first >= argc && !ca->config_file)
        return check_usage(stderr);
    return -1;
}

/* The agent config and the files it names (CA bundle, tokens, keys). */
static int check_config(struct check_out *out, const char *file, struct config *cfg,
                        struct strv *errors, bool *unreadable)
{
    if (!readable(file))
        *unreadable = true;
    out->files++;
    if (config_load(cfg, file, errors) || cli_config_files(cfg, errors)) {
        print_errors(out, file, errors, 0);
        return 1;
    }
    out->ok++;
    if (!out->json)
        printf("%s: ok (config)\n", file);
    return 0;
}

/* Output that never reached stdout (a full disk, a closed pipe) is an
 * error: a CI step would read "no errors" from a report never written. */
static int stdout_done(int code)
{
    int err = fflush(stdout) != 0 ? errno : 0;
    if (!err && !ferror(stdout))
        return code;
    fprintf(stderr, "tripline check: cannot write the results to stdout: %s\n", err ? strerror(err) : "write error");
    return 2;
}

static int check_main(int argc, char **argv)
{
    struct check_args ca = {0};
    struct check_out out = {0};
    tpl_vars_init(&ca.overrides);
    int code = parse_args(argc, argv, &ca, &out.json);
    if (code >= 0) {
        tpl_vars_free(&ca.overrides);
        return code;
    }
    size_t n_files = (size_t)(argc - ca.first);
    struct strv errors;
    strv_init(&errors);
    struct config cfg;
    config_defaults(&cfg);
    bool unreadable = false;
    int bad = ca.config_file ? check_config(&out, ca.config_file, &cfg, &errors, &unreadable) : 0;
    struct probe_set *set = probe_set_new();
    if (!set) {
        fprintf(stderr, "tripline check: out of memory\n");
        bad++;
    } else if (n_files) {
        bad += check_files(&out, set, argv + ca.first, n_files, &errors, &unreadable);
    } else if (bad == 0) {
        bad += check_globs(&out, set, &cfg, &errors, &unreadable);
    }
    size_t before = errors.n;
    /* a var of a file that did not load would read as unknown */
    if (set && bad == 0 && cli_vars_check(set, &ca.overrides, &errors)) {
        print_errors(&out, NULL, &errors, before);
        bad++;
    }
    char warn[256];
    if (set && bad == 0 && !out.json && icmp_set_warning(set, warn, sizeof(warn)))
        fprintf(stderr, "warning: %s\n", warn); /* the host's limit, not the file's: still exit 0 */
    tpl_vars_free(&ca.overrides);
    probe_set_free(set);
    config_free(&cfg);
    strv_free(&errors);
    code = unreadable ? 2 : bad ? 1 : 0;
    if (out.json)
        print_summary(&out, code);
    return code;
}

int cli_check(int argc, char **argv)
{
    return stdout_done(check_main(argc, argv));
}
