/* Triage: one bucket per failed run, from the status, curl's error and the issue class (README.md). */
#ifndef TRIPLINE_TRIAGE_H
#define TRIPLINE_TRIAGE_H

#include <stdbool.h>

enum bucket {
    BUCKET_NONE = 0,
    BUCKET_CLIENT,
    BUCKET_AUTH,
    BUCKET_RATE_LIMIT,
    BUCKET_UPSTREAM,
    BUCKET_SERVER,
    BUCKET_CONTRACT,
    BUCKET_BUDGET,
};
const char *bucket_str(enum bucket b); /* "client", ...; "none" for BUCKET_NONE */

struct triage_input {
    long status;            /* 0 = no response */
    int curl_code;          /* CURLcode of the transfer */
    bool body_too_big;      /* the body passed its cap */
    bool status_expected;   /* status matched the step's expectation */
    const char *issue_class; /* class of the first issue in the response, or NULL */
    bool checks_failed;     /* some non-budget check failed (schema, json, headers, body, issues, echo, capture) */
    bool budget_breached;
    /* Additive (zero keeps the defaults): the reason says "schema" rather than
     * "check" when the issue schema was violated, and names the budget phase. */
    bool schema_violated;   /* the issue schema was violated */
    const char *budget_phase; /* first breached phase ("ttfb", ...), NULL: "budget" */
};

/* The bucket, BUCKET_NONE when nothing failed. Rules, in order:
 *  - no response: upstream (DNS, connect, TLS, timeouts, resets, broken bodies);
 *  - an unexpected status: 429 rate_limit; 401/403 auth; 400/404/405/415/422
 *    client; 502/503/504 upstream; other 5xx server; other 4xx client; for 5xx
 *    and unlisted 4xx an issue class (validation, unauthorized, rate_limit,
 *    internal) refines it; an unexpected 1xx/2xx/3xx is contract;
 *  - expected status but a failed check or an oversized body: contract;
 *  - only a budget breached: budget. */
enum bucket triage_classify(const struct triage_input *in);

/* A short reason for event codes (checkout.upstream.timeout): "timeout",
 * "dns", "connect", "tls", "reset", "broken_response", "status_503",
 * "schema", "check", "body_too_big", "ttfb", ...; "ok" when nothing failed.
 * Always a static string. */
const char *triage_reason(const struct triage_input *in);

#endif
