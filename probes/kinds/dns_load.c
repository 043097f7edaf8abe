/* The DNS step's probe-file grammar: `dns: {name, type, server, transport}`
 * and `expect.dns: {rcode, answers, ttl, min_answers}`. Everything is
 * checked here, at load: the run path only renders the name. */
#include "probes/kinds/dns_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/yaml/yaml_util.h"

static const char *const qtype_names[DNS_QTYPE_COUNT] = {"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "NS"};
static const int qtype_wire[DNS_QTYPE_COUNT] = {1, 28, 5, 15, 16, 33, 2};

const char *const dns_rcode_names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                       "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
const size_t dns_rcode_count = sizeof(dns_rcode_names) / sizeof(dns_rcode_names[0]);

const char *dns_qtype_str(enum dns_qtype t)
{
    return (unsigned)t < DNS_QTYPE_COUNT ? qtype_names[t] : "unknown";
}

int dns_qtype_wire(enum dns_qtype t)
{
    return (unsigned)t < DNS_QTYPE_COUNT ? qtype_wire[t] : 0;
}

const char *dns_rcode_str(int rcode, char *buf, size_t len)
{
    if (rcode >= 0 && (size_t)rcode < dns_rcode_count)
        return dns_rcode_names[rcode];
    snprintf(buf, len, "RCODE%d", rcode);
    return buf;
}

int dns_rcode_parse(const char *s)
{
    for (size_t i = 0; s && i < dns_rcode_count; i++)
        if (strcmp(s, dns_rcode_names[i]) == 0)
            return (int)i;
    return -1;
}

/* --- dns: -------------------------------------------------------------- */

static int def_name(struct yu *y, void *obj, yaml_node_t *v)
{
    struct dns_def *d = obj;
    const char *s = yu_str(v);
    bool ok = *s && strlen(s) <= 253;
    for (const char *c = s; ok && *c && !tpl_has_placeholders(s); c++)
        ok = isgraph((unsigned char)*c);
    if (!ok) {
        yu_error(y, v, "bad name \"%s\" (expected a domain name like api.example.com)", s);
        return -1;
    }
    return kind_tpl(y, v, &d->name);
}

static int def_type(struct yu *y, void *obj, yaml_node_t *v)
{
    struct dns_def *d = obj;
    int t = 0;
    if (yu_get_enum(y, v, qtype_names, DNS_QTYPE_COUNT, "record type", "A, AAAA, CNAME, MX, TXT, SRV or NS", &t))
        return -1;
    d->type = (enum dns_qtype)t;
    return 0;
}

/* "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" into "ip:port" or
 * "[ip6]:port", the form c-ares takes. */
static int server_parse(const char *s, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port = NULL;
    unsigned char addr[16];
    size_t hl;
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e || (e[1] && e[1] != ':'))
            return -1;
        hl = (size_t)(e - s - 1);
        s++;
        port = e[1] ? e + 2 : NULL;
    } else {
        const char *c = strchr(s, ':');
        bool v4_port = c && !strchr(c + 1, ':');
        hl = v4_port ? (size_t)(c - s) : strlen(s);
        port = v4_port ? c + 1 : NULL;
    }
    if (hl == 0 || hl >= sizeof(host))
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    bool v6 = inet_pton(AF_INET6, host, addr) == 1;
    if (!v6 && inet_pton(AF_INET, host, addr) != 1)
        return -1;
    long p = 53;
    if (port) {
        char *end = NULL;
        errno = 0;
        p = strtol(port, &end, 10);
        if (!isdigit((unsigned char)*port) || errno || *end || p < 1 || p > 65535)
            return -1;
    }
    int w = snprintf(out, outlen, v6 ? "[%s]:%ld" : "%s:%ld", host, p);
    return w > 0 && (size_t)w < outlen ? 0 : -1;
}

static int def_server(struct yu *y, void *obj, yaml_node_t *v)
{
    struct dns_def *d = obj;
    char canon[80];
    if (server_parse(yu_str(v), canon, sizeof(canon))) {
        yu_error(y, v, "bad server \"%s\" (expected an IP address with an optional port: 127.0.0.1:5353, [::1]:53)",
                 yu_str(v));
        return -1;
    }
    d->server = strdup(canon);
    return d->server ? 0 : -1;
}

static int def_transport(struct yu *y, void *obj, yaml_node_t *v)
{
    static const char *const names[] = {"udp", "tcp"};
    struct dns_def *d = obj;
    int t = 0;
    if (yu_get_enum(y, v, names, 2, "transport", "udp or tcp", &t))
        return -1;
    d->tcp = t == 1;
    return 0;
}

static const struct yu_key dns_keys[] = {
    {"name", YU_FN_SCALAR, 0, def_name, YU_REQUIRED},
    {"type", YU_FN_SCALAR, 0, def_type, 0},
    {"server", YU_FN_SCALAR, 0, def_server, 0},
    {"transport", YU_FN_SCALAR, 0, def_transport, 0},
    {NULL, 0, 0, NULL, 0},
};

/* --- expect.dns: ------------------------------------------------------- */

static int exp_rcode(struct yu *y, void *obj, yaml_node_t *v)
{
    struct dns_def *d = obj;
    return yu_get_enum(y, v, dns_rcode_names, dns_rcode_count, "rcode", "NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...",
                       &d->rcode);
}

static int exp_min_answers(struct yu *y, void *obj, yaml_node_t *v)
{
    struct dns_def *d = obj;
    return yu_get_int(y, v, 0, 65535, &d->min_answers);
}

