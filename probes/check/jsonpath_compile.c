/* Compiling JSON paths at load time: $, $.a.b, $.a[0].b, $["key with
 * spaces"], $.items[-1]. Evaluation lives in probes/check/jsonpath.c. */
#include "probes/check/jsonpath.h"

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

int jpath_compile(struct jpath *p, const char *src, char *err, size_t errlen, int *err_offset)
{
    memset(p, 0, sizeof(*p));
    *err_offset = 0;
    const char *s = src ? src : "";
    const char *q = s;
    if (*q != '$') {
        snprintf(err, errlen, "a JSON path starts with \"$\" (like $.session.id)");
        goto fail;
    }
    q++;
    while (*q) {
        if (p->n >= JPATH_SEGS_MAX) {
            snprintf(err, errlen, "more than %d segments", JPATH_SEGS_MAX);
            goto fail;
        }
        if (*q == '.') {
            const char *start = ++q;
            while (is_key_char((unsigned char)*q))
                q++;
            if (q == start) {
                snprintf(err, errlen, "expected a key name after \".\"");
                goto fail;
            }
            char *key = strndup(start, (size_t)(q - start));
            if (!key || seg_add(p, key, 0)) {
                free(key);
                goto nomem;
            }
        } else if (*q == '[') {
            q++;
            if (*q == '"' || *q == '\'') {
                char *key = NULL;
                const char *after = quoted_key(q, &key);
                if (!after) {
                    snprintf(err, errlen, "unterminated quoted key");
                    goto fail;
                }
                q = after;
                if (*q != ']') {
                    free(key);
                    snprintf(err, errlen, "expected \"]\" after the quoted key");
                    goto fail;
                }
                q++;
                if (seg_add(p, key, 0)) {
                    free(key);
                    goto nomem;
                }
            } else {
                const char *start = q;
                if (*q == '-')
                    q++;
                if (!isdigit((unsigned char)*q)) {
                    q = start;
                    snprintf(err, errlen, "expected an index like [0] or [-1], or a quoted key like [\"a b\"]");
                    goto fail;
                }
                while (isdigit((unsigned char)*q))
                    q++;
                if (*q != ']') {
                    snprintf(err, errlen, "expected \"]\" after the index");
                    goto fail;
                }
                errno = 0;
                char *end = NULL;
                long idx = strtol(start, &end, 10);
                if (errno || end != q) {
                    q = start;
                    snprintf(err, errlen, "index out of range");
                    goto fail;
                }
                q++;
                if (seg_add(p, NULL, idx))
                    goto nomem;
            }
        } else {
            snprintf(err, errlen, "unexpected \"%c\" (expected \".key\", \"[index]\" or \"[\\\"key\\\"]\")", *q);
            goto fail;
        }
    }
    p->src = strdup(s);
    if (!p->src)
        goto nomem;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    *err_offset = (int)(q - s);
    jpath_free(p);
    return -1;
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
