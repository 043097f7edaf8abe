#include "probes/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/check/jsonpath.h"
#include "probes/kinds/kind.h"
#include "probes/grpc/grpc.h"
#include "probes/http/transfer.h"
#include "probes/probe_ids.h"

const char *severity_str(enum severity s)
{
    switch (s) {
    case SEV_ERROR: return "error";
    case SEV_WARNING: return "warning";
    case SEV_INFO: return "info";
    case SEV_ANY: break;
    }
    return "any";
}

const char *level_str(enum level l)
{
    switch (l) {
    case LEVEL_NOTICE: return "notice";
    case LEVEL_WARNING: return "warning";
    case LEVEL_CRITICAL: return "critical";
    case LEVEL_NONE: break;
    }
    return "none";
}

struct probe *probe_set_find(struct probe_set *set, const char *id)
{
    if (set && set->ids)
        return probe_ids_find(set->ids, id);
    for (size_t i = 0; set && i < set->n; i++)
        if (strcmp(set->probes[i]->id, id) == 0)
            return set->probes[i];
    return NULL;
}

bool probe_runs_in(const struct probe *p, const char *region)
{
    if (p->n_regions == 0)
        return true;
    for (size_t i = 0; i < p->n_regions; i++)
        if (strcmp(p->regions[i], region) == 0)
            return true;
    return false;
}

/* --- freeing ------------------------------------------------------------- */

static void header_tpls_free(struct header_tpl *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        tpl_free(&h[i].value);
    }
    free(h);
}

static void expect_free(struct expect *e)
{
    free(e->status.ranges);
    for (size_t i = 0; i < e->n_headers; i++) {
        struct header_check *h = &e->headers[i];
        free(h->name);
        tpl_free(&h->value);
        if (h->op == MATCH_MATCHES)
            regfree(&h->re);
    }
    free(e->headers);
    for (size_t i = 0; i < e->n_json; i++) {
        struct json_check *j = &e->json[i];
        jpath_free(&j->path);
        cJSON_Delete(j->equals);
        if (j->op == MATCH_MATCHES)
            regfree(&j->re);
        free(j->re_src);
        free(j->type);
    }
    free(e->json);
    for (size_t i = 0; i < e->n_body; i++) {
        if (e->body[i].op == MATCH_MATCHES)
            regfree(&e->body[i].re);
        free(e->body[i].text);
    }
    free(e->body);
    for (size_t i = 0; i < e->n_issues; i++)
        free(e->issues[i].pattern);
    free(e->issues);
}

void tls_opts_free(struct tls_opts *t)
{
    free(t->ca_file);
    free(t->cert_file);
    free(t->key_file);
    free(t->pinned_public_key);
}

static void step_free(struct step *s)
{
    struct request *r = &s->request;
    const struct kind_ops *kind = kind_ops_of(s->kind);
    if (kind && s->kind_def)
        kind->free(s->kind_def);
    free(s->name);
    free(r->method);
    tpl_free(&r->url);
    header_tpls_free(r->headers, r->n_headers);
    tpl_free(&r->body);
    cJSON_Delete(r->json);
    header_tpls_free(r->form, r->n_form);
    expect_free(&s->expect);
    tls_opts_free(&r->tls);
    for (size_t i = 0; i < s->n_captures; i++) {
        struct capture *c = &s->captures[i];
        free(c->name);
        jpath_free(&c->path);
        free(c->header);
        /* re is compiled exactly when re_src is set. */
        if (c->kind == CAPTURE_REGEX && c->re_src)
            regfree(&c->re);
        if (c->has_rev)
            regfree(&c->rev);
        free(c->re_src);
    }
    free(s->captures);
    grpc_def_free(s->grpc);
}

static void action_do_free(struct action_do *d)
{
    free(d->method);
    tpl_free(&d->url);
    header_tpls_free(d->headers, d->n_headers);
    cJSON_Delete(d->json);
    for (size_t i = 0; i < d->argc; i++)
        free(d->argv[i]);
    free(d->argv);
}

