/* The CLI commands. Each returns the process exit code:
 * 0 success, 1 a check/probe failed, 2 usage or file errors. */
#ifndef TRIPLINE_CLI_H
#define TRIPLINE_CLI_H

#include <stdbool.h>

#include "probes/run/template.h"

int cli_check(int argc, char **argv);
int cli_once(int argc, char **argv);
int cli_run(int argc, char **argv);

/* One --var NAME=VALUE (from_file false) or --var-file NAME=PATH (true,
 * the value is secret) into overrides: 0, or 2 after a message on stderr. */
int cli_var_arg(struct tpl_vars *overrides, const char *cmd, char *arg, bool from_file);

#endif
