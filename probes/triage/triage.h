/* Triage: one bucket and one reason per failed step and per failed run, from the
 * status, curl's error, the checks and the issue class (README.md). */
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
    /* Not an API bucket: the agent could not ask the API (a missing secret,
     * a missing CA file, a bad var, its own resources). Inconclusive about
     * the API: never escalated, counted in tripline_agent_faults_total. */
    BUCKET_AGENT,
};
const char *bucket_str(enum bucket b); /* "client", ...; "none" for BUCKET_NONE */
/* True for BUCKET_AGENT: the run says nothing about the API. */
bool bucket_is_agent(enum bucket b);

/* Every reason a verdict can carry. The strings (reason_str) appear in
 * events, /status, `once --json`, metrics labels and tests: never rename. */
enum reason {
    REASON_OK = 0,          /* "ok": none; nothing failed */
    /* No usable response (the transfer failed): bucket upstream. */
    REASON_NO_RESPONSE,     /* "no_response": status 0 with no curl error */
    REASON_DNS,             /* "dns": name did not resolve; budget when the dns phase breached */
    REASON_CONNECT,         /* "connect": refused or unreachable; budget for the connect phase */
    REASON_TLS,             /* "tls": handshake or verification; budget for the tls phase */
    REASON_TIMEOUT,         /* "timeout": transfer timeout; also the journey deadline hit before a step */
    REASON_RESET,           /* "reset": send/recv error, nothing received */
    REASON_BROKEN_RESPONSE, /* "broken_response": truncated, bad encoding, HTTP/2 errors */
    REASON_REDIRECTS,       /* "redirects": too many redirects */
    REASON_PROXY,           /* "proxy": the proxy failed */
    REASON_TRANSPORT,       /* "transport": any other curl error */
    /* upstream with no status; contract with an expected status (the cap
     * truncated the body, which explains the checks that failed on it). */
    REASON_BODY_TOO_BIG,    /* "body_too_big" */
    /* An unexpected status: "status_503" etc. (verdict_reason), "status_other"
     * outside 100..599; bucket by status and issue class (triage_step). */
    REASON_STATUS,          /* "status" as a name; the text carries the code */
    /* Expected status, failed checks: contract. */
    REASON_SCHEMA,          /* "schema": the issue schema was violated */
    REASON_CHECK,           /* "check": any other check or a capture failed */
    /* Only a step budget breached: budget, named by the first phase breached
     * (dns, connect, tls above; ttfb, total here), "budget" when unnamed. */
    REASON_TTFB,            /* "ttfb" */
    REASON_TOTAL,           /* "total" */
    REASON_BUDGET,          /* "budget" */
    /* The agent's own faults: bucket agent, the API was never asked. */
    REASON_PROBE_CONFIG,    /* "probe_config": a template names a variable that is not defined */
    /* Run-level failures that no step explains. */
    REASON_DEADLINE,        /* "deadline": upstream; journey failures without a budget breach */
    REASON_JOURNEY_BUDGET,  /* "journey_budget": budget; the journey budget breached */
    REASON_MISSING_SECRET,  /* "missing_secret": an env. variable unset, a file: unreadable */
    REASON_CA_FILE,         /* "ca_file": the CA bundle cannot be read */
    REASON_BAD_VAR,         /* "bad_var": a rendered value too large, a URL curl rejects */
    REASON_OVERLOADED,      /* "overloaded": the agent could not run the step in time */
    REASON_FD_LIMIT,        /* "fd_limit": the transfer could not start (descriptors, handles) */
    REASON_OUT_OF_MEMORY,   /* "out_of_memory" */
    REASON_CLOCK,           /* "clock": the random source or the clock failed */
    /* A grpc: step's answer (triage_grpc.c): grpc-status 1..16 in code
     * order ("grpc_unavailable", ...), then the health verdicts. */
    REASON_GRPC_CANCELLED,
    REASON_GRPC_UNKNOWN,
    REASON_GRPC_INVALID_ARGUMENT,
    REASON_GRPC_DEADLINE_EXCEEDED,
    REASON_GRPC_NOT_FOUND,
    REASON_GRPC_ALREADY_EXISTS,
    REASON_GRPC_PERMISSION_DENIED,
    REASON_GRPC_RESOURCE_EXHAUSTED,
    REASON_GRPC_FAILED_PRECONDITION,
    REASON_GRPC_ABORTED,
    REASON_GRPC_OUT_OF_RANGE,
    REASON_GRPC_UNIMPLEMENTED,
    REASON_GRPC_INTERNAL,
    REASON_GRPC_UNAVAILABLE,
    REASON_GRPC_DATA_LOSS,
    REASON_GRPC_UNAUTHENTICATED,
    REASON_GRPC_OTHER,          /* "grpc_other": a grpc-status outside 0..16 */
    REASON_GRPC_NOT_SERVING,    /* "grpc_not_serving": the service says it is down */
    REASON_GRPC_SERVICE_UNKNOWN, /* "grpc_service_unknown" */
    REASON_GRPC_SERVING_UNKNOWN, /* "grpc_serving_unknown": status UNKNOWN */
    REASON_GRPC_BROKEN,         /* "grpc_broken": no grpc-status or a bad message */
    REASON_CERT_EXPIRY,     /* "cert_expiry": budget; expect.tls min_days not met, the rest passed */
    REASON_TLS_FILE,        /* "tls_file": agent; the client certificate or key cannot be used */
    /* icmp steps (probes/kinds/icmp.c). */
    REASON_ICMP_LOSS,           /* "icmp_loss": upstream; no echo reply, or more lost than max_loss */
    REASON_ICMP_NOT_PERMITTED,  /* "icmp_not_permitted": agent; the kernel refuses ping sockets (ping_group_range) */
    /* A DNS step's answer with another rcode than NOERROR when NOERROR was
     * expected: the server failed or refused (upstream), the name does not
     * exist (contract: the zone lacks the record the probe relies on). */
    REASON_DNS_SERVFAIL,    /* "dns_servfail" */
    REASON_DNS_REFUSED,     /* "dns_refused" */
    REASON_DNS_NXDOMAIN,    /* "dns_nxdomain" */
    /* agent: connect() found no free local port for the target (EADDRNOTAVAIL:
     * the ephemeral range is in use or held in TIME_WAIT by earlier checks; the
     * same errno when this host has no source address of the target's family). */
    REASON_LOCAL_PORTS,     /* "local_ports" */
    REASON_COUNT
};
const char *reason_str(enum reason r); /* static; "unknown" outside the enum */
/* The agent's own reason when a socket or connect failed with os_errno on
 * this host (no local port, descriptor or buffer: local_ports, fd_limit,
 * out_of_memory); REASON_OK when the errno is the peer's answer. */
