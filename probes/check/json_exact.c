#include "probes/check/json_exact.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_DIGITS 16 /* 2^53 has 16: below it a double holds every integer */

bool json_exact_int_literal(const char *s, size_t n)
{
    size_t i = n && s[0] == '-';
    if (n - i < EXACT_DIGITS || s[i] == '0')
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int json_exact_set_int(cJSON *v, const char *s, size_t n)
{
    if (!cJSON_IsNumber(v) || !json_exact_int_literal(s, n))
        return 0;
    char *t = strndup(s, n);
    if (!t)
        return TL_ENOMEM;
    free(v->valuestring);
    v->valuestring = t;
    return 0;
}

bool json_exact_has_nul(const cJSON *v)
{
    return v && cJSON_IsString(v) && (v->type & JSON_EXACT_NUL);
}

/* --- walking the text beside the tree ------------------------------------- */

struct walk {
    const char *p, *end;
    int rc; /* TL_ENOMEM, or -1 when text and tree part (they never should) */
};

static void ws(struct walk *w)
{
    /* cJSON skips every byte up to the space as whitespace */
    while (w->p < w->end && (unsigned char)*w->p <= 32)
        w->p++;
}

/* Past the string at w->p; true when it holds "\u0000". */
static bool string_past(struct walk *w)
{
    bool nul = false;
    for (w->p++; w->p < w->end && *w->p != '"'; w->p++) {
        if (*w->p != '\\' || w->p + 1 >= w->end)
            continue;
        if (w->p[1] == 'u' && w->end - w->p >= 6 && memcmp(w->p + 2, "0000", 4) == 0)
            nul = true;
        w->p++; /* the escaped character: never the closing quote */
    }
    if (w->p < w->end)
        w->p++;
    return nul;
}

/* Past the number at w->p, as cJSON reads one (strtod on at most 63 of
 * its characters); its text on v when it is a long integer. */
static void number_past(struct walk *w, cJSON *v)
{
    char tmp[64], *e = NULL;
    size_t n = 0;
    while (n < sizeof(tmp) - 1 && w->p + n < w->end && w->p[n] && strchr("0123456789+-eE.", w->p[n])) {
        tmp[n] = w->p[n];
        n++;
    }
    tmp[n] = '\0';
    (void)strtod(tmp, &e);
    n = (size_t)(e - tmp);
    if (!n) {
        w->rc = -1;
        return;
    }
    int rc = json_exact_set_int(v, w->p, n);
    if (rc)
        w->rc = rc;
    w->p += n;
}

static void walk(struct walk *w, cJSON *v)
{
    ws(w);
    if (w->rc || !v || w->p >= w->end) {
        w->rc = w->rc ? w->rc : -1;
        return;
    }
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        bool obj = cJSON_IsObject(v);
        if (*w->p != (obj ? '{' : '[')) {
            w->rc = -1;
            return;
        }
        w->p++;
        for (cJSON *c = v->child; c && !w->rc; c = c->next) {
            ws(w);
            if (obj) {
                if (w->p >= w->end || *w->p != '"') {
                    w->rc = -1;
                    return;
                }
                string_past(w);
                ws(w);
                if (w->p >= w->end || *w->p != ':') {
                    w->rc = -1;
                    return;
                }
                w->p++;
            }
            walk(w, c);
            ws(w);
            if (w->p < w->end && *w->p == ',')
                w->p++;
        }
        ws(w);
        if (w->p < w->end)
            w->p++; /* the closing bracket */
    } else if (cJSON_IsString(v)) {
        if (*w->p != '"') {
            w->rc = -1;
            return;
        }
        if (string_past(w))
            v->type |= JSON_EXACT_NUL;
    } else if (cJSON_IsNumber(v)) {
        number_past(w, v);
    } else {
        w->p += cJSON_IsFalse(v) ? 5 : 4; /* false; true, null */
    }
}

/* A run of 16 digits or a "\u0000": anything to mark at all. */
static bool worth_a_walk(const char *t, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] >= '0' && t[i] <= '9') {
            if (++run >= EXACT_DIGITS)
                return true;
            continue;
        }
        run = 0;
        if (t[i] == '\\' && len - i >= 6 && t[i + 1] == 'u' && memcmp(t + i + 2, "0000", 4) == 0)
            return true;
    }
    return false;
}

int json_exact_annotate(cJSON *doc, const char *text, size_t len)
{
    if (!doc || !text || !worth_a_walk(text, len))
        return 0;
    struct walk w = {.p = text, .end = text + len};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        w.p += 3; /* cJSON skips a UTF-8 byte order mark */
    walk(&w, doc);
    return w.rc == TL_ENOMEM ? TL_ENOMEM : 0;
}

/* --- comparing -------------------------------------------------------------- */

