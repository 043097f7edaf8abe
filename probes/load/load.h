/* Loading probe files: YAML (libyaml document API, so every node has its
 * position) into the probe table of probes/probe.h. Every error is reported
 * in one pass as "file:line:column: message" (1-based), then semantic checks,
 * then the load fails if any error was counted. */
#ifndef TRIPLINE_LOAD_H
#define TRIPLINE_LOAD_H

#include <stddef.h>

#include "base/buf.h"
#include "probes/probe.h"

#define PROBE_FILE_MAX (4u << 20) /* files over 4 MiB are refused unread */

/* Loads every file into *out (a new set). Returns 0 when all loaded; -1 when
 * any file had errors (every error pushed to errors, *out NULL); -2 when a
 * file could not be read at all (also pushed to errors). Duplicate probe ids
 * across files are errors. */
int probe_load_files(struct probe_set **out, char *const *files, size_t n_files,
                     struct strv *errors);

/* Loads one file into set (appending). Returns the number of errors pushed. */
int probe_load_file(struct probe_set *set, const char *file, struct strv *errors);

#endif
