#define _GNU_SOURCE /* memmem */
/* The tcp: block of a step, its definition, and the judge of a finished
 * exchange (an expect line the peer never satisfied). */
#include "probes/kinds/tcp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "probes/yaml/yaml_util.h"

static int k_host(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tcp_def *d = obj;
    if (kind_tpl(y, v, &d->host))
        return -1;
    if (!d->host.src[0]) {
        yu_error(y, v, "empty host (expected a name or an address like db.internal or 10.0.0.5)");
        return -1;
    }
    return 0;
}

static int k_port(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tcp_def *d = obj;
    long port;
    if (yu_get_int(y, v, 1, 65535, &port))
        return -1;
    d->port = (int)port;
    return 0;
}

static const struct yu_key tls_keys[] = {
    {"server_name", YU_STR, offsetof(struct tcp_def, server_name), NULL, 0},
    {"ca_file", YU_STR, offsetof(struct tcp_def, ca_file), NULL, 0},
    {"verify", YU_BOOL, offsetof(struct tcp_def, verify), NULL, 0},
    {NULL, 0, 0, NULL, 0},
};

/* tls: true | false | {server_name, ca_file, verify} */
static int k_tls(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tcp_def *d = obj;
    if (v->type == YAML_MAPPING_NODE) {
        d->tls = true;
        return yu_walk_map(y, v, tls_keys, d) ? -1 : 0;
    }
    if (v->type != YAML_SCALAR_NODE) {
        yu_error(y, v, "expected true, false or {server_name, ca_file, verify}, got %s", yu_type_name(v));
        return -1;
    }
    return yu_get_bool(y, v, &d->tls);
}

/* --- the exchange --------------------------------------------------------- */

/* One exchange item: {send: TEXT} or {expect: TEXT | {contains: TEXT} | {matches: REGEX}}. */
struct line_ctx {
    struct tcp_line *l;
    int keys;
};

static int l_send(struct yu *y, void *obj, yaml_node_t *v)
{
    struct line_ctx *c = obj;
    c->keys++;
    c->l->kind = TCP_SEND;
    return kind_tpl(y, v, &c->l->send);
}

static int l_matches(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tcp_line *l = obj;
    const char *s = yu_str(v);
    char msg[128];
    int rc = s ? regcomp(&l->re, s, REG_EXTENDED) : REG_BADPAT;
    if (rc != 0) {
        if (s)
            regerror(rc, &l->re, msg, sizeof(msg));
        yu_error(y, v, "bad regex \"%s\": %s (expected a POSIX extended regex)", s ? s : "",
                 s ? msg : "not a string");
        return -1;
    }
    l->has_re = true;
    l->kind = TCP_MATCHES;
    l->text = strdup(s);
    return l->text ? 0 : -1;
}

static int l_contains(struct yu *y, void *obj, yaml_node_t *v)
{
    struct tcp_line *l = obj;
    l->kind = TCP_CONTAINS;
    return yu_get_str(y, v, &l->text);
}

static const struct yu_key expect_op_keys[] = {
    {"contains", YU_FN_SCALAR, 0, l_contains, 0},
    {"matches", YU_FN_SCALAR, 0, l_matches, 0},
    {NULL, 0, 0, NULL, 0},
};

static int l_expect(struct yu *y, void *obj, yaml_node_t *v)
{
    struct line_ctx *c = obj;
    c->keys++;
    if (v->type == YAML_SCALAR_NODE)
        return l_contains(y, c->l, v);
    if (v->type != YAML_MAPPING_NODE || yu_len(v) != 1) {
        yu_error(y, v, "expected a substring, {contains: TEXT} or {matches: REGEX}, got %s",
                 v->type == YAML_MAPPING_NODE ? "a mapping without exactly one of them" : yu_type_name(v));
        return -1;
    }
    return yu_walk_map(y, v, expect_op_keys, c->l) ? -1 : 0;
}

static const struct yu_key line_keys[] = {
    {"send", YU_FN_SCALAR, 0, l_send, 0},
    {"expect", YU_FN_ANY, 0, l_expect, 0},
    {NULL, 0, 0, NULL, 0},
};

static int line_one(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    (void)k;
    (void)ctx;
    struct line_ctx c = {elem, 0};
    if (item->type != YAML_MAPPING_NODE || yu_len(item) != 1) {
        yu_error(y, item, "expected one of {send: TEXT} or {expect: TEXT}, got %s",
                 item->type == YAML_MAPPING_NODE ? "a mapping with more or less than one key" : yu_type_name(item));
        return -1;
    }
    return yu_walk_map(y, item, line_keys, &c) || c.keys != 1 ? -1 : 0;
}

