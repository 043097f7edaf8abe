/* By-name redaction on text that was not parsed as JSON: bodies too big to
 * parse, plain text, action output. */
#include "probes/redact/redact.h"

#include <stdlib.h>
#include <string.h>

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
