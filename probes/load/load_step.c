/* Steps of a probe file: request, expect, capture. Each section is a table
 * of keys walked by yu_walk_map(); handlers fill struct step in place. */
#include "probes/load/load_int.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- request ---------------------------------------------------------------- */

static int req_method(struct yu *y, void *obj, yaml_node_t *v)
{
    struct request *r = obj;
    return ld_method(y, v, "GET, POST, PUT, PATCH or DELETE", &r->method);
}

static int req_url(struct yu *y, void *obj, yaml_node_t *v)
{
    struct request *r = obj;
    return ld_url(y, v, &r->url);
}

static int req_headers(struct yu *y, void *obj, yaml_node_t *v)
{
    struct request *r = obj;
    return ld_headers(y, v, &r->n_headers, &r->headers);
}

/* body, json and form are three ways to say one thing: only one may be set. */
static int body_once(struct yu *y, struct request *r, yaml_node_t *v)
{
    if (r->body_kind == BODY_NONE)
        return 0;
    yu_error(y, v, "a request has one body (expected only one of body, json or form)");
    return -1;
}

static int req_body(struct yu *y, void *obj, yaml_node_t *v)
{
    struct request *r = obj;
    if (body_once(y, r, v) || ld_tpl(y, v, &r->body))
        return -1;
    r->body_kind = BODY_RAW;
    return 0;
}

static int req_json(struct yu *y, void *obj, yaml_node_t *v)
{
    struct request *r = obj;
    if (body_once(y, r, v))
        return -1;
    r->json = yu_to_json(y, v);
    if (!r->json)
        return -1;
    r->body_kind = BODY_JSON;
    return ld_json_tpls(y, v);
}

static int req_form(struct yu *y, void *obj, yaml_node_t *v)
{
    struct request *r = obj;
    if (body_once(y, r, v))
        return -1;
    r->body_kind = BODY_FORM;
    return ld_headers(y, v, &r->n_form, &r->form);
}

static int req_tls(struct yu *y, void *obj, yaml_node_t *v)
{
    struct request *r = obj;
    int rc = ld_tls(y, v, &r->tls);
    r->insecure = r->tls.verify < 0;
    return rc;
}

int ld_request_tls(struct yu *y, struct request *r, yaml_node_t *v)
{
    return req_tls(y, r, v);
}

static const struct yu_key request_keys[] = {
    {"method", YU_FN_SCALAR, 0, req_method, 0},
    {"url", YU_FN_SCALAR, 0, req_url, YU_REQUIRED},
    {"headers", YU_FN_MAP, 0, req_headers, 0},
    {"body", YU_FN_SCALAR, 0, req_body, 0},
    {"json", YU_FN_ANY, 0, req_json, 0},
    {"form", YU_FN_MAP, 0, req_form, 0},
    {"follow_redirects", YU_BOOL, offsetof(struct request, follow_redirects), NULL, 0},
    {"tls", YU_FN_MAP, 0, req_tls, 0},
    {NULL, 0, 0, NULL, 0},
};

static int step_request(struct yu *y, void *obj, yaml_node_t *v)
{
    struct step *s = obj;
    int rc = yu_walk_map(y, v, request_keys, &s->request);
    if (!s->request.method)
        s->request.method = strdup(s->request.body_kind == BODY_NONE ? "GET" : "POST");
    return rc ? -1 : 0;
}

/* --- expect: status ------------------------------------------------------- */

static int status_one(struct yu *y, yaml_node_t *v, struct status_range *out)
{
    const char *s = yu_str(v);
    if (!s || yu_is_null(v)) {
        yu_error(y, v, "expected a status code 100..599 or a class like \"2xx\", got %s", yu_type_name(v));
        return -1;
    }
    if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
        (s[2] == 'x' || s[2] == 'X')) {
        out->lo = (s[0] - '0') * 100;
        out->hi = out->lo + 99;
        return 0;
    }
    bool digits = *s != '\0';
    for (const char *c = s; *c; c++)
        digits = digits && isdigit((unsigned char)*c);
    if (!digits || strlen(s) > 9) {
        yu_error(y, v, "bad status \"%s\" (expected a status code 100..599 or a class like \"2xx\")", s);
        return -1;
    }
    long code = strtol(s, NULL, 10);
    if (code < 100 || code > 599) {
        yu_error(y, v, "%ld is outside 100..599 (expected an HTTP status code or a class like \"2xx\")", code);
        return -1;
    }
    out->lo = out->hi = (int)code;
    return 0;
}

static int status_item(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    return status_one(y, item, elem) ? YU_ITEM_DROP : 0;
}

