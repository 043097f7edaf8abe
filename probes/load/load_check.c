/* Checks once the whole probe is read: YAML key order is free, so names used
 * before they can be known (template variables, ladder actions, URLs built
 * from vars) were recorded while reading and are resolved here, with the
 * schedule defaults and the timeout-vs-interval rule. */
#include "probes/load/load_int.h"
#include "base/hash.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUILTIN_CORRELATION "correlation_id"

/* Each step's label in messages: steps[i] or finally[j]. */
static void step_label(const struct ld *ld, size_t i, char *out, size_t len)
{
    if (i < ld->n_main)
        snprintf(out, len, "steps[%zu]", i);
    else
        snprintf(out, len, "finally[%zu]", i - ld->n_main);
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

/* Schedule: every 60s unless cron; the run deadline never passes the interval. */
static void check_schedule(struct yu *y, struct ld *ld)
{
    struct schedule *s = &ld->p->schedule;
    if (s->cron && ld->every_node) {
        ld_set_path(y, "schedule");
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
        ld_set_path(y, "schedule.timeout");
        yu_error(y, ld->timeout_node, "%s is longer than the interval every: %s (expected a timeout of at most %s)",
                 t, e, e);
    }
    if (s->every && s->jitter >= s->every && ld->jitter_node) {
        char e[32];
        duration_format(s->every, e, sizeof(e));
        ld_set_path(y, "schedule.jitter");
        yu_error(y, ld->jitter_node, "jitter must be shorter than the interval every: %s", e);
    }
}

/* Each name against the first step of that name: a table of step indexes
 * (open addressing, twice the steps), linear in the steps; comparing every
 * pair took 27 s for the 40,000 steps a file may hold. */
static void check_step_names(struct yu *y, struct ld *ld)
{
    const struct probe *p = ld->p;
    char path[64];
    size_t cap = 2 * p->n_steps, *slot = cap ? malloc(cap * sizeof(*slot)) : NULL;
    if (!slot)
        return;
    for (size_t k = 0; k < cap; k++)
        slot[k] = SIZE_MAX;
    for (size_t i = 0; i < p->n_steps; i++) {
        const char *name = p->steps[i].name;
        if (!name)
            continue;
        size_t k = (size_t)(tl_fnv1a_str(TL_FNV_OFFSET, name) % cap);
        while (slot[k] != SIZE_MAX && strcmp(p->steps[slot[k]].name, name) != 0)
            k = (k + 1) % cap;
        if (slot[k] == SIZE_MAX) {
            slot[k] = i;
            continue;
        }
        step_label(ld, i, path, sizeof(path));
        ld_set_path(y, path);
        yu_error_at(y, p->steps[i].pos.line, p->steps[i].pos.column,
                    "step name \"%s\" is used twice (first at line %d)", name, p->steps[slot[k]].pos.line);
    }
    free(slot);
}

/* Secrets spread: a var built from env., file: or a secret var is secret. */
static void spread_secrets(struct probe *p)
{
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
}

static void check_action_ref(struct yu *y, const struct probe *p, const struct ld_ref *r)
{
    bool found = false;
    for (size_t j = 0; j < p->n_actions && !found; j++)
        found = p->actions[j].name && strcmp(p->actions[j].name, r->name) == 0;
    if (found)
        return;
    ld_set_path(y, r->path);
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

void ld_check_probe(struct yu *y, struct ld *ld)
{
    check_schedule(y, ld);
    check_step_names(y, ld);
    ld_check_retry(y, ld);
    spread_secrets(ld->p);
    for (size_t i = 0; i < ld->vars.n; i++) {
        ld_set_path(y, ld->vars.v[i].path);
        check_var_ref(y, ld, &ld->vars.v[i]);
    }
    for (size_t i = 0; i < ld->urls.n; i++) {
        ld_set_path(y, ld->urls.v[i].path);
        check_url(y, ld, &ld->urls.v[i]);
    }
    for (size_t i = 0; i < ld->actions.n; i++)
        check_action_ref(y, ld->p, &ld->actions.v[i]);
    ld_set_path(y, "");
}
