/* Internals of one run, shared by journey.c (the run, its variables, the
 * order of its steps, retries), journey_http.c (HTTP and gRPC steps) and
 * journey_kind.c (steps of other kinds). Not a public API. */
#ifndef TRIPLINE_JOURNEY_INT_H
#define TRIPLINE_JOURNEY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "probes/run/journey.h"
#include "probes/check/checks.h"
#include "probes/redact/redact.h"
#include "probes/triage/evidence.h"

#define DEFAULT_BODY_MAX (1u << 20)

struct journey {
    const struct journey_env *env;
    const struct probe *probe;
    journey_done_cb cb;
    void *cb_arg;
    struct transfer_session *session;
    struct tpl_vars vars;
    struct redactor redactor;
    struct run_result *result;
    uint64_t started_ns;         /* uv_hrtime at start */
    uint64_t deadline_ns;
    size_t step;                 /* the step in flight */
    bool failed;                 /* a failing step without `continue` stops the journey */
    bool sent;                   /* a step of this run started its request: it may have taken the time */
    bool config_error;           /* the probe's vars could not be formed */
    enum reason config_reason;   /* why, as an agent fault */
    /* the request in flight, kept for the evidence pack */
    struct http_header *req_headers;
    size_t n_req_headers;
    char *req_url;
    char *req_body;
    enum body_kind req_body_kind;
};

/* journey.c */
bool journey_loop_stalled(const struct journey *j); /* the loop stalled during this run */
void journey_free_request(struct journey *j);
/* Every message written out passes through here (redacted). */
void journey_push_failure(struct journey *j, struct strv *to, const char *step, const char *msg);
int journey_render_ex(struct journey *j, const struct tpl *t, enum tpl_escape esc, char **out, bool *secret,
                      char *err, size_t errlen);
int journey_render(struct journey *j, const struct tpl *t, enum tpl_escape esc, char **out, char *err,
                   size_t errlen);
enum reason journey_render_reason(int rc); /* the agent fault a render error stands for */
/* The one exit of every step (ev NULL: nothing was sent). */
void journey_step_done(struct journey *j, const struct timings *t, struct verdict v, const struct evidence_in *ev);
/* A failed try the step's retry covers: true when the step starts again later. */
bool journey_retry_again(struct journey *j, const struct step *st, const struct verdict *v, tl_usec took);
void journey_run_captures(struct journey *j, const struct step *st, const struct response *resp, const cJSON *json,
                          struct check_outcome *co);
void journey_step_failed_early(struct journey *j, const char *msg, const struct triage_input *ti);
void journey_step_agent_fault(struct journey *j, const char *msg, enum reason why);
void journey_skip_step(struct journey *j);  /* a finally step with nothing to clean up */
void journey_next(struct journey *j);       /* starts the next step, or ends the run */

/* journey_http.c, journey_kind.c: start the step in flight (0), or record
 * why it could not start and return -1. */
int journey_start_http(struct journey *j, const struct step *st, tl_usec timeout);
int journey_start_kind(struct journey *j, const struct step *st, tl_usec timeout);

#endif