void probe_free(struct probe *p)
{
    if (!p)
        return;
    free(p->id);
    free(p->description);
    free(p->runbook);
    for (size_t i = 0; i < p->n_labels; i++) {
        free(p->labels[i].key);
        free(p->labels[i].value);
    }
    free(p->labels);
    for (size_t i = 0; i < p->n_regions; i++)
        free(p->regions[i]);
    free(p->regions);
    free(p->schedule.cron);
    for (size_t i = 0; i < p->n_vars; i++) {
        free(p->vars[i].name);
        tpl_free(&p->vars[i].value);
    }
    free(p->vars);
    for (size_t i = 0; i < p->n_steps; i++)
        step_free(&p->steps[i]);
    free(p->steps);
    for (size_t i = 0; i < p->escalation.n_ladder; i++) {
        struct ladder_rung *r = &p->escalation.ladder[i];
        for (size_t j = 0; j < r->n_actions; j++)
            free(r->actions[j]);
        free(r->actions);
    }
    free(p->escalation.ladder);
    for (size_t i = 0; i < p->escalation.n_maintenance; i++)
        free(p->escalation.maintenance[i].cron);
    free(p->escalation.maintenance);
    for (size_t i = 0; i < p->n_actions; i++) {
        free(p->actions[i].name);
        action_do_free(&p->actions[i].run);
        action_do_free(&p->actions[i].rollback);
    }
    free(p->actions);
    tls_opts_free(&p->tls);
    free(p);
}

void probe_set_free(struct probe_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        probe_free(set->probes[i]);
    free(set->probes);
    for (size_t i = 0; i < set->n_files; i++)
        free(set->files[i]);
    free(set->files);
    probe_ids_free(set->ids);
    free(set);
}

static const char *const phase_names[PHASE_COUNT] = { "dns", "connect", "tls", "ttfb", "total" };

static const char *const step_kind_names[STEP_KIND_COUNT] = { "http", "tcp", "dns", "icmp" };

const char *step_kind_str(enum step_kind k)
{
    return (unsigned)k < STEP_KIND_COUNT ? step_kind_names[k] : "unknown";
}

const char *phase_str(enum phase p)
{
    return (unsigned)p < PHASE_COUNT ? phase_names[p] : "unknown";
}

int phase_parse(const char *name)
{
    for (int i = 0; name && i < PHASE_COUNT; i++)
        if (strcmp(name, phase_names[i]) == 0)
            return i;
    return -1;
}

/* host:port of a URL's origin: transfer_url_origin without the scheme. */
static bool origin_host_key(const char *url, char *out, size_t outlen)
{
    char origin[TRANSFER_ORIGIN_MAX];
    if (transfer_url_origin(url, origin, sizeof origin) != 0)
        return false;
    snprintf(out, outlen, "%s", strstr(origin, "://") + 3);
    return true;
}

/* The host a probe's runs count against for the per-host limit: the first
 * step's URL host when it can be worked out at load time (a constant URL or
 * one starting with a constant var), else the probe id. */
void probe_host_key(const struct probe *p, struct probe_host_memo *memo, char *out, size_t outlen)
{
    if (p->n_steps == 0)
        goto by_id;
    if (p->steps[0].kind != STEP_HTTP) {
        const struct kind_ops *kind = kind_ops_of(p->steps[0].kind);
        snprintf(out, outlen, "probe:%s", p->id);
        if (kind && kind->host_key)
            kind->host_key(p->steps[0].kind_def, out, outlen);
        return;
    }
    /* only constant parts: a template needing env or a capture is skipped */
    const struct tpl *t = &p->steps[0].request.url;
    for (size_t i = 0; i < t->n; i++) {
        if (t->segs[i].kind == TPL_ENV || t->segs[i].kind == TPL_FILE)
            goto by_id;
    }
    struct tpl_vars vs;
    tpl_vars_init(&vs);
    for (size_t i = 0; i < p->n_vars; i++)
        if (tpl_is_const(&p->vars[i].value))
            tpl_vars_set(&vs, p->vars[i].name, p->vars[i].value.src, false);
    bool all_known = true;
    for (size_t i = 0; all_known && i < t->n; i++)
        all_known = t->segs[i].kind != TPL_VAR || tpl_vars_get(&vs, t->segs[i].text);
    char err[256];
    char *url = all_known ? tpl_render_str(t, &vs, TPL_ESC_URL, NULL, err, sizeof(err)) : NULL;
    tpl_vars_free(&vs);
    if (!url)
        goto by_id;
    /* The origin ends where the path, query or fragment starts. */
    char *sep = strstr(url, "://");
    if (sep)
        url[sep + 3 - url + strcspn(sep + 3, "/?#")] = '\0';
    size_t len = strlen(url);
    bool ok;
    if (memo && len < sizeof memo->origin && strcmp(memo->origin, url) == 0) {
        ok = memo->ok;
        if (ok)
            snprintf(out, outlen, "%s", memo->key);
    } else {
        ok = origin_host_key(url, out, outlen);
        if (memo && len < sizeof memo->origin) {
            memcpy(memo->origin, url, len + 1);
            memo->ok = ok;
            if (ok)
                snprintf(memo->key, sizeof memo->key, "%s", out);
        }
    }
    free(url);
    if (ok)
        return;
by_id:
    snprintf(out, outlen, "probe:%s", p->id);
}
