/* The incident policy of a probe: the escalation ladder (levels, conditions,
 * the actions each rung runs) and the actions themselves (webhook or
 * command, with an optional rollback). */
#include "probes/load/load_int.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- escalation ladder ----------------------------------------------------- */

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
    int i = 0;
    if (yu_get_enum(y, v, levels, 3, "level", "notice, warning or critical", &i))
        return -1;
    r->level = (enum level)(LEVEL_NOTICE + i);
    return 0;
}

static int rung_action(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    char **name = elem;
    if (yu_get_str(y, item, name))
        return YU_ITEM_DROP;
    ld_ref_add(y, &ld_of(y)->actions, *name, NULL, (int)item->start_mark.line + 1, (int)item->start_mark.column + 1);
    return 0;
}

static int rung_actions(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(char *), 0, false, NULL};
    struct ladder_rung *r = obj;
    return yu_each_item(y, v, &how, (void **)&r->actions, &r->n_actions, rung_action, NULL);
}

static const struct yu_key rung_keys[] = {
    {"level", YU_FN_SCALAR, 0, rung_level, YU_REQUIRED},
    {"when", YU_FN_MAP, 0, rung_when, YU_REQUIRED},
    {"actions", YU_FN_SEQ, 0, rung_actions, 0},
    {NULL, 0, 0, NULL, 0},
};

static int rung_item(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    struct ladder_rung *r = elem;
    r->pos.file = ld_of(y)->p->file;
    ld_pos(&r->pos, item);
    if (item->type != YAML_MAPPING_NODE) {
        yu_error(y, item, "expected {level: ..., when: {...}}, got %s", yu_type_name(item));
        return -1;
    }
    return yu_walk_map(y, item, rung_keys, r) ? -1 : 0;
}

int ld_ladder(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct ladder_rung), 0, false, NULL};
    struct escalation *e = obj;
    return yu_each_item(y, v, &how, (void **)&e->ladder, &e->n_ladder, rung_item, NULL);
}

/* --- actions --------------------------------------------------------------- */

static int wh_method(struct yu *y, void *obj, yaml_node_t *v)
{
    struct action_do *d = obj;
    return ld_method(y, v, "POST or PUT", &d->method);
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
    static const struct yu_each how = {sizeof(char *), 1, false, NULL}; /* argv ends in NULL */
    struct action_do *d = ld_of(y)->cur_do;
    if (do_kind_once(y, v))
        return -1;
    d->kind = ACTION_COMMAND;
    if (yu_len(v) == 0) {
        yu_error(y, v, "empty command (expected an argv list like [/usr/local/bin/flag, off])");
        return -1;
    }
    return yu_each_item(y, v, &how, (void **)&d->argv, &d->argc, yu_item_str, NULL);
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

static int action_key(struct yu *y, yaml_node_t *k, void *ctx)
{
    return ld_key_name(y, k, "action");
}

static int action_item(struct yu *y, yaml_node_t *k, yaml_node_t *val, void *elem, void *ctx)
{
    struct probe *p = ctx;
    struct action *a = elem;
    const char *name = yu_str(k);
    int rc = 0;
    a->name = strdup(name);
    a->timeout = 10 * 1000000LL;
    a->pos.file = p->file;
    ld_pos(&a->pos, k);
    for (size_t j = 0; j < p->n_actions; j++) {
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
    return rc;
}

int ld_actions(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct action), 0, false, action_key};
    struct probe *p = obj;
    ld_of(y)->scope = LD_SCOPE_ACTION;
    return yu_each_item(y, v, &how, (void **)&p->actions, &p->n_actions, action_item, p);
}

/* --- retry --------------------------------------------------------------- */

#define RETRY_MAX_ATTEMPTS 5

static int retry_attempts(struct yu *y, void *obj, yaml_node_t *v)
{
    struct retry *r = obj;
    long n = 1;
    if (yu_get_int(y, v, 1, RETRY_MAX_ATTEMPTS, &n))
        return -1;
    r->attempts = (int)n;
    return 0;
}

static const struct yu_key retry_keys[] = {
    {"attempts", YU_FN_SCALAR, 0, retry_attempts, YU_REQUIRED},
    {"delay", YU_DUR, offsetof(struct retry, delay), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

int ld_retry(struct yu *y, yaml_node_t *v, struct retry *r)
{
    /* later errors are about the delay: point at it */
    yaml_node_t *delay = yu_map_get(y, v, "delay");
    r->pos.file = ld_of(y)->p->file;
    ld_pos(&r->pos, delay ? delay : v);
    return yu_walk_map(y, v, retry_keys, r) ? -1 : 0;
}

/* A delay longer than the step's timeout would leave the retry no time:
 * the timeout is its cap. */
static void check_delay(struct yu *y, const struct step *s, const struct retry *r, tl_usec timeout, const char *path)
{
    char d[32], t[32];
    if (r->delay <= timeout)
        return;
    duration_format(r->delay, d, sizeof d);
    duration_format(timeout, t, sizeof t);
    ld_set_path(y, path);
    yu_error_at(y, r->pos.line, r->pos.column, "delay %s is longer than the timeout %s of step \"%s\" "
                "(expected a delay of at most the step's timeout)", d, t, s->name ? s->name : "");
}

void ld_check_retry(struct yu *y, struct ld *ld)
{
    struct probe *p = ld->p;
    bool probe_reported = false;
    char path[64];
    for (size_t i = 0; i < p->n_steps; i++) {
        struct step *s = &p->steps[i];
        tl_usec timeout = s->timeout ? s->timeout : p->schedule.timeout;
        if (s->retry.attempts) {
            snprintf(path, sizeof path, "%s[%zu].retry.delay", i < ld->n_main ? "steps" : "finally",
                     i < ld->n_main ? i : i - ld->n_main);
            check_delay(y, s, &s->retry, timeout, path);
            continue;
        }
        s->retry = p->retry;
        if (p->retry.attempts && p->retry.delay > timeout && !probe_reported) {
            check_delay(y, s, &p->retry, timeout, "retry.delay");
            probe_reported = true;
        }
    }
    ld_set_path(y, "");
}
