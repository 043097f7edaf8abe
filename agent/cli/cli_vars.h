/* What `check`, `once` and `run` can validate before any request: the
 * --var overrides against the probes, and the files the agent config names. */
#ifndef TRIPLINE_CLI_VARS_H
#define TRIPLINE_CLI_VARS_H

#include "base/buf.h"
#include "probes/probe.h"
#include "probes/run/template.h"

struct config;

/* Parses "NAME=VALUE" into vs. Returns 0, or TL_EINVAL (no '=' or no name)
 * after printing why, prefixed with "tripline CMD: ". */
int cli_vars_parse(const char *cmd, const char *arg, struct tpl_vars *vs);
/* Every override must name a var of some probe in set (else an error with
 * "did you mean"), and a value that starts a step's URL must be an http://
 * or https:// URL, as the loader requires of the file's own. Pushes one
 * line per problem; returns the number pushed. Values never appear. */
size_t cli_vars_check(const struct probe_set *set, const struct tpl_vars *vs, struct strv *errors);
/* For `run`: loads files (or the config's globs when none) and checks vs
 * against them, printing every problem. 0, or TL_EINVAL when an override is
 * wrong. Files that do not load are the daemon's to report: then no var is
 * called unknown. */
int cli_vars_check_files(const struct config *cfg, const struct strv *files, const struct tpl_vars *vs);
/* Opens the files cfg names (tls.ca_file, the service sink's token and
 * HMAC key, the peers' key) as the agent will. Returns the number of
 * errors pushed (each names the key and the file, never a secret). */
size_t cli_config_files(const struct config *cfg, struct strv *errors);
/* The same for the token and key files only, which the daemon will not
 * start without (a missing CA bundle fails probes, not the start). */
size_t cli_config_secret_files(const struct config *cfg, struct strv *errors);

#endif
