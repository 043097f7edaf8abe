/* Streamed bodies of the HTTP endpoint (http_route_stream in http.h): one
 * producer per response, read by MHD a slice at a time. Internal to
 * agent/endpoint/: http.c opens the producer and queues the response. */
#ifndef TRIPLINE_HTTP_STREAM_H
#define TRIPLINE_HTTP_STREAM_H

#include <stdbool.h>

#include "agent/endpoint/http.h"

struct MHD_Response;
struct logger;
struct http_stream;

/* A chunked response whose body next_fn produces from stream. It owns
 * stream: close_fn runs once, when MHD lets the response go (end of body,
 * client gone, server stopped) or here when the response cannot be made
 * (then NULL). Linked into *list while it lives. */
struct MHD_Response *http_stream_response(struct http_stream **list, struct logger *log,
                                          http_stream_next_fn next_fn, http_stream_close_fn close_fn,
                                          void *stream);

/* Whether MHD can go on sending without producing: every stream of list has
 * bytes of its current slice left (false for an empty list). */
bool http_stream_buffered(const struct http_stream *list);

#endif
