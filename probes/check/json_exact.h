/* What cJSON rounds or cuts, kept exact for the checks. cJSON holds every
 * number as a double (9007199254740993, 2^53 + 1, becomes 2^53) and every
 * string as a C string (a "\u0000" in it ends it). After a body is parsed,
 * json_exact_annotate() walks its text beside the tree and marks:
 *  - an integer written with 16 digits or more: its decimal text goes in the
 *    node's valuestring (unused by cJSON for numbers, freed and copied by it);
 *  - a string holding U+0000: JSON_EXACT_NUL in its type. Its valuestring is
 *    the text before the U+0000 only, so it equals nothing and is not
 *    matched or measured as text (the checks say why).
 * The same text goes on an integer of the probe file (yu_to_json) and of a
 * filter literal, so both sides of a comparison are exact. */
#ifndef TRIPLINE_JSON_EXACT_H
#define TRIPLINE_JSON_EXACT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/err.h" /* returns 0 or a TL_E* code */

#define JSON_EXACT_NUL (1 << 12) /* a type bit cJSON leaves alone */

/* s (n bytes) is an integer as JSON writes it with 16 digits or more: its
 * double may not be it. */
bool json_exact_int_literal(const char *s, size_t n);
/* Puts s (n bytes) as v's exact text when json_exact_int_literal(). 0 or TL_ENOMEM. */
int json_exact_set_int(cJSON *v, const char *s, size_t n);

/* Marks doc, parsed by cJSON from text (len bytes). Cheap when the text
 * holds neither a run of 16 digits nor "\u0000". 0 or TL_ENOMEM (then
 * doc is as cJSON left it, and no worse). */
int json_exact_annotate(cJSON *doc, const char *text, size_t len);

/* v is a string holding U+0000. */
bool json_exact_has_nul(const cJSON *v);

/* Equality as JSON means it: numbers by value (exactly, beyond 2^53 too),
 * strings by every character, objects by members whatever their order. */
bool json_exact_equal(const cJSON *a, const cJSON *b);
/* -1, 0, 1 as a is less than, equal to or greater than b (numbers). */
int json_exact_cmp(const cJSON *a, const cJSON *b);
int json_exact_cmp_double(const cJSON *a, double b);

/* Compact JSON text of v with its exact integers and "\u0000..." where a
 * string was cut; free with cJSON_free. NULL when out of memory. */
char *json_exact_print(const cJSON *v);
/* A double as the probe file would write it: integers in full (no
 * exponent), others with %.15g. */
void json_exact_double_str(double d, char *out, size_t len);

#endif
