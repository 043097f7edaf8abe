/* Probe files: YAML into the probe table. Each section of a probe is a table
 * of keys (probe_keys, schedule_keys, ...) walked by yu_walk_map(); steps
 * are read in probes/load/load_step.c. Names used before they can be known (a
 * template variable, an action of the ladder, a URL built from a var) are
 * recorded as they are read and resolved once the whole probe is in. */
#include "probes/load/load_int.h"

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/check/jsonpath.h"
#include "schedules/cron.h"

#define ID_MAX 128
#define BUILTIN_CORRELATION "correlation_id"

/* --- shared helpers (load_int.h) ------------------------------------------ */

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
    r->path = strdup(y->path);
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

static void refs_free(struct ld_refs *refs)
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
    for (size_t i = 0; record && i < out->n; i++) {
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

int ld_headers(struct yu *y, yaml_node_t *map, size_t *n_out, struct header_tpl **out)
{
    size_t n = yu_len(map);
    *out = calloc(n ? n : 1, sizeof(**out));
    if (!*out)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pr = &map->data.mapping.pairs.start[i];
        yaml_node_t *k = yu_node(y, pr->key), *v = yu_node(y, pr->value);
        const char *name = yu_str(k);
        if (!name || !ld_is_token(name)) {
            yu_error(y, k, "bad name %s (expected a token like X-Request-Id)", name ? name : yu_type_name(k));
            rc = -1;
            continue;
        }
        for (size_t j = 0; j < *n_out; j++) {
            if (strcasecmp((*out)[j].name, name) == 0) {
                yu_error(y, k, "\"%s\" is set twice", name);
                rc = -1;
            }
        }
        size_t mark = yu_path_key(y, name);
        struct header_tpl *h = &(*out)[(*n_out)++];
        h->name = strdup(name);
        if (!h->name || ld_tpl(y, v, &h->value))
            rc = -1;
        yu_path_pop(y, mark);
    }
    return rc;
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

/* --- cron ---------------------------------------------------------------- */

/* schedules/cron.c is the one cron parser: the loader compiles here, once,
 * and reports its message (never-firing expressions included) at the node. */
static int get_cron(struct yu *y, yaml_node_t *v, char **text, struct cron *out)
{
    char err[300];
    if (cron_parse(out, yu_str(v), err, sizeof(err))) {
        yu_error(y, v, "%s", err);
        return -1;
    }
    return yu_get_str(y, v, text);
}

/* --- probe sections ---------------------------------------------------------- */

static int probe_id(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    const char *s = yu_str(v);
    bool ok = *s && strlen(s) <= ID_MAX;
    for (const char *c = s; ok && *c; c++)
        ok = islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_' || *c == '-';
    if (!ok) {
        yu_error(y, v, "bad probe id \"%s\" (expected 1 to %d of a-z, 0-9, _ and -)", s, ID_MAX);
        return -1;
    }
    p->pos.line = (int)v->start_mark.line + 1;
    p->pos.column = (int)v->start_mark.column + 1;
    return yu_get_str(y, v, &p->id);
}

static int probe_runbook(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    if (!yu_is_http_url(yu_str(v))) {
        yu_error(y, v, "\"%s\" is not a URL (expected http:// or https://)", yu_str(v));
        return -1;
    }
    return yu_get_str(y, v, &p->runbook);
}

static int probe_labels(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    size_t n = yu_len(v);
    p->labels = calloc(n ? n : 1, sizeof(*p->labels));
    if (!p->labels)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pr = &v->data.mapping.pairs.start[i];
        yaml_node_t *k = yu_node(y, pr->key), *val = yu_node(y, pr->value);
        const char *name = yu_str(k);
        if (!name || !ld_is_name(name)) {
            yu_error(y, k, "bad label name %s (expected letters, digits, _ and -)", name ? name : yu_type_name(k));
            rc = -1;
            continue;
        }
        size_t mark = yu_path_key(y, name);
        struct kv *kv = &p->labels[p->n_labels++];
        kv->key = strdup(name);
        if (!kv->key || yu_get_str(y, val, &kv->value))
            rc = -1;
        yu_path_pop(y, mark);
    }
    return rc;
}

static int probe_regions(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    size_t n = yu_len(v);
    p->regions = calloc(n ? n : 1, sizeof(*p->regions));
    if (!p->regions)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark = yu_path_index(y, i);
        if (yu_get_str(y, yu_node(y, v->data.sequence.items.start[i]), &p->regions[p->n_regions]) == 0)
            p->n_regions++;
        else
            rc = -1;
        yu_path_pop(y, mark);
    }
    return rc;
}

static int sched_node(struct yu *y, yaml_node_t *v, yaml_node_t **slot, bool positive, tl_usec *out)
{
    *slot = v;
    return yu_get_dur(y, v, positive, out);
}

