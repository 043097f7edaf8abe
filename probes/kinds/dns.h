/* The DNS step kind: `dns: {name, type, server, transport}` asks one
 * question through c-ares on the run's loop and judges `expect.dns`
 * (rcode, answers, TTLs). Its facts: {"rcode", "server", "transport",
 * "flags", "answers": [{"name", "type", "ttl", "data"}]}; its body:
 * the answer section as zone-file lines. See docs/probe-file.md. */
#ifndef TRIPLINE_DNS_H
#define TRIPLINE_DNS_H

#include "probes/kinds/kind.h"

extern const struct kind_ops dns_kind_ops;

#endif
