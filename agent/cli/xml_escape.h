/* Text made safe for an XML 1.0 document: markup characters escaped, and
 * what XML 1.0 forbids (control bytes, invalid UTF-8, surrogates, U+FFFE/F)
 * replaced by U+FFFD, so a hostile response body cannot break the file. */
#ifndef TRIPLINE_XML_ESCAPE_H
#define TRIPLINE_XML_ESCAPE_H

#include <stdbool.h>

#include "base/buf.h"

/* Appends s escaped; attr also escapes quotes and line breaks (attribute
 * values lose raw newlines otherwise). Returns 0 or TL_ETOOBIG. */
int xml_escape(struct buf *b, const char *s, bool attr);

#endif
