/* The `issues` error schema. Each rule pushes one message naming the field
 * path and the rule; unknown fields are allowed so that APIs can grow the
 * schema without breaking probes (the pattern's "no complex change
 * management" principle). */
#include "probes/check/issue_schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "probes/check/json_exact.h"
#include "probes/check/jsonpath.h"

/* Values from the body are quoted and shortened so a hostile body cannot
 * blow up a message. */
#define QUOTE_MAX 80

struct ctx {
    struct strv *out;
    int count;
    const char *sent;            /* X-Correlation-ID sent, or NULL */
    bool top_cid;                /* a top-level correlationId is present */
    bool any_cid;                /* some correlationId is present */
    bool cid_missing_reported;   /* a per-issue "missing" was pushed */
};

static void clip(const char *s, char *out, size_t outlen, bool marks)
{
    size_t o = 0;
    size_t i = 0;
    if (outlen < 8)
        return;
    if (marks)
        out[o++] = '"';
    for (; s[i] && o + 6 < outlen && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[o++] = '?';
        } else {
            out[o++] = (char)c;
        }
    }
    if (s[i]) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    if (marks)
        out[o++] = '"';
    out[o] = '\0';
}

static void quote(const char *s, char *out, size_t outlen)
{
    clip(s, out, outlen, true);
}

static void violation(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(struct ctx *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    /* a hostile body of empty issues would give four messages per 3 bytes */
    if (c->count >= ISSUE_SCHEMA_MESSAGES_MAX) {
        c->count++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* An allocation failure loses the text, never the count. */
    strv_push(c->out, msg);
    c->count++;
}

/* --- value formats ---------------------------------------------------- */

static bool seg_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
}

bool issue_code_valid(const char *code)
{
    if (!code || !*code)
        return false;
    int segs = 1;
    size_t seglen = 0;
    for (const char *p = code; *p; p++) {
        if (*p == '.') {
            if (seglen == 0)
                return false;
            segs++;
            seglen = 0;
        } else if (seg_char(*p)) {
            seglen++;
        } else {
            return false;
        }
    }
    return seglen > 0 && segs >= 3;
}

/* Length of the segment starting at s (up to '.' or the end). */
static size_t seg_len(const char *s)
{
    const char *dot = strchr(s, '.');
    return dot ? (size_t)(dot - s) : strlen(s);
}

bool issue_code_matches(const char *pattern, const char *code)
{
    if (!pattern || !code || !*code)
        return false;
    const char *p = pattern, *c = code;
    for (;;) {
        size_t pl = seg_len(p), cl = seg_len(c);
        bool star = pl == 1 && p[0] == '*';
        /* A trailing "*" stands for one or more further segments. */
        if (star && p[1] == '\0')
            return cl > 0;
        if (!star && (pl != cl || strncmp(p, c, pl) != 0))
            return false;
        if (star && cl == 0)
            return false;
        if (p[pl] == '\0' || c[cl] == '\0')
            return p[pl] == '\0' && c[cl] == '\0';
        p += pl + 1;
        c += cl + 1;
    }
}

void issue_code_class(const char *code, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    out[0] = '\0';
    const char *dot = code ? strchr(code, '.') : NULL;
    if (!dot)
        return;
    size_t n = seg_len(dot + 1);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, dot + 1, n);
    out[n] = '\0';
}

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static bool is_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return s[36] == '\0';
}

/* Reads n digits at *p; -1 when they are not all digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    return v;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads an n-digit field in [lo, hi] followed by sep ('\0': no separator);
 * -1 when it does not fit. */
static int dt_field(const char **p, int n, int lo, int hi, char sep)
{
    int v = digits(p, n);
    if (v < lo || v > hi)
        return -1;
    if (sep) {
        if (**p != sep)
            return -1;
        (*p)++;
    }
    return v;
}

enum dt_verdict { DT_OK, DT_BAD, DT_NOT_UTC };

static enum dt_verdict dt_zone(const char *p)
{
    if (strcmp(p, "Z") == 0 || strcmp(p, "+00:00") == 0)
        return DT_OK;
    /* A well-formed offset other than UTC gets its own message. */
    if (*p != '+' && *p != '-')
        return DT_BAD;
    p++;
    if (dt_field(&p, 2, 0, 23, ':') < 0 || dt_field(&p, 2, 0, 59, '\0') < 0 || *p)
        return DT_BAD;
    return DT_NOT_UTC;
}