static int exp_status(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct status_range), 0, true, NULL};
    struct expect *e = obj;
    if (v->type == YAML_MAPPING_NODE) {
        yu_error(y, v, "expected a status code, a class like \"2xx\" or a list of them, got a mapping");
        return -1;
    }
    if (v->type == YAML_SEQUENCE_NODE && yu_len(v) == 0) {
        yu_error(y, v, "empty list (expected at least one status)");
        return -1;
    }
    return yu_each_item(y, v, &how, (void **)&e->status.ranges, &e->status.n, status_item, NULL);
}

/* --- expect: headers -------------------------------------------------------- */

/* A check map takes exactly one operator; ops counts them. */
struct hc_ctx {
    struct header_check *hc;
    int ops;
};

static int one_op(struct yu *y, int *ops, yaml_node_t *v, const char *which)
{
    if (++*ops == 1)
        return 0;
    yu_error(y, v, "a check takes one operator (expected only one of %s)", which);
    return -1;
}

/* Walks a check map whose handlers count operators in *ops; none is an
 * error ("<none>"). */
static int walk_check(struct yu *y, yaml_node_t *v, const struct yu_key *keys, void *c, const int *ops,
                      const char *none)
{
    if (yu_walk_map(y, v, keys, c))
        return -1;
    if (*ops != 0)
        return 0;
    yu_error(y, v, "%s", none);
    return -1;
}

#define HC_OPS "exists, equals, contains, matches"

static int hc_exists(struct yu *y, void *obj, yaml_node_t *v)
{
    struct hc_ctx *c = obj;
    if (one_op(y, &c->ops, v, HC_OPS) || yu_get_bool(y, v, &c->hc->exists))
        return -1;
    c->hc->op = MATCH_EXISTS;
    return 0;
}

static int hc_text(struct yu *y, struct hc_ctx *c, yaml_node_t *v, enum match_op op)
{
    if (one_op(y, &c->ops, v, HC_OPS) || ld_tpl(y, v, &c->hc->value))
        return -1;
    c->hc->op = op;
    return 0;
}

static int hc_equals(struct yu *y, void *obj, yaml_node_t *v)
{
    return hc_text(y, obj, v, MATCH_EQUALS);
}

static int hc_contains(struct yu *y, void *obj, yaml_node_t *v)
{
    return hc_text(y, obj, v, MATCH_CONTAINS);
}

static int hc_matches(struct yu *y, void *obj, yaml_node_t *v)
{
    struct hc_ctx *c = obj;
    char *src = NULL;
    if (one_op(y, &c->ops, v, HC_OPS) || ld_regex_search(y, v, &c->hc->re, &src, &c->hc->search_max))
        return -1;
    c->hc->op = MATCH_MATCHES;
    /* Regexes are not templated: the source is kept as one literal segment. */
    struct tpl *t = &c->hc->value;
    t->src = src;
    t->segs = calloc(1, sizeof(*t->segs));
    if (!t->segs)
        return -1;
    t->segs[0].kind = TPL_LIT;
    t->segs[0].text = strdup(src);
    t->n = t->segs[0].text ? 1 : 0;
    return 0;
}

static const struct yu_key header_check_keys[] = {
    {"exists", YU_FN_SCALAR, 0, hc_exists, 0},
    {"equals", YU_FN_SCALAR, 0, hc_equals, 0},
    {"contains", YU_FN_SCALAR, 0, hc_contains, 0},
    {"matches", YU_FN_SCALAR, 0, hc_matches, 0},
    {NULL, 0, 0, NULL, 0},
};

static int header_check_key(struct yu *y, yaml_node_t *k, void *ctx)
{
    const char *name = yu_str(k);
    if (name && ld_is_token(name))
        return 0;
    yu_error(y, k, "bad header name %s (expected a token like X-Request-Id)", name ? name : yu_type_name(k));
    return -1;
}

static int header_check_item(struct yu *y, yaml_node_t *k, yaml_node_t *val, void *elem, void *ctx)
{
    struct header_check *hc = elem;
    hc->name = strdup(yu_str(k));
    ld_pos(&hc->pos, val);
    if (val->type == YAML_MAPPING_NODE) {
        struct hc_ctx c = {hc, 0};
        return walk_check(y, val, header_check_keys, &c, &c.ops, "empty check (expected one of " HC_OPS ")");
    }
    if (val->type == YAML_SCALAR_NODE && !yu_is_null(val)) {
        hc->op = MATCH_EQUALS;
        return ld_tpl(y, val, &hc->value) ? -1 : 0;
    }
    yu_error(y, val, "expected a string or a mapping with one of " HC_OPS ", got %s", yu_type_name(val));
    return -1;
}

