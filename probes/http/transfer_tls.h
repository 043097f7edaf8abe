/* Inside the transfer engine: the TLS options of one easy handle. */
#ifndef TRIPLINE_TRANSFER_TLS_H
#define TRIPLINE_TRANSFER_TLS_H

#include "probes/http/transfer.h"

/* Sets req's TLS options on easy (a CURL *) and watches its handshakes
 * for the peer certificate's facts; *custom: req set a TLS option of its
 * own (the handle must be reset after). Returns 0, or -1 when curl refused
 * an option. */
int transfer_tls_setup(void *easy, const struct transfer_req *req, struct tls_facts *facts, bool *custom);

#endif
