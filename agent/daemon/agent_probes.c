/* Probe files in a running agent: the first load, reloads (SIGHUP), and the
 * per-probe state that must survive them. */
#include <stdint.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/err.h"
#include "base/hash.h"
#include "agent/daemon/agent_int.h"
#include "agent/daemon/probe_files.h"
#include "agent/fleet/vantage.h"
#include "probes/load/load.h"
#include "schedules/shard.h"

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

/* The host a probe's runs count against for the per-host limit: the first
 * step's URL host when it can be worked out at load time (a constant URL or
 * one starting with a constant var), else the probe id. */
static void probe_host(const struct probe *p, char *out, size_t outlen)
{
    snprintf(out, outlen, "probe:%s", p->id);
    if (p->n_steps == 0)
        return;
    struct tpl_vars vs;
    tpl_vars_init(&vs);
    for (size_t i = 0; i < p->n_vars; i++)
        if (tpl_is_const(&p->vars[i].value))
            tpl_vars_set(&vs, p->vars[i].name, p->vars[i].value.src, false);
    char err[256];
    char *url = NULL;
    /* only constant parts: a template needing env or a capture is skipped */
    bool all_known = true;
    for (size_t i = 0; i < p->steps[0].request.url.n; i++) {
        const struct tpl_seg *s = &p->steps[0].request.url.segs[i];
        if (s->kind == TPL_VAR && !tpl_vars_get(&vs, s->text))
            all_known = false;
        if (s->kind == TPL_ENV || s->kind == TPL_FILE)
            all_known = false;
    }
    if (all_known)
        url = tpl_render_str(&p->steps[0].request.url, &vs, TPL_ESC_URL, NULL, err, sizeof(err));
    tpl_vars_free(&vs);
    if (!url)
        return;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
        snprintf(out, outlen, "%s:%s", host, port ? port : "");
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    free(url);
}

/* A probe runs here when it is for this region (the agent's, or a
 * vantage's) and, in a sharded region, when its id hashes to this agent's
 * shard. */
