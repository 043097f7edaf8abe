/* Filters of JSON paths: [?(@.a.b OP literal)] and [?(@.a)] (the RFC 9535
 * form [?@.a > 1] too), compiled at load and tested on each child at
 * evaluation. Comparisons follow RFC 9535: == on numbers, strings, true,
 * false and null of the same type; < <= > >= on two numbers or two strings
 * (code point order), false otherwise; != is the negation of ==; a missing
 * @ path equals nothing. [?(@.a)] tests existence, not truth. */
#include "probes/check/jsonpath.h"

#include "base/err.h"
#include "probes/check/json_exact.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *tok;
    enum jpath_cmp op;
} cmp_ops[] = {
    {"==", JCMP_EQ}, {"!=", JCMP_NE}, {"<=", JCMP_LE}, {">=", JCMP_GE}, {"<", JCMP_LT}, {">", JCMP_GT},
};

static const char *skip_ws(const char *q)
{
    while (*q == ' ' || *q == '\t')
        q++;
    return q;
}

static bool is_word(const char *q, const char *word)
{
    size_t n = strlen(word);
    return strncmp(q, word, n) == 0 && !isalnum((unsigned char)q[n]) && q[n] != '_';
}

/* A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; its end or NULL. */
static const char *number_end(const char *q)
{
    if (*q == '-')
        q++;
    if (!isdigit((unsigned char)*q) || (q[0] == '0' && isdigit((unsigned char)q[1])))
        return NULL;
    while (isdigit((unsigned char)*q))
        q++;
    if (*q == '.') {
        if (!isdigit((unsigned char)*++q))
            return NULL;
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!isdigit((unsigned char)*q))
            return NULL;
        while (isdigit((unsigned char)*q))
            q++;
    }
    return q;
}

/* The literal at *q: a number, 'string' or "string", true, false or null.
 * Returns 0, -1 (not a literal) or TL_ENOMEM. */
static int literal(const char **q, cJSON **out)
{
    const char *s = *q, *end = NULL;
    char *text = NULL;
    if (*s == '"' || *s == '\'') {
        end = jpath_quoted(s, &text);
        *out = end ? cJSON_CreateString(text) : NULL;
        free(text);
    } else if (is_word(s, "true") || is_word(s, "false") || is_word(s, "null")) {
        end = s + (*s == 'f' ? 5 : 4);
        *out = *s == 'n' ? cJSON_CreateNull() : cJSON_CreateBool(*s == 't');
    } else if ((end = number_end(s)) != NULL) {
        *out = cJSON_CreateNumber(strtod(s, NULL));
        if (*out && json_exact_set_int(*out, s, (size_t)(end - s))) {
            cJSON_Delete(*out);
            *out = NULL;
        }
    }
    if (!end)
        return -1;
    if (!*out)
        return TL_ENOMEM;
    *q = end;
    return 0;
}

static int fail_at(const char **q, const char *at, char *err, size_t errlen, const char *msg)
{
    *q = at;
    snprintf(err, errlen, "%s", msg);
    return -1;
}

/* The operator at p (JCMP_EXISTS when none) and its length. */
static enum jpath_cmp cmp_at(const char *p, size_t *len)
{
    *len = 0;
    for (size_t i = 0; i < sizeof(cmp_ops) / sizeof(cmp_ops[0]); i++) {
        if (strncmp(p, cmp_ops[i].tok, strlen(cmp_ops[i].tok)) == 0) {
            *len = strlen(cmp_ops[i].tok);
            return cmp_ops[i].op;
        }
    }
    return JCMP_EXISTS;
}

/* After "@path": an optional "OP literal", then ")" when one was opened. */
static int filter_rest(const char **q, struct jpath_filter *f, bool paren, char *err, size_t errlen)
{
    const char *p = skip_ws(*q);
    size_t oplen = 0;
    f->op = cmp_at(p, &oplen);
    if (oplen) {
        p = skip_ws(p + oplen);
        int rc = literal(&p, &f->value);
        if (rc == TL_ENOMEM)
            return rc;
        if (rc)
            return fail_at(q, p, err, errlen,
                           *p == '@' || *p == '$' ? "compare with a value, not a path"
                                                  : "expected a value (a number, \"string\", true, false or null)");
        p = skip_ws(p);
    }
    if (*p == '&' || *p == '|')
        return fail_at(q, p, err, errlen, "one comparison per filter (&& and || are not supported)");
    if (paren && *p != ')')
        return fail_at(q, p, err, errlen, "expected \")\" to close the filter (operators: == != < <= > >=)");
    if (!paren && *p != ']')
        return fail_at(q, p, err, errlen, "expected \"]\" after the filter (operators: == != < <= > >=)");
    *q = paren ? skip_ws(p + 1) : p;
    return 0;
}

int jpath_filter_compile(const char **q, struct jpath_filter **out, char *err, size_t errlen)
{
    const char *p = skip_ws(*q + 1); /* past the "?" */
    bool paren = *p == '(';
    int rc = 0;
    struct jpath_filter *f = NULL;

    *out = NULL;
    if (paren)
        p = skip_ws(p + 1);
    if (*p != '@') {
        rc = fail_at(q, p, err, errlen, "a filter tests each child as @, like [?(@.status == \"active\")]");
        goto out;
    }
    f = calloc(1, sizeof(*f));
    if (!f) {
        rc = TL_ENOMEM;
        goto out;
    }
    p++;
    rc = jpath_segs_compile(&f->rel, &p, true, err, errlen);
    if (rc == 0)
        rc = filter_rest(&p, f, paren, err, errlen);
    *q = p;
out:
    if (rc == TL_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc)
        jpath_filter_free(f);
    else
        *out = f;
    return rc;
}

void jpath_filter_free(struct jpath_filter *f)
{
    if (!f)
        return;
    jpath_free(&f->rel);
    cJSON_Delete(f->value);
    free(f);
}

static bool same_value(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
        return json_exact_cmp(a, b) == 0;
    if (cJSON_IsString(a) && cJSON_IsString(b))
        return json_exact_equal(a, b);
    return (cJSON_IsBool(a) || cJSON_IsNull(a)) && (a->type & 0xff) == (b->type & 0xff);
}

/* strcmp orders bytes as unsigned: UTF-8 byte order is code point order. */
static bool less_than(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
        return json_exact_cmp(a, b) < 0;
    if (cJSON_IsString(a) && cJSON_IsString(b))
        return strcmp(a->valuestring, b->valuestring) < 0;
    return false;
}

bool jpath_filter_test(const struct jpath_filter *f, const cJSON *node, size_t *work)
{
    const cJSON *v = node;
    for (size_t i = 0; v && i < f->rel.n; i++)
        v = jpath_child(v, &f->rel.segs[i], work);
    if (f->op == JCMP_EXISTS || !v)
        return f->op == JCMP_NE || (f->op == JCMP_EXISTS && v);
    bool eq = same_value(v, f->value);
    switch (f->op) {
    case JCMP_EQ:
        return eq;
    case JCMP_NE:
        return !eq;
    case JCMP_LT:
        return less_than(v, f->value);
    case JCMP_LE:
        return eq || less_than(v, f->value);
    case JCMP_GT:
        return less_than(f->value, v);
    case JCMP_GE:
        return eq || less_than(f->value, v);
    case JCMP_EXISTS:
        break;
    }
    return false;
}
