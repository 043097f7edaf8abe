/* Internals shared by checks.c and checks_json.c (the `expect.json` items).
 * Not a public API: the journey calls checks_run(). */
#ifndef TRIPLINE_CHECKS_JSON_H
#define TRIPLINE_CHECKS_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "probes/probe.h"
#include "probes/run/template.h"

/* The longest piece of a value quoted in a message. */
#define QUOTE_MAX 80
#define QBUF (QUOTE_MAX * 2 + 16)
#define SECRET_SHOWN "<secret>"

/* Runs one json check against the parsed body (NULL: not JSON); failures
 * go to failures, and *config_error is set when the check's own regex could
 * not run (too costly: search_max). Returns 0, or -1 on allocation failure. */
int checks_json(const struct json_check *j, const cJSON *json, const struct tpl_vars *vars,
                struct strv *failures, bool *config_error);

/* The message of a regex (src) with a back-reference not searched in a text
 * of n bytes, past its search_max (probe.h). */
void checks_too_costly(char *out, size_t len, const char *src, size_t n, size_t max);
/* A JSON value as compact text, cut after QUOTE_MAX bytes with "...". */
void checks_json_text(const cJSON *v, char *out, size_t outlen);

/* checks.c: pushes msg to failures once redacted (messages quote server
 * text: a secret it echoes goes no further). 0 or -1. */
int checks_fail_push(struct strv *failures, const char *msg);

#endif
