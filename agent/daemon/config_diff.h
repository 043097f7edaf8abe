/* Which keys of the agent's config changed between two loads of its file.
 * SIGHUP applies limits.concurrency, limits.per_host, limits.body_max,
 * log_level and drain_timeout; every other changed key needs a restart and
 * is named in one log line (agent_reload). */
#ifndef TRIPLINE_CONFIG_DIFF_H
#define TRIPLINE_CONFIG_DIFF_H

#include "agent/config/config.h"
#include "base/buf.h"
#include "base/err.h"

/* Appends ", "-separated the changed keys that need a restart (restart) and
 * those SIGHUP applies (applied). 0 or TL_ENOMEM/TL_ETOOBIG. */
int config_diff(const struct config *old, const struct config *cur, struct buf *restart, struct buf *applied);

#endif
