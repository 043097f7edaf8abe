#include "agent/cli/xml_escape.h"

#include <stddef.h>

#include "base/utf8.h"

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* The length of the valid UTF-8 sequence at p that XML 1.0 allows, or 0:
 * U+FFFE and U+FFFF are not XML characters either. Reading stops at the
 * NUL, which is no continuation byte, so 4 is a safe bound. */
static size_t utf8_ok(const unsigned char *p)
{
    size_t n = tl_utf8_len(p, 4);
    if (n == 3 && p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
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