static bool runs_here(const struct agent *a, const struct probe *p, const char *region)
{
    if (!probe_runs_in(p, region))
        return false;
    return a->shard_n == 0 || shard_owns(p->id, a->shard_i, a->shard_n);
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

void agent_state_release(struct probe_state *ps)
{
    if (!ps)
        return;
    esc_free(ps->esc);
    run_result_free(ps->last);
    free(ps->host);
    free(ps);
}

static int state_push(struct agent *a, struct probe_state *ps)
{
    if (a->n_states == a->cap_states) {
        size_t cap = a->cap_states ? a->cap_states * 2 : 64;
        struct probe_state **v = realloc(a->states, cap * sizeof(*v));
        if (!v)
            return -1;
        a->states = v;
        a->cap_states = cap;
    }
    a->states[a->n_states++] = ps;
    return 0;
}

static int state_add(struct agent *a, struct probe *p, struct lfile *lf, const struct vantage *v)
{
    char id[512];
    if (vantage_entry_id(p->id, v, id, sizeof(id)))
        return -1;
    struct probe_state *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return -1;
    ps->agent = a;
    ps->probe = p;
    ps->lf = lf;
    ps->vantage = v;
    ps->region = vantage_region(&a->cfg, v);
    char host[300];
    probe_host(p, host, sizeof(host));
    ps->host = strdup(host);
    if (!ps->host || esc_new(&p->escalation, NULL, &ps->esc) || state_push(a, ps)) {
        agent_state_release(ps);
        return -1;
    }
    int rc = scheduler_add(a->sched, id, &p->schedule, host, ps, &ps->entry);
    if (rc) {
        log_error(a->log, "probe %s: cannot be scheduled (%s)", id, tl_strerror(rc));
        a->n_states--;
        agent_state_release(ps);
        return -1;
    }
    agent_probe_metrics(a, ps);
    return 0;
}

/* Retires a probe: no new runs; its state goes now, or when its run ends. */
static void state_remove(struct agent *a, size_t idx)
{
    struct probe_state *ps = a->states[idx];
    a->states[idx] = a->states[--a->n_states];
    agent_probe_metrics_drop(a, ps->probe->id);
    scheduler_remove(ps->entry);
    /* a running entry lives on until its scheduler_done() */
    if (!ps->running)
        ps->entry = NULL;
    if (ps->running)
        ps->removed = true;
    else
        agent_state_release(ps);
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

/* Loads every file on its own, so a broken file keeps its last good version
 * while the others change. Then matches probes by id: unchanged definitions
 * keep their scheduler entry (phase) and escalation state. */
int agent_load_probes(struct agent *a, bool initial)
{
    struct strv files, errors;
    strv_init(&files);
    strv_init(&errors);
    int n_errors = 0;
    if (a->cfg.n_probe_globs && probe_files_expand(&a->cfg, &files, &errors))
        n_errors++;
    for (size_t i = 0; i < a->files.n; i++)
        strv_push(&files, a->files.v[i]);

    struct lfile **next = calloc(files.n ? files.n : 1, sizeof(*next));
    if (!next) {
        strv_free(&files);
        strv_free(&errors);
        return -1;
    }
    for (size_t i = 0; i < files.n; i++) {
        struct probe_set *set = probe_set_new();
        size_t before = errors.n;
        int bad = set ? probe_load_file(set, files.v[i], &errors) : 1;
        const char *dup_where = NULL;
        for (size_t k = 0; !bad && k < set->n; k++) {
            if (id_in_other_files(next, i, i, set->probes[k]->id, &dup_where)) {
                strv_pushf(&errors, "%s:%d:%d: probe \"%s\" is already defined in %s", files.v[i],
                           set->probes[k]->pos.line, set->probes[k]->pos.column, set->probes[k]->id, dup_where);
                bad = 1;
            }
        }
        if (bad) {
            n_errors++;
            probe_set_free(set);
            for (size_t k = before; k < errors.n; k++)
                log_error(a->log, "%s", errors.v[k]);
            /* keep the last good version of this file, if there is one */
            for (size_t k = 0; k < a->n_lfiles; k++) {
                if (a->lfiles[k] && strcmp(a->lfiles[k]->path, files.v[i]) == 0) {
                    next[i] = lfile_ref(a->lfiles[k]);
                    log_warn(a->log, "%s: keeping its last good version", files.v[i]);
                }
            }
            continue;
        }
        struct lfile *lf = calloc(1, sizeof(*lf));
        if (!lf || !(lf->path = strdup(files.v[i]))) {
            free(lf);
            probe_set_free(set);
            n_errors++;
            continue;
        }
        lf->set = set;
        lf->refs = 1;
        next[i] = lf;
    }

    /* Match the new probes against the running ones. */
    struct state_index ix = {0};
    size_t kept = 0, changed = 0, added = 0, removed = 0, skipped_region = 0;
    size_t slots = vantage_slots(&a->cfg);
    for (size_t i = 0; i < a->n_states; i++)
        a->states[i]->mark = false;
    if (index_build(&ix, a->states, a->n_states))
        n_errors++;
    for (size_t i = 0; ix.slot && i < files.n; i++) {
        struct lfile *lf = next[i];
        for (size_t k = 0; lf && k < lf->set->n * slots; k++) {
            struct probe *p = lf->set->probes[k / slots];
            const struct vantage *v = vantage_slot(&a->cfg, k % slots);
            if (!runs_here(a, p, vantage_region(&a->cfg, v))) {
                skipped_region++;
                continue;
            }
            struct probe_state *ps = index_find(&ix, p->id, v);
            if (ps && ps->probe->def_hash == p->def_hash) {
                ps->probe = p;
                ps->lf = lf;
                esc_rebind(ps->esc, &p->escalation);
                ps->mark = true;
                kept++;
            } else if (ps) {
                changed++; /* the new definition starts afresh */
            } else {
                added++;
            }
        }
    }
    free(ix.slot);
    /* Drop states not kept (removed or changed), then add what is new. */
    for (size_t i = a->n_states; i-- > 0;) {
        if (!a->states[i]->mark) {
            state_remove(a, i);
            removed++;
        }
    }
    if (index_build(&ix, a->states, a->n_states))
        n_errors++;
    for (size_t i = 0; ix.slot && i < files.n; i++) {
        struct lfile *lf = next[i];
        for (size_t k = 0; lf && k < lf->set->n * slots; k++) {
            struct probe *p = lf->set->probes[k / slots];
            const struct vantage *v = vantage_slot(&a->cfg, k % slots);
            if (runs_here(a, p, vantage_region(&a->cfg, v)) && !index_find(&ix, p->id, v) &&
                state_add(a, p, lf, v))
                n_errors++;
        }
    }
    free(ix.slot);
    removed -= changed < removed ? changed : removed;
    for (size_t i = 0; i < a->n_lfiles; i++)
        lfile_unref(a->lfiles[i]);
    free(a->lfiles);
    a->lfiles = next;
    a->n_lfiles = files.n;
    /* files that failed with no earlier version leave a hole */
    size_t w = 0;
    for (size_t i = 0; i < a->n_lfiles; i++)
        if (a->lfiles[i])
            a->lfiles[w++] = a->lfiles[i];
    a->n_lfiles = w;

    log_kv(a->log, n_errors ? LOG_WARN : LOG_INFO,
           LOG_FIELDS(LOG_INT("files", files.n), LOG_INT("probes", a->n_states), LOG_INT("kept", kept),
                      LOG_INT("changed", changed), LOG_INT("added", initial ? 0 : added - changed),
                      LOG_INT("removed", removed), LOG_INT("other_regions", skipped_region),
                      LOG_INT("errors", n_errors)),
           "%s probe files", initial ? "loaded" : "reloaded");
    if (a->m_probes)
        metric_set(a->m_probes, (double)a->n_states);
    strv_free(&files);
    strv_free(&errors);
    /* Parsing left the heap full of freed YAML nodes; hand them back so an
     * idle agent's RSS is what its probes hold, not what loading them took. */
    malloc_trim(0);
    return n_errors ? -1 : 0;
}
