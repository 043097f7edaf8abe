/* Compiling JSON paths at load time: $, $.a.b, $.a[0].b, $["key with
 * spaces"], $.items[-1], $.items[*], $.a.*, $..name, $..[0] and filters
 * [?(@.a OP literal)] / [?(@.a)]. Evaluation lives in probes/check/jsonpath.c. */
#include "probes/check/jsonpath.h"

#include "base/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JPATH_SEGS_MAX 64

static int seg_add(struct jpath *p, const struct jpath_seg *seg)
{
    struct jpath_seg *segs = realloc(p->segs, (p->n + 1) * sizeof(*segs));
    if (!segs)
        return -1;
    p->segs = segs;
    segs[p->n++] = *seg;
    return 0;
}

/* Inside a filter a key also ends at an operator or ")": @.price>10. */
static bool is_key_char(unsigned char c, bool in_filter)
{
    if (in_filter && strchr("=!<>()&|", c))
        return false;
    return c && c != '.' && c != '[' && c != ']' && c != '"' && c != '\'' && !isspace(c);
}

const char *jpath_quoted(const char *q, char **out)
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
    bool in_filter;    /* reading the @ path of a filter: keys and indices only */
    bool descend;      /* the segment being read follows `..` */
};

static int cur_fail(struct jp_cur *c, const char *at, const char *msg)
{
    c->at = at;
    snprintf(c->err, c->errlen, "%s", msg);
    return -1;
}

static int add(struct jp_cur *c, struct jpath_seg seg)
{
    seg.descend = c->descend;
    c->descend = false;
    return seg_add(c->p, &seg) ? TL_ENOMEM : 0;
}

/* Each segment reader returns 0, -1 after writing err, or TL_ENOMEM. */
static int seg_dot(struct jp_cur *c)
{
    const char *start = ++c->q;
    if (*c->q == '*' && !c->in_filter) {
        c->q++;
        return add(c, (struct jpath_seg){.sel = JSEL_ALL});
    }
    while (is_key_char((unsigned char)*c->q, c->in_filter))
        c->q++;
    if (c->q == start)
        return cur_fail(c, NULL, c->descend ? "expected a key name, \"*\" or \"[\" after \"..\""
                                            : "expected a key name or \"*\" after \".\"");
    char *key = strndup(start, (size_t)(c->q - start));
    int rc = key ? add(c, (struct jpath_seg){.key = key}) : TL_ENOMEM;
    if (rc)
        free(key);
    return rc;
}

static int seg_quoted(struct jp_cur *c)
{
    char *key = NULL;
    const char *after = jpath_quoted(c->q, &key);
    if (!after)
        return cur_fail(c, NULL, "unterminated quoted key");
    c->q = after;
    if (*c->q != ']') {
        free(key);
        return cur_fail(c, NULL, "expected \"]\" after the quoted key");
    }
    c->q++;
    int rc = add(c, (struct jpath_seg){.key = key});
    if (rc)
        free(key);
    return rc;
}

static int seg_index(struct jp_cur *c)
{
    const char *start = c->q;
    if (*c->q == '-')
        c->q++;
    if (!isdigit((unsigned char)*c->q))
        return cur_fail(c, start, c->in_filter ? "expected an index like [0] or a quoted key like [\"a b\"]"
                                               : "expected an index like [0] or [-1], [*], a filter "
                                                 "like [?(@.a == 1)], or a quoted key like [\"a b\"]");
    while (isdigit((unsigned char)*c->q))
        c->q++;
    if (*c->q != ']')
        return cur_fail(c, NULL, *c->q == ':' || *c->q == ',' ? "slices and lists of indices are not supported"
                                                              : "expected \"]\" after the index");
    errno = 0;
    char *end = NULL;
    long idx = strtol(start, &end, 10);
    if (errno || end != c->q)
        return cur_fail(c, start, "index out of range");
    c->q++;
    return add(c, (struct jpath_seg){.index = idx});
}

static int seg_filter(struct jp_cur *c)
{
    struct jpath_filter *f = NULL;
    int rc = jpath_filter_compile(&c->q, &f, c->err, c->errlen);
    if (rc == 0 && *c->q != ']')
        rc = cur_fail(c, NULL, "expected \"]\" after the filter");
    if (rc == 0) {
        c->q++;
        rc = add(c, (struct jpath_seg){.sel = JSEL_FILTER, .filter = f});
    }
    if (rc)
        jpath_filter_free(f);
    return rc;
}

static int seg_bracket(struct jp_cur *c)
{
    c->q++;
    if (*c->q == '"' || *c->q == '\'')
        return seg_quoted(c);
    if (!c->in_filter && c->q[0] == '*') {
        if (c->q[1] != ']')
            return cur_fail(c, c->q + 1, "expected \"]\" after \"*\"");
        c->q += 2;
        return add(c, (struct jpath_seg){.sel = JSEL_ALL});
    }
    if (!c->in_filter && *c->q == '?')
        return seg_filter(c);
    return seg_index(c);
}

static int seg_next(struct jp_cur *c)
{
    if (c->p->n >= JPATH_SEGS_MAX) {
        snprintf(c->err, c->errlen, "more than %d segments", JPATH_SEGS_MAX);
        return -1;
    }
    if (c->q[0] == '.' && c->q[1] == '.' && !c->in_filter) {
        c->descend = true;
        c->q++;
        /* `..[0]`, `..["a"]`, `..*`: the selector follows the two dots */
        if (c->q[1] == '[') {
            c->q++;
            return seg_bracket(c);
        }
    }
    if (*c->q == '.')
        return seg_dot(c);
    if (*c->q == '[')
        return seg_bracket(c);
    snprintf(c->err, c->errlen, "unexpected \"%c\" (expected \".key\", \"[index]\" or \"[\\\"key\\\"]\")", *c->q);
    return -1;
}

int jpath_segs_compile(struct jpath *p, const char **q, bool in_filter, char *err, size_t errlen)
{
    struct jp_cur c = {.p = p, .q = *q, .err = err, .errlen = errlen, .in_filter = in_filter};
    int rc = 0;
    while (*c.q && rc == 0) {
        if (in_filter && *c.q != '.' && *c.q != '[')
            break;
        rc = seg_next(&c);
    }
    if (rc == TL_ENOMEM)
        snprintf(err, errlen, "out of memory");
    *q = c.at ? c.at : c.q;
    return rc;
}

int jpath_compile(struct jpath *p, const char *src, char *err, size_t errlen, int *err_offset)
{
    const char *s = src ? src : "";
    const char *q = s;
    int rc = 0;

    memset(p, 0, sizeof(*p));
    *err_offset = 0;
    if (*q != '$') {
        snprintf(err, errlen, "a JSON path starts with \"$\" (like $.session.id)");
        rc = -1;
        goto out;
    }
    q++;
    rc = jpath_segs_compile(p, &q, false, err, errlen);
    if (rc == 0) {
        p->src = strdup(s);
        rc = p->src ? 0 : TL_ENOMEM;
        if (rc)
            snprintf(err, errlen, "out of memory");
    }
out:
    if (rc) {
        *err_offset = (int)(q - s);
        jpath_free(p);
        return -1;
    }
    return 0;
}

bool jpath_is_multi(const struct jpath *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (p->segs[i].sel != JSEL_CHILD || p->segs[i].descend)
            return true;
    return false;
}

void jpath_free(struct jpath *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->segs[i].key);
        jpath_filter_free(p->segs[i].filter);
    }
    free(p->segs);
    free(p->src);
    memset(p, 0, sizeof(*p));
}
