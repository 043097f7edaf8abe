/* Vantages in a running agent: a probe runs once per vantage whose region it
 * runs in, as if from that region, through the vantage's egress settings.
 * Without vantages an agent has one implicit slot: its own region, direct. */
#ifndef TRIPLINE_VANTAGE_H
#define TRIPLINE_VANTAGE_H

#include <stddef.h>

#include "agent/config/config.h"
#include "probes/run/journey.h"

/* How many slots a probe can run in: the vantages, or 1 (the agent itself). */
size_t vantage_slots(const struct config *cfg);
/* Slot i's vantage, or NULL for the agent's own region. */
const struct vantage *vantage_slot(const struct config *cfg, size_t i);
/* The region a slot's results, metrics and events are labelled with. */
const char *vantage_region(const struct config *cfg, const struct vantage *v);
/* The scheduler entry id: "checkout", or "checkout@eu-west" through a
 * vantage. Returns -1 when it does not fit. */
int vantage_entry_id(const char *probe_id, const struct vantage *v, char *out, size_t outlen);
/* env = base with the vantage's region and egress settings (v may be NULL). */
void vantage_env(struct journey_env *env, const struct journey_env *base, const struct vantage *v);

#endif
