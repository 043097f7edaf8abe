/* The agent's own config: who it is, where probe files are, where it listens,
 * where it spools, where events go, and global limits. Every key has a
 * default so the agent starts with no config file at all. */
#ifndef TRIPLINE_CONFIG_H
#define TRIPLINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "probes/probe.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct sink_service {
    char *url;                  /* POST target of event batches */
    char *token_file;           /* Authorization: Bearer <contents> */
    char *hmac_key_file;        /* key of the X-Tripline-Signature header */
    struct src_pos token_file_at, hmac_key_file_at; /* where the config names them (config_where) */
    tl_usec timeout;            /* default 10s */
    size_t batch_max;           /* default 100 */
};

struct sink_alertmanager {
    size_t n_urls;
    char **urls;                /* every instance of an HA cluster gets every alert */
    tl_usec repost;             /* re-post interval while firing; default 60s */
};

/* One vantage: the probes run once per vantage, as if from its region,
 * through its egress settings (docs/config.md). */
struct vantage {
    char *region;
    char *proxy;                /* proxy URL, or NULL */
    char *interface;            /* source interface or address, or NULL */
    size_t n_resolve;
    char **resolve;             /* "host:port:addr" entries */
    char *resolve_lines;        /* the entries joined by '\n' (transfer_req.resolve), or NULL */
};

/* Peers in other regions that can run a failing probe for a second opinion. */
struct peers_config {
    char *key_file;             /* HMAC key shared by the peers */
    struct src_pos key_file_at;
    tl_usec timeout;            /* default 2s */
    size_t n_urls;
    char **urls;
    char **agents;              /* per URL: the agent it reaches, or NULL (unbound) */
    char *listen;               /* /peer/run on its own address, or NULL (the endpoint's) */
};

struct config {
    char *file;                 /* NULL when defaults only */
    char *region;               /* default "local" */
    char *name;                 /* default: the host name */
    size_t n_probe_globs;
    char **probe_globs;         /* default /etc/tripline/probes.d/ *.yaml */
    char *listen;               /* default 127.0.0.1:9464 */
    char *status_token_file;    /* endpoint.status_token_file: /status wants this bearer token */
    struct src_pos status_token_file_at;
    char *spool_dir;            /* default /var/lib/tripline/spool */
    size_t spool_max_bytes;     /* default 64 MiB */
    enum log_level log_level;   /* default info */
    /* sinks: stdout is the default when none is configured */
    bool sink_stdout;
    bool sink_stdout_lines;     /* `stdout: line`: short human lines, not JSON */
    char *sink_file;            /* JSON lines appended to this file */
    bool has_service;
    struct sink_service service;
    bool has_alertmanager;
    struct sink_alertmanager alertmanager;
    /* limits */
    int concurrency;            /* total runs in flight; default 256 */
    int per_host;               /* runs in flight per target host; default 8 */
    size_t body_max;            /* default 1 MiB */
    char *ca_file;              /* default /etc/ssl/certs/ca-certificates.crt */
    struct src_pos ca_file_at;  /* line 0: the default, named by no file */
    tl_usec drain_timeout;      /* default 10s */
    char *shard;                /* "i/n" or NULL */
    size_t n_vantages;          /* 0: probes run once, in `region` */
    struct vantage *vantages;
    bool has_peers;
    struct peers_config peers;
};

/* Fills cfg with defaults. */
void config_defaults(struct config *cfg);
/* Loads path over the defaults. On errors returns -1 and pushes one
 * "file:line:column: message" per error to errors. */
int config_load(struct config *cfg, const char *path, struct strv *errors);
void config_free(struct config *cfg);
/* "FILE:LINE:COLUMN: " of a key the config file set (an *_at member), for
 * an error about the file it names; "" for a default. */
void config_where(const struct config *cfg, const struct src_pos *at, char *out, size_t len);
const char *log_level_str(enum log_level l);

#endif
