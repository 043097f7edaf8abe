/* Triage: which boundary failed first (the five buckets of the triage
 * framework, plus contract and budget for a synthetic check). */
#include "probes/triage/triage.h"
#include "probes/probe.h"

#include <stddef.h>
#include <errno.h>
#include <string.h>

#include <curl/curl.h>

const char *bucket_str(enum bucket b)
{
    switch (b) {
    case BUCKET_CLIENT: return "client";
    case BUCKET_AUTH: return "auth";
    case BUCKET_RATE_LIMIT: return "rate_limit";
    case BUCKET_UPSTREAM: return "upstream";
    case BUCKET_SERVER: return "server";
    case BUCKET_CONTRACT: return "contract";
    case BUCKET_BUDGET: return "budget";
    case BUCKET_AGENT: return "agent";
    case BUCKET_NONE: break;
    }
    return "none";
}

bool bucket_is_agent(enum bucket b)
{
    return b == BUCKET_AGENT;
}

/* The bucket an issue class names, BUCKET_NONE when it names none. */
static enum bucket class_bucket(const char *cls)
{
    if (!cls)
        return BUCKET_NONE;
    if (strcmp(cls, "validation") == 0)
        return BUCKET_CLIENT;
    if (strcmp(cls, "unauthorized") == 0)
        return BUCKET_AUTH;
    if (strcmp(cls, "rate_limit") == 0)
        return BUCKET_RATE_LIMIT;
    if (strcmp(cls, "internal") == 0)
        return BUCKET_SERVER;
    return BUCKET_NONE;
}

static enum bucket status_bucket(long status, const char *cls)
{
    switch (status) {
    case 429: return BUCKET_RATE_LIMIT;
    case 401:
    case 403: return BUCKET_AUTH;
    case 400:
    case 404:
    case 405:
    case 415:
    case 422: return BUCKET_CLIENT;
    default: break;
    }
    if (status < 400 || status > 599)
        return BUCKET_CONTRACT;
    /* A 5xx or an unlisted 4xx whose body says what it is: a 503 carrying
     * payment.internal.* came from the service itself, not a gateway. */
    enum bucket by_class = class_bucket(cls);
    if (by_class != BUCKET_NONE)
        return by_class;
    if (status == 502 || status == 503 || status == 504)
        return BUCKET_UPSTREAM;
    return status >= 500 ? BUCKET_SERVER : BUCKET_CLIENT;
}

static const char *const reason_names[REASON_COUNT] = {
    [REASON_OK] = "ok",
    [REASON_NO_RESPONSE] = "no_response",
    [REASON_DNS] = "dns",
    [REASON_CONNECT] = "connect",
    [REASON_TLS] = "tls",
    [REASON_TIMEOUT] = "timeout",
    [REASON_RESET] = "reset",
    [REASON_BROKEN_RESPONSE] = "broken_response",
    [REASON_REDIRECTS] = "redirects",
    [REASON_PROXY] = "proxy",
    [REASON_TRANSPORT] = "transport",
    [REASON_BODY_TOO_BIG] = "body_too_big",
    [REASON_STATUS] = "status",
    [REASON_SCHEMA] = "schema",
    [REASON_CHECK] = "check",
    [REASON_TTFB] = "ttfb",
    [REASON_TOTAL] = "total",
    [REASON_BUDGET] = "budget",
    [REASON_PROBE_CONFIG] = "probe_config",
    [REASON_DEADLINE] = "deadline",
    [REASON_JOURNEY_BUDGET] = "journey_budget",
    [REASON_MISSING_SECRET] = "missing_secret",
    [REASON_CA_FILE] = "ca_file",
    [REASON_BAD_VAR] = "bad_var",
    [REASON_OVERLOADED] = "overloaded",
    [REASON_FD_LIMIT] = "fd_limit",
    [REASON_OUT_OF_MEMORY] = "out_of_memory",
    [REASON_CLOCK] = "clock",
    [REASON_CERT_EXPIRY] = "cert_expiry",
    [REASON_TLS_FILE] = "tls_file",
    [REASON_ICMP_LOSS] = "icmp_loss",
    [REASON_ICMP_NOT_PERMITTED] = "icmp_not_permitted",
    [REASON_DNS_SERVFAIL] = "dns_servfail",
    [REASON_DNS_REFUSED] = "dns_refused",
    [REASON_DNS_NXDOMAIN] = "dns_nxdomain",
    [REASON_LOCAL_PORTS] = "local_ports",
};

const char *reason_str(enum reason r)
{
    if (triage_grpc_reason_str(r))
        return triage_grpc_reason_str(r);
    return (unsigned)r < REASON_COUNT && reason_names[r] ? reason_names[r] : "unknown";
}