static enum dt_verdict check_datetime(const char *s)
{
    const char *p = s;
    int y = dt_field(&p, 4, 0, 9999, '-');
    int mo = y < 0 ? -1 : dt_field(&p, 2, 1, 12, '-');
    int d = mo < 0 ? -1 : dt_field(&p, 2, 1, 31, 'T');
    if (d < 0 || d > days_in_month(y, mo))
        return DT_BAD;
    /* 60 is a leap second, which RFC 3339 allows. */
    if (dt_field(&p, 2, 0, 23, ':') < 0 || dt_field(&p, 2, 0, 59, ':') < 0 ||
        dt_field(&p, 2, 0, 60, '\0') < 0)
        return DT_BAD;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return DT_BAD;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return dt_zone(p);
}

static bool is_http_url(const char *s)
{
    size_t n = 0;
    if (strncasecmp(s, "https://", 8) == 0)
        n = 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        n = 7;
    if (n == 0 || s[n] == '\0' || s[n] == '/')
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* --- per-field rules -------------------------------------------------- */

/* The member `name` of obj when it is a string; pushes "missing" or "expected
 * a string" violations (missing only when required). */
static const char *get_string(struct ctx *c, const cJSON *obj, const char *path, const char *name,
                              bool required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) {
        if (required)
            violation(c, "%s.%s: missing (required string)", path, name);
        return NULL;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        violation(c, "%s.%s: expected a string, got %s", path, name, json_type_name(v));
        return NULL;
    }
    if (json_exact_has_nul(v)) {
        violation(c, "%s.%s: holds U+0000 (\\u0000): a client reading it as text sees only what comes before", path,
                  name);
        return NULL;
    }
    return v->valuestring;
}

static bool expect_object(struct ctx *c, const cJSON *v, const char *path)
{
    if (cJSON_IsObject(v))
        return true;
    violation(c, "%s: expected an object, got %s", path, json_type_name(v));
    return false;
}

static void check_code(struct ctx *c, const cJSON *issue, const char *path)
{
    const char *code = get_string(c, issue, path, "issue", true);
    char q[QUOTE_MAX + 16];
    if (!code || issue_code_valid(code))
        return;
    quote(code, q, sizeof(q));
    violation(c,
              "%s.issue: %s is not a namespaced code (at least three dot-separated segments "
              "of [a-z0-9_], e.g. payment.unauthorized.token_expired)",
              path, q);
}

static void check_severity(struct ctx *c, const cJSON *issue, const char *path)
{
    const char *sev = get_string(c, issue, path, "severity", true);
    char q[QUOTE_MAX + 16];
    if (!sev || strcmp(sev, "error") == 0 || strcmp(sev, "warning") == 0 ||
        strcmp(sev, "info") == 0)
        return;
    quote(sev, q, sizeof(q));
    violation(c, "%s.severity: %s is not one of error, warning, info", path, q);
}

/* A correlationId value at `path` (a full field path). */
static void check_cid_value(struct ctx *c, const cJSON *v, const char *path)
{
    char q[QUOTE_MAX + 16];
    c->any_cid = true;
    if (!cJSON_IsString(v) || !v->valuestring) {
        violation(c, "%s: expected a UUID string, got %s", path, json_type_name(v));
        return;
    }
    quote(v->valuestring, q, sizeof(q));
    if (!is_uuid(v->valuestring) || json_exact_has_nul(v)) {
        violation(c, "%s: %s is not a UUID (8-4-4-4-12 hex digits)", path, q);
        return;
    }
    if (c->sent && strcasecmp(v->valuestring, c->sent) != 0)
        violation(c, "%s: %s does not echo the X-Correlation-ID sent (%.64s)", path, q, c->sent);
}

static void check_cid(struct ctx *c, const cJSON *issue, const char *path)
{
    char field[64];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(issue, "correlationId");
    snprintf(field, sizeof(field), "%s.correlationId", path);
    if (v) {
        check_cid_value(c, v, field);
    } else if (!c->top_cid) {
        violation(c, "%s: missing (required per issue or at the top level)", field);
        c->cid_missing_reported = true;
    }
}

static void check_datetime_field(struct ctx *c, const cJSON *issue, const char *path)
{
    const char *dt = get_string(c, issue, path, "dateTime", true);
    char q[QUOTE_MAX + 16];
    if (!dt)
        return;
    enum dt_verdict v = check_datetime(dt);
    if (v == DT_OK)
        return;
    quote(dt, q, sizeof(q));
    if (v == DT_NOT_UTC)
        violation(c, "%s.dateTime: %s is not in UTC (expected Z or +00:00)", path, q);
    else
        violation(c, "%s.dateTime: %s is not an ISO 8601 UTC date-time (YYYY-MM-DDTHH:MM:SS[.fff]Z)",
                  path, q);
}

