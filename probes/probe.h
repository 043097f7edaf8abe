/* The loaded probe table: the form the engine runs.
 *
 * probes/load/load.c turns YAML probe files into these structs once, at load time:
 * templates are parsed, durations are integers (microseconds), URLs and
 * statuses are checked, regexes are compiled. Nothing here is re-parsed on the
 * probe path. Everything a struct points to is owned by it and freed by
 * probe_set_free().
 */
#ifndef TRIPLINE_PROBE_H
#define TRIPLINE_PROBE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/time.h"
#include "probes/run/template.h"
#include "schedules/schedule.h"

/* A position in a source file, 1-based, for error messages. */
struct src_pos {
    const char *file; /* owned by the probe_set's file table */
    int line;
    int column;
};


/* --- expectations ------------------------------------------------------ */

/* Expected status: a list of inclusive ranges. 201 is [201,201]; 2xx is
 * [200,299]. n == 0 means "any 2xx/3xx" (the default). */
struct status_range {
    int lo, hi;
};
struct status_expect {
    size_t n;
    struct status_range *ranges;
};

enum match_op {
    MATCH_EXISTS,     /* key/path/header is present (or absent when `exists: false`) */
    MATCH_EQUALS,     /* exact value */
    MATCH_MATCHES,    /* POSIX extended regex */
    MATCH_CONTAINS,   /* substring */
    MATCH_TYPE,       /* JSON type name: string, number, boolean, null, object, array */
    MATCH_LENGTH,     /* JSON: length of an array, string or object, or the match count */
    MATCH_COMPARE,    /* JSON: a number within gt/gte/lt/lte bounds */
};

/* Numeric bounds of `length: 3`, `length: {gte: 1}`, `{gt: 0, lte: 10}`:
 * every bound given must hold. */
enum bound_op { BOUND_EQ, BOUND_GT, BOUND_GTE, BOUND_LT, BOUND_LTE, BOUND_COUNT };
struct num_bounds {
    unsigned has;          /* bit (1u << enum bound_op) for each bound given */
    double v[BOUND_COUNT];
};

struct header_check {
    char *name;
    enum match_op op;
    bool exists;         /* for MATCH_EXISTS */
    struct tpl value;    /* for EQUALS / CONTAINS / MATCHES (the regex source) */
    regex_t re;          /* compiled when op == MATCH_MATCHES */
    size_t search_max;   /* MATCH_MATCHES: the longest value re is searched in; 0 any (ld_regex_search) */
    struct src_pos pos;
};

/* A compiled JSON path: $.a.b[0]["c d"], $.items[*].id, $..name,
 * $.users[?(@.active == true)]. A segment selects a key, an index, every
 * child or the children a filter accepts; after `..` it selects so from the
 * node and every descendant. */
enum jpath_sel { JSEL_CHILD = 0, JSEL_ALL, JSEL_FILTER };
struct jpath_filter; /* probes/check/jsonpath.h */
struct jpath_seg {
    char *key;  /* NULL for an index */
    long index; /* used when key == NULL */
    enum jpath_sel sel;          /* JSEL_CHILD: the key or index above */
    bool descend;                /* written after `..` */
    struct jpath_filter *filter; /* JSEL_FILTER */
};
struct jpath {
    char *src;  /* as written, for messages */
    size_t n;
    struct jpath_seg *segs;
};

struct json_check {
    struct jpath path;
    enum match_op op;
    bool exists;       /* for MATCH_EXISTS */
    cJSON *equals;     /* for MATCH_EQUALS: any JSON value; strings may hold templates */
    regex_t re;        /* for MATCH_MATCHES */
    size_t search_max; /* the longest text re is searched in; 0 any (ld_regex_search) */
    char *re_src;
    char *type;        /* for MATCH_TYPE */
    struct src_pos pos;
    struct num_bounds bounds; /* for MATCH_LENGTH and MATCH_COMPARE */
};

struct body_check {
    enum match_op op;  /* MATCH_CONTAINS or MATCH_MATCHES */
    char *text;        /* substring or regex source */
    regex_t re;
    size_t search_max; /* MATCH_MATCHES: the longest body re is searched in; 0 any (ld_regex_search) */
    struct src_pos pos;
};

/* Latency budgets for one step or a whole journey, in microseconds; 0 = none. */
struct budget {
    tl_usec dns, connect, tls, ttfb, total;
};

/* The timing phases, in the order of struct budget and struct timings: one
 * name table for budgets, triage reasons and metrics labels. */
enum phase { PHASE_DNS, PHASE_CONNECT, PHASE_TLS, PHASE_TTFB, PHASE_TOTAL, PHASE_COUNT };
const char *phase_str(enum phase p);  /* "dns", ...; "unknown" outside the enum */
int phase_parse(const char *name);    /* the enum phase named, or -1 */

