/* The agent's config file: the same table-of-keys walk and the same
 * "file:line:column: path: message" errors as probe files. */
#include "agent/config/config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent/endpoint/http.h"
#include "probes/yaml/yaml_util.h"

/* 1 MiB: the worst config measured at it loads in 0.4 s of CPU (docs/probe-file.md, "Size cap") */
#define CONFIG_FILE_MAX (1u << 20)

struct cfg_ctx {
    struct config *cfg;
    bool stdout_set;
    char *dir; /* the config file's folder: relative probe globs start there */
};

static struct cfg_ctx *ctx_of(struct yu *y)
{
    return (struct cfg_ctx *)y->user;
}

const char *log_level_str(enum log_level l)
{
    switch (l) {
    case LOG_DEBUG: return "debug";
    case LOG_INFO: return "info";
    case LOG_WARN: return "warn";
    case LOG_ERROR: return "error";
    }
    return "info";
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        snprintf(host, sizeof(host), "tripline");
    host[sizeof(host) - 1] = '\0';
    cfg->region = strdup("local");
    cfg->name = strdup(host);
    cfg->probe_globs = calloc(1, sizeof(char *));
    if (cfg->probe_globs) {
        cfg->probe_globs[0] = strdup("/etc/tripline/probes.d/*.yaml");
        cfg->n_probe_globs = cfg->probe_globs[0] ? 1 : 0;
    }
    cfg->listen = strdup("127.0.0.1:9464");
    cfg->spool_dir = strdup("/var/lib/tripline/spool");
    cfg->spool_max_bytes = 64u << 20;
    cfg->log_level = LOG_INFO;
    cfg->sink_stdout = true;
    cfg->service.timeout = 10 * 1000000LL;
    cfg->service.batch_max = 100;
    cfg->alertmanager.repost = 60 * 1000000LL;
    cfg->concurrency = 256;
    cfg->per_host = 8;
    cfg->body_max = 1u << 20;
    cfg->ca_file = strdup("/etc/ssl/certs/ca-certificates.crt");
    cfg->drain_timeout = 10 * 1000000LL;
    cfg->peers.timeout = 2 * 1000000LL;
}

static void vantage_free(struct vantage *v)
{
    free(v->region);
    free(v->proxy);
    free(v->interface);
    for (size_t i = 0; i < v->n_resolve; i++)
        free(v->resolve[i]);
    free(v->resolve);
    free(v->resolve_lines);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->file);
    free(cfg->region);
    free(cfg->name);
    for (size_t i = 0; i < cfg->n_probe_globs; i++)
        free(cfg->probe_globs[i]);
    free(cfg->probe_globs);
    free(cfg->listen);
    free(cfg->spool_dir);
    free(cfg->sink_file);
    free(cfg->service.url);
    free(cfg->service.token_file);
    free(cfg->service.hmac_key_file);
    for (size_t i = 0; i < cfg->alertmanager.n_urls; i++)
        free(cfg->alertmanager.urls[i]);
    free(cfg->alertmanager.urls);
    free(cfg->ca_file);
    free(cfg->shard);
    for (size_t i = 0; i < cfg->n_vantages; i++)
        vantage_free(&cfg->vantages[i]);
    free(cfg->vantages);
    free(cfg->peers.key_file);
    free(cfg->status_token_file);
    for (size_t i = 0; i < cfg->peers.n_urls; i++) {
        free(cfg->peers.urls[i]);
        free(cfg->peers.agents ? cfg->peers.agents[i] : NULL);
    }
    free(cfg->peers.urls);
    free(cfg->peers.agents);
    free(cfg->peers.listen);
    memset(cfg, 0, sizeof(*cfg));
}

/* --- handlers ------------------------------------------------------------- */

