/* UTF-8 validation for writers of outside data (logs, reports): a text a
 * machine parses must never carry invalid sequences. */
#ifndef TRIPLINE_UTF8_H
#define TRIPLINE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length (1..4) of the valid UTF-8 sequence at p, reading at most n
 * bytes; 0 when it is invalid (overlong, a surrogate, past U+10FFFF, cut). */
size_t tl_utf8_len(const unsigned char *p, size_t n);

/* Whether s (up to its NUL) is valid UTF-8 throughout. */
bool tl_utf8_valid(const char *s);

/* A copy of s with every invalid byte replaced by U+FFFD (a text cut inside
 * a character ends in one); NULL when out of memory. The caller frees it. */
char *tl_utf8_clean(const char *s);

#endif
