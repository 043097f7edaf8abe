/* The TLS settings of one transfer: a probe's CA, client certificate,
 * pinned key and minimum version as libcurl options, and the watch that
 * records the peer certificate's facts. */
#include "probes/http/transfer_tls.h"

#include <curl/curl.h>

void transfer_tls_pick(struct transfer_req *req, const struct tls_opts *step, const struct tls_opts *probe)
{
    req->ca_file = step->ca_file ? step->ca_file : probe->ca_file;
    /* certificate and key go together: a step's certificate never takes the probe's key */
    if (step->cert_file) {
        req->cert_file = step->cert_file;
        req->key_file = step->key_file;
    } else {
        req->cert_file = probe->cert_file;
        req->key_file = probe->key_file;
    }
    req->pinned_public_key = step->pinned_public_key ? step->pinned_public_key : probe->pinned_public_key;
    req->tls_min_version = step->min_version ? step->min_version : probe->min_version;
    int verify = step->verify ? step->verify : probe->verify;
    if (verify)
        req->insecure = verify < 0;
}

static long ssl_version(int v)
{
    switch (v) {
    case 10: return CURL_SSLVERSION_TLSv1_0;
    case 11: return CURL_SSLVERSION_TLSv1_1;
    case 12: return CURL_SSLVERSION_TLSv1_2;
    case 13: return CURL_SSLVERSION_TLSv1_3;
    default: break;
    }
    return CURL_SSLVERSION_DEFAULT;
}

/* Every option here is the request's own: the handle that saw one is reset
 * before its next transfer (*custom), decided where the option is set. */
#define TLS_SETOPT(opt, val)                                                   \
    do {                                                                       \
        *custom = true;                                                        \
        rc |= curl_easy_setopt(easy, opt, val) != CURLE_OK;                    \
    } while (0)

int transfer_tls_setup(void *easy, const struct transfer_req *req, struct tls_facts *facts, bool *custom)
{
    int rc = 0;
    /* curl without OpenSSL: the transfer goes on without facts */
    (void)tls_facts_watch(easy, facts);
    *custom = false;
    if (req->ca_file) {
        /* curl keeps one cached CA store: a probe's own bundle must not replace the agent's */
        TLS_SETOPT(CURLOPT_CA_CACHE_TIMEOUT, 0L);
        TLS_SETOPT(CURLOPT_CAINFO, req->ca_file);
    }
    if (req->cert_file)
        TLS_SETOPT(CURLOPT_SSLCERT, req->cert_file);
    if (req->key_file)
        TLS_SETOPT(CURLOPT_SSLKEY, req->key_file);
    if (req->pinned_public_key)
        TLS_SETOPT(CURLOPT_PINNEDPUBLICKEY, req->pinned_public_key);
    if (req->tls_min_version)
        TLS_SETOPT(CURLOPT_SSLVERSION, ssl_version(req->tls_min_version));
    return rc ? -1 : 0;
}
