/* Reading a raw DNS answer: every offset is checked against the message's
 * length before it is read, names are expanded by c-ares (which refuses
 * pointer loops and names past the message), and the text form is capped. */
#include "probes/kinds/dns_int.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ares.h>

#define DNS_HEADER 12

struct msg {
    const unsigned char *p;
    size_t len;
    char *err;
    size_t errlen;
};

static unsigned u16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned long u32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

static int bad(struct msg *m, const char *what, size_t off)
{
    snprintf(m->err, m->errlen, "malformed answer: %s at byte %zu of %zu", what, off, m->len);
    return TL_ESYNTAX;
}

/* The name at off, expanded into out (c-ares' string, escaped); *used is
 * its length where it is written. */
static int name_at(struct msg *m, size_t off, char **out, size_t *used)
{
    long enc = 0;
    *out = NULL;
    if (off >= m->len)
        return bad(m, "name past the end", off);
    int st = ares_expand_name(m->p + off, m->p, (int)m->len, out, &enc);
    if (st == ARES_ENOMEM)
        return TL_ENOMEM;
    if (st != ARES_SUCCESS || enc <= 0 || (size_t)enc > m->len - off) {
        ares_free_string(*out);
        *out = NULL;
        return bad(m, "bad name", off);
    }
    *used = (size_t)enc;
    return 0;
}

/* Character strings of TXT joined, non-printable bytes as \DDD so the
 * text stays one line of ASCII. */
static int txt_data(struct msg *m, size_t off, size_t rdlen, struct buf *out)
{
    size_t end = off + rdlen;
    int rc = 0;
    while (rc == 0 && off < end) {
        size_t n = m->p[off++];
        if (n > end - off)
            return bad(m, "TXT string past its record", off);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            unsigned char c = m->p[off + i];
            rc = (c < 0x20 || c >= 0x7f || c == '\\') ? buf_printf(out, "\\%03u", c) : buf_append(out, &c, 1);
        }
        off += n;
    }
    return rc;
}

/* The record data named by a name at off+skip that must end within rdlen. */
static int name_data(struct msg *m, size_t off, size_t skip, size_t rdlen, char **name)
{
    size_t used = 0;
    if (rdlen < skip + 1)
        return bad(m, "record data too short", off);
    int rc = name_at(m, off + skip, name, &used);
    if (rc == 0 && skip + used != rdlen)
        rc = bad(m, "record data length does not match", off);
    return rc;
}

static int soa_data(struct msg *m, size_t off, size_t rdlen, struct buf *out)
{
    char *mname = NULL, *rname = NULL;
    size_t u1 = 0, u2 = 0;
    int rc = name_at(m, off, &mname, &u1);
    if (rc == 0 && u1 >= rdlen)
        rc = bad(m, "SOA data too short", off);
    if (rc == 0)
        rc = name_at(m, off + u1, &rname, &u2);
    if (rc == 0 && u1 + u2 + 20 != rdlen)
        rc = bad(m, "SOA data length does not match", off);
    if (rc == 0) {
        const unsigned char *n = m->p + off + u1 + u2;
        rc = buf_printf(out, "%s %s %lu %lu %lu %lu %lu", mname, rname, u32(n), u32(n + 4), u32(n + 8),
                        u32(n + 12), u32(n + 16));
    }
    ares_free_string(mname);
    ares_free_string(rname);
    return rc;
}

/* Record data in the presentation form of its type; unknown types as
 * RFC 3597's "\# LEN HEX". */
static int rdata_str(struct msg *m, unsigned type, size_t off, size_t rdlen, struct buf *out)
{
    const unsigned char *d = m->p + off;
    char ip[INET6_ADDRSTRLEN], *name = NULL;
    int rc;
    switch (type) {
    case 1:
    case 28:
        if (rdlen != (type == 1 ? 4u : 16u))
            return bad(m, "address of the wrong length", off);
        inet_ntop(type == 1 ? AF_INET : AF_INET6, d, ip, sizeof(ip));
        return buf_puts(out, ip);
    case 2:
    case 5:
    case 12:
        rc = name_data(m, off, 0, rdlen, &name);
        if (rc == 0)
            rc = buf_puts(out, name);
        break;
    case 15:
        rc = name_data(m, off, 2, rdlen, &name);
        if (rc == 0)
            rc = buf_printf(out, "%u %s", u16(d), name);
        break;
    case 33:
        rc = name_data(m, off, 6, rdlen, &name);
        if (rc == 0)
            rc = buf_printf(out, "%u %u %u %s", u16(d), u16(d + 2), u16(d + 4), name);
        break;
    case 16:
        return txt_data(m, off, rdlen, out);
    case 6:
        return soa_data(m, off, rdlen, out);
    default:
        rc = buf_printf(out, "\\# %zu ", rdlen);
        for (size_t i = 0; rc == 0 && i < rdlen; i++)
            rc = buf_printf(out, "%02x", d[i]);
        return rc;
    }
    ares_free_string(name);
    return rc;
}

