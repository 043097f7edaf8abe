/* The probe table (probe_table.h): probe files, reloads, and the per-probe
 * state that must survive them. */
#include "agent/daemon/probe_table.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/daemon/probe_files.h"
#include "agent/fleet/vantage.h"
#include "agent/incident/escalation.h"
#include "base/hash.h"
#include "probes/kinds/icmp.h"
#include "probes/load/load.h"
#include "probes/run/result.h"
#include "schedules/shard.h"

struct probe_table {
    struct probe_table_opts o;
    struct strv files;           /* from opts.files; empty: the config's globs */
    size_t n_lfiles;
    struct lfile **lfiles;       /* current files, in order */
    size_t n_states, cap_states;
    struct probe_state **states;
    struct probe_table_counts last; /* of the last load */
    struct strv rejected;        /* path, first error, "1"/"0" last good: triples */
    struct probe_host_memo host_memo; /* probes in a row mostly share an origin */
};

struct lfile *lfile_ref(struct lfile *lf)
{
    lf->refs++;
    return lf;
}

void lfile_unref(struct lfile *lf)
{
    if (!lf || --lf->refs > 0)
        return;
    probe_set_free(lf->set);
    free(lf->path);
    free(lf);
}

/* A probe runs here when it is for this region (the agent's, or a
 * vantage's) and, in a sharded region, when its id hashes to this agent's
 * shard. */
static bool runs_here(const struct probe_table *t, const struct probe *p, const struct vantage *v)
{
    if (!probe_runs_in(p, vantage_region(t->o.cfg, v)))
        return false;
    return t->o.shard_n == 0 || shard_owns(p->id, t->o.shard_i, t->o.shard_n);
}

/* An index of the running states by (probe id, vantage), rebuilt at each
 * load: matching 10,000 probes by scanning would be quadratic. */
struct state_index {
    size_t mask;
    struct probe_state **slot;
};

static size_t state_key(const char *id, const struct vantage *v)
{
    uint64_t h = tl_hash_str(id);
    h ^= (uint64_t)(uintptr_t)v * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h ^ (h >> 29));
}

static int index_build(struct state_index *ix, struct probe_state **states, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    ix->slot = calloc(cap, sizeof(*ix->slot));
    ix->mask = cap - 1;
    if (!ix->slot)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t k = state_key(states[i]->probe->id, states[i]->vantage) & ix->mask;
        while (ix->slot[k])
            k = (k + 1) & ix->mask;
        ix->slot[k] = states[i];
    }
    return 0;
}

static struct probe_state *index_find(const struct state_index *ix, const char *id, const struct vantage *v)
{
    for (size_t k = state_key(id, v) & ix->mask; ix->slot[k]; k = (k + 1) & ix->mask)
        if (ix->slot[k]->vantage == v && strcmp(ix->slot[k]->probe->id, id) == 0)
            return ix->slot[k];
    return NULL;
}

static void state_release(struct probe_state *ps)
{
    if (!ps)
        return;
    esc_free(ps->esc);
    run_result_free(ps->last);
    free(ps->metrics);
    free(ps->host);
    free(ps);
}

static int state_push(struct probe_table *t, struct probe_state *ps)
{
    if (t->n_states == t->cap_states) {
        size_t cap = t->cap_states ? t->cap_states * 2 : 64;
        struct probe_state **v = realloc(t->states, cap * sizeof(*v));
        if (!v)
            return TL_ENOMEM;
        t->states = v;
        t->cap_states = cap;
    }
    t->states[t->n_states++] = ps;
    return 0;
}

