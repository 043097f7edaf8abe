/* A second opinion from peers: agents in other regions that, asked with an
 * HMAC-signed POST /peer/run, run a probe once now and say whether it
 * passed. An agent asks every peer in parallel when an incident opens or
 * escalates; the event of the transition is already spooled, and what the
 * peers saw (a secondOpinion object, docs/events.md) goes in a follow-up
 * event submitted here, which waits up to the peers' timeout. Follow-ups go
 * out in the order they were submitted.
 *
 * The serving half checks requests (signature, freshness, replays) and
 * shapes answers; running the probe is the agent's (agent_peers.c). */
#ifndef TRIPLINE_PEERS_H
#define TRIPLINE_PEERS_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "agent/config/config.h"
#include "probes/run/result.h"
#include "probes/http/transfer.h"

#define PEERS_SIGNATURE_HEADER "X-Tripline-Signature"
#define PEERS_PATH "/peer/run"
#define PEERS_MAX_SKEW_S 60 /* a request older or newer than this is refused */


struct peers;

/* Receives each event when it may go out; the callee owns ev. */
typedef void (*peers_emit_fn)(void *arg, cJSON *ev);

struct peers_opts {
    const struct peers_config *cfg; /* borrowed: must outlive the peers */
    const char *region;             /* this agent's, in requests */
    const char *agent;
    struct transfer_engine *engine;
    peers_emit_fn emit;
    void *emit_arg;
};

/* Reads the key file. On failure err says why (never the key's bytes). */
int peers_new(struct peers **out, const struct peers_opts *o, char *err, size_t errlen);
/* Follow-ups still waiting go out now, the peers that had not answered listed
 * as "(agent stopping)". Call before freeing the transfer engine, with no
 * loop run in between. peers_free(NULL) is a no-op. */
void peers_free(struct peers *p);

/* Hands ev (a follow-up event) over. With ask, the peers are asked to run
 * probe_id now and ev waits for their answers (or the timeout), then goes
 * with secondOpinion; region is this side's failing region. Without ask, ev
 * goes out as soon as those before it have. */
void peers_submit(struct peers *p, cJSON *ev, const char *probe_id, const char *region, bool ask);
/* No follow-up waiting and no run for a peer in flight. NULL is idle. */
bool peers_idle(const struct peers *p);
/* Runs for peers in flight: the agent counts them so a drain waits. */
void peers_hold(struct peers *p);
void peers_release(struct peers *p);

/* Checks a POST /peer/run: the signature header over body, the body
 * {"probe": id, "ts": unix seconds, "nonce": ..., "to": agent}, its age
 * against now_s, that "to" (when present) names this agent, and whether this
 * exact request was seen before. Returns the HTTP status to answer (200: go
 * on, probe and nonce filled in; 421: meant for another agent); why says
 * what was wrong. */
int peers_check(struct peers *p, const char *signature, const char *body, size_t len, int64_t now_s, char *probe,
                size_t probelen, char *nonce, size_t noncelen, char *why, size_t whylen);
/* Why requests are refused: each refusal counts under one reason. */
enum peers_refusal {
    PEERS_REFUSED_SIGNATURE, /* missing, malformed or wrong signature */
    PEERS_REFUSED_MALFORMED, /* signed, but not a request */
    PEERS_REFUSED_STALE,     /* ts too far from now */
    PEERS_REFUSED_AGENT,     /* bound to another agent ("to") */
    PEERS_REFUSED_REPLAY,
    PEERS_REFUSED_BUSY,      /* the replay cache is full */
    PEERS_REFUSAL_N
};
extern const char *const peers_refusal_names[PEERS_REFUSAL_N];
/* The reason of the last peers_check's refusal, NULL if it accepted. */
const char *peers_refusal(const struct peers *p);
/* Refusals are logged as one summary line per interval, not one line per
 * request (a flood of bad requests would flood the log): true when a line
 * is due now, with line set to the counts per reason since the last one. */
#define PEERS_REFUSAL_LOG_S 60
bool peers_refusal_log(struct peers *p, int64_t now_s, char *line, size_t len);
/* The answer to a run: {"probe","region","agent","ok","bucket","reason",
 * "nonce"}, the nonce being the request's. The answer goes out signed (the
 * signature header, peers_sign), so the asker knows it answers its request
 * and came from a holder of the key. */
char *peers_answer_json(const struct run_result *r, const char *region, const char *agent, const char *nonce);
/* "sha256=<hex HMAC>" of body with the peers' key into sig. */
int peers_sign(const struct peers *p, const char *body, size_t len, char sig[72]);
/* The request body asking for probe_id (caller frees), from agent in
 * region; with to (the destination agent's name, NULL: unbound) no other
 * agent accepts it. */
char *peers_request_json(const char *probe_id, int64_t now_s, const char *nonce, const char *region,
                         const char *agent, const char *to);
/* "failing in 2 of 3 regions", with "; no answer from N peers" when some
 * did not answer. */
void peers_summary(size_t failing, size_t ok, size_t no_answer, char *out, size_t outlen);

#endif
