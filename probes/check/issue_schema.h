/* The `issues` error schema tripline checks and writes its events in (README.md):
 * the body of every non-2xx response (and of a 2xx where the probe asks) is a
 * JSON object with an `issues` array of issue objects. */
#ifndef TRIPLINE_ISSUE_SCHEMA_H
#define TRIPLINE_ISSUE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/buf.h"

/* Checks body (NULL when the body is not JSON) against every rule and pushes
 * one message per violation to out, naming the field and the rule, e.g.
 *   issues[0].severity: "fatal" is not one of error, warning, info
 * sent_correlation_id is the X-Correlation-ID we sent: when the response
 * carries correlationIds they must equal it (when require_echo, at least one
 * must be present). require_nonempty: an empty issues array is a violation
 * (true on error responses). Returns the number of violations (0 = valid). */
int issue_schema_check(const cJSON *body, const char *sent_correlation_id, bool require_echo,
                       bool require_nonempty, struct strv *out);
/* The messages one check pushes at most; past it one more says how many
 * were left out ("and N more issue schema violations"), the count is whole. */
#define ISSUE_SCHEMA_MESSAGES_MAX 20

/* True when `code` is a valid issue code: at least three dot-separated
 * segments of [a-z0-9_]+ (lower case). */
bool issue_code_valid(const char *code);

/* Pattern match by segments: "*" matches any one segment
 * ("payment.*.declined", "*.rate_limit.*"); a trailing "*" matches one or
 * more ("payment.unauthorized.*" matches payment.unauthorized.token_expired
 * and deeper codes); a pattern without "*" must equal the code. */
bool issue_code_matches(const char *pattern, const char *code);

/* Writes the class (second segment) of code into out; "" when none. */
void issue_code_class(const char *code, char *out, size_t outlen);

#endif
