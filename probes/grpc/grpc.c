/* gRPC health checks: the request frame, the answer's decoding and its check
 * (grpc.h). Every read of a server's bytes is bounded by what arrived. */
#include "probes/grpc/grpc.h"

#include "base/err.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define FRAME_HEADER 5
#define VARINT_MAX 10 /* bytes of a 64-bit varint */

static const char *const code_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};
const char *const grpc_serving_names[GRPC_SERVING_COUNT] = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                                            "SERVICE_UNKNOWN"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *grpc_code_str(int code)
{
    return code >= 0 && (size_t)code < COUNT(code_names) ? code_names[code] : "unknown";
}

const char *grpc_serving_str(int s)
{
    return s >= 0 && s < GRPC_SERVING_COUNT ? grpc_serving_names[s] : "unknown";
}

void grpc_def_free(struct grpc_def *g)
{
    if (!g)
        return;
    free(g->service);
    free(g->frame);
    free(g);
}

/* --- protobuf, by hand ----------------------------------------------------- */

static size_t varint_put(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n] = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (v)
            p[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

/* Reads a varint at *at below end; false when it is cut short or overlong. */
static bool varint_get(const unsigned char **at, const unsigned char *end, uint64_t *v)
{
    *v = 0;
    for (int i = 0; i < VARINT_MAX && *at < end; i++) {
        unsigned char b = *(*at)++;
        *v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80))
            return true;
    }
    return false;
}

int grpc_encode_request(const char *service, unsigned char **out, size_t *len)
{
    size_t slen = service ? strlen(service) : 0;
    *out = NULL;
    *len = 0;
    if (slen > GRPC_SERVICE_MAX)
        return TL_ETOOBIG;
    /* proto3 leaves an empty string out: the overall health is an empty message */
    unsigned char *f = malloc(FRAME_HEADER + 1 + VARINT_MAX + slen);
    if (!f)
        return TL_ENOMEM;
    size_t n = FRAME_HEADER;
    if (slen) {
        f[n++] = 0x0A; /* field 1, length-delimited */
        n += varint_put(f + n, slen);
        memcpy(f + n, service, slen);
        n += slen;
    }
    size_t msg = n - FRAME_HEADER;
    f[0] = 0; /* not compressed */
    f[1] = (unsigned char)(msg >> 24);
    f[2] = (unsigned char)(msg >> 16);
    f[3] = (unsigned char)(msg >> 8);
    f[4] = (unsigned char)msg;
    *out = f;
    *len = n;
    return 0;
}

/* Steps over one field of wire type wt; false when it does not fit. */
static bool skip_field(const unsigned char **at, const unsigned char *end, unsigned wt)
{
    uint64_t v;
    size_t fixed = wt == 1 ? 8 : wt == 5 ? 4 : 0;
    if (wt == 0)
        return varint_get(at, end, &v);
    if (wt == 2) {
        if (!varint_get(at, end, &v) || v > (uint64_t)(end - *at))
            return false;
        *at += v;
        return true;
    }
    if (!fixed || (size_t)(end - *at) < fixed)
        return false; /* groups (3, 4) and unknown wire types have no place here */
    *at += fixed;
    return true;
}

static int decode_message(const unsigned char *at, const unsigned char *end, int *serving, const char **why)
{
    *serving = GRPC_SERVING_UNKNOWN; /* proto3: an absent enum is its zero */
    while (at < end) {
        uint64_t tag, v;
        if (!varint_get(&at, end, &tag)) {
            *why = "a field tag is cut short";
            return TL_EINVAL;
        }
        if (tag >> 3 == 1 && (tag & 7) == 0) {
            if (!varint_get(&at, end, &v) || v > 0x7FFFFFFF) {
                *why = "the status field is cut short or out of range";
                return TL_EINVAL;
            }
            *serving = (int)v;
        } else if (!skip_field(&at, end, (unsigned)(tag & 7))) {
            *why = "a field does not fit in the message";
            return TL_EINVAL;
        }
    }
    return 0;
}

