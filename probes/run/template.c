#include "probes/run/template.h"
#include "base/err.h"
#include "base/secret.h"
#include "probes/redact/redact.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int seg_push(struct tpl *t, enum tpl_seg_kind kind, const char *s, size_t n, int offset)
{
    struct tpl_seg *segs = realloc(t->segs, (t->n + 1) * sizeof(*segs));
    if (!segs)
        return -1;
    t->segs = segs;
    char *text = strndup(s, n);
    if (!text)
        return -1;
    segs[t->n].kind = kind;
    segs[t->n].text = text;
    segs[t->n].offset = offset;
    t->n++;
    return 0;
}

static bool is_name_char(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

bool tpl_has_placeholders(const char *src)
{
    return src && strstr(src, "{{") != NULL;
}

int tpl_parse(struct tpl *t, const char *src, char *err, size_t errlen, int *err_offset)
{
    memset(t, 0, sizeof(*t));
    *err_offset = 0;
    t->src = strdup(src ? src : "");
    if (!t->src)
        goto nomem;
    const char *p = t->src;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            if (seg_push(t, TPL_LIT, p, strlen(p), (int)(p - t->src)))
                goto nomem;
            break;
        }
        if (open > p && seg_push(t, TPL_LIT, p, (size_t)(open - p), (int)(p - t->src)))
            goto nomem;
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            snprintf(err, errlen, "unterminated placeholder \"{{\" (expected \"}}\")");
            *err_offset = (int)(open - t->src);
            goto fail;
        }
        const char *a = open + 2, *b = close;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        int off = (int)(open - t->src);
        if (a == b) {
            snprintf(err, errlen, "empty placeholder \"{{ }}\" (expected a variable name)");
            *err_offset = off;
            goto fail;
        }
        enum tpl_seg_kind kind = TPL_VAR;
        if ((size_t)(b - a) > 5 && strncmp(a, "file:", 5) == 0) {
            kind = TPL_FILE;
            a += 5;
        } else if ((size_t)(b - a) > 4 && strncmp(a, "env.", 4) == 0) {
            kind = TPL_ENV;
            a += 4;
        }
        if (kind != TPL_FILE) {
            for (const char *q = a; q < b; q++) {
                if (!is_name_char((unsigned char)*q)) {
                    snprintf(err, errlen,
                             "bad placeholder \"%.*s\" (expected a variable name, env.NAME or file:/path)",
                             (int)(close + 2 - open), open);
                    *err_offset = off;
                    goto fail;
                }
            }
        } else if (*a != '/') {
            snprintf(err, errlen, "file placeholder needs an absolute path, got \"%.*s\"", (int)(b - a), a);
            *err_offset = off;
            goto fail;
        }
        if (seg_push(t, kind, a, (size_t)(b - a), off))
            goto nomem;
        p = close + 2;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    tpl_free(t);
    return -1;
}

void tpl_where(const struct tpl *t, char *out, size_t len)
{
    if (t->file && t->line > 0)
        snprintf(out, len, "%s:%d:%d: ", t->file, t->line, t->column);
    else if (len)
        out[0] = '\0';
}

void tpl_free(struct tpl *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->segs[i].text);
    free(t->segs);
    free(t->src);
    memset(t, 0, sizeof(*t));
}

bool tpl_is_const(const struct tpl *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->segs[i].kind != TPL_LIT)
            return false;
    return true;
}

void tpl_vars_init(struct tpl_vars *vs)
{
    memset(vs, 0, sizeof(*vs));
}

const struct tpl_var *tpl_vars_get(const struct tpl_vars *vs, const char *name)
{
    for (size_t i = vs->n; i-- > 0;)
        if (strcmp(vs->v[i].name, name) == 0)
            return &vs->v[i];
    return NULL;
}

