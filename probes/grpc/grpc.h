/* gRPC health checks (grpc.health.v1.Health/Check) carried by the HTTP step
 * machinery: a grpc: step is an HTTP/2 POST whose body is one gRPC message,
 * so transfer, budgets, evidence, triage and metrics stay the HTTP ones.
 * No gRPC library: HealthCheckRequest {string service = 1} and
 * HealthCheckResponse {ServingStatus status = 1} are a few protobuf bytes,
 * encoded and decoded here with every length bounded. */
#ifndef TRIPLINE_GRPC_H
#define TRIPLINE_GRPC_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "probes/http/transfer.h"
#include "probes/probe.h"
#include "probes/redact/redact.h"

#define GRPC_HEALTH_PATH "/grpc.health.v1.Health/Check"
#define GRPC_SERVICE_MAX 1024   /* a longer service name is refused at load */
#define GRPC_MESSAGE_MAX 4096   /* a longer response message is a broken answer */

/* HealthCheckResponse.ServingStatus. */
enum grpc_serving {
    GRPC_SERVING_UNKNOWN = 0,
    GRPC_SERVING = 1,
    GRPC_NOT_SERVING = 2,
    GRPC_SERVICE_UNKNOWN = 3,
};
#define GRPC_SERVING_COUNT 4
/* The names as in the proto, indexed by enum grpc_serving. */
extern const char *const grpc_serving_names[GRPC_SERVING_COUNT];
/* "UNKNOWN", "SERVING", ...; "unknown" outside the enum. */
const char *grpc_serving_str(int s);
/* "UNAVAILABLE" for 14, ...; "unknown" outside 0..16. */
const char *grpc_code_str(int code);

/* What a grpc: step adds to its struct step (whose request is the POST). */
struct grpc_def {
    char *service;              /* "" = the server's overall health */
    unsigned char *frame;       /* the request body: 5-byte frame header + message */
    size_t frame_len;
    bool tls;                   /* https:// target: h2 over TLS (ALPN), else h2c */
    int expect_serving;         /* enum grpc_serving; default GRPC_SERVING */
    struct src_pos pos;         /* of the grpc: mapping; line 0 until it is read */
};
void grpc_def_free(struct grpc_def *g); /* NULL is a no-op; frees g too */

/* The frame of HealthCheckRequest {service}: 0 or TL_ENOMEM / TL_ETOOBIG. */
int grpc_encode_request(const char *service, unsigned char **out, size_t *len);
/* Decodes one length-prefixed HealthCheckResponse from body[0..len): 0 with
 * *serving set, or TL_EINVAL with *why (static) saying what is wrong; never
 * reads past len. */
int grpc_decode_response(const unsigned char *body, size_t len, int *serving, const char **why);

/* What one answer said. */
struct grpc_answer {
    bool read;                  /* grpc_check ran: the HTTP status was as expected */
    int code;                   /* grpc-status; -1 when absent */
    int serving;                /* decoded ServingStatus; -1 when none */
    int expect_serving;
    const char *broken;         /* static: why the answer is not gRPC; NULL when it is */
    char message[256];          /* grpc-message, percent-decoded and cut */
};

/* Reads grpc-status, grpc-message (headers or trailers) and the message of
 * resp into *a and pushes one failure message to failures when the answer
 * is not the expected serving status. Returns 0 or TL_ENOMEM. */
int grpc_check(const struct grpc_def *g, const struct response *resp, struct grpc_answer *a,
               struct strv *failures);

/* Points req at the step's frame and asks for HTTP/2 with trailers kept. */
void grpc_transfer_req(const struct grpc_def *g, struct transfer_req *req);

/* {"grpc_status": 14, "grpc_code": "UNAVAILABLE", "grpc_message": ...,
 * "serving_status": ...}: the message redacted like any response text. */
cJSON *grpc_evidence(const struct grpc_answer *a, const struct redactor *r);

#endif
