/* The nesting-depth pre-scan: one pass over the bytes, no allocation. Block
 * nesting is an indentation stack (as Python tokenizes) plus the "- ", "? "
 * and "key: " indicators of each line; flow nesting is bracket counting. */
#include "probes/yaml/yaml_depth.h"

#include <stdbool.h>

#include "base/err.h"

#define STACK_MAX 256

struct scan {
    const char *d;
    size_t len, i;
    int line, col;     /* of d[i], 1-based */
    int limit;
    int stack[STACK_MAX]; /* indentation columns of the open block levels */
    int n;
    int flow;          /* open [ and { */
    int extra;         /* levels opened by indicators on this line */
    int scalar_parent; /* inside a block scalar: its line's indentation, else -1 */
    char prev;         /* last significant byte on this line, 0 at its start */
};

static void advance(struct scan *s)
{
    if (s->d[s->i] == '\n') {
        s->line++;
        s->col = 1;
    } else {
        s->col++;
    }
    s->i++;
}

static bool at_end(const struct scan *s)
{
    return s->i >= s->len;
}

static char peek(const struct scan *s, size_t ahead)
{
    return s->i + ahead < s->len ? s->d[s->i + ahead] : '\0';
}

static bool blank_at(const struct scan *s, size_t ahead)
{
    char c = peek(s, ahead);
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

static bool too_deep(const struct scan *s)
{
    return s->n + s->extra + s->flow > s->limit;
}

/* A quoted scalar, possibly over several lines: skipped whole. */
static void skip_quoted(struct scan *s)
{
    char q = s->d[s->i];
    advance(s);
    while (!at_end(s)) {
        char c = s->d[s->i];
        if (q == '"' && c == '\\' && s->i + 1 < s->len) {
            advance(s);
        } else if (c == q) {
            if (q == '\'' && peek(s, 1) == '\'') {
                advance(s);
            } else {
                advance(s);
                return;
            }
        }
        advance(s);
    }
}

static void skip_line(struct scan *s)
{
    while (!at_end(s) && s->d[s->i] != '\n')
        advance(s);
}

/* "|" or ">" with optional chomping/indentation indicators, then only
 * blanks or a comment up to the end of the line. */
static bool block_scalar_header(const struct scan *s)
{
    size_t k = 1;
    while (peek(s, k) == '-' || peek(s, k) == '+' || (peek(s, k) >= '0' && peek(s, k) <= '9'))
        k++;
    while (peek(s, k) == ' ' || peek(s, k) == '\t')
        k++;
    char c = peek(s, k);
    return c == '\n' || c == '\r' || c == '#' || c == '\0';
}

/* Indentation of the line starting at s->i; the stack follows it in block
 * context. Returns false when the line holds nothing to scan. */
static bool line_start(struct scan *s, int *indent)
{
    int c = 0;
    while (peek(s, 0) == ' ') {
        advance(s);
        c++;
    }
    *indent = c;
    char ch = peek(s, 0);
    if (ch == '\n' || ch == '\r' || ch == '#' || ch == '\0')
        return false;
    if (s->scalar_parent >= 0 && c > s->scalar_parent)
        return false;
    s->scalar_parent = -1;
    if (s->flow == 0) {
        while (s->n > 0 && s->stack[s->n - 1] > c)
            s->n--;
        if ((s->n == 0 || s->stack[s->n - 1] < c) && s->n < STACK_MAX)
            s->stack[s->n++] = c;
    }
    return true;
}

/* One byte of a line's content; the scan has moved past it on return. */
static void content_byte(struct scan *s, int indent)
{
    char c = s->d[s->i];
    bool value_pos = s->prev == 0 || s->prev == '[' || s->prev == '{' || s->prev == ',' ||
                     s->prev == ':' || s->prev == '-' || s->prev == '?';
    if ((c == '"' || c == '\'') && value_pos) {
        skip_quoted(s);
        s->prev = c;
        return;
    }
    if (c == '#' && (s->prev == 0 || s->d[s->i - 1] == ' ' || s->d[s->i - 1] == '\t')) {
        skip_line(s);
        return;
    }
    if (s->flow == 0 && (c == '-' || c == '?' || c == ':') && blank_at(s, 1) &&
        (c == ':' || s->prev == 0 || s->prev == '-' || s->prev == '?'))
        s->extra++;
    else if (c == '[' || c == '{')
        s->flow++;
    else if ((c == ']' || c == '}') && s->flow > 0)
        s->flow--;
    else if (s->flow == 0 && (c == '|' || c == '>') && value_pos && block_scalar_header(s))
        s->scalar_parent = indent;
    if (c != ' ' && c != '\t' && c != '\r')
        s->prev = c;
    advance(s);
}

/* What content_byte does with a byte: special ones may open or close a
 * level, start a quoted scalar, comment or block scalar, or end the line;
 * blanks leave `prev` alone; every other byte only becomes `prev`. */
enum { BYTE_PLAIN, BYTE_BLANK, BYTE_SPECIAL };
static const unsigned char BYTE_CLASS[256] = {
    ['"'] = BYTE_SPECIAL, ['\''] = BYTE_SPECIAL, ['#'] = BYTE_SPECIAL, ['-'] = BYTE_SPECIAL,
    ['?'] = BYTE_SPECIAL, [':'] = BYTE_SPECIAL, ['['] = BYTE_SPECIAL, [']'] = BYTE_SPECIAL,
    ['{'] = BYTE_SPECIAL, ['}'] = BYTE_SPECIAL, ['|'] = BYTE_SPECIAL, ['>'] = BYTE_SPECIAL,
    ['\n'] = BYTE_SPECIAL, [' '] = BYTE_BLANK, ['\t'] = BYTE_BLANK, ['\r'] = BYTE_BLANK,
};

int yaml_depth_scan(const char *data, size_t len, int limit, int *line, int *col)
{
    struct scan s = {.d = data, .len = data ? len : 0, .line = 1, .col = 1, .limit = limit,
                     .scalar_parent = -1};
    int rc = 0;

    while (!at_end(&s) && rc == 0) {
        int indent;
        s.extra = 0;
        s.prev = 0;
        int l = s.line;
        if (!line_start(&s, &indent)) {
            skip_line(&s);
        } else if (too_deep(&s)) {
            s.line = l;
            rc = TL_ETOOBIG;
        } else {
            while (!at_end(&s) && s.d[s.i] != '\n' && rc == 0) {
                /* Most bytes open nothing: what content_byte does for them,
                 * without its tests (10,000 probes: 63M -> 25M instructions). */
                unsigned char c = (unsigned char)s.d[s.i];
                if (BYTE_CLASS[c] != BYTE_SPECIAL) {
                    if (BYTE_CLASS[c] == BYTE_PLAIN)
                        s.prev = (char)c;
                    s.i++;
                    s.col++;
                    continue;
                }
                int bl = s.line, bc = s.col;
                content_byte(&s, indent);
                if (too_deep(&s)) {
                    s.line = bl;
                    s.col = bc;
                    rc = TL_ETOOBIG;
                }
            }
        }
        if (rc == 0 && !at_end(&s))
            advance(&s); /* the newline */
    }
    if (line)
        *line = s.line;
    if (col)
        *col = s.col;
    return rc;
}