static enum reason curl_reason(int code)
{
    switch ((CURLcode)code) {
    case CURLE_OK: return REASON_NO_RESPONSE;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return REASON_DNS;
    case CURLE_COULDNT_CONNECT: return REASON_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: return REASON_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED: return REASON_TLS;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: return REASON_RESET;
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_UNSUPPORTED_PROTOCOL: /* after an answer: no status line, or a status out of range */
    case CURLE_OUT_OF_MEMORY:        /* after an answer: a header line over curl's cap */
        return REASON_BROKEN_RESPONSE;
    case CURLE_TOO_MANY_REDIRECTS: return REASON_REDIRECTS;
    case CURLE_PROXY: return REASON_PROXY;
    case CURLE_FILESIZE_EXCEEDED: return REASON_BODY_TOO_BIG;
    default: break;
    }
    return REASON_TRANSPORT;
}

/* "status_100" .. "status_599", 11 bytes each, so a reason is always a
 * static string that callers may keep without copying. */
#define ST(a, b, c) "status_" #a #b #c "\0"
#define ST10(a, b)                                                                         \
    ST(a, b, 0) ST(a, b, 1) ST(a, b, 2) ST(a, b, 3) ST(a, b, 4) ST(a, b, 5) ST(a, b, 6)    \
    ST(a, b, 7) ST(a, b, 8) ST(a, b, 9)
#define ST100(a)                                                                           \
    ST10(a, 0) ST10(a, 1) ST10(a, 2) ST10(a, 3) ST10(a, 4) ST10(a, 5) ST10(a, 6) ST10(a, 7) \
    ST10(a, 8) ST10(a, 9)
static const char status_names[] = ST100(1) ST100(2) ST100(3) ST100(4) ST100(5);

static const char *status_reason(long status)
{
    if (status < 100 || status > 599)
        return "status_other";
    return status_names + (size_t)(status - 100) * sizeof("status_100");
}

const char *verdict_reason(const struct verdict *v)
{
    return v->reason == REASON_STATUS ? status_reason(v->status) : reason_str(v->reason);
}

static enum reason budget_reason(const char *phase)
{
    static const enum reason by_phase[PHASE_COUNT] = {
        [PHASE_DNS] = REASON_DNS,
        [PHASE_CONNECT] = REASON_CONNECT,
        [PHASE_TLS] = REASON_TLS,
        [PHASE_TTFB] = REASON_TTFB,
        [PHASE_TOTAL] = REASON_TOTAL,
    };
    int p = phase_parse(phase);
    return p < 0 ? REASON_BUDGET : by_phase[p];
}

static struct verdict verdict(enum bucket b, enum reason r, long status)
{
    return (struct verdict){ .bucket = b, .reason = r, .status = status };
}

/* A response whose status line arrived and is usable. */
static struct verdict response_verdict(const struct triage_input *in)
{
    if (!in->status_expected)
        return verdict(status_bucket(in->status, in->issue_class), REASON_STATUS, in->status);
    struct verdict g = triage_grpc(in->grpc, in->status);
    if (g.bucket != BUCKET_NONE)
        return g;
    /* A truncated body explains the checks that failed on it. */
    if (in->body_too_big)
        return verdict(BUCKET_CONTRACT, REASON_BODY_TOO_BIG, in->status);
    if (in->checks_failed)
        return verdict(BUCKET_CONTRACT, in->schema_violated ? REASON_SCHEMA : REASON_CHECK, in->status);
    /* an expiring certificate is the more specific degradation */
    if (in->cert_expiring)
        return verdict(BUCKET_BUDGET, REASON_CERT_EXPIRY, in->status);
    if (in->budget_breached)
        return verdict(BUCKET_BUDGET, budget_reason(in->budget_phase), in->status);
    return verdict(BUCKET_NONE, REASON_OK, in->status);
}

/* The agent's own faults among curl's failures. A connect that failed
 * because this host had no descriptor, buffer or local port left never
 * reached the target: curl says "couldn't connect" either way, the errno
 * it saw says whose fault it was. */
enum reason triage_connect_errno(int os_errno)
{
    switch (os_errno) {
    case EADDRNOTAVAIL: return REASON_LOCAL_PORTS;
    case EMFILE:
    case ENFILE: return REASON_FD_LIMIT;
    case ENOBUFS:
    case ENOMEM: return REASON_OUT_OF_MEMORY;
    default: return REASON_OK;
    }
}

/* Transfers that failed on the agent's side before the API was asked:
 * REASON_OK when the curl code and errno name no such fault. */
static enum reason curl_agent_reason(int code, int os_errno)
{
    if ((CURLcode)code == CURLE_COULDNT_CONNECT)
        return triage_connect_errno(os_errno);
    switch ((CURLcode)code) {
    case CURLE_SSL_CACERT_BADFILE: return REASON_CA_FILE;
    case CURLE_SSL_CERTPROBLEM: return REASON_TLS_FILE; /* the local client certificate or key */
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return REASON_BAD_VAR;
    case CURLE_OUT_OF_MEMORY: return REASON_OUT_OF_MEMORY;
    default: break;
    }
    return REASON_OK;
}

