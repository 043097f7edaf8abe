/* Internals of the probe loader. The files depend one way, top down:
 *   load.c        files, probe sets, the probe mapping, schedule, vars
 *   load_check.c  checks once the whole probe is read
 *   load_policy.c escalation ladder and actions
 *   load_step.c   steps: request, expect, capture
 *   load_json.c   the expect.json checks of a step
 *   load_kind.c   steps of other kinds (tcp, dns, icmp): their blocks go to probes/kinds
 *   load_common.c value readers (templates, URLs, headers, regexes, budgets)
 * Each calls only into the files below it. Not a public API. */
#ifndef TRIPLINE_LOAD_INT_H
#define TRIPLINE_LOAD_INT_H

#include "probes/load/load.h"
#include "probes/yaml/yaml_util.h"

/* Where a template may look for variables. */
enum ld_scope {
    LD_SCOPE_VAR,    /* vars before scope_index */
    LD_SCOPE_STEP,   /* vars, captures of earlier steps (any for finally), correlation_id */
    LD_SCOPE_ACTION, /* vars, correlation_id */
};

/* Something named at one place and resolved once the whole probe is read:
 * a template variable, an action named by a ladder, a URL to check. */
struct ld_ref {
    char *name;
    const struct tpl *url; /* for URL checks */
    enum ld_scope scope;
    size_t index;
    int line, column;
    char *path;
};

struct ld_refs {
    size_t n, cap;
    struct ld_ref *v;
};

struct ld {
    struct probe *p;
    size_t n_main;            /* steps before the finally steps */
    enum ld_scope scope;
    size_t scope_index;
    struct ld_refs vars;      /* template variables to resolve */
    struct ld_refs urls;      /* URLs whose constant prefix must be http(s) */
    struct ld_refs actions;   /* action names used by the ladder */
    yaml_node_t *every_node, *cron_node, *timeout_node, *jitter_node;
    struct action_do *cur_do; /* the webhook/command being read */
    int do_kinds;
};

static inline struct ld *ld_of(struct yu *y)
{
    return (struct ld *)y->user;
}

/* load_common.c */
int ld_ref_add(struct yu *y, struct ld_refs *refs, const char *name, const struct tpl *url,
               int line, int column);
/* A template from a string scalar; its variables are recorded for checking
 * in the current scope. */
int ld_tpl(struct yu *y, yaml_node_t *n, struct tpl *out);
/* Records the variables of every templated string leaf of a JSON value. */
int ld_json_tpls(struct yu *y, yaml_node_t *n);
/* A URL template: parsed, and its constant prefix checked at the end. */
int ld_url(struct yu *y, yaml_node_t *n, struct tpl *out);
/* A map of name -> template (headers, form fields). */
int ld_headers(struct yu *y, yaml_node_t *map, size_t *n_out, struct header_tpl **out);
int ld_regex(struct yu *y, yaml_node_t *n, regex_t *re, char **src);
/* ld_regex for a yes/no match anywhere in a text (header, body and JSON
 * checks): compiled as "^.*(R)", the same answer in one pass. glibc's
 * regexec otherwise restarts R at every offset, the square of the length: a
 * hostile 64 KB run of letters against "[a-z]+[0-9]" took 8 s of the loop.
 * ("." matches every byte but NUL: no setlocale, no REG_NEWLINE.) A regex
 * that would not wrap unchanged (wraps()) is compiled as written; with a
 * back-reference it costs the cube of the length, so *search_max is then
 * LD_CAPTURE_BACKREF_MAX, the longest text it is searched in, as for a
 * capture (0 otherwise: any length). */
int ld_regex_search(struct yu *y, yaml_node_t *n, regex_t *re, char **src, size_t *search_max);
/* The shortest deadline (a timeout, or an interval, which is the default
 * timeout): libuv's timers count milliseconds, and a deadline under one
 * passed before the first request went out, every run failing as if the
 * API were slow. */
#define LD_DEADLINE_MIN 1000
/* A duration of at least LD_DEADLINE_MIN (yu_get_dur's errors, then "too
 * short" at the node). */
