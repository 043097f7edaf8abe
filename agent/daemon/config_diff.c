/* The agent config's changed keys (config_diff.h). */
#include "agent/daemon/config_diff.h"

#include <stdbool.h>
#include <string.h>

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strs_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

static bool sinks_eq(const struct config *a, const struct config *b)
{
    const struct sink_service *s = &a->service, *t = &b->service;
    const struct sink_alertmanager *x = &a->alertmanager, *y = &b->alertmanager;
    return a->sink_stdout == b->sink_stdout && str_eq(a->sink_file, b->sink_file) &&
           a->has_service == b->has_service && str_eq(s->url, t->url) && str_eq(s->token_file, t->token_file) &&
           str_eq(s->hmac_key_file, t->hmac_key_file) && s->timeout == t->timeout &&
           s->batch_max == t->batch_max && a->has_alertmanager == b->has_alertmanager &&
           strs_eq(x->urls, x->n_urls, y->urls, y->n_urls) && x->repost == y->repost;
}

static bool vantages_eq(const struct config *a, const struct config *b)
{
    if (a->n_vantages != b->n_vantages)
        return false;
    for (size_t i = 0; i < a->n_vantages; i++) {
        const struct vantage *v = &a->vantages[i], *w = &b->vantages[i];
        if (!str_eq(v->region, w->region) || !str_eq(v->proxy, w->proxy) || !str_eq(v->interface, w->interface) ||
            !strs_eq(v->resolve, v->n_resolve, w->resolve, w->n_resolve))
            return false;
    }
    return true;
}

static bool peers_eq(const struct config *a, const struct config *b)
{
    const struct peers_config *p = &a->peers, *q = &b->peers;
    return a->has_peers == b->has_peers && str_eq(p->key_file, q->key_file) && p->timeout == q->timeout &&
           strs_eq(p->urls, p->n_urls, q->urls, q->n_urls);
}

static int name(struct buf *b, bool changed, const char *key)
{
    if (!changed)
        return 0;
    return buf_printf(b, "%s%s", b->len ? ", " : "", key);
}

int config_diff(const struct config *o, const struct config *n, struct buf *restart, struct buf *applied)
{
    struct buf *r = restart;
    int rc = name(r, !str_eq(o->region, n->region), "region");
    rc = rc ? rc : name(r, !str_eq(o->name, n->name), "name");
    rc = rc ? rc : name(r, !strs_eq(o->probe_globs, o->n_probe_globs, n->probe_globs, n->n_probe_globs), "probes");
    rc = rc ? rc : name(r, !str_eq(o->listen, n->listen), "listen");
    rc = rc ? rc : name(r, !str_eq(o->status_token_file, n->status_token_file), "endpoint.status_token_file");
    rc = rc ? rc : name(r, !str_eq(o->spool_dir, n->spool_dir), "spool.dir");
    rc = rc ? rc : name(r, o->spool_max_bytes != n->spool_max_bytes, "spool.max_size");
    rc = rc ? rc : name(r, !sinks_eq(o, n), "sinks");
    rc = rc ? rc : name(r, !str_eq(o->ca_file, n->ca_file), "tls.ca_file");
    rc = rc ? rc : name(r, !str_eq(o->shard, n->shard), "shard");
    rc = rc ? rc : name(r, !vantages_eq(o, n), "vantages");
    rc = rc ? rc : name(r, !peers_eq(o, n), "peers");
    struct buf *a = applied;
    rc = rc ? rc : name(a, o->concurrency != n->concurrency, "limits.concurrency");
    rc = rc ? rc : name(a, o->per_host != n->per_host, "limits.per_host");
    rc = rc ? rc : name(a, o->body_max != n->body_max, "limits.body_max");
    rc = rc ? rc : name(a, o->log_level != n->log_level, "log_level");
    rc = rc ? rc : name(a, o->drain_timeout != n->drain_timeout, "drain_timeout");
    return rc;
}
