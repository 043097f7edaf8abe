/* Value readers shared by every part of the probe loader: templates (their
 * variables recorded for checking once the probe is in), URLs, header maps,
 * regexes, JSON paths, budgets, and the records of names to resolve later. */
#include "probes/load/load_int.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/check/jsonpath.h"

bool ld_is_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

/* RFC 9110 token characters: what a header or field name may hold. */
bool ld_is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

int ld_ref_add(struct yu *y, struct ld_refs *refs, const char *name, const struct tpl *url, int line,
               int column)
{
    if (refs->n == refs->cap) {
        size_t cap = refs->cap ? refs->cap * 2 : 16;
        struct ld_ref *v = realloc(refs->v, cap * sizeof(*v));
        if (!v)
            return -1;
        refs->v = v;
        refs->cap = cap;
    }
    struct ld *ld = ld_of(y);
    struct ld_ref *r = &refs->v[refs->n];
    memset(r, 0, sizeof(*r));
    r->name = name ? strdup(name) : NULL;
    r->path = strdup(yu_path(y));
    if ((name && !r->name) || !r->path) {
        free(r->name);
        free(r->path);
        return -1;
    }
    r->url = url;
    r->scope = ld->scope;
    r->index = ld->scope_index;
    r->line = line;
    r->column = column;
    refs->n++;
    return 0;
}

void ld_refs_free(struct ld_refs *refs)
{
    for (size_t i = 0; i < refs->n; i++) {
        free(refs->v[i].name);
        free(refs->v[i].path);
    }
    free(refs->v);
    memset(refs, 0, sizeof(*refs));
}

/* The position of byte off of a scalar's value: exact for one-line plain and
 * quoted scalars, the scalar's start otherwise. */
static void scalar_pos(const yaml_node_t *n, int off, int *line, int *col)
{
    *line = (int)n->start_mark.line + 1;
    *col = (int)n->start_mark.column + 1;
    if (n->start_mark.line != n->end_mark.line)
        return;
    yaml_scalar_style_t st = n->data.scalar.style;
    if (st == YAML_PLAIN_SCALAR_STYLE)
        *col += off;
    else if (st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
        *col += off + 1;
}

static int tpl_from(struct yu *y, yaml_node_t *n, struct tpl *out, bool record)
{
    if (!n || n->type != YAML_SCALAR_NODE || yu_is_null(n)) {
        yu_error(y, n, "expected a string, got %s", yu_type_name(n));
        return -1;
    }
    char err[256];
    int off = 0, line, col;
    if (tpl_parse(out, yu_str(n), err, sizeof(err), &off)) {
        scalar_pos(n, off, &line, &col);
        yu_error_at(y, line, col, "%s", err);
        return -1;
    }
    if (y->user) {
        out->file = ld_of(y)->p->file;
        out->line = (int)n->start_mark.line + 1;
        out->column = (int)n->start_mark.column + 1;
    }
    for (size_t i = 0; record && y->user && i < out->n; i++) {
        if (out->segs[i].kind != TPL_VAR)
            continue;
        scalar_pos(n, out->segs[i].offset, &line, &col);
        if (ld_ref_add(y, &ld_of(y)->vars, out->segs[i].text, NULL, line, col))
            return -1;
    }
    return 0;
}

int ld_tpl(struct yu *y, yaml_node_t *n, struct tpl *out)
{
    return tpl_from(y, n, out, true);
}

static int json_tpls(struct yu *y, yaml_node_t *n, int depth)
{
    int rc = 0;
    if (!n || depth > 64)
        return 0;
    if (n->type == YAML_SCALAR_NODE) {
        if (!tpl_has_placeholders(yu_str(n)))
            return 0;
        struct tpl t;
        rc = ld_tpl(y, n, &t);
        if (rc == 0)
            tpl_free(&t);
    } else if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
            rc |= json_tpls(y, yu_node(y, *it), depth + 1);
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++)
            rc |= json_tpls(y, yu_node(y, pr->value), depth + 1);
    }
    return rc;
}

int ld_json_tpls(struct yu *y, yaml_node_t *n)
{
    return json_tpls(y, n, 0);
}

int ld_url(struct yu *y, yaml_node_t *n, struct tpl *out)
{
    if (ld_tpl(y, n, out))
        return -1;
    return ld_ref_add(y, &ld_of(y)->urls, NULL, out, (int)n->start_mark.line + 1, (int)n->start_mark.column + 1);
}

/* A header or form map: the array being filled, for the twice-set check. */
struct hdr_list {
    struct header_tpl **v;
    size_t *n;
};

static int header_key(struct yu *y, yaml_node_t *k, void *ctx)
{
    struct hdr_list *l = ctx;
    const char *name = yu_str(k);
    if (!name || !ld_is_token(name)) {
        yu_error(y, k, "bad name %s (expected a token like X-Request-Id)", name ? name : yu_type_name(k));
        return -1;
    }
    int rc = 0;
    for (size_t j = 0; j < *l->n; j++) {
        if (strcasecmp((*l->v)[j].name, name) == 0) {
            yu_error(y, k, "\"%s\" is set twice", name);
            rc = 1;
        }
    }
    return rc;
}