static int sched_every(struct yu *y, void *obj, yaml_node_t *v)
{
    struct schedule *s = obj;
    return sched_node(y, v, &ld_of(y)->every_node, true, &s->every);
}

static int sched_timeout(struct yu *y, void *obj, yaml_node_t *v)
{
    struct schedule *s = obj;
    return sched_node(y, v, &ld_of(y)->timeout_node, true, &s->timeout);
}

static int sched_jitter(struct yu *y, void *obj, yaml_node_t *v)
{
    struct schedule *s = obj;
    return sched_node(y, v, &ld_of(y)->jitter_node, false, &s->jitter);
}

static int sched_cron(struct yu *y, void *obj, yaml_node_t *v)
{
    struct schedule *s = obj;
    ld_of(y)->cron_node = v;
    return get_cron(y, v, &s->cron, &s->compiled);
}

static const struct yu_key schedule_keys[] = {
    {"every", YU_FN_SCALAR, 0, sched_every, 0},
    {"cron", YU_FN_SCALAR, 0, sched_cron, 0},
    {"timeout", YU_FN_SCALAR, 0, sched_timeout, 0},
    {"jitter", YU_FN_SCALAR, 0, sched_jitter, 0},
    {NULL, 0, 0, NULL, 0},
};

static int probe_schedule(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    return yu_walk_map(y, v, schedule_keys, &p->schedule) ? -1 : 0;
}

static int probe_vars(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    struct ld *ld = ld_of(y);
    size_t n = yu_len(v);
    p->vars = calloc(n ? n : 1, sizeof(*p->vars));
    if (!p->vars)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pr = &v->data.mapping.pairs.start[i];
        yaml_node_t *k = yu_node(y, pr->key), *val = yu_node(y, pr->value);
        const char *name = yu_str(k);
        if (!name || !ld_is_name(name)) {
            yu_error(y, k, "bad var name %s (expected letters, digits, _ and -)", name ? name : yu_type_name(k));
            rc = -1;
            continue;
        }
        size_t mark = yu_path_key(y, name);
        bool dup = false;
        for (size_t j = 0; j < p->n_vars; j++)
            dup = dup || strcmp(p->vars[j].name, name) == 0;
        if (dup) {
            yu_error(y, k, "var \"%s\" is defined twice", name);
            rc = -1;
        } else if (strcmp(name, BUILTIN_CORRELATION) == 0 || strcmp(name, "env") == 0) {
            yu_error(y, k, "\"%s\" is reserved (expected another var name)", name);
            rc = -1;
        } else {
            struct var_def *vd = &p->vars[p->n_vars];
            ld->scope = LD_SCOPE_VAR;
            ld->scope_index = p->n_vars;
            vd->name = strdup(name);
            p->n_vars++;
            if (!vd->name || ld_tpl(y, val, &vd->value))
                rc = -1;
        }
        yu_path_pop(y, mark);
    }
    return rc;
}

static int probe_steps(struct yu *y, void *obj, yaml_node_t *v)
{
    return ld_steps(y, v, 0, false);
}

static int probe_finally(struct yu *y, void *obj, yaml_node_t *v)
{
    return ld_steps(y, v, ld_of(y)->n_main, true);
}

static int probe_budget(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    return ld_budget(y, v, &p->budget);
}

/* --- escalation ------------------------------------------------------------ */

static int when_ratio(struct yu *y, void *obj, yaml_node_t *v)
{
    struct ladder_rung *r = obj;
    double d = 0;
    if (yu_get_num(y, v, &d))
        return -1;
    if (!(d > 0 && d <= 1)) {
        yu_error(y, v, "%g is out of range (expected a ratio above 0 and at most 1, like 0.5)", d);
        return -1;
    }
    r->failure_ratio = d;
    return 0;
}

static const struct yu_key when_keys[] = {
    {"consecutive_failures", YU_INT_POS, offsetof(struct ladder_rung, consecutive_failures), NULL, 0},
    {"failure_ratio", YU_FN_SCALAR, 0, when_ratio, 0},
    {"budget_breaches", YU_INT_POS, offsetof(struct ladder_rung, budget_breaches), NULL, 0},
    {"window", YU_DUR_POS, offsetof(struct ladder_rung, window), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static int rung_when(struct yu *y, void *obj, yaml_node_t *v)
{
    struct ladder_rung *r = obj;
    if (yu_walk_map(y, v, when_keys, r))
        return -1;
    int conds = (r->consecutive_failures > 0) + (r->failure_ratio > 0) + (r->budget_breaches > 0);
    if (conds != 1) {
        yu_error(y, v, "%s (expected exactly one of consecutive_failures, failure_ratio, budget_breaches)",
                 conds ? "more than one condition" : "no condition");
        return -1;
    }
    if (r->consecutive_failures && r->window) {
        yu_error(y, v, "window applies to failure_ratio and budget_breaches only");
        return -1;
    }
    if (!r->consecutive_failures && !r->window) {
        yu_error(y, v, "missing required key \"window\" (%s counts over a window, like 10m)",
                 r->failure_ratio > 0 ? "failure_ratio" : "budget_breaches");
        return -1;
    }
    return 0;
}

static int rung_level(struct yu *y, void *obj, yaml_node_t *v)
{
    static const char *const levels[] = {"notice", "warning", "critical"};
    struct ladder_rung *r = obj;
    const char *s = yu_str(v);
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, levels[i]) == 0) {
            r->level = (enum level)(LEVEL_NOTICE + (int)i);
            return 0;
        }
    }
    const char *hint = yu_suggest(s, levels, 3);
    if (hint)
        yu_error(y, v, "unknown level \"%s\" (did you mean \"%s\"?)", s, hint);
    else
        yu_error(y, v, "unknown level \"%s\" (expected notice, warning or critical)", s);
    return -1;
}