static bool is_ident(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

static int c_region(struct yu *y, void *obj, yaml_node_t *v)
{
    struct config *cfg = obj;
    if (!is_ident(yu_str(v))) {
        yu_error(y, v, "bad region \"%s\" (expected letters, digits, ., _ and -, like eu-west)", yu_str(v));
        return -1;
    }
    return yu_get_str(y, v, &cfg->region);
}

static int c_name(struct yu *y, void *obj, yaml_node_t *v)
{
    struct config *cfg = obj;
    if (!is_ident(yu_str(v))) {
        yu_error(y, v, "bad agent name \"%s\" (expected letters, digits, ., _ and -)", yu_str(v));
        return -1;
    }
    return yu_get_str(y, v, &cfg->name);
}

static int glob_add(struct yu *y, yaml_node_t *k, yaml_node_t *v, void *elem, void *ctx)
{
    char *s = NULL;
    if (yu_get_str(y, v, &s))
        return YU_ITEM_DROP;
    const char *dir = ctx_of(y)->dir;
    if (s[0] != '/' && dir) {
        size_t len = strlen(dir) + strlen(s) + 2;
        char *abs = malloc(len);
        if (!abs) {
            free(s);
            return YU_ITEM_DROP;
        }
        snprintf(abs, len, "%s/%s", dir, s);
        free(s);
        s = abs;
    }
    *(char **)elem = s;
    return 0;
}

static int c_probes(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(char *), 0, true, NULL};
    struct config *cfg = obj;
    for (size_t i = 0; i < cfg->n_probe_globs; i++)
        free(cfg->probe_globs[i]);
    free(cfg->probe_globs);
    cfg->probe_globs = NULL;
    cfg->n_probe_globs = 0;
    if (v->type == YAML_MAPPING_NODE) {
        yu_error(y, v, "expected a list of globs like [/etc/tripline/probes.d/*.yaml], got a mapping");
        return -1;
    }
    if (v->type == YAML_SEQUENCE_NODE && yu_len(v) == 0) {
        yu_error(y, v, "empty list (expected at least one glob)");
        return -1;
    }
    return yu_each_item(y, v, &how, (void **)&cfg->probe_globs, &cfg->n_probe_globs, glob_add, NULL);
}

/* What the endpoint binds: an IPv4 literal or a bracketed IPv6 literal and a
 * port 0..65535 (0 picks a free port); a host name would only fail at start. */
static bool listen_ok(const char *s)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return http_parse_listen(s, &ss, &len) == 0;
}

static int c_listen(struct yu *y, void *obj, yaml_node_t *v)
{
    struct config *cfg = obj;
    if (!listen_ok(yu_str(v))) {
        yu_error(y, v, "bad address \"%s\" (expected an IPv4 or [IPv6] literal and a port, like 127.0.0.1:9464 "
                 "or [::1]:9464)", yu_str(v));
        return -1;
    }
    return yu_get_str(y, v, &cfg->listen);
}