static int state_add(struct probe_table *t, struct probe *p, struct lfile *lf, const struct vantage *v)
{
    char id[512], host[300];
    if (vantage_entry_id(p->id, v, id, sizeof(id)))
        return TL_ETOOBIG;
    struct probe_state *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return TL_ENOMEM;
    ps->agent = t->o.owner;
    ps->probe = p;
    ps->lf = lf;
    ps->vantage = v;
    ps->region = vantage_region(t->o.cfg, v);
    probe_host_key(p, &t->host_memo, host, sizeof(host));
    ps->host = strdup(host);
    if (!ps->host || esc_new(&p->escalation, NULL, &ps->esc) || state_push(t, ps)) {
        state_release(ps);
        return TL_ENOMEM;
    }
    int rc = scheduler_add(t->o.sched, id, &p->schedule, host, ps, &ps->entry);
    if (rc) {
        log_error(t->o.log, "probe %s: cannot be scheduled (%s)", id, tl_strerror(rc));
        t->n_states--;
        state_release(ps);
        return rc;
    }
    if (t->o.added)
        t->o.added(t->o.hook_arg, ps);
    return 0;
}

/* Retires a probe: no new runs; its state goes now, or when its run ends. */
static void state_remove(struct probe_table *t, size_t idx)
{
    struct probe_state *ps = t->states[idx];
    t->states[idx] = t->states[--t->n_states];
    if (t->o.removed)
        t->o.removed(t->o.hook_arg, ps);
    scheduler_remove(ps->entry);
    if (ps->running) {
        ps->removed = true; /* a running entry lives on until its scheduler_done() */
        return;
    }
    ps->entry = NULL;
    state_release(ps);
}

void probe_state_run_begin(struct probe_state *ps)
{
    ps->running = true;
    ps->run_lf = lfile_ref(ps->lf);
}

bool probe_state_run_end(struct probe_state *ps)
{
    struct lfile *lf = ps->run_lf;
    bool freed = ps->removed;
    ps->run_lf = NULL;
    ps->running = false;
    if (freed)
        state_release(ps);
    lfile_unref(lf);
    return freed;
}

static bool id_in_other_files(struct lfile **files, size_t n, size_t self, const char *id, const char **where)
{
    for (size_t i = 0; i < n; i++) {
        if (i == self || !files[i])
            continue;
        struct probe *p = probe_set_find(files[i]->set, id);
        if (p) {
            *where = files[i]->path;
            return true;
        }
    }
    return false;
}

/* The current version of path, for a file that failed to load. */
static struct lfile *last_good(const struct probe_table *t, const char *path)
{
    for (size_t k = 0; k < t->n_lfiles; k++)
        if (t->lfiles[k] && strcmp(t->lfiles[k]->path, path) == 0)
            return t->lfiles[k];
    return NULL;
}

/* Loads file i of files into next[i]; on errors next[i] is the last good
 * version, or NULL. */
static int load_one(struct probe_table *t, const struct strv *files, size_t i, struct lfile **next,
                    struct strv *errors)
{
    struct probe_set *set = probe_set_new();
    size_t before = errors->n;
    int bad = set ? probe_load_file(set, files->v[i], errors) : 1;
    const char *dup_where = NULL;
    for (size_t k = 0; !bad && k < set->n; k++) {
        const struct probe *p = set->probes[k];
        if (id_in_other_files(next, i, i, p->id, &dup_where)) {
            strv_pushf(errors, "%s:%d:%d: probe \"%s\" is already defined in %s", files->v[i], p->pos.line,
                       p->pos.column, p->id, dup_where);
            bad = 1;
        }
    }
    struct lfile *lf = NULL;
    if (!bad && (lf = calloc(1, sizeof(*lf))) && (lf->path = strdup(files->v[i]))) {
        lf->set = set;
        lf->refs = 1;
        next[i] = lf;
        return 0;
    }
    free(lf);
    probe_set_free(set);
    for (size_t k = before; k < errors->n; k++)
        log_error(t->o.log, "%s", errors->v[k]);
    struct lfile *old = last_good(t, files->v[i]);
    if (old) {
        next[i] = lfile_ref(old);
        log_warn(t->o.log, "%s: keeping its last good version", files->v[i]);
    } else {
        log_error(t->o.log, "%s: rejected; its probes are not monitored", files->v[i]);
    }
    /* kept for /status: one failed push loses the entry, not the load */
    if (strv_push(&t->rejected, files->v[i]) ||
        strv_push(&t->rejected, errors->n > before ? errors->v[before] : "cannot load") ||
        strv_push(&t->rejected, old ? "1" : "0"))
        while (t->rejected.n % 3)
            free(t->rejected.v[--t->rejected.n]);
    return TL_ESYNTAX;
}

