/* Certificate expiry on /metrics and /status (status_tls.h). */
#include "agent/endpoint/status_tls.h"

#include "base/time.h"

struct metric_family *status_tls_family(struct metrics *m)
{
    return metrics_gauge(m, "tripline_tls_cert_not_after_seconds",
                         "Unix time of the not-after of the certificate each HTTPS step last saw",
                         (const char *const[]){"probe", "region", "step"}, 3);
}

void status_tls_record(struct metric_family *f, const char *probe, const char *region, const struct run_result *r)
{
    for (size_t i = 0; f && r && i < r->n_steps; i++) {
        const struct step_result *s = &r->steps[i];
        if (!s->ran || !s->tls)
            continue;
        /* the step name is the probe file's; the series goes with the probe */
        struct metric *m = metrics_series(f, (const char *const[]){probe, region, s->name});
        if (m)
            metric_set(m, (double)s->tls->not_after);
    }
}

void status_tls_json(cJSON *o, const struct run_result *r)
{
    int64_t soonest = 0;
    for (size_t i = 0; r && i < r->n_steps; i++) {
        const struct step_result *s = &r->steps[i];
        if (s->ran && s->tls && (soonest == 0 || s->tls->not_after < soonest))
            soonest = s->tls->not_after;
    }
    char when[TL_ISO8601_LEN];
    if (soonest && tl_iso8601(soonest * 1000000, false, when) == 0)
        cJSON_AddStringToObject(o, "tls_not_after", when);
}