static int exp_headers(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct header_check), 0, false, header_check_key};
    struct expect *e = obj;
    return yu_each_item(y, v, &how, (void **)&e->headers, &e->n_headers, header_check_item, NULL);
}

/* --- expect: body ----------------------------------------------------------- */

struct bc_ctx {
    struct body_check *bc;
    int ops;
};

static int bc_contains(struct yu *y, void *obj, yaml_node_t *v)
{
    struct bc_ctx *c = obj;
    if (one_op(y, &c->ops, v, "contains, matches") || yu_get_str(y, v, &c->bc->text))
        return -1;
    c->bc->op = MATCH_CONTAINS;
    return 0;
}

static int bc_matches(struct yu *y, void *obj, yaml_node_t *v)
{
    struct bc_ctx *c = obj;
    if (one_op(y, &c->ops, v, "contains, matches") ||
        ld_regex_search(y, v, &c->bc->re, &c->bc->text, &c->bc->search_max))
        return -1;
    c->bc->op = MATCH_MATCHES;
    return 0;
}

static const struct yu_key body_check_keys[] = {
    {"contains", YU_FN_SCALAR, 0, bc_contains, 0},
    {"matches", YU_FN_SCALAR, 0, bc_matches, 0},
    {NULL, 0, 0, NULL, 0},
};

static int body_one(struct yu *y, yaml_node_t *k, yaml_node_t *v, void *elem, void *ctx)
{
    struct body_check *bc = elem;
    ld_pos(&bc->pos, v);
    if (v->type != YAML_MAPPING_NODE) {
        yu_error(y, v, "expected {contains: text} or {matches: regex}, got %s", yu_type_name(v));
        return -1;
    }
    struct bc_ctx c = {bc, 0};
    return walk_check(y, v, body_check_keys, &c, &c.ops, "no check (expected contains or matches)");
}

static int exp_body(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct body_check), 0, true, NULL};
    struct expect *e = obj;
    if (v->type == YAML_MAPPING_NODE) { /* one check, not a map of them */
        e->body = calloc(1, sizeof(*e->body));
        if (!e->body)
            return -1;
        e->n_body = 1;
        return body_one(y, NULL, v, e->body, NULL);
    }
    return yu_each_item(y, v, &how, (void **)&e->body, &e->n_body, body_one, NULL);
}

/* --- expect: issues, budget, the rest ---------------------------------------- */

/* payment.unauthorized.card_declined, payment.*.declined, *.rate_limit.*:
 * lowercase segments, "*" for any one segment (last: any deeper code). */
static bool issue_pattern_ok(const char *s)
{
    const char *seg = s;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
        if (len == 0)
            return false;
        for (size_t i = 0; i < len && !(len == 1 && *seg == '*'); i++) {
            char c = seg[i];
            if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_' || c == '-'))
                return false;
        }
        if (!dot)
            return true;
        seg = dot + 1;
    }
}

static int issue_code(struct yu *y, void *obj, yaml_node_t *v)
{
    struct issue_expect *ie = obj;
    const char *s = yu_str(v);
    if (!issue_pattern_ok(s)) {
        yu_error(y, v, "bad issue pattern \"%s\" (expected lowercase dot-separated segments like "
                       "payment.unauthorized.card_declined; \"*\" for one segment, or when last for one or more)", s);
        return -1;
    }
    return yu_get_str(y, v, &ie->pattern);
}

static int issue_severity(struct yu *y, void *obj, yaml_node_t *v)
{
    struct issue_expect *ie = obj;
    const char *s = yu_str(v);
    if (strcmp(s, "error") == 0)
        ie->severity = SEV_ERROR;
    else if (strcmp(s, "warning") == 0)
        ie->severity = SEV_WARNING;
    else if (strcmp(s, "info") == 0)
        ie->severity = SEV_INFO;
    else {
        yu_error(y, v, "unknown severity \"%s\" (expected error, warning or info)", s);
        return -1;
    }
    return 0;
}

static const struct yu_key issue_keys[] = {
    {"issue", YU_FN_SCALAR, 0, issue_code, YU_REQUIRED},
    {"severity", YU_FN_SCALAR, 0, issue_severity, 0},
    {NULL, 0, 0, NULL, 0},
};

