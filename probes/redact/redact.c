#include "probes/redact/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

void redactor_init(struct redactor *r)
{
    strv_init(&r->secrets);
}

int redactor_add(struct redactor *r, const char *secret)
{
    if (!secret || strlen(secret) < 3)
        return 0;
    for (size_t i = 0; i < r->secrets.n; i++)
        if (strcmp(r->secrets.v[i], secret) == 0)
            return 0;
    if (strv_push(&r->secrets, secret))
        return -1;
    /* In a URL the value travels percent-encoded: redact that form too. */
    char *enc = curl_easy_escape(NULL, secret, 0);
    int rc = 0;
    if (enc && strcmp(enc, secret) != 0)
        rc = strv_push(&r->secrets, enc);
    curl_free(enc);
    return rc;
}

void redactor_free(struct redactor *r)
{
    if (r)
        strv_free(&r->secrets);
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

char *redact_text(const struct redactor *r, const char *s)
{
    struct buf out;
    buf_init(&out, (size_t)-1 / 2);
    if (!s)
        s = "";
    const char *p = s;
    while (*p) {
        size_t best = 0;
        for (size_t i = 0; r && i < r->secrets.n; i++) {
            size_t n = strlen(r->secrets.v[i]);
            if (n > best && strncmp(p, r->secrets.v[i], n) == 0)
                best = n;
        }
        int rc;
        if (best) {
            rc = buf_puts(&out, REDACTED);
            p += best;
        } else {
            rc = buf_append(&out, p, 1);
            p++;
        }
        if (rc) {
            buf_free(&out);
            return NULL;
        }
    }
    return buf_take(&out);
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
    while (!rc && q && *q) {
        /* q points at '?' or '&': copy the separator, the name, then the value or REDACTED */
        const char *name = q + 1;
        const char *amp = name + strcspn(name, "&#");
        const char *eq = memchr(name, '=', (size_t)(amp - name));
        rc = buf_append(&out, q, 1);
        if (!rc && eq) {
            char key[128];
            size_t kl = (size_t)(eq - name) < sizeof(key) - 1 ? (size_t)(eq - name) : sizeof(key) - 1;
            memcpy(key, name, kl);
            key[kl] = '\0';
            rc = buf_append(&out, name, (size_t)(eq - name) + 1);
            if (!rc)
                rc = redact_name_sensitive(key) ? buf_puts(&out, REDACTED)
                                                : buf_append(&out, eq + 1, (size_t)(amp - eq - 1));
        } else if (!rc) {
            rc = buf_append(&out, name, (size_t)(amp - name));
        }
        if (*amp == '#') {
            if (!rc)
                rc = buf_puts(&out, amp);
            break;
        }
        q = *amp ? amp : NULL;
    }
    if (rc) {
        buf_free(&out);
        return NULL;
    }
    char *tmp = buf_take(&out);
    char *res = redact_text(r, tmp);
    free(tmp);
    return res;
}

void redact_json(const struct redactor *r, cJSON *v)
{
    /* a bare string body ("invalid credential <tok>") has no children */
    if (cJSON_IsString(v) && v->valuestring && r && r->secrets.n) {
        char *t = redact_text(r, v->valuestring);
        if (t && strcmp(t, v->valuestring) != 0)
            cJSON_SetValuestring(v, t);
        free(t);
        return;
    }
    for (cJSON *c = v ? v->child : NULL; c; c = c->next) {
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
        if (cJSON_IsString(c) && r && r->secrets.n) {
            char *t = redact_text(r, c->valuestring);
            if (t && strcmp(t, c->valuestring) != 0)
                cJSON_SetValuestring(c, t);
            free(t);
        } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            redact_json(r, c);
        }
    }
}

/* The end of the JSON string token whose opening quote is at s (the index
 * past its closing quote, or the end of the text when it is cut off). */
static size_t string_end(const char *s)
{
    size_t i = 1;
    while (s[i] && s[i] != '"')
        i += s[i] == '\\' && s[i + 1] ? 2 : 1;
    return s[i] ? i + 1 : i;
}

/* By-key redaction on text that was not parsed (too big to parse cheaply, or
 * not JSON at all): the value after "sensitive_key": becomes "[redacted]",
 * as redact_json would do. A value cut off at the window's end is redacted
 * too. Objects and arrays are walked on, so their members are seen. */
static char *redact_keys_text(const char *s)
{
    struct buf out;
    buf_init(&out, (size_t)-1 / 2); /* s is a capped window already */
    int rc = 0;
    size_t i = 0;
    while (!rc && s[i]) {
        if (s[i] != '"') {
            rc = buf_append(&out, s + i, 1);
            i++;
            continue;
        }
        size_t end = i + string_end(s + i);
        rc = buf_append(&out, s + i, end - i);
        size_t j = end + strspn(s + end, " \t\r\n");
        char key[128];
        size_t kl = end - i >= 2 ? end - i - 2 : 0;
        if (kl >= sizeof(key))
            kl = sizeof(key) - 1;
        memcpy(key, s + i + 1, kl);
        key[kl] = '\0';
        i = end;
        if (rc || s[j] != ':' || !redact_name_sensitive(key))
            continue;
        j++;
        j += strspn(s + j, " \t\r\n");
        if (s[j] == '{' || s[j] == '[')
            continue;
        rc = buf_append(&out, s + i, j - i);
        if (!rc)
            rc = buf_puts(&out, "\"" REDACTED "\"");
        i = s[j] == '"' ? j + string_end(s + j) : j + strcspn(s + j, ",}] \t\r\n");
    }
    if (rc) {
        buf_free(&out);
        return NULL;
    }
    return buf_take(&out);
}

/* The same rule for text that is not JSON: `token=abc` pairs (forms, query
 * strings) and `Authorization: Bearer ...` lines (echoed headers) keep their
 * name and lose their value. */
static char *redact_pairs_text(const char *s)
{
    struct buf out;
    buf_init(&out, (size_t)-1 / 2);
    int rc = 0;
    size_t i = 0;
    while (!rc && s[i]) {
        bool at_start = i == 0 || strchr("&?; \t\r\n,", s[i - 1]) != NULL;
        size_t n = at_start ? strspn(s + i, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") : 0;
        bool header = n && s[i + n] == ':' && (i == 0 || s[i - 1] == '\n');
        if (n && n < 128 && (s[i + n] == '=' || header)) {
            char key[128];
            memcpy(key, s + i, n);
            key[n] = '\0';
            if (redact_name_sensitive(key)) {
                rc = buf_append(&out, s + i, n + 1);
                if (!rc)
                    rc = buf_puts(&out, header ? " " REDACTED : REDACTED);
                i += n + 1;
                i += header ? strcspn(s + i, "\r\n") : strcspn(s + i, "& \t\r\n;,");
                continue;
            }
        }
        rc = buf_append(&out, s + i, 1);
        i++;
    }
    if (rc) {
        buf_free(&out);
        return NULL;
    }
    return buf_take(&out);
}

char *redact_body_text(const struct redactor *r, const char *s)
{
    char *keyed = redact_keys_text(s);
    char *paired = keyed ? redact_pairs_text(keyed) : NULL;
    char *out = paired ? redact_text(r, paired) : NULL;
    free(keyed);
    free(paired);
    return out;
}
