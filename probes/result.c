#include "probes/result.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

void run_result_free(struct run_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_steps; i++) {
        free(r->steps[i].name);
        free(r->steps[i].reason);
        strv_free(&r->steps[i].failures);
        cJSON_Delete(r->steps[i].evidence);
    }
    free(r->steps);
    strv_free(&r->failures);
    free(r->probe_id);
    free(r->region);
    free(r->vantage);
    free(r->reason);
    free(r);
}

int64_t result_wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void result_time_str(int64_t us, char *out, size_t outlen)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", base, (int)((us / 1000) % 1000));
}

static cJSON *timings_json(const struct timings *t)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "dns_ms", (double)t->dns / 1000.0);
    cJSON_AddNumberToObject(o, "connect_ms", (double)t->connect / 1000.0);
    cJSON_AddNumberToObject(o, "tls_ms", (double)t->tls / 1000.0);
    cJSON_AddNumberToObject(o, "ttfb_ms", (double)t->ttfb / 1000.0);
    cJSON_AddNumberToObject(o, "total_ms", (double)t->total / 1000.0);
    return o;
}

static cJSON *strv_json(const struct strv *sv)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < sv->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(sv->v[i]));
    return a;
}

cJSON *run_result_json(const struct run_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char when[40];
    result_time_str(r->started_at_us, when, sizeof(when));
    cJSON_AddStringToObject(o, "probe", r->probe_id);
    cJSON_AddStringToObject(o, "region", r->region);
    if (r->vantage)
        cJSON_AddStringToObject(o, "vantage", r->vantage);
    cJSON_AddStringToObject(o, "started_at", when);
    cJSON_AddBoolToObject(o, "ok", r->ok);
    if (r->ok)
        cJSON_AddNullToObject(o, "bucket");
    else
        cJSON_AddStringToObject(o, "bucket", bucket_str(r->bucket));
    if (r->reason && !r->ok)
        cJSON_AddStringToObject(o, "reason", r->reason);
    cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration / 1000.0);
    cJSON_AddBoolToObject(o, "budget_breached", r->budget_breached);
    if (r->failed_step >= 0)
        cJSON_AddStringToObject(o, "failed_step", r->steps[r->failed_step].name);
    cJSON_AddItemToObject(o, "failures", strv_json(&r->failures));
    cJSON *steps = cJSON_AddArrayToObject(o, "steps");
    for (size_t i = 0; steps && i < r->n_steps; i++) {
        const struct step_result *s = &r->steps[i];
        cJSON *so = cJSON_CreateObject();
        if (!so)
            break;
        cJSON_AddStringToObject(so, "name", s->name);
        cJSON_AddBoolToObject(so, "ran", s->ran);
        cJSON_AddBoolToObject(so, "ok", s->ran && s->ok);
        if (s->ran && s->status > 0)
            cJSON_AddNumberToObject(so, "status", (double)s->status);
        else
            cJSON_AddNullToObject(so, "status");
        if (s->ran) {
            cJSON_AddStringToObject(so, "correlation_id", s->correlation_id);
            cJSON_AddItemToObject(so, "timings", timings_json(&s->timings));
        }
        if (s->ran && !s->ok) {
            cJSON_AddStringToObject(so, "bucket", bucket_str(s->bucket));
            if (s->reason)
                cJSON_AddStringToObject(so, "reason", s->reason);
        }
        cJSON_AddItemToObject(so, "failures", strv_json(&s->failures));
        if (s->evidence)
            cJSON_AddItemToObject(so, "evidence", cJSON_Duplicate(s->evidence, 1));
        cJSON_AddItemToArray(steps, so);
    }
    return o;
}