static void check_active(struct ctx *c, const cJSON *issue, const char *path)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(issue, "active");
    if (v && !cJSON_IsBool(v))
        violation(c, "%s.active: expected a boolean, got %s", path, json_type_name(v));
}

static void check_message(struct ctx *c, const cJSON *issue, const char *path)
{
    char field[64];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(issue, "message");
    snprintf(field, sizeof(field), "%s.message", path);
    if (!v || !expect_object(c, v, field))
        return;
    get_string(c, v, field, "title", false);
    get_string(c, v, field, "detail", false);
}

static void check_links(struct ctx *c, const cJSON *issue, const char *path)
{
    char field[64];
    char q[QUOTE_MAX + 16];
    char key[QUOTE_MAX + 16];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(issue, "links");
    snprintf(field, sizeof(field), "%s.links", path);
    if (!v || !expect_object(c, v, field))
        return;
    const cJSON *link;
    cJSON_ArrayForEach(link, v)
    {
        /* Keys come from the body: shorten them like values. */
        clip(link->string ? link->string : "", key, sizeof(key), false);
        if (!cJSON_IsString(link) || !link->valuestring) {
            violation(c, "%s.%s: expected a URL string, got %s", field, key,
                      json_type_name(link));
            continue;
        }
        if (is_http_url(link->valuestring) && !json_exact_has_nul(link))
            continue;
        quote(link->valuestring, q, sizeof(q));
        violation(c, "%s.%s: %s%s is not an http(s) URL", field, key, q,
                  json_exact_has_nul(link) ? " (cut by U+0000)" : "");
    }
}

static void check_third_party(struct ctx *c, const cJSON *issue, const char *path)
{
    char field[64];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(issue, "thirdParty");
    snprintf(field, sizeof(field), "%s.thirdParty", path);
    if (!v || !expect_object(c, v, field))
        return;
    get_string(c, v, field, "provider", true);
}

static void check_issue(struct ctx *c, const cJSON *issue, size_t i)
{
    char path[32];
    snprintf(path, sizeof(path), "issues[%zu]", i);
    if (!expect_object(c, issue, path))
        return;
    check_code(c, issue, path);
    check_severity(c, issue, path);
    check_cid(c, issue, path);
    check_datetime_field(c, issue, path);
    check_active(c, issue, path);
    check_message(c, issue, path);
    check_links(c, issue, path);
    check_third_party(c, issue, path);
}

static void check_issues(struct ctx *c, const cJSON *body, bool require_nonempty)
{
    const cJSON *issues = cJSON_GetObjectItemCaseSensitive(body, "issues");
    if (!issues) {
        violation(c, "issues: missing (required array of issue objects)");
        return;
    }
    if (!cJSON_IsArray(issues)) {
        violation(c, "issues: expected an array, got %s", json_type_name(issues));
        return;
    }
    if (!issues->child && require_nonempty)
        violation(c, "issues: empty (an error response must carry at least one issue)");
    size_t i = 0;
    const cJSON *issue;
    cJSON_ArrayForEach(issue, issues)
    {
        check_issue(c, issue, i++);
    }
}

int issue_schema_check(const cJSON *body, const char *sent_correlation_id, bool require_echo,
                       bool require_nonempty, struct strv *out)
{
    struct ctx c = { .out = out, .sent = sent_correlation_id };
    if (!body) {
        violation(&c, "body: not JSON (expected an object with an issues array)");
        return c.count;
    }
    if (!cJSON_IsObject(body)) {
        violation(&c, "body: expected an object with an issues array, got %s", json_type_name(body));
        return c.count;
    }
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(body, "correlationId");
    if (top) {
        c.top_cid = true;
        check_cid_value(&c, top, "correlationId");
    }
    check_issues(&c, body, require_nonempty);
    if (require_echo && c.sent && !c.any_cid && !c.cid_missing_reported)
        violation(&c, "correlationId: missing (the X-Correlation-ID sent (%.64s) must be echoed)",
                  c.sent);
    if (c.count > ISSUE_SCHEMA_MESSAGES_MAX)
        strv_pushf(c.out, "and %d more issue schema violations", c.count - ISSUE_SCHEMA_MESSAGES_MAX);
    return c.count;
}