static int issue_item(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    struct issue_expect *ie = elem;
    ld_pos(&ie->pos, item);
    /* A bare string is shorthand for {issue: ...}. */
    if (item->type == YAML_SCALAR_NODE && !yu_is_null(item))
        return issue_code(y, ie, item) ? -1 : 0;
    if (item->type == YAML_MAPPING_NODE)
        return yu_walk_map(y, item, issue_keys, ie) ? -1 : 0;
    yu_error(y, item, "expected {issue: domain.class.reason, severity: error}, got %s", yu_type_name(item));
    return -1;
}

static int exp_issues(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct issue_expect), 0, false, NULL};
    struct expect *e = obj;
    return yu_each_item(y, v, &how, (void **)&e->issues, &e->n_issues, issue_item, NULL);
}

static int exp_budget(struct yu *y, void *obj, yaml_node_t *v)
{
    struct expect *e = obj;
    return ld_budget(y, v, &e->budget);
}

static int exp_correlation(struct yu *y, void *obj, yaml_node_t *v)
{
    struct expect *e = obj;
    if (strcmp(yu_str(v), "false") == 0) {
        e->correlation_id_own = true;
        return 0;
    }
    if (strcmp(yu_str(v), "echo") != 0) {
        yu_error(y, v, "unknown value \"%s\" (expected echo or false)", yu_str(v));
        return -1;
    }
    e->echo_correlation_id = true;
    return 0;
}

static const struct yu_key expect_keys[] = {
    {"status", YU_FN_ANY, 0, exp_status, 0},
    {"headers", YU_FN_MAP, 0, exp_headers, 0},
    {"json", YU_FN_SEQ, 0, ld_expect_json, 0},
    {"body", YU_FN_ANY, 0, exp_body, 0},
    {"budget", YU_FN_MAP, 0, exp_budget, 0},
    {"issues", YU_FN_SEQ, 0, exp_issues, 0},
    {"issue_schema", YU_BOOL, offsetof(struct expect, issue_schema_on_2xx), NULL, 0},
    {"correlation_id", YU_FN_SCALAR, 0, exp_correlation, 0},
    {"grpc", YU_FN_MAP, 0, ld_grpc_expect, 0},
    {"tls", YU_FN_MAP, 0, ld_expect_tls, 0},
    {NULL, 0, 0, NULL, 0},
};

static const struct yu_key *step_table, *expect_table; /* with one key per step kind (load_kind.c) */

static int step_expect(struct yu *y, void *obj, yaml_node_t *v)
{
    struct step *s = obj;
    return yu_walk_map(y, v, expect_table, &s->expect) ? -1 : 0;
}

/* --- capture -------------------------------------------------------------- */

struct cap_ctx {
    struct capture *c;
    int kinds;
    yaml_node_t *group;
};

#define CAP_KINDS "json, header, regex"

static int cap_json(struct yu *y, void *obj, yaml_node_t *v)
{
    struct cap_ctx *cc = obj;
    if (one_op(y, &cc->kinds, v, CAP_KINDS) || ld_jpath(y, v, &cc->c->path))
        return -1;
    cc->c->kind = CAPTURE_JSON;
    return 0;
}

static int cap_header(struct yu *y, void *obj, yaml_node_t *v)
{
    struct cap_ctx *cc = obj;
    if (one_op(y, &cc->kinds, v, CAP_KINDS))
        return -1;
    if (!ld_is_token(yu_str(v))) {
        yu_error(y, v, "bad header name \"%s\" (expected a token like Location)", yu_str(v));
        return -1;
    }
    cc->c->kind = CAPTURE_HEADER;
    return yu_get_str(y, v, &cc->c->header);
}

static int cap_regex(struct yu *y, void *obj, yaml_node_t *v)
{
    struct cap_ctx *cc = obj;
    if (one_op(y, &cc->kinds, v, CAP_KINDS) || ld_regex_capture(y, v, cc->c))
        return -1;
    cc->c->kind = CAPTURE_REGEX;
    return 0;
}

static int cap_group(struct yu *y, void *obj, yaml_node_t *v)
{
    struct cap_ctx *cc = obj;
    long g = 1;
    if (yu_get_int(y, v, 0, 9, &g))
        return -1;
    cc->c->group = (int)g;
    cc->group = v;
    return 0;
}

static const struct yu_key capture_keys[] = {
    {"json", YU_FN_SCALAR, 0, cap_json, 0},
    {"header", YU_FN_SCALAR, 0, cap_header, 0},
    {"regex", YU_FN_SCALAR, 0, cap_regex, 0},
    {"group", YU_FN_SCALAR, 0, cap_group, 0},
    {NULL, 0, 0, NULL, 0},
};

