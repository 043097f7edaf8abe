/* Evaluation of compiled JSON paths (compilation lives in jsonpath_compile.c,
 * filters in jsonpath_filter.c). A path is applied one segment at a time to
 * a list of nodes, in document order as RFC 9535 orders them. Every node
 * looked at counts as work, so a path like $..*..* on a hostile body stops
 * at JPATH_WORK_MAX instead of going quadratic. */
#include "probes/check/jsonpath.h"

#include "base/buf.h"
#include "base/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cJSON *jpath_child(const cJSON *node, const struct jpath_seg *seg, size_t *work)
{
    const cJSON *c;
    if (seg->key) {
        cJSON_ArrayForEach(c, (cJSON_IsObject(node) ? node : NULL))
        {
            ++*work;
            if (c->string && strcmp(c->string, seg->key) == 0)
                return c;
        }
        return NULL;
    }
    if (!cJSON_IsArray(node))
        return NULL;
    long n = 0, i = seg->index;
    /* A negative index counts from the end: -1 is the last element. */
    if (i < 0) {
        cJSON_ArrayForEach(c, node) n++;
        *work += (size_t)n;
        i += n;
    }
    cJSON_ArrayForEach(c, (i >= 0 ? node : NULL))
    {
        ++*work;
        if (i-- == 0)
            return c;
    }
    return NULL;
}

/* One evaluation: the caps are shared by every list it builds. */
struct jp_eval {
    size_t work;
    enum jpath_capped capped;
    int rc;
};

static bool stopped(const struct jp_eval *e)
{
    return e->capped != JCAP_NONE || e->rc != 0;
}

/* Counts n more nodes looked at; false once over the work cap. */
static bool tick(struct jp_eval *e, size_t n)
{
    e->work += n;
    if (e->work > JPATH_WORK_MAX && e->capped == JCAP_NONE)
        e->capped = JCAP_WORK;
    return !stopped(e);
}

static void push(struct jp_eval *e, struct jpath_result *out, const cJSON *v)
{
    if (out->n == JPATH_MATCHES_MAX) {
        e->capped = JCAP_MATCHES;
        return;
    }
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        const cJSON **nv = realloc(out->v, cap * sizeof(*nv));
        if (!nv) {
            e->rc = TL_ENOMEM;
            return;
        }
        out->v = nv;
        out->cap = cap;
    }
    out->v[out->n++] = v;
}

/* The selector of seg applied to one node. */
static void select_from(struct jp_eval *e, const struct jpath_seg *seg, const cJSON *node,
                        struct jpath_result *out)
{
    const cJSON *c;
    if (seg->sel == JSEL_CHILD) {
        c = jpath_child(node, seg, &e->work);
        if (c)
            push(e, out, c);
        return;
    }
    if (!cJSON_IsArray(node) && !cJSON_IsObject(node))
        return;
    cJSON_ArrayForEach(c, node)
    {
        if (!tick(e, 1))
            return;
        if (seg->sel == JSEL_ALL || jpath_filter_test(seg->filter, c, &e->work))
            push(e, out, c);
    }
}

/* `..`: the selector applied to node, then to each descendant, depth first. */
static void descend(struct jp_eval *e, const struct jpath_seg *seg, const cJSON *node, int depth,
                    struct jpath_result *out)
{
    if (depth > JPATH_DEPTH_MAX) {
        e->capped = JCAP_DEPTH;
        return;
    }
    select_from(e, seg, node, out);
    const cJSON *c;
    cJSON_ArrayForEach(c, (cJSON_IsArray(node) || cJSON_IsObject(node) ? node : NULL))
    {
        if (!tick(e, 1))
            return;
        descend(e, seg, c, depth + 1, out);
    }
}

int jpath_eval_all(const struct jpath *p, const cJSON *root, struct jpath_result *r)
{
    struct jp_eval e = {0, JCAP_NONE, 0};
    struct jpath_result next;

    memset(r, 0, sizeof(*r));
    if (root)
        push(&e, r, root);
    for (size_t i = 0; p && i < p->n && r->n && !stopped(&e); i++) {
        memset(&next, 0, sizeof(next));
        for (size_t k = 0; k < r->n && !stopped(&e); k++) {
            if (p->segs[i].descend)
                descend(&e, &p->segs[i], r->v[k], 0, &next);
            else
                select_from(&e, &p->segs[i], r->v[k], &next);
            tick(&e, 0);
        }
        jpath_result_free(r);
        *r = next;
    }
    r->capped = e.capped;
    r->work = e.work;
    if (e.rc)
        jpath_result_free(r);
    return e.rc;
}