enum reason triage_connect_errno(int os_errno);

/* What triage decided: bucket, reason and, for REASON_STATUS, the status. */
struct verdict {
    enum bucket bucket;
    enum reason reason;
    long status;
};
/* The reason as written out: reason_str, or "status_503" for REASON_STATUS.
 * Always a static string. */
const char *verdict_reason(const struct verdict *v);

/* What happened to one step. */
struct triage_input {
    long status;            /* 0 = no response */
    int curl_code;          /* CURLcode of the transfer */
    int os_errno;           /* the errno curl saw when the connect failed; 0 if none */
    bool body_too_big;      /* the body passed its cap */
    bool status_expected;   /* status matched the step's expectation */
    const char *issue_class; /* class of the first issue in the response, or NULL */
    bool checks_failed;     /* some non-budget check failed (schema, json, headers, body, issues, echo, capture) */
    bool budget_breached;
    /* Additive (zero keeps the defaults). */
    bool schema_violated;   /* the issue schema was violated */
    const char *budget_phase; /* first breached phase ("ttfb", ...), NULL: "budget" */
    bool transport_failed;  /* the transfer broke; unless only the cap hit, the status is unusable */
    bool config_error;      /* the request could not be formed: agent, probe_config */
    bool deadline_passed;   /* the journey deadline passed before the step: upstream, timeout */
    bool nothing_sent;      /* with deadline_passed: no step of the run had sent a request yet */
    enum reason agent_fault; /* nonzero: the agent failed before asking (bucket agent) */
    bool loop_stalled;      /* the agent's loop stalled during the run: a timeout is agent/overloaded */
    /* Steps of other kinds than HTTP (probes/kinds): no status line. With
     * kind_step: a failed exchange (transport_failed) is kind_reason's,
     * upstream or agent by that reason; an answer the kind judged failed is
     * kind_answer as it is; then checks (contract, check) and budgets. */
    bool kind_step;
    enum reason kind_reason;
    struct verdict kind_answer; /* bucket BUCKET_NONE: the kind has no verdict of its own */
    const struct grpc_answer *grpc; /* a grpc: step's answer once its HTTP status was as expected, else NULL */
    bool cert_expiring;     /* expect.tls: the certificate expires within min_days */
    bool answered;          /* the target sent bytes: a curl code of the agent's faults
                             * (unsupported protocol, out of memory) was its reply's */
    bool broken_framing;    /* the transfer was aborted for its reply's framing (a
                             * Content-Length to distrust): broken_response */
};