static int k_exchange(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct tcp_line), 0, false, NULL};
    struct tcp_def *d = obj;
    return yu_each_item(y, v, &how, (void **)&d->lines, &d->n_lines, line_one, NULL);
}

static const struct yu_key tcp_keys[] = {
    {"host", YU_FN_SCALAR, 0, k_host, YU_REQUIRED},
    {"port", YU_FN_SCALAR, 0, k_port, YU_REQUIRED},
    {"tls", YU_FN_ANY, 0, k_tls, 0},
    {"exchange", YU_FN_SEQ, 0, k_exchange, 0},
    {NULL, 0, 0, NULL, 0},
};

int tcp_load(struct yu *y, yaml_node_t *block, yaml_node_t *expect, void **out)
{
    int rc = -1;
    struct tcp_def *d = calloc(1, sizeof(*d));
    if (!d) {
        yu_error(y, block, "out of memory");
        goto out;
    }
    d->verify = true;
    int bad = yu_walk_map(y, block, tcp_keys, d);
    if (expect) {
        yu_error(y, expect, "expect.tcp has nothing to judge: put expect lines in tcp.exchange, "
                            "checks on the bytes read in expect.body");
        bad++;
    }
    if (!bad && !d->tls && (d->server_name || d->ca_file)) {
        yu_error(y, block, "server_name and ca_file need tls (tls: {server_name: ..., ca_file: ...})");
        bad++;
    }
    if (bad)
        goto out;
    *out = d;
    d = NULL;
    rc = 0;
out:
    tcp_free(d);
    return rc;
}

void tcp_free(void *def)
{
    struct tcp_def *d = def;
    if (!d)
        return;
    tpl_free(&d->host);
    free(d->server_name);
    free(d->ca_file);
    for (size_t i = 0; i < d->n_lines; i++) {
        tpl_free(&d->lines[i].send);
        free(d->lines[i].text);
        if (d->lines[i].has_re)
            regfree(&d->lines[i].re);
    }
    free(d->lines);
    free(d);
}

/* --- matching and the judge ---------------------------------------------- */

bool tcp_line_match(const struct tcp_line *l, const char *hay, size_t len, size_t *end)
{
    if (!hay)
        hay = ""; /* nothing read yet */
    if (l->kind == TCP_CONTAINS) {
        const char *hit = memmem(hay, len, l->text, strlen(l->text));
        if (hit)
            *end = (size_t)(hit - hay) + strlen(l->text);
        return hit != NULL;
    }
    regmatch_t m[1] = {{0, (regoff_t)len}};
    /* REG_STARTEND: the bytes may hold NULs and are not terminated */
    if (regexec(&l->re, hay, 1, m, REG_STARTEND) != 0)
        return false;
    *end = (size_t)m[0].rm_eo;
    return true;
}

char *tcp_escape(const char *p, size_t n, size_t max)
{
    struct buf b;
    buf_init(&b, max + 8);
    for (size_t i = 0; i < n && b.len < max; i++) {
        unsigned char c = (unsigned char)p[i];
        int rc;
        if (c == '\r')
            rc = buf_puts(&b, "\\r");
        else if (c == '\n')
            rc = buf_puts(&b, "\\n");
        else if (c == '\\')
            rc = buf_puts(&b, "\\\\");
        else if (c < 0x20 || c >= 0x7f)
            rc = buf_printf(&b, "\\x%02x", c);
        else
            rc = buf_append(&b, &c, 1);
        if (rc)
            break;
    }
    return buf_take(&b);
}

/* The exchange records the line it stopped at in facts.unmet. */
int tcp_judge(const void *def, const struct response *resp, const struct tpl_vars *vars,
              struct check_outcome *co, struct verdict *answer)
{
    (void)def;
    (void)vars;
    (void)answer;
    const cJSON *unmet = cJSON_GetObjectItemCaseSensitive(resp->facts, "unmet");
    if (!unmet)
        return 0;
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(unmet, "line");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(unmet, "expect");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(unmet, "why");
    co->checks_failed = true;
    return strv_pushf(&co->failures, "tcp exchange[%d]: expected %s, not seen: %s (received: see the evidence)",
                      cJSON_IsNumber(idx) ? idx->valueint : -1,
                      cJSON_IsString(exp) ? exp->valuestring : "?",
                      cJSON_IsString(why) ? why->valuestring : "?")
               ? TL_ENOMEM
               : 0;
}
