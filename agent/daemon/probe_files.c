#include "agent/daemon/probe_files.h"

#include <glob.h>
#include <string.h>

int probe_files_expand(const struct config *cfg, struct strv *files, struct strv *errors)
{
    for (size_t i = 0; i < cfg->n_probe_globs; i++) {
        glob_t g;
        int rc = glob(cfg->probe_globs[i], GLOB_ERR, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            globfree(&g);
            continue;
        }
        if (rc != 0) {
            strv_pushf(errors, "%s: cannot expand probe glob \"%s\"", cfg->file ? cfg->file : "config",
                       cfg->probe_globs[i]);
            globfree(&g);
            return -1;
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
    return 0;
}