int ld_deadline(struct yu *y, yaml_node_t *n, tl_usec *out);
/* ld_regex for a capture, which needs the leftmost match and its groups:
 * also compiles "^.*(R')", R reversed, whose longest match over the
 * reversed body ends where the leftmost match of R starts, in one pass
 * (has_rev); regexec then starts there and matches at once. Without it
 * (back-references, anchors, word anchors) search_max is the largest body
 * glibc's regexec, which restarts R at every offset, may search: 4 KiB
 * (hostile letters against "([a-z]+)[0-9]$": 0.1 s), 256 bytes with a
 * back-reference (the cube of the length: 0.1 s, 8 s at 1 KiB), any body
 * when R can only match at offset 0 (a leading ^, no | outside groups). */
#define LD_CAPTURE_PLAIN_MAX 4096
#define LD_CAPTURE_BACKREF_MAX 256
int ld_regex_capture(struct yu *y, yaml_node_t *n, struct capture *c);
int ld_jpath(struct yu *y, yaml_node_t *n, struct jpath *out);
/* An HTTP method word, upper-cased into *out (replacing it). */
int ld_method(struct yu *y, yaml_node_t *v, const char *examples, char **out);
int ld_budget(struct yu *y, yaml_node_t *map, struct budget *b);
bool ld_is_name(const char *s);
/* A yu_each key_check body: pushes "bad <what> name ..." unless ld_is_name. */
int ld_key_name(struct yu *y, yaml_node_t *k, const char *what);
bool ld_is_token(const char *s);

void ld_refs_free(struct ld_refs *refs);
/* Sets the 1-based line and column of n (the file is left as it is). */
void ld_pos(struct src_pos *pos, const yaml_node_t *n);
/* Sets the whole path, for errors raised after the walk. */
void ld_set_path(struct yu *y, const char *path);

/* load_json.c: the expect.json list of a step (a yu_fn on struct expect). */
int ld_expect_json(struct yu *y, void *obj, yaml_node_t *v);

/* load_step.c: reads the sequence of steps into p->steps[base...]. */
int ld_steps(struct yu *y, yaml_node_t *seq, size_t base, bool is_finally);

/* load_kind.c: the step and expect key tables with one more key per step
 * kind (built once from the given base tables). */
void ld_kind_tables(const struct yu_key *step_keys, const struct yu_key *expect_keys,
                    const struct yu_key **step_out, const struct yu_key **expect_out);
/* After the step mapping item was walked: loads its kind block into s (or
 * checks that an HTTP step has its request). Returns 0 or -1 after errors. */
int ld_step_kind(struct yu *y, yaml_node_t *item, struct step *s);
/* load_step.c: the tls: {verify} mapping of a request. */
int ld_request_tls(struct yu *y, struct request *r, yaml_node_t *v);

/* load_grpc.c: the grpc: step key and expect.grpc (yu_fn handlers on the
 * step and on its expect). ld_grpc_step_check, before a step is read: 0, -1
 * after an error, 1 after the error of a step with both request and grpc
 * (then it is not read: they would fill one struct request). */
int ld_grpc(struct yu *y, void *obj, yaml_node_t *v);
int ld_grpc_expect(struct yu *y, void *obj, yaml_node_t *v);
int ld_grpc_step_check(struct yu *y, yaml_node_t *item);

/* load_policy.c: escalation.ladder and actions (yu_fn handlers). */
int ld_ladder(struct yu *y, void *obj, yaml_node_t *v);
int ld_actions(struct yu *y, void *obj, yaml_node_t *v);
/* load_policy.c: a retry mapping into *r; once the probe is read, the
 * probe's retry given to steps without one and delays checked against
 * each step's timeout. */
int ld_retry(struct yu *y, yaml_node_t *v, struct retry *r);
void ld_check_retry(struct yu *y, struct ld *ld);

/* load_tls.c: a `tls:` block (request or probe level) and expect.tls. */
int ld_tls(struct yu *y, yaml_node_t *v, struct tls_opts *t);
int ld_probe_tls(struct yu *y, void *obj, yaml_node_t *v);
int ld_expect_tls(struct yu *y, void *obj, yaml_node_t *v);

/* load_check.c: resolves what was recorded, pushes the errors. */
void ld_check_probe(struct yu *y, struct ld *ld);

#endif
