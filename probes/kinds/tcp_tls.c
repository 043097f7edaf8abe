/* TLS for the tcp kind: an OpenSSL client over two memory BIOs, so the
 * socket stays libuv's and nothing blocks. Bytes read from the socket are
 * fed into rbio; what OpenSSL wants sent is taken from wbio. */
#include "probes/kinds/tcp_int.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tcp_tls {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
};

static void ssl_reason(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char msg[200] = "";
    if (e)
        ERR_error_string_n(e, msg, sizeof(msg));
    ERR_clear_error();
    snprintf(err, errlen, "%s%s%s", what, msg[0] ? ": " : "", msg);
}

static bool is_ip(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* Verification of name: a host name (and SNI), or an IP literal. */
static int set_name(SSL *ssl, const char *name, bool verify)
{
    if (!is_ip(name) && SSL_set_tlsext_host_name(ssl, name) != 1)
        return -1;
    if (!verify)
        return 0;
    X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
    if (is_ip(name))
        return X509_VERIFY_PARAM_set1_ip_asc(p, name) == 1 ? 0 : -1;
    return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

/* A context as a run needs it: verification and its trust store. */
static enum tcp_tls_err ctx_new(SSL_CTX **out, const char *ca_file, bool verify, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return TCP_TLS_NOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            ssl_reason(err, errlen, "the CA file cannot be read");
            SSL_CTX_free(ctx);
            return TCP_TLS_CA_FILE;
        }
    }
    *out = ctx;
    return TCP_TLS_OK;
}

/* Contexts kept across runs: OpenSSL 3 spends most of a handshake's client
 * CPU building one. Keyed by CA file and verify; a CA file is read again when
 * its inode, size or mtime changes. */
#define CTX_CACHE 16
static struct ctx_entry {
    char *ca_file;
    bool verify, used;
    struct stat st;
    SSL_CTX *ctx;
} ctx_cache[CTX_CACHE];
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The cached context (a reference of the caller's) or a new one, cached when there is room. */
static enum tcp_tls_err ctx_get(SSL_CTX **out, const char *ca_file, bool verify, char *err, size_t errlen)
{
    struct stat st = {0};
    if (ca_file && stat(ca_file, &st) != 0)
        return ctx_new(out, ca_file, verify, err, errlen); /* says why */
    pthread_mutex_lock(&ctx_lock);
    struct ctx_entry *e = NULL, *spare = NULL;
    for (size_t i = 0; i < CTX_CACHE && !e; i++) {
        struct ctx_entry *c = &ctx_cache[i];
        if (!c->used)
            spare = spare ? spare : c;
        else if (c->verify == verify && !c->ca_file == !ca_file && (!ca_file || strcmp(c->ca_file, ca_file) == 0))
            e = c;
    }
    if (e && ca_file && !same_file(&e->st, &st)) {
        SSL_CTX_free(e->ctx); /* runs in flight keep their own reference */
        free(e->ca_file);
        memset(e, 0, sizeof(*e));
        spare = e;
        e = NULL;
    }
    enum tcp_tls_err rc = TCP_TLS_OK;
    if (e) {
        SSL_CTX_up_ref(e->ctx);
        *out = e->ctx;
    } else if ((rc = ctx_new(out, ca_file, verify, err, errlen)) == TCP_TLS_OK && spare &&
               (!ca_file || (spare->ca_file = strdup(ca_file)))) {
        *spare = (struct ctx_entry){spare->ca_file, verify, true, st, *out};
        SSL_CTX_up_ref(*out);
    }
    pthread_mutex_unlock(&ctx_lock);
    return rc;
}

enum tcp_tls_err tcp_tls_new(struct tcp_tls **out, const char *name, const char *ca_file, bool verify,
                             char *err, size_t errlen)
{
    enum tcp_tls_err rc = TCP_TLS_NOMEM;
    struct tcp_tls *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if ((rc = ctx_get(&t->ctx, ca_file, verify, err, errlen)) != TCP_TLS_OK)
        goto out;
    rc = TCP_TLS_NOMEM;
    t->ssl = SSL_new(t->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        t->rbio = t->wbio = NULL;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_connect_state(t->ssl);
    if (set_name(t->ssl, name, verify)) {
        snprintf(err, errlen, "the server name cannot be set");
        goto out;
    }
    *out = t;
    t = NULL;
    rc = TCP_TLS_OK;
out:
    tcp_tls_free(t);
    return rc;
}

void tcp_tls_free(struct tcp_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    free(t);
}

enum tcp_tls_err tcp_tls_feed(struct tcp_tls *t, const char *p, size_t n)
{
    return BIO_write(t->rbio, p, (int)n) == (int)n ? TCP_TLS_OK : TCP_TLS_NOMEM;
}

enum tcp_tls_err tcp_tls_handshake(struct tcp_tls *t, char *err, size_t errlen)
{
    int r = SSL_do_handshake(t->ssl);
    if (r == 1)
        return TCP_TLS_OK;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return TCP_TLS_AGAIN;
    long v = SSL_get_verify_result(t->ssl);
    if (v != X509_V_OK) {
        ERR_clear_error();
        snprintf(err, errlen, "certificate verification failed: %s", X509_verify_cert_error_string(v));
    } else {
        ssl_reason(err, errlen, "TLS handshake failed");
    }
    return TCP_TLS_FAIL;
}

enum tcp_tls_err tcp_tls_write(struct tcp_tls *t, const char *p, size_t n)
{
    if (n == 0)
        return TCP_TLS_OK;
    /* memory BIOs grow: a write is taken whole */
    return SSL_write(t->ssl, p, (int)n) == (int)n ? TCP_TLS_OK : TCP_TLS_FAIL;
}

enum tcp_tls_err tcp_tls_read(struct tcp_tls *t, struct buf *out, size_t max, char *err, size_t errlen)
{
    char chunk[16384];
    for (;;) {
        int r = SSL_read(t->ssl, chunk, sizeof(chunk));
        if (r > 0) {
            size_t room = max > out->len ? max - out->len : 0;
            size_t take = (size_t)r < room ? (size_t)r : room;
            if (buf_append(out, chunk, take))
                return TCP_TLS_NOMEM;
            if (take < (size_t)r)
                return TCP_TLS_OK; /* the caller sees the cap */
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return TCP_TLS_OK;
        if (e == SSL_ERROR_ZERO_RETURN)
            return TCP_TLS_CLOSED;
        ssl_reason(err, errlen, "TLS read failed");
        return TCP_TLS_FAIL;
    }
}

char *tcp_tls_pending(struct tcp_tls *t, size_t *n)
{
    size_t len = BIO_ctrl_pending(t->wbio);
    *n = 0;
    if (len == 0)
        return NULL;
    char *p = malloc(len);
    if (!p)
        return NULL;
    int r = BIO_read(t->wbio, p, (int)len);
    if (r <= 0) {
        free(p);
        return NULL;
    }
    *n = (size_t)r;
    return p;
}

cJSON *tcp_tls_facts(const struct tcp_tls *t)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "protocol", SSL_get_version(t->ssl)) ||
        !cJSON_AddStringToObject(o, "cipher", SSL_get_cipher_name(t->ssl))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