static const char *type_name(unsigned type, char *buf, size_t len)
{
    static const struct {
        unsigned v;
        const char *s;
    } names[] = {{1, "A"}, {2, "NS"}, {5, "CNAME"}, {6, "SOA"}, {12, "PTR"},
                 {15, "MX"}, {16, "TXT"}, {28, "AAAA"}, {33, "SRV"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].v == type)
            return names[i].s;
    snprintf(buf, len, "TYPE%u", type);
    return buf;
}

/* One resource record at *off: appended to answers and as a line to text. */
static int rr_read(struct msg *m, size_t *off, cJSON *answers, struct buf *text)
{
    char *owner = NULL, tn[16];
    size_t used = 0;
    struct buf data;
    buf_init(&data, 1u << 18);
    int rc = name_at(m, *off, &owner, &used);
    if (rc)
        goto out;
    size_t p = *off + used;
    if (m->len - p < 10) {
        rc = bad(m, "record header past the end", p);
        goto out;
    }
    unsigned type = u16(m->p + p);
    unsigned long ttl = u32(m->p + p + 4);
    size_t rdlen = u16(m->p + p + 8);
    p += 10;
    if (m->len - p < rdlen) {
        rc = bad(m, "record data past the end", p);
        goto out;
    }
    rc = rdata_str(m, type, p, rdlen, &data);
    if (rc)
        goto out;
    const char *ts = type_name(type, tn, sizeof(tn));
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(answers, o) || !cJSON_AddStringToObject(o, "name", owner) ||
        !cJSON_AddStringToObject(o, "type", ts) || !cJSON_AddNumberToObject(o, "ttl", (double)ttl) ||
        !cJSON_AddStringToObject(o, "data", data.data ? data.data : "")) {
        rc = TL_ENOMEM;
        goto out;
    }
    rc = buf_printf(text, "%s. %lu IN %s %s\n", owner, ttl, ts, data.data ? data.data : "");
    *off = p + rdlen;
out:
    ares_free_string(owner);
    buf_free(&data);
    return rc;
}

int dns_answer_read(const unsigned char *msg, size_t len, struct dns_answer *a, struct buf *text,
                    char *err, size_t errlen)
{
    struct msg m = {msg, len, err, errlen};
    a->answers = cJSON_CreateArray();
    if (!a->answers)
        return TL_ENOMEM;
    if (len < DNS_HEADER)
        return bad(&m, "shorter than a header", len);
    if (!(msg[2] & 0x80))
        return bad(&m, "not a response", 2);
    a->rcode = msg[3] & 0x0f;
    snprintf(a->flags, sizeof(a->flags), "%s%s%s%s", msg[2] & 0x04 ? "aa " : "", msg[2] & 0x02 ? "tc " : "",
             msg[2] & 0x01 ? "rd " : "", msg[3] & 0x80 ? "ra " : "");
    size_t fl = strlen(a->flags);
    if (fl)
        a->flags[fl - 1] = '\0';
    unsigned qd = u16(msg + 4), an = u16(msg + 6);
    size_t off = DNS_HEADER;
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < qd; i++) {
        char *q = NULL;
        size_t used = 0;
        rc = name_at(&m, off, &q, &used);
        ares_free_string(q);
        if (rc == 0 && len - off - used < 4)
            rc = bad(&m, "question past the end", off);
        off += used + 4;
    }
    for (unsigned i = 0; rc == 0 && i < an; i++)
        rc = rr_read(&m, &off, a->answers, text);
    return rc;
}
