/* Events: an escalation transition written in the issue schema, with the
 * agent's own fields beside it (docs/events.md). */
#ifndef TRIPLINE_EVENT_H
#define TRIPLINE_EVENT_H

#include <cjson/cJSON.h>

#include "agent/incident/escalation.h"
#include "probes/run/result.h"

struct event_in {
    const char *probe_id;            /* always; NULL: probe->id */
    const struct probe *probe;       /* NULL when its definition is gone (a removed probe) */
    const struct esc_transition *t;
    const struct run_result *last;   /* the run that caused it (may be ok on resolution) */
    const char *region;
    const char *agent;
    const cJSON *timeline;           /* the incident's action timeline, may be NULL */
    /* A follow-up of t, sent once its actions have ended: "updated" or
     * "rollback_failed" (NULL: the event of t itself), active as given. */
    const char *follow_up;
    bool active;
};

/* A new event object; NULL when out of memory. */
cJSON *event_build(const struct event_in *in);
/* "checkout.upstream.timeout": the probe id and parts made valid issue-code
 * segments ([a-z0-9_]). */
void event_issue_code(const char *probe, const char *bucket, const char *reason, char *out, size_t outlen);

#endif