static int one_match(struct yu *y, struct dns_def *d, yaml_node_t *v)
{
    if (d->op == DNS_MATCH_NONE)
        return 0;
    yu_error(y, v, "answers takes one test (expected only one of contains, equals or matches)");
    return -1;
}

static int ans_contains(struct yu *y, void *obj, yaml_node_t *v)
{
    struct dns_def *d = obj;
    if (one_match(y, d, v) || kind_tpl(y, v, &d->contains))
        return -1;
    d->op = DNS_MATCH_CONTAINS;
    return 0;
}

static int equals_item(struct yu *y, yaml_node_t *key, yaml_node_t *item, void *elem, void *ctx)
{
    if (item->type != YAML_SCALAR_NODE || yu_is_null(item)) {
        yu_error(y, item, "expected a string, got %s", yu_type_name(item));
        return YU_ITEM_DROP;
    }
    return kind_tpl(y, item, elem) ? YU_ITEM_DROP : 0;
}

static int ans_equals(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {.elem_size = sizeof(struct tpl), .scalar_is_one = true};
    struct dns_def *d = obj;
    if (one_match(y, d, v))
        return -1;
    d->op = DNS_MATCH_EQUALS;
    return yu_each_item(y, v, &how, (void **)&d->equals, &d->n_equals, equals_item, NULL);
}

static int ans_matches(struct yu *y, void *obj, yaml_node_t *v)
{
    struct dns_def *d = obj;
    if (one_match(y, d, v))
        return -1;
    const char *s = yu_str(v);
    int rc = regcomp(&d->re, s, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &d->re, msg, sizeof(msg));
        yu_error(y, v, "bad regex \"%s\": %s (expected a POSIX extended regex)", s, msg);
        return -1;
    }
    d->op = DNS_MATCH_MATCHES;
    d->re_src = strdup(s);
    return d->re_src ? 0 : -1;
}

static const struct yu_key answers_keys[] = {
    {"contains", YU_FN_SCALAR, 0, ans_contains, 0},
    {"equals", YU_FN_ANY, 0, ans_equals, 0},
    {"matches", YU_FN_SCALAR, 0, ans_matches, 0},
    {NULL, 0, 0, NULL, 0},
};

static int exp_answers(struct yu *y, void *obj, yaml_node_t *v)
{
    return yu_walk_map(y, v, answers_keys, obj) ? -1 : 0;
}

static int ttl_bound(struct yu *y, yaml_node_t *v, long *out)
{
    return yu_get_int(y, v, 0, 2147483647L, out);
}

static int ttl_min(struct yu *y, void *obj, yaml_node_t *v)
{
    return ttl_bound(y, v, &((struct dns_def *)obj)->ttl_min);
}

static int ttl_max(struct yu *y, void *obj, yaml_node_t *v)
{
    return ttl_bound(y, v, &((struct dns_def *)obj)->ttl_max);
}

static const struct yu_key ttl_keys[] = {
    {"min", YU_FN_SCALAR, 0, ttl_min, 0},
    {"max", YU_FN_SCALAR, 0, ttl_max, 0},
    {NULL, 0, 0, NULL, 0},
};

static int exp_ttl(struct yu *y, void *obj, yaml_node_t *v)
{
    struct dns_def *d = obj;
    if (yu_walk_map(y, v, ttl_keys, obj))
        return -1;
    if (d->ttl_min >= 0 && d->ttl_max >= 0 && d->ttl_min > d->ttl_max) {
        yu_error(y, v, "ttl min %ld is above max %ld", d->ttl_min, d->ttl_max);
        return -1;
    }
    return 0;
}

static const struct yu_key expect_keys[] = {
    {"rcode", YU_FN_SCALAR, 0, exp_rcode, 0},
    {"answers", YU_FN_MAP, 0, exp_answers, 0},
    {"ttl", YU_FN_MAP, 0, exp_ttl, 0},
    {"min_answers", YU_FN_SCALAR, 0, exp_min_answers, 0},
    {NULL, 0, 0, NULL, 0},
};

/* The loader hands both blocks over under the path of the step's `dns`:
 * errors in the expectations name expect.dns instead. */
static int expect_walk(struct yu *y, yaml_node_t *expect, struct dns_def *d)
{
    size_t base = yu_path_depth(y);
    const char *top = yu_path_top(y);
    bool moved = base >= 2 && top && strcmp(top, "dns") == 0;
    if (moved) {
        yu_path_pop(y, base - 1);
        yu_path_key(y, "expect");
        yu_path_key(y, "dns");
    }
    int errs = yu_walk_map(y, expect, expect_keys, d);
    if (moved) {
        yu_path_pop(y, base - 1);
        yu_path_key(y, "dns");
    }
    return errs;
}

int dns_def_load(struct yu *y, yaml_node_t *block, yaml_node_t *expect, void **out)
{
    struct dns_def *d = calloc(1, sizeof(*d));
    if (!d)
        return -1;
    d->min_answers = -1;
    d->ttl_min = d->ttl_max = -1;
    int errs = yu_walk_map(y, block, dns_keys, d);
    if (expect)
        errs += expect_walk(y, expect, d);
    if (d->min_answers < 0)
        d->min_answers = d->rcode == 0 ? 1 : 0;
    if (errs || !d->name.src) {
        dns_def_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

void dns_def_free(void *def)
{
    struct dns_def *d = def;
    if (!d)
        return;
    tpl_free(&d->name);
    free(d->server);
    tpl_free(&d->contains);
    for (size_t i = 0; i < d->n_equals; i++)
        tpl_free(&d->equals[i]);
    free(d->equals);
    if (d->re_src) {
        regfree(&d->re);
        free(d->re_src);
    }
    free(d);
}
