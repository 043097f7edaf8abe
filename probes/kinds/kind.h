/* Step kinds other than HTTP (tcp, dns, icmp): the contract between the
 * journey and a kind module.
 *
 * A probe file step has exactly one of `request:` (HTTP) or a kind's block
 * (`tcp:`, `dns:`, `icmp:`), and optionally `expect.<kind>:` for what the
 * kind itself judges. A kind module loads both into a definition of its own,
 * runs one exchange on the run's loop and hands back a struct response: its
 * timings (the same phases as HTTP: dns, connect, tls, ttfb = first byte or
 * answer, total), the address it talked to, the bytes it read (body, capped at
 * data_max) and its facts as JSON (answers, banner, round trips). The journey
 * then runs the generic checks that make sense without a status line
 * (`expect.json` on the facts, `expect.body` on the bytes, budgets), asks the
 * kind to judge its own expectations, triages and packs evidence exactly as
 * for HTTP steps, so metrics, /status, events and escalation need nothing new.
 *
 * A failed exchange sets resp->fail = TRANSFER_KIND and resp->kind_reason:
 * the network or the peer (REASON_DNS, REASON_CONNECT, REASON_TLS,
 * REASON_TIMEOUT, REASON_RESET, REASON_BROKEN_RESPONSE: bucket upstream) or
 * the agent itself (REASON_FD_LIMIT, REASON_OUT_OF_MEMORY, REASON_BAD_VAR,
 * REASON_CA_FILE, ...: bucket agent, never blamed on the target). */
#ifndef TRIPLINE_KIND_H
#define TRIPLINE_KIND_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>
#include <yaml.h>

#include "probes/check/checks.h"
#include "probes/http/transfer.h"
#include "probes/probe.h"
#include "probes/run/template.h"
#include "probes/triage/triage.h"

struct yu;

/* One exchange, as the journey asks for it. Borrowed for the call only:
 * copy what must outlive kind_ops.start. */
struct kind_run {
    uv_loop_t *loop;
    const struct step *step;
    const void *def;            /* the kind's definition (step->kind_def) */
    tl_usec timeout;            /* the whole exchange; > 0 */
    size_t data_max;            /* bytes kept from the peer; more is a failure (TRANSFER_BODY_TOO_BIG) */
    const char *interface;      /* optional source address (a vantage) */
    /* Renders one of the definition's templates with the run's variables
     * (env., captures, vars). *secret is set when the value holds a secret.
     * Returns 0, or a TL_E* code with the reason in err (never the value). */
    int (*render)(void *arg, const struct tpl *t, char **out, bool *secret, char *err, size_t errlen);
    void *render_arg;
    /* Called exactly once, on the loop thread, unless start failed. The
     * callee owns resp (response_free, then free). */
    transfer_done_cb done;
    void *done_arg;
    /* Where start writes why it failed (never a secret value). A template
     * that names a capture never taken returns TL_ENOTFOUND (a finally step
     * is then skipped); TL_EKEY a missing secret, TL_ETOOBIG a value too
     * large, TL_ENOMEM memory, anything else: resources. */
    char *err;
    size_t errlen;
};

struct kind_ops {
    enum step_kind kind;
    const char *key;            /* the step key in probe files: "tcp" */
    /* Loads the step's block and its optional expect.<key> block (NULL when
     * absent). Errors go through yu_error (file:line:column); returns 0 or
     * -1 after reporting. On success *def is owned by the step. */
    int (*load)(struct yu *y, yaml_node_t *block, yaml_node_t *expect, void **def);
    void (*free)(void *def);
    /* Starts the exchange. Returns 0 (done will be called) or a TL_E* code
     * (done is never called; the journey records an agent fault). */
    int (*start)(const struct kind_run *run);
    /* Judges a completed exchange (fail == TRANSFER_OK) against the kind's
     * own expectations: pushes one message per failed expectation to
     * co->failures and sets co->checks_failed; may set *answer when the
     * answer itself says what failed (a DNS SERVFAIL is upstream's), else
     * leaves it at BUCKET_NONE. May be NULL. Returns 0, or TL_ENOMEM. */
    int (*judge)(const void *def, const struct response *resp, const struct tpl_vars *vars,
                 struct check_outcome *co, struct verdict *answer);
    /* Describes the target for evidence and logs ("tcp://db:5432",
     * "dns://127.0.0.1:53/example.com?type=A"), rendered; NULL on error. */
    char *(*target)(const struct kind_run *run);
    /* Optional: writes the "host:port" the exchanges count against for
     * limits.per_host when it is known at load time (a constant host);
     * leaves out untouched otherwise. */
    void (*host_key)(const void *def, char *out, size_t outlen);
};

/* For kind loaders: a template from a string scalar, as the loader reads
 * every other template (errors at the line and column inside the scalar;
 * the variables it names are checked once the whole probe is read, like a
 * request URL's). Returns 0, or -1 after reporting. Provided by the loader
 * (probes/load/load_kind.c). */
int kind_tpl(struct yu *y, yaml_node_t *n, struct tpl *out);

/* The module of a kind, NULL for STEP_HTTP or an unknown value. */
const struct kind_ops *kind_ops_of(enum step_kind k);
/* The module whose step key is key, NULL if none. */
const struct kind_ops *kind_ops_by_key(const char *key);
/* Every registered kind, for loaders that build key tables. */
size_t kind_count(void);
const struct kind_ops *kind_at(size_t i);

#endif
