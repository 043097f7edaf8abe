/* A growable byte buffer with a hard cap set at creation (curl's dynbuf idea):
 * growth past the cap is an error, never an allocation. data is always
 * NUL-terminated so text can be read in place. */
#ifndef TRIPLINE_BUF_H
#define TRIPLINE_BUF_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* the most bytes it may hold */
};


void buf_init(struct buf *b, size_t max);
/* Appends n bytes; TL_ETOOBIG when it would pass max (nothing appended). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);
/* Hands the bytes over (NUL-terminated, never NULL) and leaves b empty. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

#endif

#ifndef TRIPLINE_STRV
#define TRIPLINE_STRV
/* A list of owned strings (failure messages, findings). */
struct strv {
    size_t n, cap;
    char **v;
};
void strv_init(struct strv *sv);
int strv_push(struct strv *sv, const char *s);
int strv_pushf(struct strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_free(struct strv *sv);
/* Whether sv holds a string equal to s. */
bool strv_has(const struct strv *sv, const char *s);
/* Pushes s unless sv holds it already: 0, or nonzero out of memory. */
int strv_add(struct strv *sv, const char *s);
#endif
