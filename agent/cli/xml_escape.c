#include "agent/cli/xml_escape.h"

#include <stddef.h>
#include <stdint.h>

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* The length of the valid UTF-8 sequence at s that XML 1.0 allows, or 0. */
static size_t utf8_ok(const unsigned char *s)
{
    size_t n;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        cp = s[0] & 0x1Fu;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        cp = s[0] & 0x0Fu;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    /* overlong forms, surrogates, U+FFFE/U+FFFF and past U+10FFFF */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return n;
}

static const char *entity(unsigned char c, bool attr)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;"; /* so "]]>" never appears raw */
    case '"': return attr ? "&quot;" : NULL;
    case '\'': return attr ? "&apos;" : NULL;
    case '\n': return attr ? "&#10;" : NULL;
    case '\r': return "&#13;";
    case '\t': return attr ? "&#9;" : NULL;
    default: return NULL;
    }
}

int xml_escape(struct buf *b, const char *s, bool attr)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    const unsigned char *run = p; /* the start of bytes to copy as they are */
    int rc = 0;
    while (*p && rc == 0) {
        const char *e = entity(*p, attr);
        size_t n = e ? 0 : utf8_ok(p);
        if (n && (*p >= 0x20 || *p == '\n' || *p == '\t')) {
            p += n;
            continue;
        }
        rc = buf_append(b, run, (size_t)(p - run));
        if (rc == 0)
            rc = buf_puts(b, e ? e : REPLACEMENT);
        p++;
        run = p;
    }
    if (rc == 0)
        rc = buf_append(b, run, (size_t)(p - run));
    return rc;
}