/* A timeout or a latency budget breached while the agent's own loop stalled
 * measured the agent, not the API: the time counted includes the agent's
 * own delay, so the run is inconclusive (agent, overloaded), never escalated. */
static struct verdict overloaded_or(struct verdict v, bool loop_stalled)
{
    if (loop_stalled && (v.reason == REASON_TIMEOUT || v.reason == REASON_DEADLINE || v.bucket == BUCKET_BUDGET))
        return verdict(BUCKET_AGENT, REASON_OVERLOADED, 0);
    return v;
}

static struct verdict step_verdict(const struct triage_input *in);

/* Reasons that say the agent failed, not the target. */
static bool reason_is_agent(enum reason r)
{
    switch (r) {
    case REASON_PROBE_CONFIG:
    case REASON_MISSING_SECRET:
    case REASON_CA_FILE:
    case REASON_BAD_VAR:
    case REASON_OVERLOADED:
    case REASON_FD_LIMIT:
    case REASON_OUT_OF_MEMORY:
    case REASON_CLOCK:
    case REASON_ICMP_NOT_PERMITTED:
    case REASON_LOCAL_PORTS:
        return true;
    default:
        return false;
    }
}

/* The journey deadline passed before the step: the API's only when an
 * earlier step of the run sent a request (and so may have taken the time);
 * before the first request the agent spent it all itself. */
static struct verdict deadline_verdict(const struct triage_input *in)
{
    if (in->nothing_sent)
        return verdict(BUCKET_AGENT, REASON_OVERLOADED, 0);
    return verdict(BUCKET_UPSTREAM, REASON_TIMEOUT, 0);
}

/* A step of another kind: the exchange, the kind's own judgement, checks, budgets. */
static struct verdict kind_verdict(const struct triage_input *in)
{
    if (in->deadline_passed)
        return deadline_verdict(in);
    if (in->transport_failed && !in->body_too_big) {
        enum reason r = in->kind_reason != REASON_OK ? in->kind_reason : REASON_TRANSPORT;
        return verdict(reason_is_agent(r) ? BUCKET_AGENT : BUCKET_UPSTREAM, r, 0);
    }
    /* the peer answered, with more than the cap allows */
    if (in->body_too_big)
        return verdict(BUCKET_CONTRACT, REASON_BODY_TOO_BIG, 0);
    if (in->kind_answer.bucket != BUCKET_NONE)
        return in->kind_answer;
    if (in->checks_failed)
        return verdict(BUCKET_CONTRACT, REASON_CHECK, 0);
    if (in->budget_breached)
        return verdict(BUCKET_BUDGET, budget_reason(in->budget_phase), 0);
    return verdict(BUCKET_NONE, REASON_OK, 0);
}

struct verdict triage_step(const struct triage_input *in)
{
    return overloaded_or(step_verdict(in), in->loop_stalled);
}

static struct verdict step_verdict(const struct triage_input *in)
{
    if (in->agent_fault != REASON_OK)
        return verdict(BUCKET_AGENT, in->agent_fault, 0);
    if (in->config_error)
        return verdict(BUCKET_AGENT, REASON_PROBE_CONFIG, 0);
    if (in->kind_step)
        return kind_verdict(in);
    enum reason own = in->status == 0 && !in->answered ? curl_agent_reason(in->curl_code, in->os_errno) : REASON_OK;
    if (own != REASON_OK)
        return verdict(BUCKET_AGENT, own, 0);
    if (in->deadline_passed)
        return deadline_verdict(in);
    /* A transfer that broke after the status line (a reset, broken chunking,
     * a stall) has no usable response: the network or upstream failed. */
    if (in->status == 0 || (in->transport_failed && !in->body_too_big))
        return verdict(BUCKET_UPSTREAM,
                       in->body_too_big     ? REASON_BODY_TOO_BIG
                       : in->broken_framing ? REASON_BROKEN_RESPONSE
                                            : curl_reason(in->curl_code),
                       0);
    return response_verdict(in);
}

struct verdict triage_run(const struct run_facts *f)
{
    if (f->config_error)
        return verdict(BUCKET_AGENT, f->agent_fault != REASON_OK ? f->agent_fault : REASON_PROBE_CONFIG, 0);
    if (f->first_failure)
        return overloaded_or(*f->first_failure, f->loop_stalled);
    if (f->journey_failures)
        return overloaded_or(f->budget_breached ? verdict(BUCKET_BUDGET, REASON_JOURNEY_BUDGET, 0)
                                                : verdict(BUCKET_UPSTREAM, REASON_DEADLINE, 0),
                             f->loop_stalled);
    return verdict(BUCKET_NONE, REASON_OK, 0);
}

enum bucket triage_classify(const struct triage_input *in)
{
    return triage_step(in).bucket;
}

const char *triage_reason(const struct triage_input *in)
{
    struct verdict v = triage_step(in);
    return verdict_reason(&v);
}