static int rung_actions(struct yu *y, void *obj, yaml_node_t *v)
{
    struct ladder_rung *r = obj;
    size_t n = yu_len(v);
    r->actions = calloc(n ? n : 1, sizeof(*r->actions));
    if (!r->actions)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yu_node(y, v->data.sequence.items.start[i]);
        size_t mark = yu_path_index(y, i);
        if (yu_get_str(y, item, &r->actions[r->n_actions]) == 0) {
            ld_ref_add(y, &ld_of(y)->actions, r->actions[r->n_actions], NULL, (int)item->start_mark.line + 1,
                       (int)item->start_mark.column + 1);
            r->n_actions++;
        } else {
            rc = -1;
        }
        yu_path_pop(y, mark);
    }
    return rc;
}

static const struct yu_key rung_keys[] = {
    {"level", YU_FN_SCALAR, 0, rung_level, YU_REQUIRED},
    {"when", YU_FN_MAP, 0, rung_when, YU_REQUIRED},
    {"actions", YU_FN_SEQ, 0, rung_actions, 0},
    {NULL, 0, 0, NULL, 0},
};

static int esc_ladder(struct yu *y, void *obj, yaml_node_t *v)
{
    struct escalation *e = obj;
    size_t n = yu_len(v);
    e->ladder = calloc(n ? n : 1, sizeof(*e->ladder));
    if (!e->ladder)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yu_node(y, v->data.sequence.items.start[i]);
        size_t mark = yu_path_index(y, i);
        struct ladder_rung *r = &e->ladder[e->n_ladder++];
        r->pos.file = ld_of(y)->p->file;
        r->pos.line = (int)item->start_mark.line + 1;
        r->pos.column = (int)item->start_mark.column + 1;
        if (item->type != YAML_MAPPING_NODE) {
            yu_error(y, item, "expected {level: ..., when: {...}}, got %s", yu_type_name(item));
            rc = -1;
        } else if (yu_walk_map(y, item, rung_keys, r)) {
            rc = -1;
        }
        yu_path_pop(y, mark);
    }
    return rc;
}