int tpl_vars_set(struct tpl_vars *vs, const char *name, const char *value, bool secret)
{
    char *v = strdup(value);
    if (!v)
        return -1;
    for (size_t i = 0; i < vs->n; i++) {
        if (strcmp(vs->v[i].name, name) == 0) {
            free(vs->v[i].value);
            vs->v[i].value = v;
            vs->v[i].secret = secret;
            return 0;
        }
    }
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 8;
        struct tpl_var *nv = realloc(vs->v, cap * sizeof(*nv));
        if (!nv) {
            free(v);
            return -1;
        }
        vs->v = nv;
        vs->cap = cap;
    }
    char *n = strdup(name);
    if (!n) {
        free(v);
        return -1;
    }
    vs->v[vs->n].name = n;
    vs->v[vs->n].value = v;
    vs->v[vs->n].secret = secret;
    vs->n++;
    return 0;
}

void tpl_vars_free(struct tpl_vars *vs)
{
    if (!vs)
        return;
    for (size_t i = 0; i < vs->n; i++) {
        free(vs->v[i].name);
        free(vs->v[i].value);
    }
    free(vs->v);
    memset(vs, 0, sizeof(*vs));
}

static int append_escaped(struct buf *out, const char *s, enum tpl_escape esc)
{
    if (esc == TPL_ESC_NONE)
        return buf_puts(out, s);
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = buf_append(out, p, 1);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = buf_append(out, enc, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* In a URL, a placeholder that starts it is the base ("{{ base }}/v1/...")
 * and goes in as written; every later one is a value and is encoded. */
static enum tpl_escape seg_escape(const struct tpl_seg *s, enum tpl_escape esc)
{
    if (esc == TPL_ESC_URL && s->offset == 0)
        return TPL_ESC_NONE;
    return esc;
}

int tpl_render(const struct tpl *t, const struct tpl_vars *vs, enum tpl_escape esc,
               struct buf *out, bool *secret, char *err, size_t errlen)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct tpl_seg *s = &t->segs[i];
        int rc = 0;
        switch (s->kind) {
        case TPL_LIT:
            rc = buf_puts(out, s->text);
            break;
        case TPL_VAR: {
            const struct tpl_var *v = vs ? tpl_vars_get(vs, s->text) : NULL;
            if (!v) {
                snprintf(err, errlen, "variable \"%s\" is not defined", s->text);
                return TL_ENOTFOUND;
            }
            if (v->secret && secret)
                *secret = true;
            rc = append_escaped(out, v->value, seg_escape(s, esc));
            break;
        }
        case TPL_ENV: {
            const char *v = getenv(s->text);
            if (!v) {
                snprintf(err, errlen, "environment variable %s is not set", s->text);
                return TL_EKEY;
            }
            if (secret)
                *secret = true;
            /* each value on its own: "Bearer <tok>" is not the only form it takes */
            rc = redact_global_add(v);
            if (!rc)
                rc = append_escaped(out, v, seg_escape(s, esc));
            break;
        }
        case TPL_FILE: {
            struct secret val = {0};
            if (secret_read(s->text, SECRET_VALUE, &val, err, errlen))
                return TL_EKEY;
            if (secret)
                *secret = true;
            rc = val.data ? redact_global_add_bytes(val.data, val.len) : 0;
            if (!rc)
                rc = append_escaped(out, val.data ? (const char *)val.data : "", seg_escape(s, esc));
            secret_free(&val);
            break;
        }
        }
        if (rc) {
            if (rc == TL_ENOMEM) {
                snprintf(err, errlen, "out of memory");
                return TL_ENOMEM;
            }
            snprintf(err, errlen, "rendered value is larger than %zu bytes", out->max);
            return TL_ETOOBIG;
        }
    }
    if (!out->data && buf_append(out, "", 0)) {
        snprintf(err, errlen, "out of memory");
        return TL_ENOMEM;
    }
    return 0;
}

char *tpl_render_str(const struct tpl *t, const struct tpl_vars *vs, enum tpl_escape esc,
                     bool *secret, char *err, size_t errlen)
{
    struct buf b;
    buf_init(&b, 65536);
    if (tpl_render(t, vs, esc, &b, secret, err, errlen)) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}
