#include "probes/redact/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct redactor global_red = {0};

void redactor_init(struct redactor *r)
{
    memset(r, 0, sizeof(*r));
}

static int pat_cmp(const void *a, const void *b)
{
    const struct redact_pat *x = a, *y = b;
    unsigned char cx = (unsigned char)x->s[0], cy = (unsigned char)y->s[0];
    if (cx != cy)
        return cx < cy ? -1 : 1;
    return x->n > y->n ? -1 : x->n < y->n;
}

static void reindex(struct redactor *r)
{
    qsort(r->pats, r->n, sizeof(*r->pats), pat_cmp);
    size_t i = 0;
    for (unsigned b = 0; b < 256; b++) {
        r->start[b] = (uint32_t)i;
        while (i < r->n && (unsigned char)r->pats[i].s[0] == b)
            i++;
    }
    r->start[256] = (uint32_t)r->n;
}

/* The pattern s, or NULL. */
static struct redact_pat *find_pat(const struct redactor *r, const char *s, size_t n)
{
    unsigned char b = (unsigned char)s[0];
    for (uint32_t i = r->start[b]; i < r->start[b + 1]; i++)
        if (r->pats[i].n == n && memcmp(r->pats[i].s, s, n) == 0)
            return &r->pats[i];
    return NULL;
}

static int add_pat(struct redactor *r, const char *s, bool value)
{
    size_t n = strlen(s);
    struct redact_pat *old = r->n ? find_pat(r, s, n) : NULL;
    if (old) {
        old->value = old->value || value;
        return 0;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct redact_pat *p = realloc(r->pats, cap * sizeof(*p));
        if (!p)
            return TL_ENOMEM;
        r->pats = p;
        r->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy)
        return TL_ENOMEM;
    r->pats[r->n].s = copy;
    r->pats[r->n].n = n;
    r->pats[r->n].value = value;
    r->n++;
    return 0;
}

int redactor_add(struct redactor *r, const char *secret)
{
    if (!secret || strlen(secret) < 3)
        return 0;
    /* known already (renders register the same values every run): no work */
    const struct redact_pat *known = r->n ? find_pat(r, secret, strlen(secret)) : NULL;
    if (known && known->value)
        return 0;
    struct strv forms;
    strv_init(&forms);
    int rc = redact_forms(secret, &forms);
    for (size_t i = 0; !rc && i < forms.n; i++)
        rc = add_pat(r, forms.v[i], i == 0);
    strv_free(&forms);
    reindex(r);
    return rc;
}

int redactor_add_set_cookie(struct redactor *r, const char *header_value)
{
    /* name=value; attributes: only the value is the server's secret */
    const char *eq = header_value ? strchr(header_value, '=') : NULL;
    if (!eq)
        return 0;
    size_t n = strcspn(eq + 1, ";");
    while (n && isspace((unsigned char)eq[n]))
        n--;
    char *v = strndup(eq + 1, n);
    if (!v)
        return TL_ENOMEM;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        memmove(v, v + 1, n - 2);
        v[n - 2] = '\0';
    }
    /* a short value (sid=500, lang=en) protects nothing as a pattern and
     * would erase every status 500 from the text: the Set-Cookie and Cookie
     * headers still hide it by name */
    int rc = strlen(v) >= REDACT_COOKIE_MIN ? redactor_add(r, v) : 0;
    free(v);
    return rc;
}

void redactor_free(struct redactor *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->pats[i].s);
    free(r->pats);
    memset(r, 0, sizeof(*r));
}

int redact_global_add(const char *secret)
{
    return redactor_add(&global_red, secret);
}

