/* Steps of other kinds than HTTP (tcp:, dns:, icmp:): the step and expect
 * key tables grow one key per registered kind, and once a step mapping is
 * walked its kind block goes to the kind module's loader. */
#include "probes/load/load_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "probes/kinds/kind.h"

#define KEYS_MAX 32

static struct yu_key step_table[KEYS_MAX + 1], expect_table[KEYS_MAX + 1];
static const struct yu_key *step_base, *expect_base;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static char kinds_text[128]; /* "request, tcp, dns" for messages */

/* base, then {key, map, no handler} per kind: the walker accepts the key and
 * ld_step_kind reads it once the whole step is known. */
static void table_build(struct yu_key *t, const struct yu_key *base)
{
    size_t n = 0;
    while (base[n].name && n < KEYS_MAX) {
        t[n] = base[n];
        n++;
    }
    for (size_t i = 0; i < kind_count() && n < KEYS_MAX; i++, n++)
        t[n] = (struct yu_key){ kind_at(i)->key, YU_FN_MAP, 0, NULL, 0 };
    t[n] = (struct yu_key){ NULL, 0, 0, NULL, 0 };
}

static void tables_build(void)
{
    table_build(step_table, step_base);
    table_build(expect_table, expect_base);
    size_t off = (size_t)snprintf(kinds_text, sizeof(kinds_text), "request, grpc");
    for (size_t i = 0; i < kind_count() && off < sizeof(kinds_text); i++)
        off += (size_t)snprintf(kinds_text + off, sizeof(kinds_text) - off, ", %s", kind_at(i)->key);
}

void ld_kind_tables(const struct yu_key *step_keys, const struct yu_key *expect_keys,
                    const struct yu_key **step_out, const struct yu_key **expect_out)
{
    step_base = step_keys;
    expect_base = expect_keys;
    pthread_once(&tables_once, tables_build);
    *step_out = step_table;
    *expect_out = expect_table;
}

/* Keys of expect and capture that only an HTTP response can satisfy. */
static int http_only_keys(struct yu *y, yaml_node_t *expect, const struct step *s, const char *kind)
{
    static const char *const http_only[] = {"status", "headers", "issues", "issue_schema", "correlation_id"};
    int bad = 0;
    for (size_t i = 0; expect && i < sizeof(http_only) / sizeof(http_only[0]); i++) {
        yaml_node_t *k = yu_map_key(y, expect, http_only[i]);
        if (k) {
            yu_error(y, k, "expect.%s applies to HTTP responses, not to a %s step", http_only[i], kind);
            bad++;
        }
    }
    for (size_t i = 0; i < s->n_captures; i++) {
        if (s->captures[i].kind == CAPTURE_HEADER) {
            yu_error_at(y, s->captures[i].pos.line, s->captures[i].pos.column,
                        "a header capture needs an HTTP response, not a %s step", kind);
            bad++;
        }
    }
    return bad;
}

/* The one kind of the step (NULL: HTTP) and its key node; a second kind, or
 * a kind beside request, is an error. */
static const struct kind_ops *step_kind_of(struct yu *y, yaml_node_t *item, int *bad)
{
    const struct kind_ops *found = NULL;
    const char *first = yu_map_key(y, item, "request") ? "request" : yu_map_key(y, item, "grpc") ? "grpc" : NULL;
    for (size_t i = 0; i < kind_count(); i++) {
        const struct kind_ops *o = kind_at(i);
        yaml_node_t *k = yu_map_key(y, item, o->key);
        if (!k)
            continue;
        if (first) {
            yu_error(y, k, "a step has exactly one of %s (found both \"%s\" and \"%s\")", kinds_text, first, o->key);
            (*bad)++;
            continue;
        }
        first = o->key;
        found = o;
    }
    return found;
}

/* expect.<kind> on a step of another kind (or on an HTTP step). */
static int foreign_expects(struct yu *y, yaml_node_t *expect, const struct kind_ops *mine)
{
    int bad = 0;
    for (size_t i = 0; expect && i < kind_count(); i++) {
        const struct kind_ops *o = kind_at(i);
        yaml_node_t *k = yu_map_key(y, expect, o->key);
        if (k && o != mine) {
            yu_error(y, k, "expect.%s applies to %s steps, not to a%s %s step", o->key, o->key,
                     mine ? "" : "n", mine ? mine->key : "HTTP");
            bad++;
        }
    }
    return bad;
}

/* Outside a probe file (a kind's own tests) there is no probe whose
 * variables could be checked: the template is only parsed. */
int kind_tpl(struct yu *y, yaml_node_t *n, struct tpl *out)
{
    return ld_tpl(y, n, out);
}

int ld_step_kind(struct yu *y, yaml_node_t *item, struct step *s)
{
    int bad = 0;
    const struct kind_ops *o = step_kind_of(y, item, &bad);
    yaml_node_t *expect = yu_map_get(y, item, "expect");
    if (expect && expect->type != YAML_MAPPING_NODE)
        expect = NULL; /* the walker has said so */
    bad += foreign_expects(y, expect, o);
    if (!o) {
        bool http = yu_map_key(y, item, "request") || yu_map_key(y, item, "grpc");
        if (!bad && !http)
            yu_error(y, item, "missing required key \"request\" (a step has exactly one of %s)", kinds_text);
        return bad || !http ? -1 : 0;
    }
    bad += http_only_keys(y, expect, s, o->key);
    yaml_node_t *block = yu_map_get(y, item, o->key);
    yaml_node_t *exp_block = yu_map_get(y, expect, o->key);
    if (bad || !block || block->type != YAML_MAPPING_NODE)
        return -1;
    size_t mark = yu_path_key(y, o->key);
    int rc = o->load(y, block, exp_block, &s->kind_def);
    yu_path_pop(y, mark);
    if (rc)
        return -1;
    s->kind = o->kind;
    return 0;
}
