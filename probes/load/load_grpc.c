/* grpc: steps of a probe file. The grpc: mapping becomes the step's request
 * (POST TARGET/grpc.health.v1.Health/Check with the gRPC headers and the
 * encoded frame) plus its struct grpc_def; expect.grpc sets the serving
 * status the answer must carry. */
#include "probes/load/load_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/container.h"
#include "base/err.h"
#include "probes/grpc/grpc.h"

/* The step's grpc definition, made on first use: expect.grpc may come
 * before grpc: in the file. */
static struct grpc_def *def_of(struct step *s)
{
    if (!s->grpc) {
        s->grpc = calloc(1, sizeof(*s->grpc));
        if (s->grpc)
            s->grpc->expect_serving = GRPC_SERVING;
    }
    return s->grpc;
}

static int g_target(struct yu *y, void *obj, yaml_node_t *v)
{
    struct step *s = obj;
    const char *src = yu_str(v);
    bool tls = strncasecmp(src, "https://", 8) == 0;
    if (!tls && strncasecmp(src, "http://", 7) != 0) {
        yu_error(y, v, "bad scheme in \"%s\" (expected http://HOST:PORT for h2c or https://HOST:PORT for h2 over TLS)",
                 src);
        return -1;
    }
    if (ld_url(y, v, &s->request.url))
        return -1;
    /* the target names the server; the method's path is the health service's */
    size_t n = strlen(src);
    while (n > 8 && src[n - 1] == '/')
        n--;
    char *url = malloc(n + sizeof(GRPC_HEALTH_PATH));
    if (!url)
        return -1;
    memcpy(url, src, n);
    memcpy(url + n, GRPC_HEALTH_PATH, sizeof(GRPC_HEALTH_PATH));
    char err[128];
    int off;
    tpl_free(&s->request.url);
    int rc = tpl_parse(&s->request.url, url, err, sizeof(err), &off);
    free(url);
    s->grpc->tls = tls;
    return rc ? -1 : 0;
}

static int g_service(struct yu *y, void *obj, yaml_node_t *v)
{
    struct step *s = obj;
    const char *name = yu_str(v);
    if (strlen(name) > GRPC_SERVICE_MAX) {
        yu_error(y, v, "service name longer than %d bytes", GRPC_SERVICE_MAX);
        return -1;
    }
    free(s->grpc->service);
    s->grpc->service = strdup(name);
    return s->grpc->service ? 0 : -1;
}

/* Metadata names the transport owns cannot be set by a probe. */
static int metadata_names(struct yu *y, yaml_node_t *map)
{
    int rc = 0;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yu_node(y, pr->key);
        const char *name = yu_str(k);
        if (name && (strcasecmp(name, "content-type") == 0 || strcasecmp(name, "te") == 0 ||
                     strncasecmp(name, "grpc-", 5) == 0)) {
            yu_error(y, k, "metadata \"%s\" is set by the gRPC transport (expected your own keys, like authorization)",
                     name);
            rc = -1;
        }
    }
    return rc;
}

static int g_metadata(struct yu *y, void *obj, yaml_node_t *v)
{
    struct step *s = obj;
    int rc = metadata_names(y, v);
    return ld_headers(y, v, &s->request.n_headers, &s->request.headers) || rc ? -1 : 0;
}

static int g_tls(struct yu *y, void *obj, yaml_node_t *v)
{
    struct step *s = obj;
    return ld_request_tls(y, &s->request, v);
}

static const struct yu_key grpc_keys[] = {
    {"target", YU_FN_SCALAR, 0, g_target, YU_REQUIRED},
    {"service", YU_FN_SCALAR, 0, g_service, 0},
    {"metadata", YU_FN_MAP, 0, g_metadata, 0},
    {"tls", YU_FN_MAP, 0, g_tls, 0},
    {NULL, 0, 0, NULL, 0},
};

/* Appends a constant header to the step's request. */
static int fixed_header(struct request *r, const char *name, const char *value)
{
    char err[64];
    int off;
    struct header_tpl *h = realloc(r->headers, (r->n_headers + 1) * sizeof(*h));
    if (!h)
        return -1;
    r->headers = h;
    h += r->n_headers;
    memset(h, 0, sizeof(*h));
    h->name = strdup(name);
    if (!h->name || tpl_parse(&h->value, value, err, sizeof(err), &off)) {
        free(h->name);
        return -1;
    }
    r->n_headers++;
    return 0;
}

int ld_grpc(struct yu *y, void *obj, yaml_node_t *v)
{
    struct step *s = obj;
    struct grpc_def *g = def_of(s);
    if (!g)
        return -1;
    ld_pos(&g->pos, v);
    int rc = yu_walk_map(y, v, grpc_keys, s) ? -1 : 0;
    if (!g->service && !(g->service = strdup("")))
        rc = -1;
    if (rc == 0 && grpc_encode_request(g->service, &g->frame, &g->frame_len))
        rc = -1;
    free(s->request.method);
    s->request.method = strdup("POST");
    if (!s->request.method || fixed_header(&s->request, "Content-Type", "application/grpc") ||
        fixed_header(&s->request, "TE", "trailers"))
        rc = -1;
    return rc;
}

static int ge_status(struct yu *y, void *obj, yaml_node_t *v)
{
    struct grpc_def *g = obj;
    return yu_get_enum(y, v, grpc_serving_names, GRPC_SERVING_COUNT, "serving status",
                       "SERVING, NOT_SERVING, UNKNOWN or SERVICE_UNKNOWN", &g->expect_serving);
}

static const struct yu_key grpc_expect_keys[] = {
    {"status", YU_FN_SCALAR, 0, ge_status, 0},
    {NULL, 0, 0, NULL, 0},
};

int ld_grpc_expect(struct yu *y, void *obj, yaml_node_t *v)
{
    struct grpc_def *g = def_of(container_of(obj, struct step, expect));
    if (!g)
        return -1;
    return yu_walk_map(y, v, grpc_expect_keys, g) ? -1 : 0;
}

/* A step is an HTTP request or a gRPC health check, never both (a step
 * with neither is ld_step_kind's to report). */
int ld_grpc_step_check(struct yu *y, yaml_node_t *item)
{
    yaml_node_t *req = yu_map_get(y, item, "request");
    yaml_node_t *grpc = yu_map_get(y, item, "grpc");
    yaml_node_t *exp = yu_map_get(y, item, "expect");
    yaml_node_t *exp_grpc = exp && exp->type == YAML_MAPPING_NODE ? yu_map_get(y, exp, "grpc") : NULL;
    if (req && grpc) {
        yu_error(y, grpc, "a step has one of request or grpc, not both");
        return 1;
    }
    if (!grpc && exp_grpc) {
        yu_error(y, exp_grpc, "expect.grpc applies to grpc steps only (expected a grpc: mapping on the step)");
        return -1;
    }
    return 0;
}
