/* Probe files: YAML into the probe table. Each section of a probe is a table
 * of keys (probe_keys, schedule_keys, ...) walked by yu_walk_map(); steps are
 * read in load_step.c, the ladder and actions in load_policy.c. Names used
 * before they can be known (a template variable, an action of the ladder, a
 * URL built from a var) are recorded as they are read and resolved once the
 * whole probe is in (load_check.c). */
#include "probes/load/load_int.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/probe_ids.h"
#include "schedules/cron.h"

#define ID_MAX 128
#define BUILTIN_CORRELATION "correlation_id"

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
    ld_pos(&p->pos, v);
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

static int label_key(struct yu *y, yaml_node_t *k, void *ctx)
{
    return ld_key_name(y, k, "label");
}

static int label_item(struct yu *y, yaml_node_t *k, yaml_node_t *v, void *elem, void *ctx)
{
    struct kv *kv = elem;
    kv->key = strdup(yu_str(k));
    return !kv->key || yu_get_str(y, v, &kv->value) ? -1 : 0;
}

static int probe_labels(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct kv), 0, false, label_key};
    struct probe *p = obj;
    return yu_each_item(y, v, &how, (void **)&p->labels, &p->n_labels, label_item, NULL);
}

static int probe_regions(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(char *), 0, false, NULL};
    struct probe *p = obj;
    return yu_each_item(y, v, &how, (void **)&p->regions, &p->n_regions, yu_item_str, NULL);
}

static int sched_node(struct yu *y, yaml_node_t *v, yaml_node_t **slot, bool positive, tl_usec *out)
{
    *slot = v;
    return yu_get_dur(y, v, positive, out);
}

/* every and timeout are deadlines (every is the default timeout, and a
 * timeout never passes it): at least LD_DEADLINE_MIN. */
static int sched_every(struct yu *y, void *obj, yaml_node_t *v)
{
    struct schedule *s = obj;
    ld_of(y)->every_node = v;
    return ld_deadline(y, v, &s->every);
}

static int sched_timeout(struct yu *y, void *obj, yaml_node_t *v)
{
    struct schedule *s = obj;
    ld_of(y)->timeout_node = v;
    return ld_deadline(y, v, &s->timeout);
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

static int var_key(struct yu *y, yaml_node_t *k, void *ctx)
{
    return ld_key_name(y, k, "var");
}

static int var_item(struct yu *y, yaml_node_t *k, yaml_node_t *val, void *elem, void *ctx)
{
    struct probe *p = ctx;
    struct ld *ld = ld_of(y);
    const char *name = yu_str(k);
    for (size_t j = 0; j < p->n_vars; j++) {
        if (strcmp(p->vars[j].name, name) == 0) {
            yu_error(y, k, "var \"%s\" is defined twice", name);
            return YU_ITEM_DROP;
        }
    }
    if (strcmp(name, BUILTIN_CORRELATION) == 0 || strcmp(name, "env") == 0) {
        yu_error(y, k, "\"%s\" is reserved (expected another var name)", name);
        return YU_ITEM_DROP;
    }
    struct var_def *vd = elem;
    ld->scope = LD_SCOPE_VAR;
    ld->scope_index = p->n_vars;
    vd->name = strdup(name);
    return !vd->name || ld_tpl(y, val, &vd->value) ? -1 : 0;
}

static int probe_vars(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct var_def), 0, false, var_key};
    struct probe *p = obj;
    return yu_each_item(y, v, &how, (void **)&p->vars, &p->n_vars, var_item, p);
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

static int maint_item(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    if (item->type != YAML_MAPPING_NODE) {
        yu_error(y, item, "expected {cron: \"0 3 * * *\", duration: 1h}, got %s", yu_type_name(item));
        return -1;
    }
    return yu_walk_map(y, item, maintenance_keys, elem) ? -1 : 0;
}

static int esc_maintenance(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct maintenance), 0, false, NULL};
    struct escalation *e = obj;
    return yu_each_item(y, v, &how, (void **)&e->maintenance, &e->n_maintenance, maint_item, NULL);
}

