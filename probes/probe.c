#include "probes/probe.h"

#include <string.h>

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