enum severity { SEV_ANY = 0, SEV_ERROR, SEV_WARNING, SEV_INFO };
const char *severity_str(enum severity s);

/* An expected issue: `payment.unauthorized.*` matches by prefix segments,
 * `*.rate_limit.*` with `*` for any one segment before the last. */
struct issue_expect {
    char *pattern;
    enum severity severity; /* SEV_ANY when not given */
    struct src_pos pos;
};

struct expect {
    struct status_expect status;
    size_t n_headers;
    struct header_check *headers;
    size_t n_json;
    struct json_check *json;
    size_t n_body;
    struct body_check *body;
    struct budget budget;
    size_t n_issues;
    struct issue_expect *issues;   /* the response must carry issues matching each */
    bool issue_schema_on_2xx;      /* `issue_schema: true`: check 2xx bodies too */
    bool echo_correlation_id;      /* `correlation_id: echo`: the response must echo ours */
    bool correlation_id_own;       /* `correlation_id: false`: the API mints its own, none is compared */
    bool tls_expect;               /* `tls: {min_days: N}` was given */
    int tls_min_days;              /* the leaf must stay valid this many more days */
};

/* --- requests, captures, steps ---------------------------------------- */

/* A `tls:` block of a step's request or of a probe (the default for its
 * steps). A NULL path or 0 is "not set": the step's setting, else the
 * probe's, else the agent's. Paths are as written (checked readable at
 * load); curl reads the files. */
struct tls_opts {
    char *ca_file;              /* CA bundle (PEM) instead of the agent's */
    char *cert_file;            /* client certificate (PEM) */
    char *key_file;             /* its private key (PEM): secret, never read by the agent */
    char *pinned_public_key;    /* "sha256//BASE64[;sha256//...]" */
    int min_version;            /* 12 for TLS 1.2, 13 for 1.3; 0 = not set */
    int verify;                 /* 1 `verify: true`, -1 `verify: false`, 0 = not set */
};
void tls_opts_free(struct tls_opts *t); /* frees the members */

struct header_tpl {
    char *name;
    struct tpl value;
};

enum body_kind { BODY_NONE, BODY_RAW, BODY_JSON, BODY_FORM };

struct request {
    char *method;               /* upper case; default GET (POST when a body is set) */
    struct tpl url;
    size_t n_headers;
    struct header_tpl *headers;
    enum body_kind body_kind;
    struct tpl body;            /* BODY_RAW */
    cJSON *json;                /* BODY_JSON: string leaves may hold templates */
    size_t n_form;
    struct header_tpl *form;    /* BODY_FORM: name = value pairs, values are templates */
    bool follow_redirects;      /* default false: a synthetic check sees what a client sees */
    bool insecure;              /* `tls: {verify: false}`; default false */
    struct tls_opts tls;        /* this step's own `tls:` block */
};

enum capture_kind { CAPTURE_JSON, CAPTURE_HEADER, CAPTURE_REGEX };

struct capture {
    char *name;
    enum capture_kind kind;
    struct jpath path;          /* CAPTURE_JSON */
    char *header;               /* CAPTURE_HEADER */
    char *re_src;               /* CAPTURE_REGEX */
    regex_t re;
    regex_t rev;                /* "^.*(R reversed)": where the leftmost match starts */
    bool has_rev;               /* rev is compiled */
    size_t search_max;          /* without rev: the largest body regexec searches (its cost) */
    int group;                  /* CAPTURE_REGEX: default 1 */
    struct src_pos pos;
};

/* What a step talks: HTTP (struct request) or another kind whose module
 * (probes/kinds/) owns the definition. */
enum step_kind { STEP_HTTP = 0, STEP_TCP, STEP_DNS, STEP_ICMP, STEP_KIND_COUNT };
const char *step_kind_str(enum step_kind k); /* "http", "tcp", ...; "unknown" outside the enum */
struct grpc_def;
/* `retry: {attempts: N, delay: D}`: a step that fails for a reason about
 * the API is tried again after D, N tries in all (probes/run/retry.c). */
struct retry {
    int attempts;               /* total tries; 0 = not given (then the probe's, else 1) */
    tl_usec delay;
    struct src_pos pos;         /* of the retry mapping, for errors after the walk */
};

struct step {
    char *name;
    struct request request;
    struct expect expect;
    size_t n_captures;
    struct capture *captures;
    bool continue_on_failure;   /* `continue: true` */
    bool is_finally;            /* listed under `finally:`; always runs */
    tl_usec timeout;            /* 0 = the probe's timeout */
    struct src_pos pos;
    enum step_kind kind;        /* STEP_HTTP: request is used; else kind_def */
    void *kind_def;             /* the kind module's definition, owned; NULL for HTTP */
    struct grpc_def *grpc;      /* NULL unless a grpc: step (probes/grpc/grpc.h) */
    struct retry retry;         /* the step's own, else the probe's (set by the loader) */
};

