/* The registry of step kinds: one line per kind module. */
#include "probes/kinds/kind.h"

#include <string.h>

#include "probes/kinds/dns.h"
#include "probes/kinds/icmp.h"
#include "probes/kinds/tcp.h"

/* Kind modules add their ops here, in enum step_kind order. */
static const struct kind_ops *const kinds[] = {
    NULL, /* keeps the table non-empty while no kind is built in */
    &tcp_kind_ops,
    &dns_kind_ops,
    &icmp_kind_ops,
};

size_t kind_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        n += kinds[i] != NULL;
    return n;
}

const struct kind_ops *kind_at(size_t i)
{
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (!kinds[k])
            continue;
        if (i == 0)
            return kinds[k];
        i--;
    }
    return NULL;
}

const struct kind_ops *kind_ops_of(enum step_kind k)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i] && kinds[i]->kind == k)
            return kinds[i];
    return NULL;
}

const struct kind_ops *kind_ops_by_key(const char *key)
{
    for (size_t i = 0; key && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i] && strcmp(kinds[i]->key, key) == 0)
            return kinds[i];
    return NULL;
}
