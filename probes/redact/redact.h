/* Redaction: secrets never reach events, logs, status or metrics.
 *
 * Two nets. Names: headers, JSON keys and query parameters that carry
 * credentials (Authorization, Cookie, *token*, *password*, ...) have their
 * values replaced wherever they are written. Values: every value that came
 * from env. or a file during a run (and everything rendered from one) is
 * registered with the redactor, and any text written out has each occurrence
 * replaced, whatever field it ended up in. */
#ifndef TRIPLINE_REDACT_H
#define TRIPLINE_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/buf.h"

#define REDACTED "[redacted]"

struct redactor {
    struct strv secrets;
};

void redactor_init(struct redactor *r);
/* Registers a secret value (copied). Values shorter than 3 bytes are
 * ignored: replacing every "a" would destroy the text and protect nothing. */
int redactor_add(struct redactor *r, const char *secret);
void redactor_free(struct redactor *r);

/* True for header names, JSON keys and query parameters that carry
 * credentials (case-insensitive). */
bool redact_name_sensitive(const char *name);

/* A new string: s with every registered secret replaced by REDACTED. */
char *redact_text(const struct redactor *r, const char *s);
/* A URL without userinfo, with sensitive query values and secrets replaced. */
char *redact_url(const struct redactor *r, const char *url);
/* Text that is not parsed JSON (a body too big to parse, plain text, an
 * action's output): values after "sensitive_key": and sensitive `name=`
 * pairs and header lines are replaced by name, then secrets by value. */
char *redact_body_text(const struct redactor *r, const char *s);
/* In place: values under sensitive keys become REDACTED and every string
 * has the registered secrets replaced. */
void redact_json(const struct redactor *r, cJSON *v);

#endif