static const struct yu_key spool_keys[] = {
    {"dir", YU_STR, offsetof(struct config, spool_dir), NULL, 0},
    {"max_size", YU_SIZE, offsetof(struct config, spool_max_bytes), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static int c_spool(struct yu *y, void *obj, yaml_node_t *v)
{
    return yu_walk_map(y, v, spool_keys, obj) ? -1 : 0;
}

static int c_log_level(struct yu *y, void *obj, yaml_node_t *v)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    struct config *cfg = obj;
    int i = 0;
    if (yu_get_enum(y, v, names, 4, "level", "debug, info, warn or error", &i))
        return -1;
    cfg->log_level = (enum log_level)i;
    return 0;
}

static int url_into(struct yu *y, yaml_node_t *v, char **out)
{
    if (!yu_is_http_url(yu_str(v))) {
        yu_error(y, v, "\"%s\" is not an http:// or https:// URL", yu_str(v));
        return -1;
    }
    return yu_get_str(y, v, out);
}

static int svc_url(struct yu *y, void *obj, yaml_node_t *v)
{
    struct sink_service *s = obj;
    return url_into(y, v, &s->url);
}

static const struct yu_key service_keys[] = {
    {"url", YU_FN_SCALAR, 0, svc_url, YU_REQUIRED},
    {"token_file", YU_STR, offsetof(struct sink_service, token_file), NULL, 0},
    {"hmac_key_file", YU_STR, offsetof(struct sink_service, hmac_key_file), NULL, 0},
    {"timeout", YU_DUR_POS, offsetof(struct sink_service, timeout), NULL, 0},
    {"batch_max", YU_SIZE, offsetof(struct sink_service, batch_max), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

/* Where map's key holds its value: errors about the file it names point there. */
static void key_at(struct yu *y, yaml_node_t *map, const char *key, struct src_pos *at)
{
    const yaml_node_t *n = yu_map_get(y, map, key);
    if (!n)
        return;
    at->line = (int)n->start_mark.line + 1;
    at->column = (int)n->start_mark.column + 1;
}

void config_where(const struct config *cfg, const struct src_pos *at, char *out, size_t len)
{
    if (at->line > 0 && cfg->file)
        snprintf(out, len, "%s:%d:%d: ", cfg->file, at->line, at->column);
    else if (len)
        out[0] = '\0';
}

static int sink_service(struct yu *y, void *obj, yaml_node_t *v)
{
    struct config *cfg = obj;
    cfg->has_service = true;
    int rc = yu_walk_map(y, v, service_keys, &cfg->service) ? -1 : 0;
    key_at(y, v, "token_file", &cfg->service.token_file_at);
    key_at(y, v, "hmac_key_file", &cfg->service.hmac_key_file_at);
    if (cfg->service.batch_max == 0) {
        yu_error(y, yu_map_get(y, v, "batch_max"), "batch_max must be at least 1");
        rc = -1;
    }
    return rc;
}

/* A non-empty list of http(s) URLs into (*urls, *n); what names the list in
 * the error for an empty one. */
static int url_item(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    if (item->type != YAML_SCALAR_NODE || yu_is_null(item)) {
        yu_error(y, item, "expected a URL, got %s", yu_type_name(item));
        return YU_ITEM_DROP;
    }
    return url_into(y, item, elem) ? YU_ITEM_DROP : 0;
}

static int url_list(struct yu *y, yaml_node_t *v, char ***urls, size_t *n_urls, const char *what)
{
    static const struct yu_each how = {sizeof(char *), 0, false, NULL};
    if (yu_len(v) == 0) {
        yu_error(y, v, "empty list (expected at least one %s)", what);
        return -1;
    }
    return yu_each_item(y, v, &how, (void **)urls, n_urls, url_item, NULL);
}

static int am_urls(struct yu *y, void *obj, yaml_node_t *v)
{
    struct sink_alertmanager *am = obj;
    return url_list(y, v, &am->urls, &am->n_urls, "Alertmanager URL");
}

static const struct yu_key alertmanager_keys[] = {
    {"urls", YU_FN_SEQ, 0, am_urls, YU_REQUIRED},
    {"repost", YU_DUR_POS, offsetof(struct sink_alertmanager, repost), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static int sink_alertmanager(struct yu *y, void *obj, yaml_node_t *v)
{
    struct config *cfg = obj;
    cfg->has_alertmanager = true;
    return yu_walk_map(y, v, alertmanager_keys, &cfg->alertmanager) ? -1 : 0;
}

static int sink_stdout(struct yu *y, void *obj, yaml_node_t *v)
{
    struct config *cfg = obj;
    ctx_of(y)->stdout_set = true;
    /* `line` and `json` name a format and turn the sink on; else a boolean */
    const char *s = (const char *)v->data.scalar.value;
    cfg->sink_stdout_lines = strcmp(s, "line") == 0;
    if (cfg->sink_stdout_lines || strcmp(s, "json") == 0) {
        cfg->sink_stdout = true;
        return 0;
    }
    return yu_get_bool(y, v, &cfg->sink_stdout);
}

static const struct yu_key sinks_keys[] = {
    {"stdout", YU_FN_SCALAR, 0, sink_stdout, 0},
    {"file", YU_STR, offsetof(struct config, sink_file), NULL, 0},
    {"service", YU_FN_MAP, 0, sink_service, 0},
    {"alertmanager", YU_FN_MAP, 0, sink_alertmanager, 0},
    {NULL, 0, 0, NULL, 0},
};

static int c_sinks(struct yu *y, void *obj, yaml_node_t *v)
{
    return yu_walk_map(y, v, sinks_keys, obj) ? -1 : 0;
}

static const struct yu_key limits_keys[] = {
    {"concurrency", YU_INT_POS, offsetof(struct config, concurrency), NULL, 0},
    {"per_host", YU_INT_POS, offsetof(struct config, per_host), NULL, 0},
    {"body_max", YU_SIZE, offsetof(struct config, body_max), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static int c_limits(struct yu *y, void *obj, yaml_node_t *v)
{
    return yu_walk_map(y, v, limits_keys, obj) ? -1 : 0;
}

static const struct yu_key tls_keys[] = {
    {"ca_file", YU_STR, offsetof(struct config, ca_file), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static int c_tls(struct yu *y, void *obj, yaml_node_t *v)
{
    key_at(y, v, "ca_file", &((struct config *)obj)->ca_file_at);
    return yu_walk_map(y, v, tls_keys, obj) ? -1 : 0;
}

/* "i/n": this agent takes shard i (0-based) of n. */
static int c_shard(struct yu *y, void *obj, yaml_node_t *v)
{
    struct config *cfg = obj;
    const char *s = yu_str(v);
    const char *slash = strchr(s, '/');
    long i = -1, n = -1;
    if (slash && slash > s && slash[1] && slash - s <= 6 && strlen(slash + 1) <= 6) {
        i = 0;
        n = 0;
        for (const char *c = s; c < slash && i >= 0; c++)
            i = isdigit((unsigned char)*c) ? i * 10 + (*c - '0') : -1;
        for (const char *c = slash + 1; *c && n >= 0; c++)
            n = isdigit((unsigned char)*c) ? n * 10 + (*c - '0') : -1;
    }
    if (i < 0 || n < 1 || i >= n) {
        yu_error(y, v, "bad shard \"%s\" (expected i/n with 0 <= i < n, like 0/3)", s);
        return -1;
    }
    return yu_get_str(y, v, &cfg->shard);
}

/* --- vantages and peers ---------------------------------------------------- */

static bool has_space(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
            return true;
    return false;
}

static int v_region(struct yu *y, void *obj, yaml_node_t *v)
{
    struct vantage *vt = obj;
    if (!is_ident(yu_str(v))) {
        yu_error(y, v, "bad region \"%s\" (expected letters, digits, ., _ and -, like eu-west)", yu_str(v));
        return -1;
    }
    return yu_get_str(y, v, &vt->region);
}

/* The proxy schemes curl speaks; anything else is a typo. */
static int v_proxy(struct yu *y, void *obj, yaml_node_t *v)
{
    static const char *const schemes[] = {"http://", "https://", "socks4://", "socks4a://", "socks5://",
                                          "socks5h://"};
    struct vantage *vt = obj;
    const char *s = yu_str(v);
    bool ok = false;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i]);
        if (strncasecmp(s, schemes[i], n) == 0 && s[n] && s[n] != '/')
            ok = true;
    }
    if (!ok || has_space(s)) {
        yu_error(y, v, "bad proxy \"%s\" (expected a URL like http://proxy.eu.example:3128 or socks5h://10.0.0.9:1080)",
                 s);
        return -1;
    }
    return yu_get_str(y, v, &vt->proxy);
}

static int v_interface(struct yu *y, void *obj, yaml_node_t *v)
{
    struct vantage *vt = obj;
    const char *s = yu_str(v);
    if (!*s || strlen(s) > 255 || has_space(s)) {
        yu_error(y, v, "bad interface \"%s\" (expected an interface name like eth1 or a source address like 10.0.0.5)",
                 s);
        return -1;
    }
    return yu_get_str(y, v, &vt->interface);
}

/* "host:port:addr": the pin CURLOPT_RESOLVE takes; addr may be [v6] or a
 * comma-separated list. */
static bool resolve_ok(const char *s)
{
    const char *c1 = strchr(s, ':');
    if (!c1 || c1 == s || has_space(s))
        return false;
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2 || c2 == c1 + 1 || c2 - c1 - 1 > 5 || !c2[1])
        return false;
    long port = 0;
    for (const char *c = c1 + 1; c < c2; c++) {
        if (!isdigit((unsigned char)*c))
            return false;
        port = port * 10 + (*c - '0');
    }
    return port >= 1 && port <= 65535;
}

static int resolve_add(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    if (item->type != YAML_SCALAR_NODE || yu_is_null(item)) {
        yu_error(y, item, "expected \"host:port:address\", got %s", yu_type_name(item));
        return -1;
    }
    if (!resolve_ok(yu_str(item))) {
        yu_error(y, item, "bad resolve entry \"%s\" (expected host:port:address like api.example.com:443:10.1.2.3)",
                 yu_str(item));
        return -1;
    }
    return yu_get_str(y, item, elem) ? YU_ITEM_DROP : 0;
}

static int v_resolve(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(char *), 0, true, NULL};
    struct vantage *vt = obj;
    if (v->type == YAML_MAPPING_NODE) {
        yu_error(y, v, "expected a list of host:port:address entries, got a mapping");
        return -1;
    }
    if (v->type == YAML_SEQUENCE_NODE && yu_len(v) == 0) {
        yu_error(y, v, "empty list (expected at least one host:port:address)");
        return -1;
    }
    return yu_each_item(y, v, &how, (void **)&vt->resolve, &vt->n_resolve, resolve_add, NULL);
}

static const struct yu_key vantage_keys[] = {
    {"region", YU_FN_SCALAR, 0, v_region, YU_REQUIRED},
    {"proxy", YU_FN_SCALAR, 0, v_proxy, 0},
    {"interface", YU_FN_SCALAR, 0, v_interface, 0},
    {"resolve", YU_FN_ANY, 0, v_resolve, 0},
    {NULL, 0, 0, NULL, 0},
};

static int resolve_join(struct vantage *vt)
{
    size_t len = 1;
    for (size_t i = 0; i < vt->n_resolve; i++)
        len += strlen(vt->resolve[i]) + 1;
    if (vt->n_resolve == 0)
        return 0;
    vt->resolve_lines = malloc(len);
    if (!vt->resolve_lines)
        return -1;
    size_t at = 0;
    for (size_t i = 0; i < vt->n_resolve; i++)
        at += (size_t)snprintf(vt->resolve_lines + at, len - at, "%s%s", i ? "\n" : "", vt->resolve[i]);
    return 0;
}

static int vantage_item(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    struct config *cfg = ctx;
    struct vantage *vt = elem;
    int rc = 0;
    if (item->type != YAML_MAPPING_NODE) {
        yu_error(y, item, "expected a vantage like {region: eu-west, proxy: ...}, got %s", yu_type_name(item));
        rc = -1;
    } else if (yu_walk_map(y, item, vantage_keys, vt)) {
        rc = -1;
    } else if (resolve_join(vt)) {
        rc = -1;
    }
    /* two vantages of one region would share metric series and incidents */
    for (size_t k2 = 0; vt->region && k2 < cfg->n_vantages; k2++) {
        if (cfg->vantages[k2].region && strcmp(cfg->vantages[k2].region, vt->region) == 0) {
            yu_error(y, yu_map_get(y, item, "region"), "region \"%s\" already has a vantage (vantages[%zu])",
                     vt->region, k2);
            return -1;
        }
    }
    return rc;
}

static int c_vantages(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct vantage), 0, false, NULL};
    struct config *cfg = obj;
    if (yu_len(v) == 0) {
        yu_error(y, v, "empty list (expected at least one vantage like {region: eu-west, proxy: ...})");
        return -1;
    }
    return yu_each_item(y, v, &how, (void **)&cfg->vantages, &cfg->n_vantages, vantage_item, cfg);
}

/* A peer is a URL, or {url, agent} naming the agent behind it: requests
 * to a named agent carry the name, signed, and no other agent takes them. */
struct peer_url {
    char *url;
    char *agent;
};

static int pu_url(struct yu *y, void *obj, yaml_node_t *v)
{
    return url_into(y, v, &((struct peer_url *)obj)->url);
}

static int pu_agent(struct yu *y, void *obj, yaml_node_t *v)
{
    if (!is_ident(yu_str(v))) {
        yu_error(y, v, "bad agent name \"%s\" (expected the peer's name: letters, digits, ., _ and -)", yu_str(v));
        return -1;
    }
    return yu_get_str(y, v, &((struct peer_url *)obj)->agent);
}

static const struct yu_key peer_url_keys[] = {
    {"url", YU_FN_SCALAR, 0, pu_url, YU_REQUIRED},
    {"agent", YU_FN_SCALAR, 0, pu_agent, YU_REQUIRED},
    {NULL, 0, 0, NULL, 0},
};

/* elem is a slot of pc->urls; the agent goes in the same slot of pc->agents. */
static int peer_url_item(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    struct peers_config *pc = ctx;
    size_t at = (size_t)((char **)elem - pc->urls);
    if (item->type == YAML_SCALAR_NODE && !yu_is_null(item))
        return url_item(y, k, item, elem, ctx);
    if (item->type != YAML_MAPPING_NODE) {
        yu_error(y, item, "expected a URL or {url: ..., agent: NAME}, got %s", yu_type_name(item));
        return YU_ITEM_DROP;
    }
    struct peer_url pu = {NULL, NULL};
    if (yu_walk_map(y, item, peer_url_keys, &pu)) {
        free(pu.url);
        free(pu.agent);
        return YU_ITEM_DROP;
    }
    *(char **)elem = pu.url;
    pc->agents[at] = pu.agent;
    return 0;
}

static int p_urls(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(char *), 0, false, NULL};
    struct peers_config *pc = obj;
    if (yu_len(v) == 0) {
        yu_error(y, v, "empty list (expected at least one peer URL like http://10.0.0.2:9464)");
        return -1;
    }
    /* both arrays sized once: yu_each_item fills urls in place */
    pc->urls = calloc(yu_len(v), sizeof(char *));
    pc->agents = calloc(yu_len(v), sizeof(char *));
    if (!pc->urls || !pc->agents)
        return -1;
    return yu_each_item(y, v, &how, (void **)&pc->urls, &pc->n_urls, peer_url_item, pc);
}

static int p_listen(struct yu *y, void *obj, yaml_node_t *v)
{
    struct peers_config *pc = obj;
    if (!listen_ok(yu_str(v))) {
        yu_error(y, v, "bad address \"%s\" (expected an IPv4 or [IPv6] literal and a port, like 10.0.0.5:9465 "
                 "or [::1]:9465)", yu_str(v));
        return -1;
    }
    return yu_get_str(y, v, &pc->listen);
}

static const struct yu_key peers_keys[] = {
    {"key_file", YU_STR, offsetof(struct peers_config, key_file), NULL, YU_REQUIRED},
    {"timeout", YU_DUR_POS, offsetof(struct peers_config, timeout), NULL, 0},
    {"urls", YU_FN_SEQ, 0, p_urls, YU_REQUIRED},
    {"listen", YU_FN_SCALAR, 0, p_listen, 0},
    {NULL, 0, 0, NULL, 0},
};

static int c_peers(struct yu *y, void *obj, yaml_node_t *v)
{
    struct config *cfg = obj;
    cfg->has_peers = true;
    int rc = yu_walk_map(y, v, peers_keys, &cfg->peers) ? -1 : 0;
    key_at(y, v, "key_file", &cfg->peers.key_file_at);
    if (cfg->peers.timeout > 60 * 1000000LL) {
        yu_error(y, yu_map_get(y, v, "timeout"), "timeout must be at most 1m (events wait for it)");
        rc = -1;
    }
    return rc;
}

static const struct yu_key endpoint_keys[] = {
    {"status_token_file", YU_STR, offsetof(struct config, status_token_file), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

static int c_endpoint(struct yu *y, void *obj, yaml_node_t *v)
{
    key_at(y, v, "status_token_file", &((struct config *)obj)->status_token_file_at);
    return yu_walk_map(y, v, endpoint_keys, obj) ? -1 : 0;
}

static const struct yu_key config_keys[] = {
    {"region", YU_FN_SCALAR, 0, c_region, 0},
    {"name", YU_FN_SCALAR, 0, c_name, 0},
    {"probes", YU_FN_ANY, 0, c_probes, 0},
    {"listen", YU_FN_SCALAR, 0, c_listen, 0},
    {"spool", YU_FN_MAP, 0, c_spool, 0},
    {"log_level", YU_FN_SCALAR, 0, c_log_level, 0},
    {"sinks", YU_FN_MAP, 0, c_sinks, 0},
    {"limits", YU_FN_MAP, 0, c_limits, 0},
    {"tls", YU_FN_MAP, 0, c_tls, 0},
    {"drain_timeout", YU_DUR, offsetof(struct config, drain_timeout), NULL, 0},
    {"shard", YU_FN_SCALAR, 0, c_shard, 0},
    {"vantages", YU_FN_SEQ, 0, c_vantages, 0},
    {"peers", YU_FN_MAP, 0, c_peers, 0},
    {"endpoint", YU_FN_MAP, 0, c_endpoint, 0},
    {NULL, 0, 0, NULL, 0},
};

int config_load(struct config *cfg, const char *path, struct strv *errors)
{
    struct yu y;
    memset(&y, 0, sizeof(y));
    y.errors = errors;
    y.what = "a mapping of settings";
    struct cfg_ctx ctx = {cfg, false, NULL};
    y.user = &ctx;
    free(cfg->file);
    cfg->file = strdup(path);
    const char *slash = strrchr(path, '/');
    ctx.dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : NULL;

    size_t first_error = errors ? errors->n : 0;
    int rc = yu_load(&y, cfg->file ? cfg->file : path, CONFIG_FILE_MAX, NULL);
    yaml_node_t *root = rc == 0 ? yu_root(&y) : NULL;
    if (root && root->type != YAML_MAPPING_NODE)
        yu_error(&y, root, "expected a mapping of settings, got %s", yu_type_name(root));
    else if (root)
        yu_walk_map(&y, root, config_keys, cfg);
    /* stdout is the sink of last resort, unless the file says otherwise. */
    if (!ctx.stdout_set)
        cfg->sink_stdout = !cfg->has_service && !cfg->has_alertmanager && !cfg->sink_file;
    if (cfg->n_probe_globs == 0 && y.n_errors == 0)
        yu_error_at(&y, 0, 0, "no probe globs");
    free(ctx.dir);
    if (errors)
        yu_sort_errors(errors, first_error, cfg->file ? cfg->file : path);
    int n = y.n_errors;
    yu_free(&y);
    return n ? -1 : 0;
}
