#include "agent/daemon/probe_files.h"

#include <errno.h>
#include <glob.h>
#include <string.h>

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
            int e = errno;
            strv_pushf(errors, "%s: cannot expand probe glob \"%s\": %s", cfg->file ? cfg->file : "config",
                       cfg->probe_globs[i],
                       rc == GLOB_NOSPACE ? "out of memory"
                       : e                ? strerror(e)
                                          : "a folder could not be read");
            globfree(&g);
            failed = -1;
            continue;
        }
        for (size_t k = 0; k < g.gl_pathc; k++) {
            bool seen = false;
            for (size_t m = 0; m < files->n && !seen; m++)
                seen = strcmp(files->v[m], g.gl_pathv[k]) == 0;
            if (!seen && strv_push(files, g.gl_pathv[k])) {
                globfree(&g);
                return -1;
            }
        }
        globfree(&g);
    }
    return failed;
}