static const struct yu_key resolve_keys[] = {
    {"consecutive_successes", YU_INT_POS, 0, NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static int esc_resolve(struct yu *y, void *obj, yaml_node_t *v)
{
    struct escalation *e = obj;
    return yu_walk_map(y, v, resolve_keys, &e->resolve_successes) ? -1 : 0;
}

static int maint_cron(struct yu *y, void *obj, yaml_node_t *v)
{
    struct maintenance *m = obj;
    return get_cron(y, v, &m->cron, &m->compiled);
}

static const struct yu_key maintenance_keys[] = {
    {"cron", YU_FN_SCALAR, 0, maint_cron, YU_REQUIRED},
    {"duration", YU_DUR_POS, offsetof(struct maintenance, duration), NULL, YU_REQUIRED},
    {NULL, 0, 0, NULL, 0},
};

static int esc_maintenance(struct yu *y, void *obj, yaml_node_t *v)
{
    struct escalation *e = obj;
    size_t n = yu_len(v);
    e->maintenance = calloc(n ? n : 1, sizeof(*e->maintenance));
    if (!e->maintenance)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yu_node(y, v->data.sequence.items.start[i]);
        size_t mark = yu_path_index(y, i);
        struct maintenance *m = &e->maintenance[e->n_maintenance++];
        if (item->type != YAML_MAPPING_NODE) {
            yu_error(y, item, "expected {cron: \"0 3 * * *\", duration: 1h}, got %s", yu_type_name(item));
            rc = -1;
        } else if (yu_walk_map(y, item, maintenance_keys, m)) {
            rc = -1;
        }
        yu_path_pop(y, mark);
    }
    return rc;
}

static const struct yu_key escalation_keys[] = {
    {"ladder", YU_FN_SEQ, 0, esc_ladder, 0},
    {"resolve", YU_FN_MAP, 0, esc_resolve, 0},
    {"renotify", YU_DUR_POS, offsetof(struct escalation, renotify), NULL, 0},
    {"maintenance", YU_FN_SEQ, 0, esc_maintenance, 0},
    {NULL, 0, 0, NULL, 0},
};

static int probe_escalation(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    return yu_walk_map(y, v, escalation_keys, &p->escalation) ? -1 : 0;
}

/* --- actions --------------------------------------------------------------- */

static int wh_method(struct yu *y, void *obj, yaml_node_t *v)
{
    struct action_do *d = obj;
    const char *s = yu_str(v);
    bool ok = *s && strlen(s) <= 16;
    for (const char *c = s; ok && *c; c++)
        ok = isalpha((unsigned char)*c);
    if (!ok) {
        yu_error(y, v, "bad method \"%s\" (expected a word like POST or PUT)", s);
        return -1;
    }
    if (yu_get_str(y, v, &d->method))
        return -1;
    for (char *c = d->method; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return 0;
}

static int wh_url(struct yu *y, void *obj, yaml_node_t *v)
{
    struct action_do *d = obj;
    return ld_url(y, v, &d->url);
}

static int wh_headers(struct yu *y, void *obj, yaml_node_t *v)
{
    struct action_do *d = obj;
    return ld_headers(y, v, &d->n_headers, &d->headers);
}

static int wh_json(struct yu *y, void *obj, yaml_node_t *v)
{
    struct action_do *d = obj;
    d->json = yu_to_json(y, v);
    if (!d->json)
        return -1;
    return ld_json_tpls(y, v);
}

static const struct yu_key webhook_keys[] = {
    {"method", YU_FN_SCALAR, 0, wh_method, 0},
    {"url", YU_FN_SCALAR, 0, wh_url, YU_REQUIRED},
    {"headers", YU_FN_MAP, 0, wh_headers, 0},
    {"json", YU_FN_ANY, 0, wh_json, 0},
    {NULL, 0, 0, NULL, 0},
};

static int do_kind_once(struct yu *y, yaml_node_t *v)
{
    if (++ld_of(y)->do_kinds == 1)
        return 0;
    yu_error(y, v, "an action does one thing (expected only one of webhook or command)");
    return -1;
}

static int act_webhook(struct yu *y, void *obj, yaml_node_t *v)
{
    struct action_do *d = ld_of(y)->cur_do;
    if (do_kind_once(y, v))
        return -1;
    d->kind = ACTION_WEBHOOK;
    int rc = yu_walk_map(y, v, webhook_keys, d) ? -1 : 0;
    if (!d->method)
        d->method = strdup("POST");
    return rc;
}

static int act_command(struct yu *y, void *obj, yaml_node_t *v)
{
    struct action_do *d = ld_of(y)->cur_do;
    if (do_kind_once(y, v))
        return -1;
    d->kind = ACTION_COMMAND;
    size_t n = yu_len(v);
    if (n == 0) {
        yu_error(y, v, "empty command (expected an argv list like [/usr/local/bin/flag, off])");
        return -1;
    }
    d->argv = calloc(n + 1, sizeof(*d->argv));
    if (!d->argv)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark = yu_path_index(y, i);
        if (yu_get_str(y, yu_node(y, v->data.sequence.items.start[i]), &d->argv[d->argc]) == 0)
            d->argc++;
        else
            rc = -1;
        yu_path_pop(y, mark);
    }
    return rc;
}

static const struct yu_key rollback_keys[] = {
    {"webhook", YU_FN_MAP, 0, act_webhook, 0},
    {"command", YU_FN_SEQ, 0, act_command, 0},
    {NULL, 0, 0, NULL, 0},
};

static int walk_do(struct yu *y, yaml_node_t *v, const struct yu_key *keys, void *obj, struct action_do *d)
{
    struct ld *ld = ld_of(y);
    struct action_do *saved = ld->cur_do;
    int saved_kinds = ld->do_kinds;
    ld->cur_do = d;
    ld->do_kinds = 0;
    int rc = yu_walk_map(y, v, keys, obj) ? -1 : 0;
    if (ld->do_kinds == 0) {
        yu_error(y, v, "nothing to do (expected webhook or command)");
        rc = -1;
    }
    ld->cur_do = saved;
    ld->do_kinds = saved_kinds;
    return rc;
}

static int act_rollback(struct yu *y, void *obj, yaml_node_t *v)
{
    struct action *a = obj;
    a->has_rollback = true;
    return walk_do(y, v, rollback_keys, a, &a->rollback);
}

static const struct yu_key action_keys[] = {
    {"webhook", YU_FN_MAP, 0, act_webhook, 0},
    {"command", YU_FN_SEQ, 0, act_command, 0},
    {"rollback", YU_FN_MAP, 0, act_rollback, 0},
    {"cooldown", YU_DUR, offsetof(struct action, cooldown), NULL, 0},
    {"timeout", YU_DUR_POS, offsetof(struct action, timeout), NULL, 0},
    {"dry_run", YU_BOOL, offsetof(struct action, dry_run), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static int probe_actions(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    struct ld *ld = ld_of(y);
    size_t n = yu_len(v);
    p->actions = calloc(n ? n : 1, sizeof(*p->actions));
    if (!p->actions)
        return -1;
    int rc = 0;
    ld->scope = LD_SCOPE_ACTION;
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pr = &v->data.mapping.pairs.start[i];
        yaml_node_t *k = yu_node(y, pr->key), *val = yu_node(y, pr->value);
        const char *name = yu_str(k);
        if (!name || !ld_is_name(name)) {
            yu_error(y, k, "bad action name %s (expected letters, digits, _ and -)", name ? name : yu_type_name(k));
            rc = -1;
            continue;
        }
        size_t mark = yu_path_key(y, name);
        struct action *a = &p->actions[p->n_actions++];
        a->name = strdup(name);
        a->timeout = 10 * 1000000LL;
        a->pos.file = p->file;
        a->pos.line = (int)k->start_mark.line + 1;
        a->pos.column = (int)k->start_mark.column + 1;
        for (size_t j = 0; j + 1 < p->n_actions; j++) {
            if (p->actions[j].name && strcmp(p->actions[j].name, name) == 0) {
                yu_error(y, k, "action \"%s\" is defined twice", name);
                rc = -1;
            }
        }
        if (val->type != YAML_MAPPING_NODE) {
            yu_error(y, val, "expected {webhook: {...}} or {command: [...]}, got %s", yu_type_name(val));
            rc = -1;
        } else if (walk_do(y, val, action_keys, a, &a->run)) {
            rc = -1;
        }
        yu_path_pop(y, mark);
    }
    return rc;
}

static const struct yu_key probe_keys[] = {
    {"probe", YU_FN_SCALAR, 0, probe_id, YU_REQUIRED},
    {"description", YU_STR, offsetof(struct probe, description), NULL, 0},
    {"runbook", YU_FN_SCALAR, 0, probe_runbook, 0},
    {"labels", YU_FN_MAP, 0, probe_labels, 0},
    {"regions", YU_FN_SEQ, 0, probe_regions, 0},
    {"schedule", YU_FN_MAP, 0, probe_schedule, 0},
    {"vars", YU_FN_MAP, 0, probe_vars, 0},
    {"steps", YU_FN_SEQ, 0, probe_steps, YU_REQUIRED},
    {"finally", YU_FN_SEQ, 0, probe_finally, 0},
    {"budget", YU_FN_MAP, 0, probe_budget, 0},
    {"escalation", YU_FN_MAP, 0, probe_escalation, 0},
    {"actions", YU_FN_MAP, 0, probe_actions, 0},
    {NULL, 0, 0, NULL, 0},
};

/* --- checks once the whole probe is read -------------------------------------- */

/* Each step's label in messages: steps[i] or finally[j]. */
static void step_label(const struct ld *ld, size_t i, char *out, size_t len)
{
    if (i < ld->n_main)
        snprintf(out, len, "steps[%zu]", i);
    else
        snprintf(out, len, "finally[%zu]", i - ld->n_main);
}

static void set_path(struct yu *y, const char *path)
{
    snprintf(y->path, sizeof(y->path), "%s", path);
    y->path_len = strlen(y->path);
}

static const struct step *capture_step(const struct probe *p, const char *name, size_t from, size_t to, size_t skip)
{
    for (size_t j = from; j < to; j++) {
        if (j == skip)
            continue;
        for (size_t c = 0; c < p->steps[j].n_captures; c++)
            if (p->steps[j].captures[c].name && strcmp(p->steps[j].captures[c].name, name) == 0)
                return &p->steps[j];
    }
    return NULL;
}

static bool var_before(const struct probe *p, const char *name, size_t before)
{
    for (size_t j = 0; j < before && j < p->n_vars; j++)
        if (strcmp(p->vars[j].name, name) == 0)
            return true;
    return false;
}

/* Names a template could have meant, for "did you mean". */
static const char *closest_name(const struct ld *ld, const struct ld_ref *r)
{
    const struct probe *p = ld->p;
    const char *best = NULL;
    int best_d = 3;
    size_t nvars = r->scope == LD_SCOPE_VAR ? r->index : p->n_vars;
    for (size_t j = 0; j < nvars && j < p->n_vars; j++) {
        int d = yu_edit_distance(r->name, p->vars[j].name);
        if (d < best_d) {
            best = p->vars[j].name;
            best_d = d;
        }
    }
    if (r->scope == LD_SCOPE_STEP) {
        size_t to = r->index < ld->n_main ? r->index : p->n_steps;
        for (size_t j = 0; j < to; j++) {
            for (size_t c = 0; c < p->steps[j].n_captures; c++) {
                const char *n = p->steps[j].captures[c].name;
                int d = n ? yu_edit_distance(r->name, n) : INT_MAX;
                if (d < best_d) {
                    best = n;
                    best_d = d;
                }
            }
        }
    }
    if (r->scope != LD_SCOPE_VAR && yu_edit_distance(r->name, BUILTIN_CORRELATION) < best_d)
        best = BUILTIN_CORRELATION;
    return best;
}

static void check_var_ref(struct yu *y, struct ld *ld, const struct ld_ref *r)
{
    const struct probe *p = ld->p;
    if (r->scope == LD_SCOPE_VAR) {
        if (var_before(p, r->name, r->index))
            return;
        if (var_before(p, r->name, p->n_vars)) {
            yu_error_at(y, r->line, r->column,
                        "var \"%s\" is defined later (a var can use earlier vars only)", r->name);
            return;
        }
    } else {
        if (var_before(p, r->name, p->n_vars) || strcmp(r->name, BUILTIN_CORRELATION) == 0)
            return;
        /* action templates also see the event's fields (docs/actions.md) */
        static const char *const event_fields[] = {"probe", "region", "level", "bucket", "reason",
                                                   "incident_id", "event_id", "transition", "step"};
        for (size_t i = 0; r->scope == LD_SCOPE_ACTION && i < sizeof(event_fields) / sizeof(event_fields[0]); i++)
            if (strcmp(r->name, event_fields[i]) == 0)
                return;
        if (r->scope == LD_SCOPE_STEP) {
            bool fin = r->index >= ld->n_main;
            if (capture_step(p, r->name, 0, fin ? p->n_steps : r->index, r->index))
                return;
            const struct step *later = capture_step(p, r->name, r->index, ld->n_main, SIZE_MAX);
            if (later) {
                yu_error_at(y, r->line, r->column,
                            "undefined variable \"%s\": it is captured by the later step \"%s\" "
                            "(a step can use captures of earlier steps only)",
                            r->name, later->name ? later->name : "?");
                return;
            }
        }
    }
    const char *hint = closest_name(ld, r);
    if (hint)
        yu_error_at(y, r->line, r->column, "undefined variable \"%s\" (did you mean \"%s\"?)", r->name, hint);
    else if (r->scope == LD_SCOPE_VAR)
        yu_error_at(y, r->line, r->column,
                    "undefined variable \"%s\" (expected an earlier var, env.NAME or file:/path)", r->name);
    else
        yu_error_at(y, r->line, r->column,
                    "undefined variable \"%s\" (expected a var, a capture of an earlier step, correlation_id, "
                    "env.NAME or file:/path)",
                    r->name);
}

/* The value of var i when it is a constant (literals and constant vars
 * only), else NULL. */
static char *var_const(const struct probe *p, size_t i, int depth)
{
    if (i >= p->n_vars || depth > 16)
        return NULL;
    struct buf b;
    buf_init(&b, 65536);
    const struct tpl *t = &p->vars[i].value;
    for (size_t s = 0; s < t->n; s++) {
        char *part = NULL;
        if (t->segs[s].kind == TPL_LIT) {
            part = strdup(t->segs[s].text);
        } else if (t->segs[s].kind == TPL_VAR) {
            for (size_t j = 0; j < i && !part; j++)
                if (strcmp(p->vars[j].name, t->segs[s].text) == 0)
                    part = var_const(p, j, depth + 1);
        }
        if (!part || buf_puts(&b, part)) {
            free(part);
            buf_free(&b);
            return NULL;
        }
        free(part);
    }
    return buf_take(&b);
}

static bool prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void check_url(struct yu *y, struct ld *ld, const struct ld_ref *r)
{
    const struct probe *p = ld->p;
    const struct tpl *t = r->url;
    struct buf b;
    buf_init(&b, 65536);
    bool complete = true, used_var = false;
    for (size_t s = 0; s < t->n && complete; s++) {
        char *part = NULL;
        if (t->segs[s].kind == TPL_LIT) {
            part = strdup(t->segs[s].text);
        } else if (t->segs[s].kind == TPL_VAR) {
            for (size_t j = 0; j < p->n_vars && !part; j++)
                if (strcmp(p->vars[j].name, t->segs[s].text) == 0)
                    part = var_const(p, j, 0);
            used_var = used_var || part;
        }
        if (!part || buf_puts(&b, part))
            complete = false;
        free(part);
    }
    const char *s = b.data ? b.data : "";
    bool ok;
    if (complete)
        ok = yu_is_http_url(s);
    else if (prefix_ci(s, "http://") || prefix_ci(s, "https://"))
        ok = true;
    else
        /* A partial prefix like "htt" + {{x}} is fine only if it can still become http(s)://. */
        ok = prefix_ci("http://", s) || prefix_ci("https://", s);
    if (!ok)
        yu_error_at(y, r->line, r->column, "\"%s\"%s is not an http:// or https:// URL", s,
                    used_var ? " (after substituting vars)" : "");
    buf_free(&b);
}

static void check_probe(struct yu *y, struct ld *ld, yaml_node_t *map)
{
    struct probe *p = ld->p;
    char path[64];

    /* Schedule: every 60s unless cron; the run deadline never passes the interval. */
    struct schedule *s = &p->schedule;
    if (s->cron && ld->every_node) {
        set_path(y, "schedule");
        yu_error(y, ld->every_node, "both every and cron (expected one of them)");
    }
    if (!s->cron && !s->every)
        s->every = 60 * 1000000LL;
    tl_usec ten = 10 * 1000000LL;
    if (!s->timeout)
        s->timeout = s->every && s->every < ten ? s->every : ten;
    else if (s->every && s->timeout > s->every) {
        char t[32], e[32];
        duration_format(s->timeout, t, sizeof(t));
        duration_format(s->every, e, sizeof(e));
        set_path(y, "schedule.timeout");
        yu_error(y, ld->timeout_node, "%s is longer than the interval every: %s (expected a timeout of at most %s)",
                 t, e, e);
    }
    if (s->every && s->jitter >= s->every && ld->jitter_node) {
        char e[32];
        duration_format(s->every, e, sizeof(e));
        set_path(y, "schedule.jitter");
        yu_error(y, ld->jitter_node, "jitter must be shorter than the interval every: %s", e);
    }

    for (size_t i = 0; i < p->n_steps; i++) {
        const char *name = p->steps[i].name;
        for (size_t j = 0; name && j < i; j++) {
            if (p->steps[j].name && strcmp(p->steps[j].name, name) == 0) {
                step_label(ld, i, path, sizeof(path));
                set_path(y, path);
                yu_error_at(y, p->steps[i].pos.line, p->steps[i].pos.column,
                            "step name \"%s\" is used twice (first at line %d)", name, p->steps[j].pos.line);
                break;
            }
        }
    }

    /* Secrets spread: a var built from env., file: or a secret var is secret. */
    for (size_t i = 0; i < p->n_vars; i++) {
        const struct tpl *t = &p->vars[i].value;
        for (size_t k = 0; k < t->n; k++) {
            const struct tpl_seg *sg = &t->segs[k];
            if (sg->kind == TPL_ENV || sg->kind == TPL_FILE)
                p->vars[i].secret = true;
            for (size_t j = 0; sg->kind == TPL_VAR && j < i; j++)
                if (p->vars[j].secret && strcmp(p->vars[j].name, sg->text) == 0)
                    p->vars[i].secret = true;
        }
    }

    for (size_t i = 0; i < ld->vars.n; i++) {
        set_path(y, ld->vars.v[i].path);
        check_var_ref(y, ld, &ld->vars.v[i]);
    }
    for (size_t i = 0; i < ld->urls.n; i++) {
        set_path(y, ld->urls.v[i].path);
        check_url(y, ld, &ld->urls.v[i]);
    }
    for (size_t i = 0; i < ld->actions.n; i++) {
        const struct ld_ref *r = &ld->actions.v[i];
        bool found = false;
        for (size_t j = 0; j < p->n_actions && !found; j++)
            found = p->actions[j].name && strcmp(p->actions[j].name, r->name) == 0;
        if (found)
            continue;
        set_path(y, r->path);
        const char *names[64];
        size_t n = 0;
        for (size_t j = 0; j < p->n_actions && n < 64; j++)
            if (p->actions[j].name)
                names[n++] = p->actions[j].name;
        const char *hint = yu_suggest(r->name, names, n);
        if (hint)
            yu_error_at(y, r->line, r->column, "action \"%s\" is not defined (did you mean \"%s\"?)", r->name, hint);
        else
            yu_error_at(y, r->line, r->column, "action \"%s\" is not defined (expected a name under actions:)",
                        r->name);
    }
    set_path(y, "");
    (void)map;
}

/* --- files ------------------------------------------------------------------ */

static struct probe *load_probe(struct yu *y, yaml_node_t *map, const char *file, const char *hash)
{
    struct probe *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    struct ld ld;
    memset(&ld, 0, sizeof(ld));
    ld.p = p;
    y->user = &ld;
    p->file = file;
    p->pos.file = file;
    p->pos.line = (int)map->start_mark.line + 1;
    p->pos.column = (int)map->start_mark.column + 1;
    memcpy(p->file_hash, hash, sizeof(p->file_hash));
    p->def_hash = yu_node_hash(y, map);
    p->escalation.resolve_successes = 2;

    /* Steps and finally steps share one array sized up front, so pointers
     * into it (URLs to check) stay valid while the rest is read. */
    yaml_node_t *steps = yu_map_get(y, map, "steps"), *fin = yu_map_get(y, map, "finally");
    ld.n_main = steps && steps->type == YAML_SEQUENCE_NODE ? yu_len(steps) : 0;
    size_t n_fin = fin && fin->type == YAML_SEQUENCE_NODE ? yu_len(fin) : 0;
    p->n_steps = ld.n_main + n_fin;
    p->steps = calloc(p->n_steps ? p->n_steps : 1, sizeof(*p->steps));
    if (p->steps) {
        yu_walk_map(y, map, probe_keys, p);
        check_probe(y, &ld, map);
    } else {
        p->n_steps = 0;
        yu_error(y, map, "out of memory");
    }
    refs_free(&ld.vars);
    refs_free(&ld.urls);
    refs_free(&ld.actions);
    y->user = NULL;
    return p;
}

struct probe_set *probe_set_new(void)
{
    return calloc(1, sizeof(struct probe_set));
}

static int set_push(void **arr, size_t *n, size_t elem, const void *item)
{
    char *v = realloc(*arr, (*n + 1) * elem);
    if (!v)
        return -1;
    memcpy(v + *n * elem, item, elem);
    *arr = v;
    (*n)++;
    return 0;
}

static void check_duplicate(struct yu *y, const struct probe_set *set, struct probe **mine, size_t i)
{
    const struct probe *p = mine[i];
    const struct probe *first = NULL;
    for (size_t j = 0; j < set->n && !first; j++)
        if (strcmp(set->probes[j]->id, p->id) == 0)
            first = set->probes[j];
    for (size_t j = 0; j < i && !first; j++)
        if (mine[j]->id && strcmp(mine[j]->id, p->id) == 0)
            first = mine[j];
    if (!first)
        return;
    set_path(y, "probe");
    yu_error_at(y, p->pos.line, p->pos.column,
                "probe \"%s\" is already defined at %s:%d (probe ids must be unique across files)", p->id,
                first->file, first->pos.line);
    set_path(y, "");
}

static int load_one(struct probe_set *set, const char *file, struct strv *errors, bool *unreadable)
{
    struct yu y;
    memset(&y, 0, sizeof(y));
    y.errors = errors;
    y.what = "a probe (a mapping) or a list of probes";
    char hash[65] = "";
    size_t first_error = errors ? errors->n : 0;
    struct probe **mine = NULL;
    size_t n_mine = 0;
    char *fname = strdup(file);
    if (!fname) {
        strv_pushf(errors, "%s: out of memory", file);
        return 1;
    }
    int rc = yu_load(&y, fname, PROBE_FILE_MAX, hash);
    if (rc == TL_EIO)
        *unreadable = true;
    yaml_node_t *root = rc == 0 ? yu_root(&y) : NULL;
    if (root && root->type == YAML_MAPPING_NODE) {
        struct probe *p = load_probe(&y, root, fname, hash);
        if (p)
            set_push((void **)&mine, &n_mine, sizeof(p), &p);
    } else if (root && root->type == YAML_SEQUENCE_NODE) {
        size_t n = yu_len(root);
        if (n == 0)
            yu_error(&y, root, "empty list (expected at least one probe)");
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *item = yu_node(&y, root->data.sequence.items.start[i]);
            if (item->type != YAML_MAPPING_NODE) {
                size_t mark = yu_path_index(&y, i);
                yu_error(&y, item, "expected a probe (a mapping), got %s", yu_type_name(item));
                yu_path_pop(&y, mark);
                continue;
            }
            struct probe *p = load_probe(&y, item, fname, hash);
            if (p && set_push((void **)&mine, &n_mine, sizeof(p), &p))
                probe_free(p);
        }
    } else if (root) {
        yu_error(&y, root, "expected a probe (a mapping) or a list of probes, got %s", yu_type_name(root));
    }
    for (size_t i = 0; i < n_mine; i++)
        if (mine[i]->id)
            check_duplicate(&y, set, mine, i);

    if (errors)
        yu_sort_errors(errors, first_error, fname);
    int n_errors = y.n_errors;
    bool kept = false;
    if (n_errors == 0 && set_push((void **)&set->files, &set->n_files, sizeof(fname), &fname) == 0) {
        kept = true;
        for (size_t i = 0; i < n_mine; i++) {
            if (set_push((void **)&set->probes, &set->n, sizeof(mine[i]), &mine[i])) {
                probe_free(mine[i]);
                n_errors++;
            }
        }
    } else {
        for (size_t i = 0; i < n_mine; i++)
            probe_free(mine[i]);
    }
    free(mine);
    yu_free(&y);
    if (!kept)
        free(fname);
    return n_errors;
}

int probe_load_file(struct probe_set *set, const char *file, struct strv *errors)
{
    bool unreadable = false;
    return load_one(set, file, errors, &unreadable);
}

int probe_load_files(struct probe_set **out, char *const *files, size_t n_files, struct strv *errors)
{
    *out = NULL;
    struct probe_set *set = probe_set_new();
    if (!set)
        return -1;
    bool unreadable = false;
    int n_errors = 0;
    for (size_t i = 0; i < n_files; i++)
        n_errors += load_one(set, files[i], errors, &unreadable);
    if (n_errors || unreadable) {
        probe_set_free(set);
        return unreadable ? -2 : -1;
    }
    *out = set;
    return 0;
}