struct grpc_answer;
/* The verdict a gRPC health answer carries: BUCKET_NONE when a is NULL or
 * healthy as expected (triage_grpc.c). */
struct verdict triage_grpc(const struct grpc_answer *a, long status);
/* The reason names REASON_GRPC_*, NULL for any other reason. */
const char *triage_grpc_reason_str(enum reason r);

/* The verdict of one step. Rules, in order:
 *  - agent fault: agent/that reason; config error: agent/probe_config;
 *    deadline passed: upstream/timeout (agent/overloaded when no step of
 *    the run had sent a request yet); a transfer that failed on the
 *    agent's side (CA file, URL curl rejects, out of memory) before the
 *    target answered: agent;
 *  - no response (or a transfer broken after the status line): upstream,
 *    reason from the curl code (or body_too_big);
 *  - an unexpected status: 429 rate_limit; 401/403 auth; 400/404/405/415/422
 *    client; 502/503/504 upstream; other 5xx server; other 4xx client; for 5xx
 *    and unlisted 4xx an issue class (validation, unauthorized, rate_limit,
 *    internal) refines it; an unexpected 1xx/2xx/3xx is contract;
 *  - a gRPC answer that is not healthy as expected: triage_grpc;
 *  - expected status but a failed check or an oversized body: contract;
 *  - only a budget breached: budget;
 *  - a timeout (either kind) or a breached budget while the loop stalled:
 *    agent, overloaded (the time counted includes the agent's own delay). */
struct verdict triage_step(const struct triage_input *in);

/* What happened to one run, once every step is done. */
struct run_facts {
    const struct verdict *first_failure; /* the first failing step's, NULL if none */
    bool config_error;      /* the probe's vars could not be formed; no step ran */
    enum reason agent_fault; /* why, when known (else probe_config) */
    bool journey_failures;  /* journey-level failures (the journey budget) */
    bool budget_breached;   /* the journey budget or any step budget */
    bool loop_stalled;      /* the agent's loop stalled during the run */
};
/* The verdict of a run: config error, else the first failing step's, else
 * journey_budget (budget) or deadline (upstream) for journey failures. */
struct verdict triage_run(const struct run_facts *f);

/* Shorthands over triage_step for one response. */
enum bucket triage_classify(const struct triage_input *in);
const char *triage_reason(const struct triage_input *in);

#endif
