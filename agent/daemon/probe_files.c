#include "agent/daemon/probe_files.h"

#include <errno.h>
#include <glob.h>
#include <string.h>

int probe_glob_error(struct strv *errors, const struct config *cfg, const char *glob, int rc, int e)
{
    return strv_pushf(errors, "%s: cannot expand probe glob \"%s\": %s", cfg->file ? cfg->file : "config", glob,
                      rc == GLOB_NOSPACE ? "out of memory"
                      : e                ? strerror(e)
                                         : "a folder could not be read");
}

int probe_files_expand(const struct config *cfg, struct strv *files, struct strv *errors)
{
    int failed = 0;
    for (size_t i = 0; i < cfg->n_probe_globs; i++) {
        glob_t g;
        errno = 0;
        int rc = glob(cfg->probe_globs[i], GLOB_ERR, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            globfree(&g);
            continue;
        }
        if (rc != 0) {
            /* The other globs still count: one unreadable folder says
             * nothing about the files the others match. */
            probe_glob_error(errors, cfg, cfg->probe_globs[i], rc, errno);
            globfree(&g);
            failed = -1;
            continue;
        }
        for (size_t k = 0; k < g.gl_pathc; k++) {
            if (strv_add(files, g.gl_pathv[k])) {
                globfree(&g);
                return -1;
            }
        }
        globfree(&g);
    }
    return failed;
}
