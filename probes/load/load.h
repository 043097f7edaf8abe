/* Loading probe files: YAML (libyaml document API, so every node has its
 * position) into the probe table of probes/probe.h. Every error is reported
 * in one pass as "file:line:column: message" (1-based), then semantic checks,
 * then the load fails if any error was counted. */
#ifndef TRIPLINE_LOAD_H
#define TRIPLINE_LOAD_H

#include <stddef.h>

#include "base/buf.h"
#include "probes/probe.h"

/* Files over 2 MiB are refused unread. A file loads on the agent's loop (a
 * reload stalls it), linearly in its size: at 2 MiB the worst file measured
 * (docs/probe-file.md, "Size cap") took 0.6 s of CPU and 220 MB, a
 * realistic one 0.16 s; at 4 MiB 1.3 s, past the 1 s that makes runs late. */
#define PROBE_FILE_MAX (2u << 20)

/* Loads every file into *out (a new set). Returns 0 when all loaded; -1 when
 * any file had errors (every error pushed to errors, *out NULL); -2 when a
 * file could not be read at all (also pushed to errors). Duplicate probe ids
 * across files are errors. */
int probe_load_files(struct probe_set **out, char *const *files, size_t n_files,
                     struct strv *errors);

/* Loads one file into set (appending). Returns the number of errors pushed. */
int probe_load_file(struct probe_set *set, const char *file, struct strv *errors);

#endif
