/* The sink interface and what the HTTP sinks share: Retry-After and the
 * body signature. */
#include "agent/sinks/sink.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

const char *sink_outcome_str(enum sink_outcome o)
{
    switch (o) {
    case SINK_DELIVERED: return "delivered";
    case SINK_RETRY: return "retry";
    case SINK_REJECTED: return "rejected";
    }
    return "unknown";
}

bool sink_http_misdirected(long status)
{
    return (status >= 300 && status < 400) || status == 404 || status == 405;
}

enum sink_outcome sink_http_outcome(long status)
{
    if (status >= 200 && status < 300)
        return SINK_DELIVERED;
    /* The receiver never looked at the events: they wait for the URL to be
     * fixed rather than go to the dead-letter file. */
    if (status == 0 || status == 408 || status == 429 || status >= 500 || sink_http_misdirected(status))
        return SINK_RETRY;
    return SINK_REJECTED;
}

void sink_misdirected_reason(char *out, size_t cap, const char *who, long status, const char *location)
{
    if (status >= 300 && status < 400)
        snprintf(out, cap, "%s%sHTTP %ld, a redirect to %.120s: not followed, events kept; fix the sink's url",
                 who, who[0] ? ": " : "", status, location && location[0] ? location : "(no Location)");
    else
        snprintf(out, cap, "%s%sHTTP %ld: no such endpoint, events kept; fix the sink's url", who,
                 who[0] ? ": " : "", status);
}

int sink_send(struct sink *s, const char *const *events, const size_t *lens, size_t n,
              sink_done_cb cb, void *arg)
{
    if (!s || !cb || (n > 0 && (!events || !lens)))
        return TL_EINVAL;
    return s->ops->send(s, events, lens, n, cb, arg);
}

int sink_reload(struct sink *s)
{
    if (!s)
        return TL_EINVAL;
    return s->ops->reload ? s->ops->reload(s) : 0;
}

void sink_free(struct sink *s)
{
    if (s)
        s->ops->free(s);
}

const char *sink_kind(const struct sink *s)
{
    return s ? s->ops->kind : "none";
}

const char *sink_error(const struct sink *s)
{
    return s ? s->err : "";
}

/* About 31 years: longer than any sink means, short enough for microseconds. */
#define RETRY_AFTER_MAX_S 1000000000LL

tl_usec sink_parse_retry_after(const char *value, long long now_s)
{
    const char *p = value;
    long long secs = 0;
    time_t when;

    if (!value)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p >= '0' && *p <= '9') {
        /* delay-seconds: digits only, capped so the product cannot overflow. */
        while (*p >= '0' && *p <= '9') {
            if (secs < RETRY_AFTER_MAX_S)
                secs = secs * 10 + (*p - '0');
            p++;
        }
        if (secs > RETRY_AFTER_MAX_S)
            secs = RETRY_AFTER_MAX_S;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '\0')
            return -1;
        return (tl_usec)secs * 1000000;
    }
    /* An HTTP date; curl parses all three forms RFC 9110 allows. */
    when = curl_getdate(p, NULL);
    if (when == (time_t)-1)
        return -1;
    if ((long long)when <= now_s)
        return 0;
    /* a date in year 999999 must not overflow the microsecond product */
    if ((long long)when - now_s > RETRY_AFTER_MAX_S)
        return (tl_usec)RETRY_AFTER_MAX_S * 1000000;
    return (tl_usec)((long long)when - now_s) * 1000000;
}

int sink_signature(const void *key, size_t key_len, const void *body, size_t body_len,
                   char out[72])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    size_t i;

    if (key_len > INT32_MAX)
        return TL_EINVAL;
    /* An empty key is still a key: HMAC wants a non-NULL pointer for it. */
    if (!HMAC(EVP_sha256(), key_len ? key : "", (int)key_len, body, body_len, md, &md_len) ||
        md_len != 32)
        return TL_EINVAL;
    memcpy(out, "sha256=", 7);
    for (i = 0; i < md_len; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[7 + 2 * i + 1] = hex[md[i] & 15];
    }
    out[7 + 2 * md_len] = '\0';
    return 0;
}
