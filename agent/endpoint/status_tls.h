/* The peer certificates of a probe's last run on /metrics and /status:
 * tripline_tls_cert_not_after_seconds{probe,region,step} and the soonest
 * not-after of the probe. */
#ifndef TRIPLINE_STATUS_TLS_H
#define TRIPLINE_STATUS_TLS_H

#include <cjson/cJSON.h>

#include "agent/endpoint/metrics.h"
#include "probes/run/result.h"

/* Registers the gauge family in m; NULL when out of memory. */
struct metric_family *status_tls_family(struct metrics *m);
/* Sets the gauge of every HTTPS step of r (series created on first use). */
void status_tls_record(struct metric_family *f, const char *probe, const char *region, const struct run_result *r);
/* Adds "tls_not_after" (ISO-8601, the soonest of r's steps) to o when r saw a certificate. */
void status_tls_json(cJSON *o, const struct run_result *r);

#endif