int grpc_decode_response(const unsigned char *body, size_t len, int *serving, const char **why)
{
    *serving = -1;
    *why = NULL;
    if (len < FRAME_HEADER) {
        *why = len ? "the message frame header is cut short" : "no message in the answer";
        return TL_EINVAL;
    }
    if (body[0] != 0) {
        *why = body[0] == 1 ? "a compressed message (none was offered)" : "a bad frame flag";
        return TL_EINVAL;
    }
    uint32_t n = (uint32_t)body[1] << 24 | (uint32_t)body[2] << 16 | (uint32_t)body[3] << 8 | body[4];
    if (n > GRPC_MESSAGE_MAX) {
        *why = "the message length is over 4096 bytes";
        return TL_EINVAL;
    }
    if (n != len - FRAME_HEADER) {
        *why = n > len - FRAME_HEADER ? "the message is shorter than its length" : "bytes after the message";
        return TL_EINVAL;
    }
    int rc = decode_message(body + FRAME_HEADER, body + len, serving, why);
    if (rc)
        *serving = -1;
    return rc;
}

/* --- the answer -------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* grpc-message is percent-encoded UTF-8; a bad escape is kept as written. */
static void percent_decode(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    while (s && *s && n + 1 < outlen) {
        int hi = s[0] == '%' ? hexval(s[1]) : -1;
        int lo = hi >= 0 ? hexval(s[2]) : -1;
        if (lo >= 0) {
            out[n++] = (char)(hi << 4 | lo);
            s += 3;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
}

/* grpc-status: 1 to 3 digits, else -1 (absent or not a code). */
static int status_code(const char *s)
{
    int v = 0;
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 3)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void read_answer(const struct grpc_def *g, const struct response *resp, struct grpc_answer *a)
{
    memset(a, 0, sizeof(*a));
    a->read = true;
    a->serving = -1;
    a->expect_serving = g->expect_serving;
    const char *st = response_header(resp, "grpc-status");
    a->code = status_code(st);
    percent_decode(response_header(resp, "grpc-message"), a->message, sizeof(a->message));
    if (a->code < 0) {
        a->broken = st ? "grpc-status is not a number" : "no grpc-status (not a gRPC answer)";
        return;
    }
    if (a->code == 0)
        grpc_decode_response((const unsigned char *)resp->body.data, resp->body.len, &a->serving, &a->broken);
}

int grpc_check(const struct grpc_def *g, const struct response *resp, struct grpc_answer *a,
               struct strv *failures)
{
    read_answer(g, resp, a);
    const char *svc = g->service[0] ? g->service : "(the server)";
    if (a->broken)
        return strv_pushf(failures, "gRPC answer broken: %s", a->broken);
    if (a->code != 0)
        return strv_pushf(failures, "grpc-status %d %s%s%s", a->code, grpc_code_str(a->code),
                          a->message[0] ? ": " : "", a->message);
    if (a->serving == g->expect_serving)
        return 0;
    return strv_pushf(failures, "health of %s is %s, expected %s", svc, grpc_serving_str(a->serving),
                      grpc_serving_str(g->expect_serving));
}

void grpc_transfer_req(const struct grpc_def *g, struct transfer_req *req)
{
    req->body = (const char *)g->frame;
    req->body_len = g->frame_len;
    req->http_version = g->tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    req->keep_trailers = true;
}

cJSON *grpc_evidence(const struct grpc_answer *a, const struct redactor *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (a->code >= 0) {
        cJSON_AddNumberToObject(o, "grpc_status", a->code);
        cJSON_AddStringToObject(o, "grpc_code", grpc_code_str(a->code));
    } else {
        cJSON_AddNullToObject(o, "grpc_status");
    }
    char *msg = redact_text(r, a->message);
    cJSON_AddStringToObject(o, "grpc_message", msg ? msg : REDACTED);
    free(msg);
    if (a->serving >= 0)
        cJSON_AddStringToObject(o, "serving_status", grpc_serving_str(a->serving));
    else
        cJSON_AddNullToObject(o, "serving_status");
    cJSON_AddStringToObject(o, "expected", grpc_serving_str(a->expect_serving));
    if (a->broken)
        cJSON_AddStringToObject(o, "broken", a->broken);
    return o;
}
