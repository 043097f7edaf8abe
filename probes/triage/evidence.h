/* The evidence pack of a failed step, what on-call needs to see why: request
 * fingerprint, response facts, timings and thresholds crossed, environment,
 * journey step. Secrets are redacted before anything is written: credential
 * headers appear by name only, body shapes carry field names and types,
 * never values. The daemon adds the impact so far when it escalates. */
#ifndef TRIPLINE_EVIDENCE_H
#define TRIPLINE_EVIDENCE_H

#include <cjson/cJSON.h>

#include "probes/probe.h"
#include "probes/redact/redact.h"
#include "probes/http/transfer.h"
#include "probes/grpc/grpc.h"

#define EVIDENCE_SNIPPET_MAX 512
/* Issue codes kept in the pack; past it "issues_total" counts them all. */
#define EVIDENCE_ISSUES_MAX 20

struct evidence_in {
    const struct probe *probe;
    const char *region;
    const char *agent;
    const char *vantage;
    size_t step_index;
    const char *method;
    const char *url;                 /* as sent (rendered) */
    const struct http_header *headers; /* as sent */
    size_t n_headers;
    const char *body;                /* as sent, may be NULL */
    enum body_kind body_kind;
    const char *correlation_id;
    const struct response *resp;
    const struct strv *issue_codes;
    const struct strv *thresholds;   /* budget breaches */
    const struct redactor *redactor;
    const struct grpc_answer *grpc;  /* a grpc: step's answer, else NULL */
};

/* A new evidence object (NULL only when out of memory). */
cJSON *evidence_pack(const struct evidence_in *in);
/* Field names and JSON types of v, recursively ("string", "number", ...). */
cJSON *evidence_shape(const cJSON *v);

#endif
