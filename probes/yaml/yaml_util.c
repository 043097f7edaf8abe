#include "probes/yaml/yaml_util.h"
#include "probes/yaml/yaml_alias.h"
#include "probes/yaml/yaml_depth.h"
#include "base/hash.h"
#include "probes/check/json_exact.h"

#include "base/err.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

/* Deeply nested or alias-multiplied documents ("billion laughs") must not
 * blow the stack or the clock: every recursive walk is capped. */
#define YU_DEPTH_MAX 64
#define YU_VISIT_MAX 200000

/* --- errors -------------------------------------------------------------- */

static void yu_verror(struct yu *y, int line, int column, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    y->n_errors++;
    if (!y->errors)
        return;
    const char *path = yu_path(y);
    const char *sep = *path ? ": " : "";
    if (line > 0)
        strv_pushf(y->errors, "%s:%d:%d: %s%s%s", y->file, line, column, path, sep, msg);
    else
        strv_pushf(y->errors, "%s: %s%s%s", y->file, path, sep, msg);
}

void yu_error(struct yu *y, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int line = node ? (int)node->start_mark.line + 1 : 0;
    int col = node ? (int)node->start_mark.column + 1 : 0;
    yu_verror(y, line, col, fmt, ap);
    va_end(ap);
}

void yu_error_at(struct yu *y, int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    yu_verror(y, line, column, fmt, ap);
    va_end(ap);
}

/* Line and column of an error line "file:L:C: ..."; 0 when it has none. */
static void error_pos(const char *e, size_t flen, long *line, long *col)
{
    *line = 0;
    *col = 0;
    const char *p = e + flen;
    if (*p != ':')
        return;
    char *end = NULL;
    long l = strtol(p + 1, &end, 10);
    if (end == p + 1 || *end != ':')
        return;
    const char *q = end;
    long c = strtol(q + 1, &end, 10);
    if (end == q + 1 || *end != ':')
        return;
    *line = l;
    *col = c;
}

void yu_sort_errors(struct strv *errors, size_t from, const char *file)
{
    size_t flen = strlen(file);
    /* Insertion sort: stable, and a file rarely has more than a few errors. */
    for (size_t i = from + 1; i < errors->n; i++) {
        char *cur = errors->v[i];
        long l, c;
        error_pos(cur, flen, &l, &c);
        size_t j = i;
        while (j > from) {
            long pl, pc;
            error_pos(errors->v[j - 1], flen, &pl, &pc);
            if (pl < l || (pl == l && pc <= c))
                break;
            errors->v[j] = errors->v[j - 1];
            j--;
        }
        errors->v[j] = cur;
    }
}

/* --- reading a file -------------------------------------------------------- */

