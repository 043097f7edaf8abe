/* Sinks: where escalation events go once they are in the spool.
 *
 * A sink takes a batch of serialized events (JSON strings, each one event
 * object of docs/events.md) and reports, exactly once and on the loop
 * thread, one outcome: delivered, retry later (with an optional delay the
 * server asked for), or rejected for good. The delivery driver
 * (agent/outbox/delivery.h) owns retries, acks and the dead-letter file; a sink only
 * says what happened. See docs/sinks.md. */
#ifndef TRIPLINE_SINK_H
#define TRIPLINE_SINK_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "base/container.h"
#include "agent/config/config.h"
#include "probes/probe.h"

struct transfer_engine;


enum sink_outcome { SINK_DELIVERED = 0, SINK_RETRY, SINK_REJECTED };
const char *sink_outcome_str(enum sink_outcome o); /* "delivered", "retry", "rejected" */

struct sink_result {
    enum sink_outcome outcome;
    tl_usec retry_after;   /* SINK_RETRY: the server's Retry-After, or -1 when none */
    long status;           /* HTTP status of the (last) answer, 0 when none */
    bool partial;          /* SINK_RETRY: some receivers took the batch (an HA Alertmanager) */
    char reason[256];      /* for logs; never holds a token or key */
};

/* Called once per accepted sink_send, possibly from inside sink_send. */
typedef void (*sink_done_cb)(const struct sink_result *res, void *arg);

struct sink;

/* What an implementation provides; callers use the sink_* functions. */
struct sink_ops {
    const char *kind;
    int (*send)(struct sink *s, const char *const *events, const size_t *lens, size_t n,
                sink_done_cb cb, void *arg);
    int (*reload)(struct sink *s);
    void (*free)(struct sink *s);
};

/* Implementations embed this and reach their own struct with container_of. */
struct sink {
    const struct sink_ops *ops;
    char err[256];         /* the last error of new/reload, without secrets */
};

/* Sends one batch of n events (each events[i] of lens[i] bytes; borrowed for
 * the call only). Returns 0 when cb will be called, a negative TL_E* code when
 * the batch was not taken (cb is then never called). One batch at a time. */
int sink_send(struct sink *s, const char *const *events, const size_t *lens, size_t n,
              sink_done_cb cb, void *arg);
/* Re-reads the sink's secrets (SIGHUP). On failure the old ones stay. */
int sink_reload(struct sink *s);
/* A batch in flight is abandoned: its callback is never called. */
void sink_free(struct sink *s);
const char *sink_kind(const struct sink *s);
const char *sink_error(const struct sink *s);

/* Who the agent is: the batch document and Alertmanager labels carry it. */
struct sink_identity {
    const char *agent;
    const char *region;
};

/* The escalation service (docs/events.md): one transfer_session per sink.
 * The engine must outlive the sink. On failure *out is NULL and err holds
 * why. */
int sink_service_new(struct sink **out, struct transfer_engine *e, const struct sink_service *cfg,
                     const struct sink_identity *id, char *err, size_t errlen);

/* Prometheus Alertmanager API v2, every URL of cfg (an HA cluster does not
 * share alerts). Re-posts firing alerts every cfg->repost on its own timer;
 * sink_free closes that timer, so run the loop afterwards. */
int sink_alertmanager_new(struct sink **out, uv_loop_t *loop, struct transfer_engine *e,
                          const struct sink_alertmanager *cfg, const struct sink_identity *id,
                          char *err, size_t errlen);
/* How many incidents the Alertmanager sink holds as firing; reposts made. */
size_t sink_alertmanager_firing(const struct sink *s);
unsigned long sink_alertmanager_reposts(const struct sink *s);

/* JSON lines to stdout (path NULL) or appended to path. */
int sink_stdout_new(struct sink **out, const char *path, char *err, size_t errlen);
/* Short human lines instead of JSON: time probe region level transition bucket/reason actions. */
void sink_stdout_set_lines(struct sink *s);

/* Shared by the HTTP sinks. */
/* Implementations reach their own struct from the embedded struct sink. */
#define sink_impl(p, type) container_of(p, type, base)
/* What an HTTP status means for a batch: 2xx delivered; no answer (0), 408,
 * 429, 5xx and a misdirected answer retry later; any other status rejected
 * for good. */
enum sink_outcome sink_http_outcome(long status);
/* A redirect (3xx, never followed: it would resend the body and its headers
 * elsewhere), 404 or 405: the sink's URL is wrong, not the events. */
bool sink_http_misdirected(long status);
/* The log reason of a misdirected answer, "WHO: HTTP 302, a redirect to
 * LOCATION: ..."; who may be "", location NULL. */
void sink_misdirected_reason(char *out, size_t cap, const char *who, long status, const char *location);
/* Retry-After as seconds or an HTTP date, relative to now_s; -1 when absent
 * or unreadable. */
tl_usec sink_parse_retry_after(const char *value, long long now_s);
/* "sha256=<64 hex>" of body under key; out must hold 72 bytes. */
int sink_signature(const void *key, size_t key_len, const void *body, size_t body_len,
                   char out[72]);

#endif
