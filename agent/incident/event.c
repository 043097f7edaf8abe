#include "agent/incident/event.h"
#include "base/time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void append_segment(char *out, size_t outlen, size_t *len, const char *s)
{
    if (*len && *len + 1 < outlen)
        out[(*len)++] = '.';
    size_t start = *len;
    for (; s && *s && *len + 1 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        out[(*len)++] = (char)(isalnum(c) ? tolower(c) : '_');
    }
    if (*len == start && *len + 1 < outlen)
        out[(*len)++] = 'x'; /* a segment is never empty */
    out[*len] = '\0';
}

void event_issue_code(const char *probe, const char *bucket, const char *reason, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    append_segment(out, outlen, &len, probe);
    append_segment(out, outlen, &len, bucket);
    append_segment(out, outlen, &len, reason && *reason ? reason : "failure");
}

static const char *severity_of(enum level l)
{
    switch (l) {
    case LEVEL_CRITICAL: return "error";
    case LEVEL_WARNING: return "warning";
    default: return "info";
    }
}

cJSON *event_build(const struct event_in *in)
{
    const struct esc_transition *t = in->t;
    const struct probe *p = in->probe;
    const char *id = in->probe_id ? in->probe_id : p->id;
    cJSON *e = cJSON_CreateObject();
    if (!e)
        return NULL;
    char code[256], when[TL_ISO8601_LEN], since[TL_ISO8601_LEN], title[512], detail[1024];
    const char *bucket = bucket_str(t->bucket);
    event_issue_code(id, bucket, t->reason, code, sizeof(code));
    tl_iso8601(t->at_us, true, when);
    tl_iso8601(t->failing_since_us ? t->failing_since_us : t->opened_at_us, true, since);
    bool resolved = t->kind == ESC_RESOLVED;
    bool active = in->follow_up ? in->active : !resolved;
    if (in->follow_up && strcmp(in->follow_up, "rollback_failed") == 0)
        snprintf(title, sizeof(title), "%s in %s: a rollback failed, a mitigation may still be applied", id,
                 in->region);
    else if (in->follow_up)
        snprintf(title, sizeof(title), "%s in %s: the outcomes of its actions", id, in->region);
    else if (resolved)
        snprintf(title, sizeof(title), "%s recovered in %s", id, in->region);
    else
        snprintf(title, sizeof(title), "%s failing in %s: %s %s", id, in->region, bucket, t->reason);
    detail[0] = '\0';
    if (in->last && !in->last->ok && in->last->failed_step >= 0 &&
        in->last->steps[in->last->failed_step].failures.n)
        snprintf(detail, sizeof(detail), "%s", in->last->steps[in->last->failed_step].failures.v[0]);
    else if (in->last && in->last->failures.n)
        snprintf(detail, sizeof(detail), "%s", in->last->failures.v[0]);
    else if (resolved && t->resolution && strcmp(t->resolution, "recovered") != 0)
        snprintf(detail, sizeof(detail), "resolved without recovery: %s", t->resolution);
    else if (resolved && p)
        snprintf(detail, sizeof(detail), "%d consecutive successful runs", p->escalation.resolve_successes);

    cJSON_AddStringToObject(e, "issue", code);
    cJSON_AddStringToObject(e, "severity", severity_of(t->level));
    cJSON_AddBoolToObject(e, "active", active);
    if (t->correlation_id[0])
        cJSON_AddStringToObject(e, "correlationId", t->correlation_id);
    else
        cJSON_AddStringToObject(e, "correlationId", t->event_id);
    cJSON_AddStringToObject(e, "dateTime", when);
    cJSON *msg = cJSON_AddObjectToObject(e, "message");
    if (msg) {
        cJSON_AddStringToObject(msg, "title", title);
        cJSON_AddStringToObject(msg, "detail", detail);
    }
    if (p && p->runbook) {
        cJSON *links = cJSON_AddObjectToObject(e, "links");
        if (links)
            cJSON_AddStringToObject(links, "documentation", p->runbook);
    }
    cJSON_AddStringToObject(e, "eventId", t->event_id);
    cJSON_AddStringToObject(e, "incidentId", t->incident_id);
    cJSON_AddStringToObject(e, "transition", in->follow_up ? in->follow_up : esc_kind_str(t->kind));
    cJSON_AddStringToObject(e, "level", level_str(t->level));
    cJSON_AddStringToObject(e, "previousLevel", level_str(t->prev_level));
    cJSON_AddStringToObject(e, "probe", id);
    if (t->step[0])
        cJSON_AddStringToObject(e, "step", t->step);
    cJSON_AddStringToObject(e, "region", in->region);
    cJSON_AddStringToObject(e, "agent", in->agent);
    cJSON_AddStringToObject(e, "bucket", bucket);
    cJSON_AddStringToObject(e, "reason", t->reason);
    cJSON_AddBoolToObject(e, "flapping", t->flapping);
    if (resolved && t->resolution)
        cJSON_AddStringToObject(e, "resolution", t->resolution);
    cJSON *labels = cJSON_AddObjectToObject(e, "labels");
    for (size_t i = 0; labels && p && i < p->n_labels; i++)
        cJSON_AddStringToObject(labels, p->labels[i].key, p->labels[i].value);
    cJSON *impact = cJSON_AddObjectToObject(e, "impact");
    if (impact) {
        cJSON_AddNumberToObject(impact, "consecutiveFailures", t->consecutive_failures);
        cJSON_AddNumberToObject(impact, "failureRatio", t->failure_ratio);
        cJSON_AddNumberToObject(impact, "windowRuns", (double)t->window_observations);
        cJSON_AddStringToObject(impact, "since", since);
    }
    if (in->last && !in->last->ok && in->last->failed_step >= 0 && in->last->steps[in->last->failed_step].evidence) {
        cJSON *ev = cJSON_Duplicate(in->last->steps[in->last->failed_step].evidence, 1);
        if (ev && impact)
            cJSON_AddItemToObject(ev, "impact", cJSON_Duplicate(impact, 1));
        cJSON_AddItemToObject(e, "evidence", ev);
    }
    if (in->timeline)
        cJSON_AddItemToObject(e, "timeline", cJSON_Duplicate(in->timeline, 1));
    return e;
}