static int header_item(struct yu *y, yaml_node_t *k, yaml_node_t *v, void *elem, void *ctx)
{
    struct header_tpl *h = elem;
    h->name = strdup(yu_str(k));
    return !h->name || ld_tpl(y, v, &h->value) ? -1 : 0;
}

int ld_headers(struct yu *y, yaml_node_t *map, size_t *n_out, struct header_tpl **out)
{
    static const struct yu_each how = {sizeof(**out), 0, false, header_key};
    struct hdr_list l = {out, n_out};
    return yu_each_item(y, map, &how, (void **)out, n_out, header_item, &l);
}

int ld_key_name(struct yu *y, yaml_node_t *k, const char *what)
{
    const char *name = yu_str(k);
    if (name && ld_is_name(name))
        return 0;
    yu_error(y, k, "bad %s name %s (expected letters, digits, _ and -)", what, name ? name : yu_type_name(k));
    return -1;
}

int ld_regex(struct yu *y, yaml_node_t *n, regex_t *re, char **src)
{
    const char *s = yu_str(n);
    int rc = regcomp(re, s, REG_EXTENDED);
    if (rc != 0) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        yu_error(y, n, "bad regex \"%s\": %s (expected a POSIX extended regex)", s, msg);
        return -1;
    }
    *src = strdup(s);
    if (!*src) {
        regfree(re);
        return -1;
    }
    return 0;
}

/* The end of the bracket expression whose "[" is at p, NULL if it has none. */
static const char *bracket_end(const char *p)
{
    p += p[1] == '^' ? 2 : 1;
    if (*p == ']')
        p++;
    for (; *p && *p != ']'; p++) {
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            const char *end = strchr(p + 2, p[1]);
            while (end && end[1] != ']')
                end = strchr(end + 1, p[1]);
            if (!end)
                return NULL;
            p = end + 1;
        }
    }
    return *p ? p : NULL;
}

/* Whether R can go inside "^.*(R)" unchanged: every "(" closed, no ")"
 * left over (ERE reads an unmatched one as a literal), no back-reference
 * (it would count the new group), no "^" (an anchored R is one pass
 * already). Bracket expressions are skipped. */
static bool wraps(const char *s)
{
    int depth = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\\') {
            if (p[1] >= '1' && p[1] <= '9')
                return false;
            if (p[1])
                p++;
        } else if (*p == '[') {
            p = bracket_end(p);
            if (!p)
                return false;
        } else if (*p == '^') {
            return false; /* after ".*" glibc also reads it after a newline */
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth < 0) {
            return false;
        }
    }
    return depth == 0;
}

static bool has_backref(const char *s);

int ld_regex_search(struct yu *y, yaml_node_t *n, regex_t *re, char **src, size_t *search_max)
{
    if (ld_regex(y, n, re, src))
        return -1;
    *search_max = has_backref(*src) ? LD_CAPTURE_BACKREF_MAX : 0;
    if (!wraps(*src))
        return 0;
    size_t len = strlen(*src) + 6;
    char *wrapped = malloc(len);
    regex_t one;
    if (wrapped) {
        snprintf(wrapped, len, "^.*(%s)", *src);
        if (regcomp(&one, wrapped, REG_EXTENDED | REG_NOSUB) == 0) {
            regfree(re);
            *re = one;
        }
    }
    free(wrapped);
    return 0;
}

int ld_deadline(struct yu *y, yaml_node_t *n, tl_usec *out)
{
    tl_usec v;
    if (yu_get_dur(y, n, true, &v))
        return -1;
    if (v < LD_DEADLINE_MIN) {
        char least[32];
        duration_format(LD_DEADLINE_MIN, least, sizeof(least));
        yu_error(y, n, "\"%s\" is too short (expected at least %s: deadlines are timed in milliseconds)", yu_str(n),
                 least);
        return -1;
    }
    *out = v;
    return 0;
}

/* The end of the piece (an atom and its quantifiers) at p, before end;
 * NULL for what reverse_range cannot reverse: an anchor (^ $ \` \' and the
 * word anchors \< \> \b \B, which glibc does not match alike both ways), a
 * back-reference, a quantifier with no atom, an unmatched parenthesis. */
static const char *piece_end(const char *p, const char *end)
{
    const char *q = p + 1;
    if (*p == '(') {
        int depth = 1;
        while (q < end && depth) {
            if (*q == '\\' && q + 1 < end)
                q++;
            else if (*q == '[')
                q = bracket_end(q);
            else if (*q == '(')
                depth++;
            else if (*q == ')')
                depth--;
            if (!q)
                return NULL;
            q++;
        }
        if (depth)
            return NULL;
    } else if (*p == '[') {
        q = bracket_end(p);
        if (!q || q >= end)
            return NULL;
        q++;
    } else if (*p == '\\') {
        if (q >= end || (*q >= '1' && *q <= '9') || strchr("`'<>bB", *q))
            return NULL;
        q++;
    } else if (strchr("^$*+?{)|", *p)) {
        return NULL;
    }
    while (q < end && (*q == '*' || *q == '+' || *q == '?' || *q == '{')) {
        if (*q == '{') {
            const char *close = memchr(q, '}', (size_t)(end - q));
            if (!close || strspn(q + 1, "0123456789,") != (size_t)(close - q - 1))
                return NULL;
            q = close;
        }
        q++;
    }
    return q;
}

