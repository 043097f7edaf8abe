/* UTF-8 validation for writers of outside data (logs, reports): a text a
 * machine parses must never carry invalid sequences. */
#ifndef TRIPLINE_UTF8_H
#define TRIPLINE_UTF8_H

#include <stddef.h>

/* The length (1..4) of the valid UTF-8 sequence at p, reading at most n
 * bytes; 0 when it is invalid (overlong, a surrogate, past U+10FFFF, cut). */
size_t tl_utf8_len(const unsigned char *p, size_t n);

#endif
