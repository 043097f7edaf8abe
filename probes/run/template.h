/* Templates: "{{ base }}/v1/carts/{{ session }}", "Bearer {{ env.TOKEN }}",
 * "{{ file:/run/secrets/token }}". Parsed once at load time into segments;
 * rendered on the probe path against a run's variables.
 *
 * A value that comes from env. or file: is a secret, and so is any value
 * rendered from a secret: rendering reports it so the caller can redact it
 * wherever it would be written. */
#ifndef TRIPLINE_TEMPLATE_H
#define TRIPLINE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

enum tpl_seg_kind {
    TPL_LIT,   /* literal text */
    TPL_VAR,   /* {{ name }}: a probe var or a capture */
    TPL_ENV,   /* {{ env.NAME }} */
    TPL_FILE,  /* {{ file:/path }} (first line, trailing newline removed) */
};

struct tpl_seg {
    enum tpl_seg_kind kind;
    char *text;   /* the literal, the var name, the env name or the path */
    int offset;   /* byte offset of the segment in the source, for messages */
};

struct tpl {
    size_t n;
    struct tpl_seg *segs;
    char *src;    /* as written */
    /* where a probe file wrote it (the loader sets them; line 0: unknown):
     * a secret it cannot read is reported there (tpl_where) */
    const char *file; /* owned by the probe_set's file table */
    int line, column;
};

/* Parses src. On a syntax error returns -1 and writes the reason to err with
 * the byte offset where it starts in *err_offset. */
int tpl_parse(struct tpl *t, const char *src, char *err, size_t errlen, int *err_offset);
void tpl_free(struct tpl *t);
/* "FILE:LINE:COLUMN: " where t was written, or "" when unknown. */
void tpl_where(const struct tpl *t, char *out, size_t len);
/* True when t has no placeholders; then t->src is its value. */
bool tpl_is_const(const struct tpl *t);
/* True when src contains "{{" (cheap test before parsing). */
bool tpl_has_placeholders(const char *src);

/* Variables of one run: probe vars then captures, looked up by name. */
struct tpl_var {
    char *name;
    char *value;
    bool secret;
};
struct tpl_vars {
    size_t n, cap;
    struct tpl_var *v;
};

void tpl_vars_init(struct tpl_vars *vs);
/* Sets (or replaces) name = value. Copies both. */
int tpl_vars_set(struct tpl_vars *vs, const char *name, const char *value, bool secret);
const struct tpl_var *tpl_vars_get(const struct tpl_vars *vs, const char *name);
void tpl_vars_free(struct tpl_vars *vs);

enum tpl_escape {
    TPL_ESC_NONE,
    TPL_ESC_URL,  /* substituted values are percent-encoded (RFC 3986 unreserved kept),
                     except a placeholder that starts the template: the base URL */
};

/* Renders t into out. *secret (if not NULL) is set to true when any
 * substituted value is secret. Returns 0, or with the reason in err:
 * TL_EKEY (an unset environment variable, an unreadable file),
 * TL_ENOTFOUND (an unknown variable), TL_ETOOBIG (a value over the buffer's
 * cap), TL_ENOMEM. Secret values never appear in err. */
int tpl_render(const struct tpl *t, const struct tpl_vars *vs, enum tpl_escape esc,
               struct buf *out, bool *secret, char *err, size_t errlen);

/* Convenience: renders to a new string (cap 64 KiB). NULL on error. */
char *tpl_render_str(const struct tpl *t, const struct tpl_vars *vs, enum tpl_escape esc,
                     bool *secret, char *err, size_t errlen);

#endif
