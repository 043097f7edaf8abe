/* The immutable result of one probe run: what the journey produced. Checks
 * read responses; triage decides the verdict (bucket, reason); escalation, sinks, metrics and the
 * CLI read this struct and never change it. */
#ifndef TRIPLINE_RESULT_H
#define TRIPLINE_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "probes/probe.h"
#include "probes/http/transfer.h"
#include "probes/triage/triage.h"

struct step_result {
    char *name;
    bool ran;                   /* false when skipped after an earlier failure */
    bool ok;
    long status;                /* 0 when no response */
    int curl_code;
    struct timings timings;
    enum bucket bucket;         /* BUCKET_NONE when ok */
    char *reason;               /* triage reason ("timeout", "status_503", "schema"...), NULL when ok */
    struct verdict verdict;     /* what triage decided; bucket and reason are its text */
    char correlation_id[37];    /* the X-Correlation-ID sent */
    struct strv failures;       /* every failed check, "step NAME: ..." */
    bool budget_breached;
    cJSON *evidence;            /* evidence pack when failed (redacted), else NULL */
    enum step_kind kind;        /* STEP_HTTP, or the kind that ran (no status, no correlation id) */
    bool answered;              /* a kind step's exchange completed (its ttfb is meaningful) */
    struct tls_facts *tls;      /* the peer certificate, owned; NULL when none was seen (http://).
                                 * Not inline: a probe keeps its last result between runs, and
                                 * 1.3 KiB of empty facts per probe was most of it */
    int attempts;               /* tries made (retry:); 1 without a retry, 0 when it never ran */
    cJSON *failed_attempts;     /* the verdicts of the failed tries before the last; NULL when none */
};

struct run_result {
    const struct probe *probe;  /* borrowed: valid while the probe set lives */
    char *probe_id;             /* owned copy, valid after the set is gone */
    char *region;
    char *vantage;              /* NULL unless run through a vantage */
    int64_t started_at_us;      /* wall clock, microseconds since the epoch */
    tl_usec duration;
    bool ok;
    enum bucket bucket;         /* of the first failing step; BUCKET_NONE when ok */
    char *reason;               /* verdict_reason of verdict, NULL when ok */
    struct verdict verdict;     /* triage_run: config error, first failing step, journey */
    int failed_step;            /* index into steps, -1 when ok */
    bool budget_breached;       /* any step or the journey budget */
    struct strv failures;       /* journey-level failures (journey budget, deadline) */
    size_t n_steps;
    struct step_result *steps;
};

/* The zeroed step array of a result of n steps (at least one element). */
struct step_result *run_result_steps_new(size_t n);
void run_result_free(struct run_result *r); /* frees r and everything it owns */
/* The result as JSON (the shape of `tripline once --json`). */
cJSON *run_result_json(const struct run_result *r);

#endif
