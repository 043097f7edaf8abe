/* The peer certificate of an HTTPS transfer as facts for on-call: subject,
 * issuer, SANs, validity, the chain the server sent, protocol and cipher.
 * Recorded during the handshake, so a certificate that fails verification
 * still shows what it was. */
#ifndef TRIPLINE_TLS_FACTS_H
#define TRIPLINE_TLS_FACTS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct tls_facts {
    bool present;             /* a server certificate was seen */
    char subject[256];        /* RFC 2253, "CN=api.example.test,O=Example" */
    char issuer[256];
    char sans[512];           /* "DNS:a.example, IP:127.0.0.1"; cut at the size */
    int64_t not_before;       /* unix seconds */
    int64_t not_after;
    int chain_length;         /* certificates the server sent, leaf included */
    char protocol[16];        /* "TLSv1.3" */
    char cipher[64];          /* "TLS_AES_256_GCM_SHA384" */
    char verify_error[128];   /* OpenSSL's reason when verification failed, else "" */
};

/* Arranges for the facts of easy's handshakes to land in *out (the last
 * handshake wins: after a redirect, the final server's). Returns 0, or
 * TL_EINVAL when libcurl's TLS library is not OpenSSL (then no facts
 * are recorded and the transfer goes on). out must outlive the transfer. */
int tls_facts_watch(void *easy, struct tls_facts *out);

/* Whole days from now_s until the certificate's not-after (negative once
 * it has passed). */
int64_t tls_facts_days_left(const struct tls_facts *f, int64_t now_s);

/* {subject, issuer, sans: [...], not_before, not_after, chain_length,
 * protocol, cipher, verify_error?}; NULL when no certificate was seen or
 * out of memory. */
cJSON *tls_facts_json(const struct tls_facts *f);

#endif