void jpath_result_free(struct jpath_result *r)
{
    if (!r)
        return;
    free(r->v);
    memset(r, 0, sizeof(*r));
}

#define JP_STR_(x) #x
#define JP_STR(x) JP_STR_(x)

const char *jpath_capped_str(enum jpath_capped c)
{
    switch (c) {
    case JCAP_MATCHES:
        return "it selects more than " JP_STR(JPATH_MATCHES_MAX) " nodes";
    case JCAP_WORK:
        return "it visits more than " JP_STR(JPATH_WORK_MAX) " nodes";
    case JCAP_DEPTH:
        return "the body nests deeper than " JP_STR(JPATH_DEPTH_MAX) " levels";
    case JCAP_NONE:
        break;
    }
    return "no limit reached";
}

const cJSON *jpath_eval(const struct jpath *p, const cJSON *root)
{
    size_t work = 0;
    const cJSON *node = root;
    /* A path without wildcards is one walk down, as it always was. */
    if (!jpath_is_multi(p)) {
        for (size_t i = 0; node && p && i < p->n; i++)
            node = jpath_child(node, &p->segs[i], &work);
        return node;
    }
    struct jpath_result r;
    if (jpath_eval_all(p, root, &r))
        return NULL;
    node = r.n ? r.v[0] : NULL;
    jpath_result_free(&r);
    return node;
}

/* The search of jpath_locate: the chain of nodes from the root down. */
struct jp_loc {
    const cJSON *target;
    const cJSON *chain[JPATH_DEPTH_MAX + 1];
    int depth;
    size_t work;
};

static bool loc_find(struct jp_loc *l, const cJSON *node, int depth)
{
    const cJSON *c;
    l->chain[depth] = node;
    if (node == l->target) {
        l->depth = depth;
        return true;
    }
    if (depth == JPATH_DEPTH_MAX || ++l->work > JPATH_WORK_MAX)
        return false;
    cJSON_ArrayForEach(c, (cJSON_IsArray(node) || cJSON_IsObject(node) ? node : NULL))
    {
        if (loc_find(l, c, depth + 1))
            return true;
    }
    return false;
}

static bool is_name(const char *k)
{
    if (!k || !(isalpha((unsigned char)*k) || *k == '_'))
        return false;
    while (isalnum((unsigned char)*k) || *k == '_')
        k++;
    return *k == '\0';
}

/* One step down from parent to child: [2], .key or ["odd key"]. Returns
 * 0 or TL_ETOOBIG once the text is full. */
static int loc_step(const cJSON *parent, const cJSON *child, struct buf *out)
{
    const cJSON *c;
    long i = 0;
    if (cJSON_IsArray(parent)) {
        cJSON_ArrayForEach(c, parent)
        {
            if (c == child)
                break;
            i++;
        }
        return buf_printf(out, "[%ld]", i);
    }
    if (is_name(child->string))
        return buf_printf(out, ".%s", child->string);
    int rc = buf_puts(out, "[\"");
    for (const char *k = child->string ? child->string : ""; *k && rc == 0; k++) {
        unsigned char ch = (unsigned char)*k;
        char esc[3] = {'\\', (char)ch, 0};
        if (ch < 0x20 || ch == 0x7f)
            esc[1] = '?';
        rc = buf_puts(out, ch == '"' || ch == '\\' ? esc : esc + 1);
    }
    return rc ? rc : buf_puts(out, "\"]");
}

void jpath_locate(const cJSON *root, const cJSON *node, char *out, size_t outlen)
{
    struct jp_loc *l = calloc(1, sizeof(*l));
    struct buf b;
    buf_init(&b, outlen ? outlen - 1 : 0); /* a longer path is cut */
    if (outlen)
        out[0] = '\0';
    if (!l || !root || !node)
        goto out;
    l->target = node;
    if (!loc_find(l, root, 0))
        goto out;
    int rc = buf_puts(&b, "$");
    for (int i = 1; i <= l->depth && rc == 0; i++)
        rc = loc_step(l->chain[i - 1], l->chain[i], &b);
    if (outlen && b.data)
        snprintf(out, outlen, "%s", b.data);
out:
    buf_free(&b);
    free(l);
}

const char *json_type_name(const cJSON *v)
{
    if (!v)
        return "missing";
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsObject(v))
        return "object";
    if (cJSON_IsArray(v))
        return "array";
    return "invalid";
}
