/* JSON paths, the subset users write in checks and captures:
 * $, $.a.b, $.a[0].b, $["key with spaces"], $.items[-1] (from the end). */
#ifndef TRIPLINE_JSONPATH_H
#define TRIPLINE_JSONPATH_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "probes/probe.h"

/* Compiles src into p. On error returns -1 with the reason in err and the
 * byte offset in *err_offset. */
int jpath_compile(struct jpath *p, const char *src, char *err, size_t errlen, int *err_offset);
void jpath_free(struct jpath *p);
/* The node at p inside root, or NULL. */
const cJSON *jpath_eval(const struct jpath *p, const cJSON *root);
/* A JSON type name for messages and MATCH_TYPE: string, number, boolean,
 * null, object, array. */
const char *json_type_name(const cJSON *v);

#endif