/* Writes the reverse of [s, end) to out, which has as many bytes: a
 * branch keeps its place, and each piece of a branch goes to the mirror
 * place, itself reversed (a group's inside). */
static bool reverse_range(const char *s, const char *end, char *out, int depth)
{
    if (depth > 64)
        return false;
    const char *bs = s;
    while (bs <= end) {
        const char *be = bs;
        while (be && be < end && *be != '|')
            be = piece_end(be, end);
        if (!be)
            return false;
        for (const char *p = bs, *q; p < be; p = q) {
            q = piece_end(p, end);
            char *o = out + (bs - s) + (be - q);
            memcpy(o, p, (size_t)(q - p));
            if (*p == '(') {
                const char *close = p + 1;
                for (int d = 1; d; close++) { /* piece_end found it: no checks left */
                    if (*close == '\\')
                        close++;
                    else if (*close == '[')
                        close = bracket_end(close);
                    else if (*close == '(')
                        d++;
                    else if (*close == ')')
                        d--;
                }
                if (!reverse_range(p + 1, close - 1, o + 1, depth + 1))
                    return false;
            }
        }
        if (be < end)
            out[be - s] = '|';
        bs = be + 1;
    }
    return true;
}

/* Whether src has a back-reference (\1 to \9 outside brackets). */
static bool has_backref(const char *s)
{
    for (const char *p = s; p && *p; p++) {
        if (*p == '\\' && p[1] >= '1' && p[1] <= '9')
            return true;
        if (*p == '\\' && p[1])
            p++;
        else if (*p == '[')
            p = bracket_end(p);
        if (!p)
            return false;
    }
    return false;
}

/* Whether every match of src starts at the text's start: a leading "^" and
 * no "|" outside parentheses (regexec then tries offset 0 only). */
static bool anchored(const char *s)
{
    int depth = 0;
    if (*s != '^')
        return false;
    for (const char *p = s; p && *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        else if (*p == '[')
            p = bracket_end(p);
        else if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        else if (*p == '|' && depth <= 0)
            return false;
        if (!p)
            return false;
    }
    return true;
}

int ld_regex_capture(struct yu *y, yaml_node_t *n, struct capture *c)
{
    if (ld_regex(y, n, &c->re, &c->re_src))
        return -1;
    size_t len = strlen(c->re_src);
    char *rev = malloc(len + 7);
    if (!rev)
        return -1;
    memcpy(rev, "^.*(", 4);
    if (reverse_range(c->re_src, c->re_src + len, rev + 4, 0)) {
        memcpy(rev + 4 + len, ")", 2);
        c->has_rev = regcomp(&c->rev, rev, REG_EXTENDED) == 0;
    }
    if (has_backref(c->re_src))
        c->search_max = LD_CAPTURE_BACKREF_MAX;
    else if (anchored(c->re_src))
        c->search_max = SIZE_MAX;
    else
        c->search_max = LD_CAPTURE_PLAIN_MAX;
    free(rev);
    return 0;
}

int ld_jpath(struct yu *y, yaml_node_t *n, struct jpath *out)
{
    char err[200];
    int off = 0, line, col;
    if (jpath_compile(out, yu_str(n), err, sizeof(err), &off)) {
        scalar_pos(n, off, &line, &col);
        yu_error_at(y, line, col, "bad JSON path \"%s\": %s", yu_str(n), err);
        return -1;
    }
    return 0;
}

static const struct yu_key budget_keys[] = {
    {"dns", YU_DUR_POS, offsetof(struct budget, dns), NULL, 0},
    {"connect", YU_DUR_POS, offsetof(struct budget, connect), NULL, 0},
    {"tls", YU_DUR_POS, offsetof(struct budget, tls), NULL, 0},
    {"ttfb", YU_DUR_POS, offsetof(struct budget, ttfb), NULL, 0},
    {"total", YU_DUR_POS, offsetof(struct budget, total), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

int ld_budget(struct yu *y, yaml_node_t *map, struct budget *b)
{
    return yu_walk_map(y, map, budget_keys, b) ? -1 : 0;
}

void ld_set_path(struct yu *y, const char *path)
{
    yu_path_set(y, path);
}

int ld_method(struct yu *y, yaml_node_t *v, const char *examples, char **out)
{
    const char *s = yu_str(v);
    bool ok = *s && strlen(s) <= 16;
    for (const char *c = s; ok && *c; c++)
        ok = isalpha((unsigned char)*c);
    if (!ok) {
        yu_error(y, v, "bad method \"%s\" (expected a word like %s)", s, examples);
        return -1;
    }
    if (yu_get_str(y, v, out))
        return -1;
    for (char *c = *out; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return 0;
}

void ld_pos(struct src_pos *pos, const yaml_node_t *n)
{
    pos->line = (int)n->start_mark.line + 1;
    pos->column = (int)n->start_mark.column + 1;
}
