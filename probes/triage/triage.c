/* Triage: which boundary failed first (the five buckets of the triage
 * framework, plus contract and budget for a synthetic check). */
#include "probes/triage/triage.h"

#include <stddef.h>
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
    case BUCKET_NONE: break;
    }
    return "none";
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

enum bucket triage_classify(const struct triage_input *in)
{
    if (in->status == 0)
        return BUCKET_UPSTREAM;
    if (!in->status_expected)
        return status_bucket(in->status, in->issue_class);
    if (in->checks_failed || in->body_too_big)
        return BUCKET_CONTRACT;
    if (in->budget_breached)
        return BUCKET_BUDGET;
    return BUCKET_NONE;
}

static const char *curl_reason(int code)
{
    switch ((CURLcode)code) {
    case CURLE_OK: return "no_response";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return "dns";
    case CURLE_COULDNT_CONNECT: return "connect";
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED: return "tls";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: return "reset";
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3: return "broken_response";
    case CURLE_TOO_MANY_REDIRECTS: return "redirects";
    case CURLE_PROXY: return "proxy";
    case CURLE_FILESIZE_EXCEEDED: return "body_too_big";
    default: break;
    }
    return "transport";
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

static const char *budget_reason(const char *phase)
{
    static const char *const phases[] = { "dns", "connect", "tls", "ttfb", "total" };
    for (size_t i = 0; phase && i < sizeof(phases) / sizeof(phases[0]); i++)
        if (strcmp(phase, phases[i]) == 0)
            return phases[i];
    return "budget";
}

const char *triage_reason(const struct triage_input *in)
{
    if (in->status == 0)
        return in->body_too_big ? "body_too_big" : curl_reason(in->curl_code);
    switch (triage_classify(in)) {
    case BUCKET_NONE: return "ok";
    case BUCKET_BUDGET: return budget_reason(in->budget_phase);
    case BUCKET_CONTRACT:
        if (!in->status_expected)
            return status_reason(in->status);
        /* A truncated body explains the checks that failed on it. */
        if (in->body_too_big)
            return "body_too_big";
        return in->schema_violated ? "schema" : "check";
    default: break;
    }
    return status_reason(in->status);
}