/* Marks the states whose probe is unchanged in next and moves them onto it. */
static int match_states(struct probe_table *t, struct lfile **next, size_t n, struct probe_table_counts *c)
{
    struct state_index ix = {0};
    size_t slots = vantage_slots(t->o.cfg);
    for (size_t i = 0; i < t->n_states; i++)
        t->states[i]->mark = false;
    if (index_build(&ix, t->states, t->n_states))
        return TL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct lfile *lf = next[i];
        for (size_t k = 0; lf && k < lf->set->n * slots; k++) {
            struct probe *p = lf->set->probes[k / slots];
            const struct vantage *v = vantage_slot(t->o.cfg, k % slots);
            if (!runs_here(t, p, v)) {
                c->other_regions++;
                continue;
            }
            struct probe_state *ps = index_find(&ix, p->id, v);
            if (ps && ps->probe->def_hash == p->def_hash) {
                ps->probe = p;
                ps->lf = lf;
                esc_rebind(ps->esc, &p->escalation);
                ps->mark = true;
                c->kept++;
            } else if (ps) {
                c->changed++; /* the new definition starts afresh */
            } else {
                c->added++;
            }
        }
    }
    free(ix.slot);
    return 0;
}

/* Drops the states not kept (removed or changed), then adds what is new. */
static void apply_changes(struct probe_table *t, struct lfile **next, size_t n, struct probe_table_counts *c)
{
    for (size_t i = t->n_states; i-- > 0;) {
        if (!t->states[i]->mark) {
            state_remove(t, i);
            c->removed++;
        }
    }
    struct state_index ix = {0};
    size_t slots = vantage_slots(t->o.cfg);
    if (index_build(&ix, t->states, t->n_states)) {
        c->errors++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct lfile *lf = next[i];
        for (size_t k = 0; lf && k < lf->set->n * slots; k++) {
            struct probe *p = lf->set->probes[k / slots];
            const struct vantage *v = vantage_slot(t->o.cfg, k % slots);
            if (runs_here(t, p, v) && !index_find(&ix, p->id, v) && state_add(t, p, lf, v))
                c->errors++;
        }
    }
    free(ix.slot);
    c->removed -= c->changed < c->removed ? c->changed : c->removed;
}

/* next replaces the current files; files that failed with no earlier
 * version leave a hole, closed here. */
static void install_files(struct probe_table *t, struct lfile **next, size_t n)
{
    for (size_t i = 0; i < t->n_lfiles; i++)
        lfile_unref(t->lfiles[i]);
    free(t->lfiles);
    t->lfiles = next;
    t->n_lfiles = 0;
    for (size_t i = 0; i < n; i++)
        if (next[i])
            t->lfiles[t->n_lfiles++] = next[i];
}

static int collect_files(const struct probe_table *t, struct strv *files, struct strv *errors)
{
    int rc = 0;
    if (t->o.cfg->n_probe_globs && probe_files_expand(t->o.cfg, files, errors)) {
        rc = TL_EIO;
        for (size_t i = 0; i < errors->n; i++)
            log_error(t->o.log, "%s", errors->v[i]);
        /* A folder that cannot be read is not an empty one: the files
         * loaded last time stay, each re-read or kept in its last good
         * version, rather than their probes removed and their incidents
         * resolved until the folder reads again. */
        for (size_t i = 0; i < t->n_lfiles; i++) {
            if (t->lfiles[i] && strv_add(files, t->lfiles[i]->path))
                rc = TL_ENOMEM;
        }
    }
    for (size_t i = 0; i < t->files.n; i++)
        if (strv_push(files, t->files.v[i]))
            rc = TL_ENOMEM;
    return rc;
}

void probe_table_last_counts(const struct probe_table *t, struct probe_table_counts *out)
{
    *out = t->last;
}

