/* Checks of one step's response against its `expect` block: status, headers,
 * JSON paths, body, expected issues, the issue schema, correlation-id echo and
 * latency budgets. Every failure is one message saying exactly what failed
 * and why (without the "step NAME: " prefix; the journey adds it). */
#ifndef TRIPLINE_CHECKS_H
#define TRIPLINE_CHECKS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "probes/probe.h"
#include "probes/run/template.h"
#include "probes/http/transfer.h"
#include "probes/grpc/grpc.h"

struct check_outcome {
    bool status_ok;         /* the status matched the expectation */
    bool checks_failed;     /* a non-budget check failed */
    bool budget_breached;   /* a latency budget was exceeded */
    const char *budget_phase; /* first breached phase ("ttfb", ...; static), NULL if none */
    int schema_violations;  /* issue-schema violations found */
    char issue_class[64];   /* class of the first issue in the body, "" if none */
    struct strv failures;   /* contract/status/check messages */
    struct strv budget_failures; /* "ttfb 412.3 ms > budget 200 ms" */
    struct strv issue_codes; /* codes of the issues in the body, in order */
    struct grpc_answer grpc;  /* a grpc: step's answer (grpc_check); grpc.read false otherwise */
    bool cert_expiring;     /* expect.tls: the certificate expires within min_days */
    bool config_error;      /* a capture the probe's own configuration cannot take (agent, probe_config) */
};

void check_outcome_init(struct check_outcome *o);
void check_outcome_free(struct check_outcome *o);

/* True when status satisfies se (n == 0: 200..399). */
bool status_expect_match(const struct status_expect *se, long status);
/* "201", "200-299", "200 or 201" for messages. */
void status_expect_str(const struct status_expect *se, char *out, size_t outlen);

/* Runs every check of e against resp. json is the parsed body (NULL when the
 * body is empty or not JSON). correlation_id is the X-Correlation-ID sent;
 * vars render templates in expected values. Returns 0 (failures go in o),
 * -1 only on allocation failure. A response with no status (transport
 * failure) is not passed here. */
int checks_run(const struct expect *e, const struct response *resp, const cJSON *json,
               const char *correlation_id, const struct tpl_vars *vars, struct check_outcome *o);

/* The checks that make sense without a status line, for steps of other
 * kinds (probes/kinds): expect.json on the exchange's facts, expect.body on
 * the bytes read, budgets. Same contract as checks_run. */
int checks_run_data(const struct expect *e, const struct response *resp, const cJSON *facts,
                    const struct tpl_vars *vars, struct check_outcome *o);

/* Checks timings against a budget; pushes "ttfb 412.3 ms > budget 200 ms"
 * messages to out; returns how many were breached. */
int budget_check(const struct budget *b, const struct timings *t, struct strv *out);

#endif
