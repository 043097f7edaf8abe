/* The icmp step kind: echo requests over an unprivileged ping socket. */
#ifndef TRIPLINE_KIND_ICMP_H
#define TRIPLINE_KIND_ICMP_H

#include <stdbool.h>
#include <stddef.h>

#include "probes/kinds/kind.h"

extern const struct kind_ops icmp_kind_ops;

/* 0 when this process may open ping sockets; else a TL_E* code and, in
 * msg, the warning for `tripline check` and start-up (names the sysctl). */
int icmp_permitted(char *msg, size_t msglen);

/* True (msg set) when set has icmp steps and ping sockets are refused. */
bool icmp_set_warning(const struct probe_set *set, char *msg, size_t msglen);

#endif
