/* Compiling JSON paths at load time: $, $.a.b, $.a[0].b, $["key with
 * spaces"], $.items[-1]. Evaluation lives in probes/check/jsonpath.c. */
#include "probes/check/jsonpath.h"

#include "base/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JPATH_SEGS_MAX 64

static int seg_add(struct jpath *p, char *key, long index)
{
    struct jpath_seg *segs = realloc(p->segs, (p->n + 1) * sizeof(*segs));
    if (!segs)
        return -1;
    p->segs = segs;
    segs[p->n].key = key;
    segs[p->n].index = index;
    p->n++;
    return 0;
}

static bool is_key_char(unsigned char c)
{
    return c && c != '.' && c != '[' && c != ']' && c != '"' && c != '\'' && !isspace(c);
}

/* Reads a quoted key starting at the quote; returns the byte after the
 * closing quote, or NULL. */
static const char *quoted_key(const char *q, char **out)
{
    char quote = *q++;
    size_t len = strlen(q);
    char *key = malloc(len + 1);
    if (!key)
        return NULL;
    size_t n = 0;
    while (*q && *q != quote) {
        if (*q == '\\' && (q[1] == quote || q[1] == '\\'))
            q++;
        key[n++] = *q++;
    }
    if (*q != quote) {
        free(key);
        return NULL;
    }
    key[n] = '\0';
    *out = key;
    return q + 1;
}

/* The compiler's cursor: where it is, and where an error points. */
struct jp_cur {
    struct jpath *p;
    const char *q;     /* the next byte to read */
    const char *at;    /* where the error is reported (NULL: at q) */
    char *err;
    size_t errlen;
};

/* Each segment reader returns 0, -1 after writing err, or TL_ENOMEM. */
static int seg_dot(struct jp_cur *c)
{
    const char *start = ++c->q;
    while (is_key_char((unsigned char)*c->q))
        c->q++;
    if (c->q == start) {
        snprintf(c->err, c->errlen, "expected a key name after \".\"");
        return -1;
    }
    char *key = strndup(start, (size_t)(c->q - start));
    if (!key || seg_add(c->p, key, 0)) {
        free(key);
        return TL_ENOMEM;
    }
    return 0;
}

static int seg_quoted(struct jp_cur *c)
{
    char *key = NULL;
    const char *after = quoted_key(c->q, &key);
    if (!after) {
        snprintf(c->err, c->errlen, "unterminated quoted key");
        return -1;
    }
    c->q = after;
    if (*c->q != ']') {
        free(key);
        snprintf(c->err, c->errlen, "expected \"]\" after the quoted key");
        return -1;
    }
    c->q++;
    if (seg_add(c->p, key, 0)) {
        free(key);
        return TL_ENOMEM;
    }
    return 0;
}

static int seg_index(struct jp_cur *c)
{
    const char *start = c->q;
    if (*c->q == '-')
        c->q++;
    if (!isdigit((unsigned char)*c->q)) {
        c->at = start;
        snprintf(c->err, c->errlen, "expected an index like [0] or [-1], or a quoted key like [\"a b\"]");
        return -1;
    }
    while (isdigit((unsigned char)*c->q))
        c->q++;
    if (*c->q != ']') {
        snprintf(c->err, c->errlen, "expected \"]\" after the index");
        return -1;
    }
    errno = 0;
    char *end = NULL;
    long idx = strtol(start, &end, 10);
    if (errno || end != c->q) {
        c->at = start;
        snprintf(c->err, c->errlen, "index out of range");
        return -1;
    }
    c->q++;
    return seg_add(c->p, NULL, idx) ? TL_ENOMEM : 0;
}

static int seg_next(struct jp_cur *c)
{
    if (c->p->n >= JPATH_SEGS_MAX) {
        snprintf(c->err, c->errlen, "more than %d segments", JPATH_SEGS_MAX);
        return -1;
    }
    if (*c->q == '.')
        return seg_dot(c);
    if (*c->q == '[') {
        c->q++;
        return *c->q == '"' || *c->q == '\'' ? seg_quoted(c) : seg_index(c);
    }
    snprintf(c->err, c->errlen, "unexpected \"%c\" (expected \".key\", \"[index]\" or \"[\\\"key\\\"]\")", *c->q);
    return -1;
}

int jpath_compile(struct jpath *p, const char *src, char *err, size_t errlen, int *err_offset)
{
    const char *s = src ? src : "";
    struct jp_cur c = {.p = p, .q = s, .err = err, .errlen = errlen};
    int rc = 0;

    memset(p, 0, sizeof(*p));
    *err_offset = 0;
    if (*c.q != '$') {
        snprintf(err, errlen, "a JSON path starts with \"$\" (like $.session.id)");
        rc = -1;
        goto out;
    }
    c.q++;
    while (*c.q && rc == 0)
        rc = seg_next(&c);
    if (rc == 0) {
        p->src = strdup(s);
        rc = p->src ? 0 : TL_ENOMEM;
    }
out:
    if (rc == TL_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc) {
        *err_offset = (int)((c.at ? c.at : c.q) - s);
        jpath_free(p);
        return -1;
    }
    return 0;
}

void jpath_free(struct jpath *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->segs[i].key);
    free(p->segs);
    free(p->src);
    memset(p, 0, sizeof(*p));
}