static int capture_one(struct yu *y, yaml_node_t *k, yaml_node_t *v, void *elem, void *ctx)
{
    struct capture *c = elem;
    const char *name = yu_str(k);
    ld_pos(&c->pos, k);
    c->group = 1;
    if (!name || !ld_is_name(name)) {
        yu_error(y, k, "bad capture name %s (expected letters, digits, _ and -)", name ? name : yu_type_name(k));
        return -1;
    }
    if (strcmp(name, "correlation_id") == 0) {
        yu_error(y, k, "correlation_id is built in (expected another capture name)");
        return -1;
    }
    c->name = strdup(name);
    if (v->type != YAML_MAPPING_NODE) {
        yu_error(y, v, "expected {json: $.path}, {header: Name} or {regex: re, group: N}, got %s", yu_type_name(v));
        return -1;
    }
    struct cap_ctx cc = {c, 0, NULL};
    if (yu_walk_map(y, v, capture_keys, &cc))
        return -1;
    if (cc.kinds == 0) {
        yu_error(y, v, "nothing to capture (expected one of " CAP_KINDS ")");
        return -1;
    }
    if (cc.group && c->kind != CAPTURE_REGEX) {
        yu_error(y, cc.group, "group applies to regex captures only");
        return -1;
    }
    if (c->kind == CAPTURE_REGEX && (size_t)c->group > c->re.re_nsub) {
        yu_error(y, cc.group ? cc.group : v, "group %d but the regex has %zu group%s", c->group, c->re.re_nsub,
                 c->re.re_nsub == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

static int step_capture(struct yu *y, void *obj, yaml_node_t *v)
{
    static const struct yu_each how = {sizeof(struct capture), 0, false, NULL};
    struct step *s = obj;
    return yu_each_item(y, v, &how, (void **)&s->captures, &s->n_captures, capture_one, NULL);
}

/* --- steps --------------------------------------------------------------- */

static int step_retry(struct yu *y, void *obj, yaml_node_t *v)
{
    struct step *s = obj;
    return ld_retry(y, v, &s->retry);
}

static int step_timeout(struct yu *y, void *obj, yaml_node_t *v)
{
    struct step *s = obj;
    return ld_deadline(y, v, &s->timeout);
}

static const struct yu_key step_keys[] = {
    {"name", YU_STR, offsetof(struct step, name), NULL, YU_REQUIRED},
    {"request", YU_FN_MAP, 0, step_request, 0}, /* or grpc, or a kind's block: ld_step_kind */
    {"expect", YU_FN_MAP, 0, step_expect, 0},
    {"capture", YU_FN_MAP, 0, step_capture, 0},
    {"continue", YU_BOOL, offsetof(struct step, continue_on_failure), NULL, 0},
    {"timeout", YU_FN_SCALAR, 0, step_timeout, 0},
    {"grpc", YU_FN_MAP, 0, ld_grpc, 0},
    {"retry", YU_FN_MAP, 0, step_retry, 0},
    {NULL, 0, 0, NULL, 0},
};

static int step_one(struct yu *y, yaml_node_t *k, yaml_node_t *item, void *elem, void *ctx)
{
    struct ld *ld = ld_of(y);
    struct step *s = elem;
    s->is_finally = *(const bool *)ctx;
    s->pos.file = ld->p->file;
    ld_pos(&s->pos, item);
    ld->scope = LD_SCOPE_STEP;
    ld->scope_index = (size_t)(s - ld->p->steps);
    if (item->type != YAML_MAPPING_NODE) {
        yu_error(y, item, "expected a step (a mapping with name and request), got %s", yu_type_name(item));
        return -1;
    }
    int kind = ld_grpc_step_check(y, item); /* 1: both request and grpc, not read */
    if (kind > 0)
        return -1;
    ld_kind_tables(step_keys, expect_keys, &step_table, &expect_table);
    int bad = yu_walk_map(y, item, step_table, s);
    return ld_step_kind(y, item, s) || bad || kind ? -1 : 0;
}

int ld_steps(struct yu *y, yaml_node_t *seq, size_t base, bool is_finally)
{
    static const struct yu_each how = {sizeof(struct step), 0, false, NULL};
    struct ld *ld = ld_of(y);
    if (yu_len(seq) == 0 && !is_finally) {
        yu_error(y, seq, "empty list (expected at least one step)");
        return -1;
    }
    /* The array is sized for steps and finally steps up front (load_probe). */
    void *at = ld->p->steps + base;
    size_t n = 0;
    return yu_each_item(y, seq, &how, &at, &n, step_one, &is_finally);
}
