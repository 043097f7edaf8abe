/* A cheap nesting-depth pre-scan of YAML bytes, run before libyaml: the
 * libyaml scanner does work quadratic in the nesting depth (100,000 levels of
 * "[" take tens of seconds), so a file nested deeper than a limit is refused
 * before libyaml sees it. */
#ifndef TRIPLINE_YAML_DEPTH_H
#define TRIPLINE_YAML_DEPTH_H

#include <stddef.h>

/* Returns 0 when no point of data nests deeper than limit levels (block
 * indentation, "- " and "? " indicators and flow brackets all count), or
 * TL_ETOOBIG with the 1-based line and column where the limit is crossed.
 * The count is an upper bound on libyaml's nesting for ordinary files: quoted
 * scalars, comments and block scalar contents are skipped. */
int yaml_depth_scan(const char *data, size_t len, int limit, int *line, int *col);

#endif