/* --- schedule, escalation, actions ------------------------------------ */

enum level { LEVEL_NONE = 0, LEVEL_NOTICE, LEVEL_WARNING, LEVEL_CRITICAL };
const char *level_str(enum level l);

struct ladder_rung {
    enum level level;
    int consecutive_failures;   /* 0 = not used */
    double failure_ratio;       /* 0 = not used; with window */
    int budget_breaches;        /* 0 = not used; with window */
    tl_usec window;
    size_t n_actions;
    char **actions;             /* names, resolved against probe->actions at load */
    struct src_pos pos;
};

struct maintenance {
    char *cron;                 /* when it starts, as written */
    struct cron compiled;       /* cron_parse(cron) */
    tl_usec duration;
};

struct escalation {
    size_t n_ladder;
    struct ladder_rung *ladder;
    int resolve_successes;      /* default 2 */
    tl_usec renotify;           /* 0 = never */
    size_t n_maintenance;
    struct maintenance *maintenance;
};

enum action_kind { ACTION_WEBHOOK, ACTION_COMMAND };

struct action_do {
    enum action_kind kind;
    char *method;               /* webhook */
    struct tpl url;
    size_t n_headers;
    struct header_tpl *headers;
    cJSON *json;
    size_t argc;                /* command: argv array, never a shell */
    char **argv;
};

struct action {
    char *name;
    struct action_do run;
    bool has_rollback;
    struct action_do rollback;
    tl_usec cooldown;
    tl_usec timeout;            /* default 10s */
    bool dry_run;
    struct src_pos pos;
};

/* --- the probe --------------------------------------------------------- */

struct kv {
    char *key;
    char *value;
};

struct var_def {
    char *name;
    struct tpl value;           /* may reference env.* / file: (then secret) or earlier vars */
    bool secret;                /* true when the value comes from env. or a file */
};

struct probe {
    char *id;                   /* [a-z0-9_-]+ */
    char *description;
    char *runbook;              /* links.documentation of its events; may be NULL */
    size_t n_labels;
    struct kv *labels;
    size_t n_regions;
    char **regions;             /* empty = every region */
    struct schedule schedule;
    size_t n_vars;
    struct var_def *vars;
    size_t n_steps;             /* steps then finally steps, in order */
    struct step *steps;
    struct budget budget;       /* the whole journey */
    struct escalation escalation;
    size_t n_actions;
    struct action *actions;
    const char *file;           /* the file it came from (owned by the set) */
    char file_hash[65];         /* SHA-256 of the file's bytes, hex */
    uint64_t def_hash;          /* hash of this probe's own definition: reload keeps state when unchanged */
    struct src_pos pos;
    struct tls_opts tls;        /* the probe's `tls:` block: its steps' default */
    struct retry retry;         /* the default of its steps */
};

/* A set of probes loaded from files. */
struct probe_set {
    size_t n;
    struct probe **probes;
    size_t n_files;
    char **files;               /* file names, owned; probes point into them */
    struct probe_ids *ids;      /* probes by id, kept by the loader (probe_ids.h) */
};

/* An empty set (probe_set_free frees the set itself too). */
struct probe_set *probe_set_new(void);
void probe_set_free(struct probe_set *set);
/* Frees one probe and everything it owns; NULL is a no-op. */
void probe_free(struct probe *p);
/* Returns the probe with this id, or NULL. */
struct probe *probe_set_find(struct probe_set *set, const char *id);
/* True when the probe should run in `region` (no regions: every region). */
bool probe_runs_in(const struct probe *p, const char *region);
/* The last origin probe_host_key parsed and what it gave: probes loaded
 * one after another mostly share their API's origin, and parsing a URL is
 * most of the key's cost (10,000 probes: 78M of 868M instructions from
 * launch to a listening agent). Zero it before the first use; no
 * ownership. */
struct probe_host_memo {
    char origin[256]; /* "scheme://authority" of the URL parsed; "" none */
    bool ok;          /* the origin had a host */
    char key[300];    /* host:port, when ok */
};

/* The key a probe's runs count against for limits.per_host: host:port of its
 * first step's URL (from its scheme and authority alone) when that is known
 * at load time (a constant URL or one starting with a constant var), else
 * "probe:ID". The daemon, peer runs and `tripline once` all use it. memo may
 * be NULL. */
void probe_host_key(const struct probe *p, struct probe_host_memo *memo, char *out, size_t outlen);

#endif
