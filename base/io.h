/* Whole writes to a file descriptor: the loop every writer of lines needs. */
#ifndef TRIPLINE_IO_H
#define TRIPLINE_IO_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stddef.h>

/* Writes all n bytes, retrying on EINTR and short writes. TL_EIO on any other
 * error, with errno left as write(2) set it. */
int tl_write_all(int fd, const void *p, size_t n);

#endif