static void hex_sha256(const unsigned char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        return;
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mdlen && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* Line and column (1-based) of a byte offset, for reader errors where
 * libyaml only knows the offset. */
static void offset_pos(const char *data, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (data[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* A hint for the syntax errors newcomers hit most: a tab in indentation,
 * and a plain JSONPath such as $.items[0] inside { } or [ ], where its
 * brackets end the scalar. Empty when none applies. */
static void yaml_syntax_hint(const yaml_parser_t *p, const char *data, size_t len, char *out, size_t n)
{
    size_t at = p->problem_mark.index, from, to;
    const char *problem = p->problem ? p->problem : "";
    out[0] = '\0';
    if (!data || at > len)
        return;
    if (strstr(problem, "tab") || (at < len && data[at] == '\t')) {
        snprintf(out, n, "; hint: YAML indents with spaces only, replace the tab with spaces");
        return;
    }
    if (!p->context || !strstr(p->context, "flow"))
        return;
    from = at;
    while (from > 0 && !strchr(" \t{[,:\n", data[from - 1]))
        from--;
    if (from >= len || data[from] != '$')
        return;
    int depth = 0;
    for (to = from; to < len && data[to] != '\n'; to++) {
        if (data[to] == '[')
            depth++;
        else if (data[to] == ']' && depth-- == 0)
            break;
        else if ((data[to] == ',' || data[to] == '}') && depth <= 0)
            break;
    }
    snprintf(out, n, "; hint: quote a JSONPath inside { } or [ ]: \"%.*s\"", (int)(to - from), data + from);
}

static void yaml_problem(struct yu *y, yaml_parser_t *p, const char *data, size_t len)
{
    int line = (int)p->problem_mark.line + 1;
    int col = (int)p->problem_mark.column + 1;
    char hint[160];
    if (p->error == YAML_READER_ERROR)
        offset_pos(data, len, p->problem_offset, &line, &col);
    const char *problem = p->problem ? p->problem : "parse error";
    yaml_syntax_hint(p, data, len, hint, sizeof hint);
    if (p->context)
        yu_error_at(y, line, col, "not valid YAML: %s (%s at line %d, column %d)%s", problem,
                    p->context, (int)p->context_mark.line + 1, (int)p->context_mark.column + 1, hint);
    else
        yu_error_at(y, line, col, "not valid YAML: %s%s", problem, hint);
}

/* A scalar where a mapping is expected: for the keys whose mapping has an
 * obvious main field, the mapping the user most likely meant. */
void yu_map_hint(const char *key, const yaml_node_t *v, char *out, size_t n)
{
    static const char *const mains[][2] = { { "schedule", "every" }, { "budget", "total" } };
    out[0] = '\0';
    if (!key || v->type != YAML_SCALAR_NODE || yu_is_null(v))
        return;
    for (size_t i = 0; i < sizeof mains / sizeof mains[0]; i++)
        if (strcmp(key, mains[i][0]) == 0)
            snprintf(out, n, " (did you mean %s: {%s: %.40s}?)", key, mains[i][1], yu_str(v));
}

/* Reads the rest of f into b; TL_ETOOBIG when it outgrows b's cap (the file
 * grew after stat), TL_EIO on a read error. */
static int read_all(FILE *f, struct buf *b)
{
    char chunk[65536];
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n == 0)
            break;
        if (buf_append(b, chunk, n))
            return TL_ETOOBIG;
    }
    return ferror(f) ? TL_EIO : 0;
}

/* Parses the one document of b into y->doc: not YAML, empty and a second
 * document are errors (TL_EINVAL). */
static int parse_one(struct yu *y, const struct buf *b)
{
    int rc = 0;
    yaml_parser_t parser;
    yaml_document_t extra;
    if (!yaml_parser_initialize(&parser)) {
        yu_error_at(y, 0, 0, "out of memory");
        return TL_EINVAL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(b->data ? b->data : ""), b->len);
    if (!yaml_parser_load(&parser, &y->doc)) {
        yaml_problem(y, &parser, b->data, b->len);
        rc = TL_EINVAL;
        goto out;
    }
    y->has_doc = true;
    if (!yaml_document_get_root_node(&y->doc)) {
        yu_error_at(y, 1, 1, "empty file (expected %s)", y->what ? y->what : "a YAML document");
        rc = TL_EINVAL;
        goto out;
    }
    /* One document per file: a second one would be silently ignored. */
    if (!yaml_parser_load(&parser, &extra)) {
        yaml_problem(y, &parser, b->data, b->len);
        rc = TL_EINVAL;
        goto out;
    }
    yaml_node_t *extra_root = yaml_document_get_root_node(&extra);
    if (extra_root)
        yu_error(y, extra_root, "a second YAML document (expected one document per file; put several probes in one list)");
    rc = extra_root ? TL_EINVAL : 0;
    yaml_document_delete(&extra);
out:
    yaml_parser_delete(&parser);
    return rc;
}

/* Refuses a file nested deeper than YU_DEPTH_MAX before libyaml, whose
 * scanner is quadratic in the depth, spends seconds on it. */
static int check_depth(struct yu *y, const struct buf *b)
{
    int line = 0, col = 0;
    if (yaml_depth_scan(b->data, b->len, YU_DEPTH_MAX, &line, &col) == 0)
        return 0;
    yu_error_at(y, line, col, "nested deeper than %d levels; refused before parsing", YU_DEPTH_MAX);
    return TL_EINVAL;
}

/* Refuses a document that aliases multiply past YAML_ALIAS_EXTRA_MAX nodes:
 * every walk of the loader would build it again for each use. */
static int check_aliases(struct yu *y)
{
    yaml_node_t *at = NULL;
    int rc = yaml_alias_check(&y->doc, 2 * YU_DEPTH_MAX, &at);
    if (rc == TL_ENOMEM)
        yu_error_at(y, 0, 0, "out of memory");
    else if (rc)
        yu_error(y, at, "aliases repeat values past %d nodes (or use a value inside itself); refused",
                 YAML_ALIAS_EXTRA_MAX);
    return rc ? TL_EINVAL : 0;
}

/* fopen(file, "rb") that does not wait in open() for a named pipe's writer:
 * a pipe without one reads as empty, one with a writer is read whole. */
static FILE *open_nonblocking(const char *file)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

int yu_load(struct yu *y, const char *file, size_t max, char hash[65])
{
    int rc = 0;
    struct buf b;
    FILE *f = NULL;

    buf_init(&b, max);
    y->file = file;
    if (hash)
        hash[0] = '\0';
    struct stat st;
    if (stat(file, &st) != 0) {
        yu_error_at(y, 0, 0, "cannot read: %s", strerror(errno));
        rc = TL_EIO;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        yu_error_at(y, 0, 0, "cannot read: is a directory");
        rc = TL_EIO;
        goto out;
    }
    /* Refused before a byte is read: a huge file is a mistake, not input. */
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > (uintmax_t)max) {
        yu_error_at(y, 0, 0, "file is %jd bytes, over the limit of %zu bytes; refused unread",
                    (intmax_t)st.st_size, max);
        rc = TL_EINVAL;
        goto out;
    }
    f = open_nonblocking(file);
    if (!f) {
        yu_error_at(y, 0, 0, "cannot read: %s", strerror(errno));
        rc = TL_EIO;
        goto out;
    }
    rc = read_all(f, &b);
    if (rc == TL_ETOOBIG) {
        yu_error_at(y, 0, 0, "file is over the limit of %zu bytes; refused", max);
        goto out;
    }
    if (rc == TL_EIO) {
        yu_error_at(y, 0, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (hash)
        hex_sha256((const unsigned char *)(b.data ? b.data : ""), b.len, hash);

    rc = check_depth(y, &b);
    if (rc == 0)
        rc = parse_one(y, &b);
    if (rc == 0)
        rc = check_aliases(y);
out:
    if (f)
        fclose(f);
    buf_free(&b);
    return rc;
}

void yu_free(struct yu *y)
{
    if (y && y->has_doc) {
        yaml_document_delete(&y->doc);
        y->has_doc = false;
    }
}

yaml_node_t *yu_root(struct yu *y)
{
    return y->has_doc ? yaml_document_get_root_node(&y->doc) : NULL;
}

yaml_node_t *yu_node(struct yu *y, int index)
{
    return yaml_document_get_node(&y->doc, index);
}

/* --- scalars ------------------------------------------------------------- */

const char *yu_str(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

bool yu_is_plain(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool yu_is_null(const yaml_node_t *n)
{
    if (!yu_is_plain(n))
        return false;
    const char *s = yu_str(n);
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static int plain_bool(const char *s)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return 1;
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return 0;
    return -1;
}

static bool plain_int(const char *s, long *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool plain_num(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q) && *q != '.' && *q != 'e' && *q != 'E' && *q != '-' && *q != '+')
            return false;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

const char *yu_type_name(const yaml_node_t *n)
{
    if (!n)
        return "nothing";
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a sequence";
    case YAML_SCALAR_NODE: break;
    default: return "nothing";
    }
    if (!yu_is_plain(n))
        return "a string";
    if (yu_is_null(n))
        return "null";
    const char *s = yu_str(n);
    double d;
    if (plain_bool(s) >= 0)
        return "a boolean";
    if (plain_num(s, &d))
        return "a number";
    return "a string";
}

/* A scalar quoted for a message, cut so hostile input cannot flood logs. */
static const char *shown(const yaml_node_t *n, char *tmp, size_t len)
{
    if (!n || n->type != YAML_SCALAR_NODE) {
        snprintf(tmp, len, "%s", yu_type_name(n));
        return tmp;
    }
    const char *s = yu_str(n);
    if (strlen(s) > 60) {
        int cut = 57; /* not inside a UTF-8 character */
        while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
            cut--;
        snprintf(tmp, len, "\"%.*s...\"", cut, s);
    } else
        snprintf(tmp, len, "\"%s\"", s);
    return tmp;
}

int yu_get_str(struct yu *y, yaml_node_t *n, char **out)
{
    if (!n || n->type != YAML_SCALAR_NODE || yu_is_null(n)) {
        yu_error(y, n, "expected a string, got %s", yu_type_name(n));
        return -1;
    }
    if (!*yu_str(n)) {
        yu_error(y, n, "empty string (expected a value)");
        return -1;
    }
    char *s = strdup(yu_str(n));
    if (!s) {
        yu_error(y, n, "out of memory");
        return -1;
    }
    free(*out);
    *out = s;
    return 0;
}

int yu_get_bool(struct yu *y, yaml_node_t *n, bool *out)
{
    int v = yu_is_plain(n) ? plain_bool(yu_str(n)) : -1;
    if (v < 0) {
        char tmp[80];
        yu_error(y, n, "expected true or false, got %s", shown(n, tmp, sizeof(tmp)));
        return -1;
    }
    *out = v == 1;
    return 0;
}

int yu_get_int(struct yu *y, yaml_node_t *n, long min, long max, long *out)
{
    long v = 0;
    char tmp[80];
    if (!yu_is_plain(n) || !plain_int(yu_str(n), &v)) {
        yu_error(y, n, "expected an integer, got %s", shown(n, tmp, sizeof(tmp)));
        return -1;
    }
    if (v < min || v > max) {
        if (max >= INT_MAX)
            yu_error(y, n, "%ld is too small (expected an integer >= %ld)", v, min);
        else
            yu_error(y, n, "%ld is out of range (expected an integer %ld..%ld)", v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int yu_get_num(struct yu *y, yaml_node_t *n, double *out)
{
    double v = 0;
    char tmp[80];
    if (!yu_is_plain(n) || !plain_num(yu_str(n), &v)) {
        yu_error(y, n, "expected a number, got %s", shown(n, tmp, sizeof(tmp)));
        return -1;
    }
    *out = v;
    return 0;
}

int yu_get_dur(struct yu *y, yaml_node_t *n, bool positive, tl_usec *out)
{
    char tmp[80];
    tl_usec v = 0;
    long iv;
    if (!n || n->type != YAML_SCALAR_NODE || yu_is_null(n)) {
        yu_error(y, n, "expected a duration like 500ms, 30s or 1m30s, got %s", yu_type_name(n));
        return -1;
    }
    if (yu_is_plain(n) && plain_int(yu_str(n), &iv) && iv != 0) {
        yu_error(y, n, "%ld has no unit (expected a duration like %lds or %ldms)", iv, iv, iv);
        return -1;
    }
    if (duration_parse(yu_str(n), &v)) {
        yu_error(y, n, "bad duration %s (expected integers with units us, ms, s, m, h, like 500ms, 30s or 1m30s)",
                 shown(n, tmp, sizeof(tmp)));
        return -1;
    }
    if (positive && v == 0) {
        yu_error(y, n, "duration must be longer than 0s");
        return -1;
    }
    if (v > YU_DURATION_MAX) {
        char most[32];
        duration_format(YU_DURATION_MAX, most, sizeof(most));
        yu_error(y, n, "%s is too long (expected at most %s, a year)", shown(n, tmp, sizeof(tmp)),
                 most);
        return -1;
    }
    *out = v;
    return 0;
}

int yu_get_size(struct yu *y, yaml_node_t *n, size_t *out)
{
    char tmp[80];
    if (!n || n->type != YAML_SCALAR_NODE || size_parse(yu_str(n), out)) {
        yu_error(y, n, "bad size %s (expected bytes like 1048576, 64MiB or 10MB)", shown(n, tmp, sizeof(tmp)));
        return -1;
    }
    return 0;
}

/* --- JSON ------------------------------------------------------------------ */

static cJSON *to_json(struct yu *y, yaml_node_t *n, int depth, long *visits)
{
    if (++*visits > YU_VISIT_MAX || depth > YU_DEPTH_MAX) {
        if (*visits == YU_VISIT_MAX + 1 || depth == YU_DEPTH_MAX + 1)
            yu_error(y, n, "value is too large or too deeply nested (expected at most %d levels)", YU_DEPTH_MAX);
        return NULL;
    }
    cJSON *j = NULL;
    if (n->type == YAML_MAPPING_NODE) {
        j = cJSON_CreateObject();
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; j && pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yu_node(y, pr->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                yu_error(y, k, "JSON object keys must be strings, got %s", yu_type_name(k));
                cJSON_Delete(j);
                return NULL;
            }
            cJSON *v = to_json(y, yu_node(y, pr->value), depth + 1, visits);
            if (!v) {
                cJSON_Delete(j);
                return NULL;
            }
            cJSON_AddItemToObject(j, yu_str(k), v);
        }
    } else if (n->type == YAML_SEQUENCE_NODE) {
        j = cJSON_CreateArray();
        for (yaml_node_item_t *it = n->data.sequence.items.start; j && it < n->data.sequence.items.top; it++) {
            cJSON *v = to_json(y, yu_node(y, *it), depth + 1, visits);
            if (!v) {
                cJSON_Delete(j);
                return NULL;
            }
            cJSON_AddItemToArray(j, v);
        }
    } else if (n->type == YAML_SCALAR_NODE) {
        const char *s = yu_str(n);
        double d;
        if (!yu_is_plain(n))
            j = cJSON_CreateString(s);
        else if (yu_is_null(n))
            j = cJSON_CreateNull();
        else if (plain_bool(s) >= 0)
            j = cJSON_CreateBool(plain_bool(s));
        else if (plain_num(s, &d))
            j = cJSON_CreateNumber(d);
        else
            j = cJSON_CreateString(s);
        /* 9007199254740993 compares as written, not as its double */
        if (cJSON_IsNumber(j) && json_exact_set_int(j, s, strlen(s))) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    if (!j)
        yu_error(y, n, "out of memory");
    return j;
}

cJSON *yu_to_json(struct yu *y, yaml_node_t *n)
{
    long visits = 0;
    return to_json(y, n, 0, &visits);
}

/* --- nodes ---------------------------------------------------------------- */

size_t yu_len(const yaml_node_t *n)
{
    if (!n)
        return 0;
    if (n->type == YAML_MAPPING_NODE)
        return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (n->type == YAML_SEQUENCE_NODE)
        return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    return 0;
}

/* --- hashing ------------------------------------------------------------- */

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return tl_fnv1a(h, b, 8);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, z = *(const uint64_t *)b;
    return x < z ? -1 : x > z;
}

static void sort_u64(uint64_t *v, size_t n)
{
    if (n > 16) {
        qsort(v, n, sizeof(*v), cmp_u64);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

static uint64_t node_hash(struct yu *y, yaml_node_t *n, int depth, long *visits)
{
    uint64_t h = TL_FNV_OFFSET;
    if (!n || depth > YU_DEPTH_MAX || ++*visits > YU_VISIT_MAX)
        return h;
    h = fnv_u64(h, (uint64_t)n->type);
    if (n->type == YAML_SCALAR_NODE) {
        h = fnv_u64(h, n->data.scalar.length);
        h = tl_fnv1a(h, n->data.scalar.value, n->data.scalar.length);
    } else if (n->type == YAML_SEQUENCE_NODE) {
        h = fnv_u64(h, yu_len(n));
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
            h = fnv_u64(h, node_hash(y, yu_node(y, *it), depth + 1, visits));
    } else if (n->type == YAML_MAPPING_NODE) {
        /* Pairs are hashed one by one and sorted: key order is not meaning.
         * The usual small mapping needs no allocation and no qsort. */
        size_t np = yu_len(n);
        uint64_t small[16];
        uint64_t *ph = np <= 16 ? small : calloc(np, sizeof(*ph));
        if (!ph)
            return h;
        for (size_t i = 0; i < np; i++) {
            yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
            uint64_t kh = node_hash(y, yu_node(y, pr->key), depth + 1, visits);
            uint64_t vh = node_hash(y, yu_node(y, pr->value), depth + 1, visits);
            ph[i] = fnv_u64(fnv_u64(TL_FNV_OFFSET, kh), vh);
        }
        sort_u64(ph, np);
        h = fnv_u64(h, np);
        for (size_t i = 0; i < np; i++)
            h = fnv_u64(h, ph[i]);
        if (ph != small)
            free(ph);
    }
    return h;
}

uint64_t yu_node_hash(struct yu *y, yaml_node_t *n)
{
    long visits = 0;
    return node_hash(y, n, 0, &visits);
}

bool yu_is_http_url(const char *s)
{
    size_t skip = 0;
    if (strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    if (!skip)
        return false;
    const char *host = s + skip;
    return *host && *host != '/' && *host != '?' && *host != '#' && !isspace((unsigned char)*host);
}
