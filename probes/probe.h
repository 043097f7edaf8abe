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
};

struct header_check {
    char *name;
    enum match_op op;
    bool exists;         /* for MATCH_EXISTS */
    struct tpl value;    /* for EQUALS / CONTAINS / MATCHES (the regex source) */
    regex_t re;          /* compiled when op == MATCH_MATCHES */
    struct src_pos pos;
};

/* A compiled JSON path: $.a.b[0]["c d"]. Segments are keys or indices. */
struct jpath_seg {
    char *key;  /* NULL for an index */
    long index; /* used when key == NULL */
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
    char *re_src;
    char *type;        /* for MATCH_TYPE */
    struct src_pos pos;
};

struct body_check {
    enum match_op op;  /* MATCH_CONTAINS or MATCH_MATCHES */
    char *text;        /* substring or regex source */
    regex_t re;
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

/* An expected issue: `payment.unauthorized.*` matches by prefix segments. */
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
};

/* --- requests, captures, steps ---------------------------------------- */

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
};

enum capture_kind { CAPTURE_JSON, CAPTURE_HEADER, CAPTURE_REGEX };

struct capture {
    char *name;
    enum capture_kind kind;
    struct jpath path;          /* CAPTURE_JSON */
    char *header;               /* CAPTURE_HEADER */
    char *re_src;               /* CAPTURE_REGEX */
    regex_t re;
    int group;                  /* CAPTURE_REGEX: default 1 */
    struct src_pos pos;
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
/* The key a probe's runs count against for limits.per_host: host:port of its
 * first step's URL when that is known at load time (a constant URL or one
 * starting with a constant var), else "probe:ID". The daemon, peer runs and
 * `tripline once` all use it. */
void probe_host_key(const struct probe *p, char *out, size_t outlen);

#endif