/* The integer v is, as decimal text: its exact text, or its double when
 * that is a whole number; NULL otherwise. */
static const char *int_text(const cJSON *v, char *buf, size_t len)
{
    if (v->valuestring)
        return v->valuestring;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return NULL;
    snprintf(buf, len, "%.0f", d); /* every digit of the double: exact */
    return buf;
}

static int int_cmp(const char *a, const char *b)
{
    bool na = a[0] == '-', nb = b[0] == '-';
    a += na;
    b += nb;
    na = na && strcmp(a, "0") != 0;
    nb = nb && strcmp(b, "0") != 0;
    if (na != nb)
        return na ? -1 : 1;
    size_t la = strlen(a), lb = strlen(b);
    int m = la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);
    m = (m > 0) - (m < 0);
    return na ? -m : m;
}

int json_exact_cmp(const cJSON *a, const cJSON *b)
{
    char ba[512], bb[512];
    const char *ta = a->valuestring || b->valuestring ? int_text(a, ba, sizeof(ba)) : NULL;
    const char *tb = ta ? int_text(b, bb, sizeof(bb)) : NULL;
    /* a number that is not whole is below 2^52: doubles order it right */
    if (!ta || !tb)
        return (a->valuedouble > b->valuedouble) - (a->valuedouble < b->valuedouble);
    return int_cmp(ta, tb);
}

int json_exact_cmp_double(const cJSON *a, double b)
{
    cJSON n = {.type = cJSON_Number, .valuedouble = b};
    return json_exact_cmp(a, &n);
}

bool json_exact_equal(const cJSON *a, const cJSON *b)
{
    if (!a || !b || (a->type & 0xFF) != (b->type & 0xFF))
        return false;
    const cJSON *x, *y;
    switch (a->type & 0xFF) {
    case cJSON_Number:
        return json_exact_cmp(a, b) == 0;
    case cJSON_String:
    case cJSON_Raw:
        return !json_exact_has_nul(a) && !json_exact_has_nul(b) && a->valuestring && b->valuestring &&
               strcmp(a->valuestring, b->valuestring) == 0;
    case cJSON_Array:
        for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
            if (!json_exact_equal(x, y))
                return false;
        return !x && !y;
    case cJSON_Object:
        cJSON_ArrayForEach(x, a)
        {
            if (!json_exact_equal(x, cJSON_GetObjectItemCaseSensitive(b, x->string)))
                return false;
        }
        cJSON_ArrayForEach(y, b)
        {
            if (!cJSON_GetObjectItemCaseSensitive(a, y->string))
                return false;
        }
        return true;
    default:
        return true; /* false, true, null */
    }
}

/* --- printing ------------------------------------------------------------- */

static bool marked(const cJSON *v)
{
    if ((cJSON_IsNumber(v) && v->valuestring) || json_exact_has_nul(v))
        return true;
    const cJSON *c;
    cJSON_ArrayForEach(c, v)
    {
        if (marked(c))
            return true;
    }
    return false;
}

/* dst, a copy of src, with its marked nodes as raw text. */
static int rewrite(const cJSON *src, cJSON *dst)
{
    if (cJSON_IsNumber(src) && src->valuestring) {
        dst->type = cJSON_Raw; /* cJSON_Duplicate copied the text */
        return dst->valuestring ? 0 : TL_ENOMEM;
    }
    if (json_exact_has_nul(src)) {
        cJSON plain = {.type = cJSON_String, .valuestring = src->valuestring};
        char *q = cJSON_PrintUnformatted(&plain);
        size_t n = q ? strlen(q) : 0;
        char *raw = q ? malloc(n + 10) : NULL;
        if (raw) /* the closing quote goes after the mark */
            snprintf(raw, n + 10, "%.*s\\u0000...\"", (int)(n - 1), q);
        cJSON_free(q);
        if (!raw)
            return TL_ENOMEM;
        free(dst->valuestring);
        dst->valuestring = raw;
        dst->type = cJSON_Raw;
        return 0;
    }
    const cJSON *s = src->child;
    for (cJSON *d = dst->child; s && d; s = s->next, d = d->next)
        if (rewrite(s, d))
            return TL_ENOMEM;
    return 0;
}

char *json_exact_print(const cJSON *v)
{
    if (!v || !marked(v))
        return v ? cJSON_PrintUnformatted(v) : NULL;
    cJSON *copy = cJSON_Duplicate(v, true);
    char *s = copy && rewrite(v, copy) == 0 ? cJSON_PrintUnformatted(copy) : NULL;
    cJSON_Delete(copy);
    return s;
}

void json_exact_double_str(double d, char *out, size_t len)
{
    if (isfinite(d) && d == floor(d) && fabs(d) < 1e21)
        snprintf(out, len, "%.0f", d);
    else
        snprintf(out, len, "%.15g", d);
}
