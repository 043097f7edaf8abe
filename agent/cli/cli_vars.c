/* --var NAME=VALUE and --var-file NAME=PATH, shared by check, once and run,
 * and the validation before any request (cli_vars.h): a typo in --var or in
 * a file path fails the command, not every run against the wrong target. A
 * value read from a file is secret (and never on the command line, where ps
 * shows it); a --var of a probe var defined from env. or file: is made
 * secret when the run applies it. */
#include "agent/cli/cli_vars.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/config/config.h"
#include "agent/daemon/probe_files.h"
#include "probes/load/load.h"
#include "probes/redact/redact.h"
#include "base/err.h"
#include "base/secret.h"
#include "probes/yaml/yaml_util.h"

int cli_var_arg(struct tpl_vars *overrides, const char *cmd, char *arg, bool from_file)
{
    char err[256];
    struct secret val = {0};
    char *eq = strchr(arg, '=');
    int rc = 2;
    if (!eq || eq == arg || (from_file && !eq[1])) {
        fprintf(stderr, "tripline %s: %s expects NAME=%s, got \"%s\"\n", cmd, from_file ? "--var-file" : "--var",
                from_file ? "PATH" : "VALUE", from_file ? "(hidden)" : arg);
        goto out;
    }
    *eq = '\0';
    if (from_file && secret_read(eq + 1, SECRET_VALUE, &val, err, sizeof(err))) {
        fprintf(stderr, "tripline %s: --var-file %s: %s\n", cmd, arg, err);
        goto restore;
    }
    const char *value = from_file ? (val.data ? (const char *)val.data : "") : eq + 1;
    if ((from_file && redact_global_add(value)) || tpl_vars_set(overrides, arg, value, from_file)) {
        fprintf(stderr, "tripline %s: out of memory\n", cmd);
        goto restore;
    }
    rc = 0;
restore:
    *eq = '=';
out:
    secret_free(&val);
    return rc;
}

int cli_vars_parse(const char *cmd, const char *arg, struct tpl_vars *vs)
{
    char *copy = strdup(arg);
    int rc = copy ? cli_var_arg(vs, cmd, copy, false) : TL_ENOMEM;
    if (!copy)
        fprintf(stderr, "tripline %s: out of memory\n", cmd);
    free(copy);
    return rc == 0 ? 0 : rc == TL_ENOMEM ? TL_ENOMEM : TL_EINVAL;
}

/* The probe var named name, or NULL. */
static const struct var_def *find_var(const struct probe *p, const char *name)
{
    for (size_t i = 0; i < p->n_vars; i++)
        if (strcmp(p->vars[i].name, name) == 0)
            return &p->vars[i];
    return NULL;
}

/* Every var name of the set, for the suggestion; NULL-terminated. */
static const char **all_var_names(const struct probe_set *set)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < set->n; i++)
        n += set->probes[i]->n_vars;
    const char **names = calloc(n + 1, sizeof(*names));
    for (size_t i = 0; names && i < set->n; i++)
        for (size_t v = 0; v < set->probes[i]->n_vars; v++)
            names[k++] = set->probes[i]->vars[v].name;
    return names;
}

/* A value that starts a step's URL ("{{ base }}/v1/...") is its base. */
static bool starts_a_url(const struct probe *p, const char *name)
{
    for (size_t s = 0; s < p->n_steps; s++) {
        const struct tpl *u = &p->steps[s].request.url;
        if (u->n && u->segs[0].kind == TPL_VAR && u->segs[0].offset == 0 && strcmp(u->segs[0].text, name) == 0)
            return true;
    }
    return false;
}

static size_t check_one(const struct probe_set *set, const struct tpl_var *ov, const char **names,
                        struct strv *errors)
{
    bool known = false;
    for (size_t i = 0; i < set->n; i++) {
        const struct probe *p = set->probes[i];
        if (!find_var(p, ov->name))
            continue;
        known = true;
        /* the value is not echoed: it may be a secret */
        if (starts_a_url(p, ov->name) && !yu_is_http_url(ov->value)) {
            strv_pushf(errors, "--var %s: probe %s uses it as a URL base; the value is not an http:// or https:// URL",
                       ov->name, p->id);
            return 1;
        }
    }
    if (known)
        return 0;
    size_t n = 0;
    while (names && names[n])
        n++;
    const char *near = names ? yu_suggest(ov->name, names, n) : NULL;
    if (near)
        strv_pushf(errors, "--var %s: no probe has a var of that name (did you mean \"%s\"?)", ov->name, near);
    else
        strv_pushf(errors, "--var %s: no probe has a var of that name", ov->name);
    return 1;
}

