#include "probes/run/result.h"
#include "base/time.h"
#include "base/freelist.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

/* A one-step probe's step array, the common case, is reused (freelist.h). */
static struct freelist one_step = FREELIST_INIT(sizeof(struct step_result));

struct step_result *run_result_steps_new(size_t n)
{
    if (n == 1)
        return freelist_get(&one_step);
    return calloc(n ? n : 1, sizeof(struct step_result));
}

void run_result_free(struct run_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_steps; i++) {
        free(r->steps[i].name);
        free(r->steps[i].reason);
        strv_free(&r->steps[i].failures);
        cJSON_Delete(r->steps[i].evidence);
        cJSON_Delete(r->steps[i].failed_attempts);
        free(r->steps[i].tls);
    }
    if (r->n_steps == 1)
        freelist_put(&one_step, r->steps);
    else
        free(r->steps);
    strv_free(&r->failures);
    free(r->probe_id);
    free(r->region);
    free(r->vantage);
    free(r->reason);
    free(r);
}


/* Milliseconds with microsecond digits, written by integer arithmetic:
 * cJSON prints every double with sprintf, reads it back with sscanf and
 * often prints it again, which was a quarter of a run's instructions. */
static void add_ms(cJSON *o, const char *key, tl_usec us)
{
    char text[32], *p = text + sizeof(text);
    bool neg = us < 0;
    uint64_t v = neg ? (uint64_t)-us : (uint64_t)us;
    *--p = '\0';
    int frac = (int)(v % 1000);
    v /= 1000;
    /* drop trailing zeros of the fraction, as %g would */
    int digits = 3;
    while (digits > 0 && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    for (int i = 0; i < digits; i++) {
        *--p = (char)('0' + frac % 10);
        frac /= 10;
    }
    if (digits)
        *--p = '.';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        *--p = '-';
    cJSON_AddRawToObject(o, key, p);
}

/* A request that got no answer never reached some phases: those are null,
 * not 0 (curl reports 0 for a phase it did not reach). */
static void add_phase(cJSON *o, const char *key, tl_usec us, bool answered)
{
    if (!answered && us == 0)
        cJSON_AddNullToObject(o, key);
    else
        add_ms(o, key, us);
}

static cJSON *timings_json(const struct timings *t, bool answered)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_phase(o, "dns_ms", t->dns, answered);
    add_phase(o, "connect_ms", t->connect, answered);
    add_phase(o, "tls_ms", t->tls, answered);
    if (answered)
        add_ms(o, "ttfb_ms", t->ttfb);
    else
        cJSON_AddNullToObject(o, "ttfb_ms");
    add_ms(o, "total_ms", t->total);
    return o;
}

static cJSON *strv_json(const struct strv *sv)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < sv->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(sv->v[i]));
    return a;
}

/* The run's failures: the journey's own, then those of every step that
 * failed, so a CI gate reading only the top level sees why. */
static cJSON *run_failures_json(const struct run_result *r)
{
    cJSON *a = strv_json(&r->failures);
    for (size_t i = 0; a && i < r->n_steps; i++) {
        const struct step_result *s = &r->steps[i];
        for (size_t k = 0; s->ran && !s->ok && k < s->failures.n; k++)
            cJSON_AddItemToArray(a, cJSON_CreateString(s->failures.v[k]));
    }
    return a;
}

cJSON *run_result_json(const struct run_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char when[TL_ISO8601_LEN];
    tl_iso8601(r->started_at_us, true, when);
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
    add_ms(o, "duration_ms", r->duration);
    cJSON_AddBoolToObject(o, "budget_breached", r->budget_breached);
    if (r->failed_step >= 0)
        cJSON_AddStringToObject(o, "failed_step", r->steps[r->failed_step].name);
    cJSON_AddItemToObject(o, "failures", run_failures_json(r));
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
            add_ms(so, "status", (tl_usec)s->status * 1000);
        else
            cJSON_AddNullToObject(so, "status");
        if (s->kind != STEP_HTTP)
            cJSON_AddStringToObject(so, "kind", step_kind_str(s->kind));
        if (s->ran && s->kind == STEP_HTTP)
            cJSON_AddStringToObject(so, "correlation_id", s->correlation_id);
        if (s->ran)
            cJSON_AddItemToObject(so, "timings", timings_json(&s->timings, s->status > 0 || s->answered));
        if (s->ran && !s->ok) {
            cJSON_AddStringToObject(so, "bucket", bucket_str(s->bucket));
            if (s->reason)
                cJSON_AddStringToObject(so, "reason", s->reason);
        }
        cJSON_AddItemToObject(so, "failures", strv_json(&s->failures));
        if (s->ran && s->tls)
            cJSON_AddItemToObject(so, "tls", tls_facts_json(s->tls));
        if (s->evidence)
            cJSON_AddItemToObject(so, "evidence", cJSON_Duplicate(s->evidence, 1));
        if (s->ran)
            add_ms(so, "attempts", (tl_usec)(s->attempts > 0 ? s->attempts : 1) * 1000);
        if (s->failed_attempts)
            cJSON_AddItemToObject(so, "failed_attempts", cJSON_Duplicate(s->failed_attempts, 1));
        cJSON_AddItemToArray(steps, so);
    }
    return o;
}