/* icmp steps on a host that refuses ping sockets: said once per load, at warn. */
static void warn_icmp(struct probe_table *t, struct lfile **files, size_t n)
{
    char msg[256];
    for (size_t i = 0; i < n; i++) {
        if (files[i] && icmp_set_warning(files[i]->set, msg, sizeof(msg))) {
            log_kv(t->o.log, LOG_WARN, LOG_FIELDS(LOG_STR("file", files[i]->path)), "%s", msg);
            return;
        }
    }
}

int probe_table_load(struct probe_table *t, bool initial)
{
    struct strv files, errors;
    struct probe_table_counts c = {0};
    strv_init(&files);
    strv_init(&errors);
    if (collect_files(t, &files, &errors))
        c.errors++;
    strv_free(&t->rejected);
    strv_init(&t->rejected);
    struct lfile **next = calloc(files.n ? files.n : 1, sizeof(*next));
    if (!next) {
        c.errors++;
        goto out;
    }
    for (size_t i = 0; i < files.n; i++)
        if (load_one(t, &files, i, next, &errors))
            c.errors++;
    if (match_states(t, next, files.n, &c))
        c.errors++;
    else
        apply_changes(t, next, files.n, &c);
    scheduler_settle(t->o.sched);
    install_files(t, next, files.n);
    warn_icmp(t, next, files.n);
    log_kv(t->o.log, c.errors ? LOG_WARN : LOG_INFO,
           LOG_FIELDS(LOG_INT("files", files.n), LOG_INT("probes", t->n_states), LOG_INT("kept", c.kept),
                      LOG_INT("changed", c.changed), LOG_INT("added", initial ? 0 : c.added),
                      LOG_INT("removed", c.removed), LOG_INT("other_regions", c.other_regions),
                      LOG_INT("errors", c.errors)),
           "%s probe files", initial ? "loaded" : "reloaded");
    t->last = c;
out:
    strv_free(&files);
    strv_free(&errors);
    /* Parsing left the heap full of freed YAML nodes; hand them back so an
     * idle agent's RSS is what its probes hold, not what loading them took. */
    malloc_trim(0);
    return c.errors ? TL_ESYNTAX : 0;
}

int probe_table_new(const struct probe_table_opts *o, struct probe_table **out)
{
    struct probe_table *t = calloc(1, sizeof(*t));
    *out = NULL;
    if (!t)
        return TL_ENOMEM;
    t->o = *o;
    strv_init(&t->files);
    for (size_t i = 0; o->files && i < o->files->n; i++) {
        if (strv_push(&t->files, o->files->v[i])) {
            probe_table_free(t);
            return TL_ENOMEM;
        }
    }
    *out = t;
    return 0;
}

void probe_table_set_hook_arg(struct probe_table *t, void *arg)
{
    t->o.hook_arg = arg;
}

size_t probe_table_count(const struct probe_table *t)
{
    return t ? t->n_states : 0;
}

struct probe_state *probe_table_at(const struct probe_table *t, size_t i)
{
    return i < t->n_states ? t->states[i] : NULL;
}

struct probe_state *probe_table_find(const struct probe_table *t, const char *id, const char *region)
{
    struct probe_state *any = NULL;
    for (size_t i = 0; i < t->n_states; i++) {
        struct probe_state *ps = t->states[i];
        if (strcmp(ps->probe->id, id) != 0)
            continue;
        if (!ps->vantage || strcmp(ps->region, region) == 0)
            return ps;
        if (!any)
            any = ps;
    }
    return any;
}

void probe_table_free(struct probe_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_states; i++)
        state_release(t->states[i]);
    free(t->states);
    for (size_t i = 0; i < t->n_lfiles; i++)
        lfile_unref(t->lfiles[i]);
    free(t->lfiles);
    strv_free(&t->files);
    strv_free(&t->rejected);
    free(t);
}

bool probe_table_rejected(const struct probe_table *t, size_t i, const char **path, const char **error,
                          bool *last_good)
{
    if (!t || i >= t->rejected.n / 3)
        return false;
    *path = t->rejected.v[3 * i];
    *error = t->rejected.v[3 * i + 1];
    *last_good = t->rejected.v[3 * i + 2][0] == '1';
    return true;
}
