/* --var NAME=VALUE and --var-file NAME=PATH, shared by once and run. A value
 * read from a file is secret (and never on the command line, where ps shows
 * it); a --var of a probe var defined from env. or file: is made secret when
 * the run applies it. */
#include "agent/cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "base/secret.h"
#include "probes/redact/redact.h"

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
