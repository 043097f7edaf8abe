/* Internals of the DNS step kind, shared by its files:
 *   dns.c         the exchange: c-ares on the run's loop, the ops table
 *   dns_load.c    the `dns:` block and `expect.dns`
 *   dns_answer.c  bounded reading of a raw answer into facts and text
 *   dns_judge.c   expect.dns against the facts
 * Not a public API: the journey reaches the kind through dns_kind_ops. */
#ifndef TRIPLINE_DNS_INT_H
#define TRIPLINE_DNS_INT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "probes/kinds/kind.h"

/* The record types a step may ask for, in the order of their names. */
enum dns_qtype { DNS_A, DNS_AAAA, DNS_CNAME, DNS_MX, DNS_TXT, DNS_SRV, DNS_NS, DNS_QTYPE_COUNT };

enum dns_match { DNS_MATCH_NONE, DNS_MATCH_CONTAINS, DNS_MATCH_EQUALS, DNS_MATCH_MATCHES };

/* One `dns:` step and its `expect.dns`, as loaded. */
struct dns_def {
    struct tpl name;
    enum dns_qtype type;        /* default A */
    char *server;               /* "127.0.0.1:5353", "[::1]:53"; NULL: /etc/resolv.conf */
    bool tcp;                   /* transport: tcp (else UDP, TCP on truncation) */
    int rcode;                  /* expected; default 0 (NOERROR) */
    long min_answers;           /* answers of the asked type; -1 at load: 1 for NOERROR, else 0 */
    enum dns_match op;
    struct tpl contains;        /* DNS_MATCH_CONTAINS */
    size_t n_equals;
    struct tpl *equals;         /* DNS_MATCH_EQUALS: the set of answers */
    regex_t re;                 /* DNS_MATCH_MATCHES: every answer matches */
    char *re_src;
    long ttl_min, ttl_max;      /* seconds; -1 = no bound */
};

/* "A" ... for a step's type; the wire value of the type. */
const char *dns_qtype_str(enum dns_qtype t);
int dns_qtype_wire(enum dns_qtype t);
/* "NOERROR", "SERVFAIL", ...; "RCODE12" style outside the named ones
 * (written into buf). */
const char *dns_rcode_str(int rcode, char *buf, size_t len);
/* The rcode named s, or -1. */
int dns_rcode_parse(const char *s);
extern const char *const dns_rcode_names[];
extern const size_t dns_rcode_count;

int dns_def_load(struct yu *y, yaml_node_t *block, yaml_node_t *expect, void **def);
void dns_def_free(void *def);

/* What one answer message says. */
struct dns_answer {
    int rcode;
    char flags[16];             /* the header flags set, as dig shows them: "aa rd ra" */
    cJSON *answers;             /* [{"name","type","ttl","data"}], the answer section */
};

/* Reads the raw message msg[0..len) into a (answers created here) and its
 * answer section as zone-file lines into text (capped by text's max).
 * Returns 0, TL_ESYNTAX with the reason in err (a malformed message),
 * TL_ETOOBIG (text over its cap) or TL_ENOMEM. a->answers is set whenever
 * it was created, also on failure (the caller frees it). */
int dns_answer_read(const unsigned char *msg, size_t len, struct dns_answer *a, struct buf *text,
                    char *err, size_t errlen);

int dns_judge(const void *def, const struct response *resp, const struct tpl_vars *vars,
              struct check_outcome *co, struct verdict *answer);

#endif