static const struct yu_key escalation_keys[] = {
    {"ladder", YU_FN_SEQ, 0, ld_ladder, 0},
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

static int probe_retry(struct yu *y, void *obj, yaml_node_t *v)
{
    struct probe *p = obj;
    return ld_retry(y, v, &p->retry);
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
    {"actions", YU_FN_MAP, 0, ld_actions, 0},
    {"tls", YU_FN_MAP, 0, ld_probe_tls, 0},
    {"retry", YU_FN_MAP, 0, probe_retry, 0},
    {NULL, 0, 0, NULL, 0},
};

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
    ld_pos(&p->pos, map);
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
        ld_check_probe(y, &ld);
    } else {
        p->n_steps = 0;
        yu_error(y, map, "out of memory");
    }
    ld_refs_free(&ld.vars);
    ld_refs_free(&ld.urls);
    ld_refs_free(&ld.actions);
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

/* Ids are looked up in the set's index and in `local`, this file's own so
 * far: the first definition of an id is the one named in the error. */
static int check_duplicate(struct yu *y, const struct probe_set *set, struct probe_ids **local,
                           const struct probe *p)
{
    const struct probe *first = probe_ids_find(set->ids, p->id);
    if (!first)
        first = probe_ids_find(*local, p->id);
    if (!first)
        return probe_ids_add(local, p);
    ld_set_path(y, "probe");
    yu_error_at(y, p->pos.line, p->pos.column,
                "probe \"%s\" is already defined at %s:%d (probe ids must be unique across files)", p->id,
                first->file, first->pos.line);
    ld_set_path(y, "");
    return 0;
}

/* Hands a file without errors and its probes to the set (*kept): returns
 * the number of failures (out of memory), which fail the load. */
static int keep_file(struct probe_set *set, char *fname, struct probe **mine, size_t n_mine, bool *kept)
{
    int n_errors = 0;
    *kept = false;
    /* One realloc per file, not per probe: the set's array grows by n_mine. */
    struct probe **grown = realloc(set->probes, (set->n + n_mine + 1) * sizeof(*grown));
    if (!grown)
        return 1;
    set->probes = grown;
    if (set_push((void **)&set->files, &set->n_files, sizeof(fname), &fname))
        return 1;
    *kept = true;
    memcpy(set->probes + set->n, mine, n_mine * sizeof(*mine));
    set->n += n_mine;
    for (size_t i = 0; i < n_mine; i++)
        if (probe_ids_add(&set->ids, mine[i]))
            n_errors++; /* the set owns it; out of memory fails the load */
    return n_errors;
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
        if (p && set_push((void **)&mine, &n_mine, sizeof(p), &p))
            probe_free(p);
    } else if (root && root->type == YAML_SEQUENCE_NODE) {
        size_t n = yu_len(root);
        if (n == 0)
            yu_error(&y, root, "empty list (expected at least one probe)");
        mine = n ? malloc(n * sizeof(*mine)) : NULL;
        if (n && !mine) {
            yu_error(&y, root, "out of memory");
            n = 0;
        }
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *item = yu_node(&y, root->data.sequence.items.start[i]);
            if (item->type != YAML_MAPPING_NODE) {
                size_t mark = yu_path_index(&y, i);
                yu_error(&y, item, "expected a probe (a mapping), got %s", yu_type_name(item));
                yu_path_pop(&y, mark);
                continue;
            }
            struct probe *p = load_probe(&y, item, fname, hash);
            if (p)
                mine[n_mine++] = p;
        }
    } else if (root) {
        yu_error(&y, root, "expected a probe (a mapping) or a list of probes, got %s", yu_type_name(root));
    }
    struct probe_ids *local = NULL;
    for (size_t i = 0; i < n_mine; i++)
        if (mine[i]->id && check_duplicate(&y, set, &local, mine[i]))
            yu_error(&y, NULL, "out of memory");
    probe_ids_free(local);

    if (errors)
        yu_sort_errors(errors, first_error, fname);
    bool kept = false;
    int n_errors = y.n_errors ? y.n_errors : keep_file(set, fname, mine, n_mine, &kept);
    for (size_t i = 0; !kept && i < n_mine; i++)
        probe_free(mine[i]);
    if (!kept)
        free(fname);
    free(mine);
    yu_free(&y);
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
