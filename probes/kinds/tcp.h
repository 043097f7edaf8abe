/* The tcp step kind: connect to host:port (optionally TLS on top), then an
 * optional exchange of send and expect lines (a banner check, Redis PING).
 *
 *   tcp: {host: "db.internal", port: 5432, tls: false,
 *         exchange: [{send: "PING\r\n"}, {expect: "+PONG"}]}
 *
 * The exchange runs on the libuv loop (uv_getaddrinfo, uv_tcp_connect,
 * uv_read_start) with TLS through OpenSSL memory BIOs; see tcp_int.h. */
#ifndef TRIPLINE_KIND_TCP_H
#define TRIPLINE_KIND_TCP_H

#include "probes/kinds/kind.h"

extern const struct kind_ops tcp_kind_ops;

#endif