int redact_global_add_bytes(const void *data, size_t len)
{
    char *s = data ? strndup(data, len) : NULL;
    if (!s)
        return data ? TL_ENOMEM : 0;
    int rc = redactor_add(&global_red, s);
    free(s);
    return rc;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

bool redact_name_sensitive(const char *name)
{
    static const char *const exact[] = {"authorization", "proxy-authorization", "cookie", "set-cookie",
                                        "sid", "pwd", "pass"};
    static const char *const parts[] = {"token", "secret", "password", "passwd", "api_key", "api-key",
                                        "apikey", "credential", "session", "private", "signature",
                                        "auth"};
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcasecmp(name, exact[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (contains_ci(name, parts[i]))
            return true;
    return false;
}

/* The length of the longest pattern of r starting at p (0: none). */
static size_t match_at(const struct redactor *r, const char *p)
{
    unsigned char b = (unsigned char)*p;
    if (!r || !r->n)
        return 0;
    for (uint32_t i = r->start[b]; i < r->start[b + 1]; i++)
        if (strncmp(p, r->pats[i].s, r->pats[i].n) == 0)
            return r->pats[i].n;
    return 0;
}

static size_t match_any(const struct redactor *r, const char *p)
{
    size_t a = match_at(r, p), g = match_at(&global_red, p);
    return a > g ? a : g;
}

/* True when a secret in s starts before boundary and ends past it. */
static bool spans(const struct redactor *r, const char *s, size_t boundary)
{
    for (size_t i = 0; i < boundary && s[i]; i++)
        if (i + match_any(r, s + i) > boundary)
            return true;
    return false;
}

char *redact_text(const struct redactor *r, const char *s)
{
    struct buf out;
    buf_init(&out, (size_t)-1 / 2);
    if (!s)
        s = "";
    const char *p = s, *lit = s;
    int rc = 0;
    while (!rc && *p) {
        size_t n = match_any(r, p);
        if (!n) {
            p++;
            continue;
        }
        rc = buf_append(&out, lit, (size_t)(p - lit));
        if (!rc)
            rc = buf_puts(&out, REDACTED);
        p += n;
        lit = p;
    }
    if (!rc)
        rc = buf_append(&out, lit, (size_t)(p - lit));
    if (rc) {
        buf_free(&out);
        return NULL;
    }
    return buf_take(&out);
}

/* Copies the query of a URL, q at its '?', values of sensitive names
 * replaced; the rest goes through the value net afterwards. */
static int url_query(struct buf *out, const char *q)
{
    int rc = 0;
    while (!rc && q && *q) {
        const char *name = q + 1;
        const char *amp = name + strcspn(name, "&#");
        const char *eq = memchr(name, '=', (size_t)(amp - name));
        rc = buf_append(out, q, 1);
        if (!rc && eq) {
            char key[128];
            size_t kl = (size_t)(eq - name) < sizeof(key) - 1 ? (size_t)(eq - name) : sizeof(key) - 1;
            memcpy(key, name, kl);
            key[kl] = '\0';
            rc = buf_append(out, name, (size_t)(eq - name) + 1);
            if (!rc)
                rc = redact_name_sensitive(key) ? buf_puts(out, REDACTED)
                                                : buf_append(out, eq + 1, (size_t)(amp - eq - 1));
        } else if (!rc) {
            rc = buf_append(out, name, (size_t)(amp - name));
        }
        if (*amp == '#') {
            if (!rc)
                rc = buf_puts(out, amp);
            break;
        }
        q = *amp ? amp : NULL;
    }
    return rc;
}

char *redact_url(const struct redactor *r, const char *url)
{
    struct buf out;
    buf_init(&out, (size_t)-1 / 2);
    const char *scheme = strstr(url, "://");
    const char *p = url;
    int rc = 0;
    if (scheme) {
        const char *host = scheme + 3;
        const char *end = host + strcspn(host, "/?#");
        const char *at = memchr(host, '@', (size_t)(end - host));
        rc = buf_append(&out, url, (size_t)(host - url));
        if (!rc && at) {
            rc = buf_puts(&out, REDACTED "@");
            host = at + 1;
        }
        if (!rc)
            rc = buf_append(&out, host, (size_t)(end - host));
        p = end;
    }
    const char *q = strchr(p, '?');
    if (!rc)
        rc = buf_append(&out, p, q ? (size_t)(q - p) : strlen(p));
    if (!rc)
        rc = url_query(&out, q);
    if (rc) {
        buf_free(&out);
        return NULL;
    }
    char *tmp = buf_take(&out);
    char *res = redact_text(r, tmp);
    free(tmp);
    return res;
}

static void set_key(cJSON *c, const char *key)
{
    char *k = strdup(key);
    if (!k)
        return;
    if (!(c->type & cJSON_StringIsConst))
        free(c->string);
    c->type &= ~cJSON_StringIsConst;
    c->string = k;
}

/* A secret split between a key and its string value: both go. */
static bool split_secret(const struct redactor *r, const cJSON *c)
{
    if (!c->string || !cJSON_IsString(c))
        return false;
    struct buf b;
    buf_init(&b, (size_t)-1 / 2);
    bool hit = !buf_puts(&b, c->string) && !buf_puts(&b, c->valuestring) && spans(r, b.data, strlen(c->string));
    buf_free(&b);
    return hit;
}

/* A long integer keeps its exact text (json_exact.h), where a numeric
 * secret would show: one that holds a secret becomes the string REDACTED. */
static void redact_exact_number(const struct redactor *r, cJSON *c)
{
    char *t = redact_text(r, c->valuestring);
    char *rep = t && strcmp(t, c->valuestring) != 0 ? strdup(REDACTED) : NULL;
    free(t);
    if (!rep)
        return;
    free(c->valuestring);
    c->valuestring = rep;
    c->type = cJSON_String | (c->type & cJSON_StringIsConst);
}

static void redact_string(const struct redactor *r, cJSON *c)
{
    char *t = redact_text(r, c->valuestring);
    if (t && strcmp(t, c->valuestring) != 0)
        cJSON_SetValuestring(c, t);
    free(t);
}

void redact_json(const struct redactor *r, cJSON *v)
{
    /* a bare string body ("invalid credential <tok>") has no children */
    if (cJSON_IsString(v) && v->valuestring) {
        redact_string(r, v);
        return;
    }
    for (cJSON *c = v ? v->child : NULL; c; c = c->next) {
        if (split_secret(r, c)) {
            set_key(c, REDACTED);
            cJSON_SetValuestring(c, REDACTED);
            continue;
        }
        if (c->string) {
            char *k = redact_text(r, c->string);
            if (k && strcmp(k, c->string) != 0)
                set_key(c, k);
            free(k);
        }
        if (c->string && redact_name_sensitive(c->string) && !cJSON_IsObject(c) && !cJSON_IsArray(c)) {
            if (cJSON_IsString(c)) {
                cJSON_SetValuestring(c, REDACTED);
                continue;
            }
            cJSON *rep = cJSON_CreateString(REDACTED);
            char *key = rep ? strdup(c->string) : NULL;
            if (!key) {
                cJSON_Delete(rep);
                continue;
            }
            /* ReplaceItemViaPointer keeps the position, not the key */
            rep->string = key;
            cJSON_ReplaceItemViaPointer(v, c, rep);
            c = rep;
            continue;
        }
        if (cJSON_IsString(c))
            redact_string(r, c);
        else if (cJSON_IsNumber(c) && c->valuestring)
            redact_exact_number(r, c);
        else if (cJSON_IsObject(c) || cJSON_IsArray(c))
            redact_json(r, c);
    }
}
