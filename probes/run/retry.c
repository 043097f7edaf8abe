#include "probes/run/retry.h"

#include <stdlib.h>
#include <string.h>

bool retry_wanted(const struct step *st, const struct step_result *sr, const struct verdict *v, tl_usec took,
                  tl_usec left)
{
    bool failed = v->bucket != BUCKET_NONE || sr->failures.n > 0;
    if (!failed || bucket_is_agent(v->bucket))
        return false;
    /* sr->attempts counts the tries before this one */
    if (sr->attempts + 1 >= st->retry.attempts)
        return false;
    return left > st->retry.delay + took;
}

static cJSON *attempt_json(const struct step_result *sr, const struct verdict *v, tl_usec took)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *f = o ? cJSON_CreateArray() : NULL;
    if (!f) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "attempt", sr->attempts + 1);
    cJSON_AddStringToObject(o, "bucket", bucket_str(v->bucket));
    cJSON_AddStringToObject(o, "reason", verdict_reason(v));
    if (sr->status > 0)
        cJSON_AddNumberToObject(o, "status", (double)sr->status);
    else
        cJSON_AddNullToObject(o, "status");
    cJSON_AddNumberToObject(o, "total_ms", (double)took / 1000.0);
    cJSON_AddStringToObject(o, "correlation_id", sr->correlation_id);
    /* the messages were redacted when the journey wrote them */
    for (size_t i = 0; i < sr->failures.n; i++)
        cJSON_AddItemToArray(f, cJSON_CreateString(sr->failures.v[i]));
    cJSON_AddItemToObject(o, "failures", f);
    return o;
}

/* Removes name from vars (a capture of the failed try). */
static void vars_drop(struct tpl_vars *vars, const char *name)
{
    for (size_t i = 0; i < vars->n; i++) {
        if (strcmp(vars->v[i].name, name) != 0)
            continue;
        free(vars->v[i].name);
        free(vars->v[i].value);
        vars->v[i] = vars->v[--vars->n];
        return;
    }
}

void retry_record(struct step_result *sr, const struct step *st, const struct verdict *v, tl_usec took,
                  struct tpl_vars *vars)
{
    if (!sr->failed_attempts)
        sr->failed_attempts = cJSON_CreateArray();
    cJSON *a = sr->failed_attempts ? attempt_json(sr, v, took) : NULL;
    if (a)
        cJSON_AddItemToArray(sr->failed_attempts, a);
    sr->attempts++;
    for (size_t i = 0; i < st->n_captures; i++)
        vars_drop(vars, st->captures[i].name);
    strv_free(&sr->failures);
    strv_init(&sr->failures);
    free(sr->reason);
    sr->reason = NULL;
    sr->status = 0;
    sr->curl_code = 0;
    sr->budget_breached = false;
    memset(&sr->timings, 0, sizeof(sr->timings));
}

void retry_finish(struct step_result *sr)
{
    sr->attempts++;
    if (!sr->evidence || !sr->failed_attempts)
        return;
    cJSON_AddNumberToObject(sr->evidence, "attempts", sr->attempts);
    cJSON *copy = cJSON_Duplicate(sr->failed_attempts, 1);
    if (copy)
        cJSON_AddItemToObject(sr->evidence, "failed_attempts", copy);
}