size_t cli_vars_check(const struct probe_set *set, const struct tpl_vars *vs, struct strv *errors)
{
    if (!vs || vs->n == 0)
        return 0;
    const char **names = all_var_names(set);
    size_t bad = 0;
    for (size_t i = 0; i < vs->n; i++)
        bad += check_one(set, &vs->v[i], names, errors);
    free(names);
    return bad;
}

int cli_vars_check_files(const struct config *cfg, const struct strv *files, const struct tpl_vars *vs)
{
    struct strv paths, errors;
    strv_init(&paths);
    strv_init(&errors);
    struct probe_set *set = vs && vs->n ? probe_set_new() : NULL;
    bool all_loaded = set != NULL;
    int rc = 0;
    for (size_t i = 0; set && i < files->n; i++)
        all_loaded = strv_push(&paths, files->v[i]) == 0 && all_loaded;
    if (set && files->n == 0 && probe_files_expand(cfg, &paths, &errors))
        all_loaded = false;
    for (size_t i = 0; all_loaded && i < paths.n; i++)
        all_loaded = probe_load_file(set, paths.v[i], &errors) == 0;
    strv_free(&errors);
    strv_init(&errors);
    if (all_loaded && cli_vars_check(set, vs, &errors))
        rc = TL_EINVAL;
    for (size_t i = 0; i < errors.n; i++)
        fprintf(stderr, "tripline run: %s\n", errors.v[i]);
    probe_set_free(set);
    strv_free(&paths);
    strv_free(&errors);
    return rc;
}

/* The CA bundle is not secret: a readable, non-empty regular file. */
static size_t check_ca(const struct config *cfg, struct strv *errors)
{
    const char *path = cfg->ca_file;
    char at[PATH_MAX + 64];
    config_where(cfg, &cfg->ca_file_at, at, sizeof(at));
    struct stat st = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0 && fstat(fd, &st) != 0)
        err = errno;
    if (fd >= 0)
        close(fd);
    if (err)
        strv_pushf(errors, "%stls.ca_file: %s: %s", at, path, strerror(err));
    else if (!S_ISREG(st.st_mode) || st.st_size == 0)
        strv_pushf(errors, "%stls.ca_file: %s: not a non-empty file", at, path);
    return err || !S_ISREG(st.st_mode) || st.st_size == 0 ? 1 : 0;
}

/* An error names the config's file:line:column of the key that named path. */
static size_t check_secret(const struct config *cfg, const struct src_pos *pos, const char *key, const char *path,
                           enum secret_kind kind, struct strv *errors)
{
    if (!path)
        return 0;
    struct secret s = {0};
    char err[512], at[PATH_MAX + 64];
    int rc = secret_read(path, kind, &s, err, sizeof(err));
    secret_free(&s);
    config_where(cfg, pos, at, sizeof(at));
    if (rc)
        strv_pushf(errors, "%s%s: %s", at, key, err);
    return rc ? 1 : 0;
}

size_t cli_config_secret_files(const struct config *cfg, struct strv *errors)
{
    const struct sink_service *sv = &cfg->service;
    size_t bad = check_secret(cfg, &cfg->status_token_file_at, "endpoint.status_token_file", cfg->status_token_file,
                        SECRET_TOKEN, errors);
    if (cfg->has_service) {
        bad += check_secret(cfg, &sv->token_file_at, "sinks.service.token_file", sv->token_file, SECRET_TOKEN, errors);
        bad += check_secret(cfg, &sv->hmac_key_file_at, "sinks.service.hmac_key_file", sv->hmac_key_file, SECRET_KEY,
                            errors);
    }
    if (cfg->has_peers)
        bad += check_secret(cfg, &cfg->peers.key_file_at, "peers.key_file", cfg->peers.key_file, SECRET_KEY, errors);
    return bad;
}

size_t cli_config_files(const struct config *cfg, struct strv *errors)
{
    size_t bad = cfg->ca_file ? check_ca(cfg, errors) : 0;
    return bad + cli_config_secret_files(cfg, errors);
}
