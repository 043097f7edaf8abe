/* Redaction: secrets never reach events, logs, status or metrics.
 *
 * Two nets. Names: headers, JSON keys and query parameters that carry
 * credentials (Authorization, Cookie, *token*, *password*, ...) have their
 * values replaced wherever they are written. Values: every secret value
 * (env. and file: values, sink tokens, HMAC and peer keys, cookies servers
 * set, secret captures, secret --var overrides) is registered on its own with
 * the forms it takes once encoded (JSON-escaped, base64, base64url,
 * percent-encoded in either case, header-folded, its halves), and any text
 * written out has each occurrence replaced, whatever field it ended up in. */
#ifndef TRIPLINE_REDACT_H
#define TRIPLINE_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/buf.h"

#define REDACTED "[redacted]"

struct redact_pat {
    char *s;
    size_t n;
    bool value; /* a registered value, not one of its forms */
};

/* Patterns sorted by first byte then longest first: start[b] .. start[b+1]
 * are the candidates at a byte b, so a scan costs one lookup per byte. */
struct redactor {
    struct redact_pat *pats;
    size_t n, cap;
    uint32_t start[257];
};

void redactor_init(struct redactor *r);
/* Registers a secret value (copied) and its encoded forms. Values shorter
 * than 3 bytes are ignored: replacing every "a" would destroy the text and
 * protect nothing. 0 or TL_ENOMEM. */
int redactor_add(struct redactor *r, const char *secret);
/* The value of the cookie a Set-Cookie header sets, when it has at least
 * REDACT_COOKIE_MIN bytes (a session token); a shorter one stays hidden in
 * the Cookie and Set-Cookie headers, by their names, and nowhere else. */
#define REDACT_COOKIE_MIN 8
int redactor_add_set_cookie(struct redactor *r, const char *header_value);
void redactor_free(struct redactor *r);

/* The process-wide set: secrets that outlive a run (sink tokens, keys,
 * values rendered from env. and file:). Every redact_* call applies it on
 * top of the redactor it is given, which may be NULL. */
int redact_global_add(const char *secret);
int redact_global_add_bytes(const void *data, size_t len);

/* The forms a secret takes on the way out, the value itself first. */
int redact_forms(const char *secret, struct strv *out);

/* True for header names, JSON keys and query parameters that carry
 * credentials (case-insensitive). */
bool redact_name_sensitive(const char *name);

/* A new string: s with every registered secret replaced by REDACTED. */
char *redact_text(const struct redactor *r, const char *s);
/* A URL without userinfo, with sensitive query values and secrets replaced:
 * scheme, host and the rest of the path stay. */
char *redact_url(const struct redactor *r, const char *url);
/* Text that is not parsed JSON (a body too big to parse, plain text, an
 * action's output): values after "sensitive_key": and sensitive `name=`
 * pairs and header lines are replaced by name, then secrets by value. */
char *redact_body_text(const struct redactor *r, const char *s);
/* In place: values under sensitive keys become REDACTED, every string and
 * key has the registered secrets replaced, and a secret split between a key
 * and its value loses both. */
void redact_json(const struct redactor *r, cJSON *v);

#endif
