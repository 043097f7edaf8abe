/* The probe files an agent config names: its globs expanded, sorted,
 * de-duplicated. */
#ifndef TRIPLINE_PROBE_FILES_H
#define TRIPLINE_PROBE_FILES_H

#include "agent/config/config.h"
#include "base/buf.h"

/* Appends the files matching cfg's probe globs to files. A glob that matches
 * nothing is not an error (an empty probes.d is a valid start); a glob that
 * cannot be read is (pushed to errors, returns -1, the other globs' files
 * still appended): the caller must not take its files for removed. */
int probe_files_expand(const struct config *cfg, struct strv *files, struct strv *errors);
/* Pushes to errors why glob(3) refused cfg's glob with rc, errno e:
 * "CONFIG: cannot expand probe glob "GLOB": reason" (run and check say the same). */
int probe_glob_error(struct strv *errors, const struct config *cfg, const char *glob, int rc, int e);

#endif
