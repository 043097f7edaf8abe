/* Peer certificate facts (tls_facts.h).
 *
 * Why a verify callback installed through CURLOPT_SSL_CTX_FUNCTION, rather
 * than CURLOPT_CERTINFO or CURLINFO_TLS_SSL_PTR: OpenSSL calls the verify
 * callback during the handshake for every certificate, whether verification
 * passes, fails (expired, self-signed, unknown issuer) or is off (curl sets
 * SSL_VERIFY_NONE then, and OpenSSL still verifies), so the facts of a
 * certificate curl refuses are kept too. CERTINFO is filled only after a
 * handshake that succeeded, and the SSL pointer is gone once curl closes the
 * connection. The callback returns OpenSSL's own verdict unchanged. */
#define _GNU_SOURCE /* timegm */
#include "probes/http/tls_facts.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/err.h"
#include "base/time.h"

/* SSL_CTX slot: where the facts go; SSL slot: this handshake was recorded. */
static int ctx_slot = -1, ssl_slot = -1;

/* Copies s[0..n) with bytes outside printable ASCII shown as '?': a
 * certificate is the server's text, and evidence is read in terminals. */
static void copy_printable(char *out, size_t outlen, const unsigned char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < outlen; i++)
        out[k++] = s[i] >= 0x20 && s[i] < 0x7F ? (char)s[i] : '?';
    out[k] = '\0';
}

static void name_text(const X509_NAME *name, char *out, size_t outlen)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    out[0] = '\0';
    if (!b)
        return;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && data)
            copy_printable(out, outlen, (const unsigned char *)data, (size_t)n);
    }
    BIO_free(b);
}

static void san_append(char *out, size_t outlen, const char *kind, const char *value)
{
    size_t used = strlen(out);
    if (used < outlen)
        snprintf(out + used, outlen - used, "%s%s:%s", used ? ", " : "", kind, value);
}

static void sans_text(X509 *leaf, char *out, size_t outlen)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    out[0] = '\0';
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char v[256];
        if (g->type == GEN_DNS) {
            copy_printable(v, sizeof(v), ASN1_STRING_get0_data(g->d.dNSName),
                           (size_t)ASN1_STRING_length(g->d.dNSName));
            san_append(out, outlen, "DNS", v);
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.iPAddress);
            int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;
            if (af > 0 && inet_ntop(af, ASN1_STRING_get0_data(g->d.iPAddress), v, sizeof(v)))
                san_append(out, outlen, "IP", v);
        }
    }
    GENERAL_NAMES_free(gens);
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

static void record(struct tls_facts *f, SSL *ssl, X509_STORE_CTX *sc, X509 *leaf)
{
    STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(sc);
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    memset(f, 0, sizeof(*f));
    f->present = true;
    name_text(X509_get_subject_name(leaf), f->subject, sizeof(f->subject));
    name_text(X509_get_issuer_name(leaf), f->issuer, sizeof(f->issuer));
    sans_text(leaf, f->sans, sizeof(f->sans));
    f->not_before = asn1_unix(X509_get0_notBefore(leaf));
    f->not_after = asn1_unix(X509_get0_notAfter(leaf));
    f->chain_length = sent ? sk_X509_num(sent) : 1;
    snprintf(f->protocol, sizeof(f->protocol), "%s", SSL_get_version(ssl));
    if (!c)
        c = SSL_get_pending_cipher(ssl);
    snprintf(f->cipher, sizeof(f->cipher), "%s", c ? SSL_CIPHER_get_name(c) : "");
}

static int verify_cb(int ok, X509_STORE_CTX *sc)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(sc, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct tls_facts *f = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_slot) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(sc);
    if (!f || !leaf)
        return ok;
    /* called once per certificate of the chain: the leaf's facts once */
    if (!SSL_get_ex_data(ssl, ssl_slot)) {
        record(f, ssl, sc, leaf);
        SSL_set_ex_data(ssl, ssl_slot, f);
    }
    if (!ok && !f->verify_error[0])
        snprintf(f->verify_error, sizeof(f->verify_error), "%s (depth %d)",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)), X509_STORE_CTX_get_error_depth(sc));
    return ok;
}

/* curl calls this with each connection's fresh SSL_CTX, before SSL_new:
 * the mode curl chose stays, only the callback is ours. */
static CURLcode ctx_cb(CURL *easy, void *ctx, void *arg)
{
    (void)easy;
    SSL_CTX *sctx = ctx;
    if (SSL_CTX_set_ex_data(sctx, ctx_slot, arg) != 1)
        return CURLE_OK; /* no facts, the transfer goes on */
    SSL_CTX_set_verify(sctx, SSL_CTX_get_verify_mode(sctx), verify_cb);
    return CURLE_OK;
}

int tls_facts_watch(void *easy, struct tls_facts *out)
{
    /* the loop thread is the only caller: no race on the slots */
    if (ctx_slot < 0)
        ctx_slot = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    if (ssl_slot < 0)
        ssl_slot = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    if (ctx_slot < 0 || ssl_slot < 0)
        return TL_ENOMEM;
    if (curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, ctx_cb) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, (void *)out) != CURLE_OK)
        return TL_EINVAL;
    return 0;
}

int64_t tls_facts_days_left(const struct tls_facts *f, int64_t now_s)
{
    int64_t d = f->not_after - now_s;
    /* floor: a certificate that expired an hour ago has -1 days left */
    return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}

static void add_time(cJSON *o, const char *key, int64_t s)
{
    char when[TL_ISO8601_LEN];
    if (tl_iso8601(s * 1000000, false, when) == 0)
        cJSON_AddStringToObject(o, key, when);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *sans_json(const char *sans)
{
    cJSON *a = cJSON_CreateArray();
    for (const char *at = sans; a && *at;) {
        const char *end = strstr(at, ", ");
        size_t n = end ? (size_t)(end - at) : strlen(at);
        char one[256];
        snprintf(one, sizeof(one), "%.*s", (int)n, at);
        cJSON_AddItemToArray(a, cJSON_CreateString(one));
        at += n + (end ? 2 : 0);
    }
    return a;
}

cJSON *tls_facts_json(const struct tls_facts *f)
{
    if (!f || !f->present)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "subject", f->subject);
    cJSON_AddStringToObject(o, "issuer", f->issuer);
    cJSON_AddItemToObject(o, "sans", sans_json(f->sans));
    add_time(o, "not_before", f->not_before);
    add_time(o, "not_after", f->not_after);
    cJSON_AddNumberToObject(o, "chain_length", f->chain_length);
    cJSON_AddStringToObject(o, "protocol", f->protocol);
    cJSON_AddStringToObject(o, "cipher", f->cipher);
    if (f->verify_error[0])
        cJSON_AddStringToObject(o, "verify_error", f->verify_error);
    return o;
}
