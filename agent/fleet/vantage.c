#include "agent/fleet/vantage.h"

#include <stdio.h>

size_t vantage_slots(const struct config *cfg)
{
    return cfg->n_vantages ? cfg->n_vantages : 1;
}

const struct vantage *vantage_slot(const struct config *cfg, size_t i)
{
    return i < cfg->n_vantages ? &cfg->vantages[i] : NULL;
}

const char *vantage_region(const struct config *cfg, const struct vantage *v)
{
    return v ? v->region : cfg->region;
}

int vantage_entry_id(const char *probe_id, const struct vantage *v, char *out, size_t outlen)
{
    int n = v ? snprintf(out, outlen, "%s@%s", probe_id, v->region) : snprintf(out, outlen, "%s", probe_id);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

void vantage_env(struct journey_env *env, const struct journey_env *base, const struct vantage *v)
{
    *env = *base;
    if (!v)
        return;
    env->region = v->region;
    env->vantage = v->region;
    env->resolve = v->resolve_lines;
    env->proxy = v->proxy;
    env->interface = v->interface;
}
