/* Shard: split one region's probes among several agents.
 *
 * An agent configured with `shard: i/n` runs only the probes whose id hashes
 * to bucket i of n. Buckets come from jump consistent hash (Lamping & Veach,
 * 2014): going from n to n+1 agents moves about 1/(n+1) of the probes, all of
 * them to the new agent, so growing a region does not reshuffle every probe's
 * history and escalation state. */
#ifndef TRIPLINE_SHARD_H
#define TRIPLINE_SHARD_H

#include <stdbool.h>

/* The largest n accepted: config.c caps each part at six digits. */
#define SHARD_MAX 999999u

/* Parses "i/n" (decimal, 0 <= i < n <= SHARD_MAX, nothing else around it).
 * 0 on success with *i and *n set; -1 otherwise, leaving them untouched. */
int shard_parse(const char *s, unsigned *i, unsigned *n);
/* The bucket in [0, n) of probe_id; 0 when n is 0 or 1 or probe_id is NULL. */
unsigned shard_of(const char *probe_id, unsigned n);
/* Whether shard i of n runs probe_id. Every id is owned by exactly one i. */
bool shard_owns(const char *probe_id, unsigned i, unsigned n);

#endif
