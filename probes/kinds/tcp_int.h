/* Internals of the tcp kind, shared by its files:
 *   tcp_load.c  the tcp: block and its definition; the judge
 *   tcp.c       one exchange on the loop (resolve, connect, read, write)
 *   tcp_tls.c   TLS over OpenSSL memory BIOs for tcp.c
 * Not a public API. */
#ifndef TRIPLINE_KIND_TCP_INT_H
#define TRIPLINE_KIND_TCP_INT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "probes/kinds/tcp.h"

enum tcp_line_kind { TCP_SEND, TCP_CONTAINS, TCP_MATCHES };

/* One line of the exchange: bytes to send, or bytes to wait for. */
struct tcp_line {
    enum tcp_line_kind kind;
    struct tpl send;            /* TCP_SEND: a template, may render a secret */
    char *text;                 /* TCP_CONTAINS: the substring; TCP_MATCHES: the regex source */
    regex_t re;                 /* TCP_MATCHES */
    bool has_re;
};

struct tcp_def {
    struct tpl host;
    int port;
    bool tls;
    char *server_name;          /* verified name and SNI; NULL: the host */
    char *ca_file;              /* NULL: the system's trust store */
    bool verify;                /* default true */
    size_t n_lines;
    struct tcp_line *lines;
};

int tcp_load(struct yu *y, yaml_node_t *block, yaml_node_t *expect, void **def);
void tcp_free(void *def);
int tcp_judge(const void *def, const struct response *resp, const struct tpl_vars *vars,
              struct check_outcome *co, struct verdict *answer);

/* Where the first len bytes of hay satisfy line l: *end gets the offset just
 * past the match. True when matched. */
bool tcp_line_match(const struct tcp_line *l, const char *hay, size_t len, size_t *end);

/* The facts' "received": the first bytes, printable-escaped, capped. */
#define TCP_RECEIVED_MAX 512
char *tcp_escape(const char *p, size_t n, size_t max);

/* --- TLS (tcp_tls.c) ----------------------------------------------------- */

struct tcp_tls;
/* Why a TLS call failed, for the exchange's classification. */
enum tcp_tls_err { TCP_TLS_OK = 0, TCP_TLS_AGAIN, TCP_TLS_FAIL, TCP_TLS_CA_FILE, TCP_TLS_NOMEM, TCP_TLS_CLOSED };

/* A client session for name (verified unless verify is false; an IP
 * literal is checked as an address). err gets the reason on failure. */
enum tcp_tls_err tcp_tls_new(struct tcp_tls **out, const char *name, const char *ca_file, bool verify,
                             char *err, size_t errlen);
void tcp_tls_free(struct tcp_tls *t);
/* Feeds bytes read from the socket. */
enum tcp_tls_err tcp_tls_feed(struct tcp_tls *t, const char *p, size_t n);
/* Advances the handshake: OK when done, AGAIN when it needs bytes, FAIL
 * with the reason (verification included) in err. */
enum tcp_tls_err tcp_tls_handshake(struct tcp_tls *t, char *err, size_t errlen);
/* Plaintext in: encrypts into the pending output. */
enum tcp_tls_err tcp_tls_write(struct tcp_tls *t, const char *p, size_t n);
/* Plaintext out: appends what can be decrypted now to out (up to max
 * bytes in out); CLOSED when the peer sent close_notify. */
enum tcp_tls_err tcp_tls_read(struct tcp_tls *t, struct buf *out, size_t max, char *err, size_t errlen);
/* Takes the bytes to send to the peer (malloc'd, *n long; NULL when none). */
char *tcp_tls_pending(struct tcp_tls *t, size_t *n);
/* {"protocol": "TLSv1.3", "cipher": "..."} once the handshake is done. */
cJSON *tcp_tls_facts(const struct tcp_tls *t);

#endif
