/* The incident store (incident_store.h): a JSON file rewritten by
 * write-fsync-rename on every change. */
#include "agent/incident/incident_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define ISTORE_FILE "incidents.json"
#define ISTORE_MAX_BYTES (16u << 20)

struct istore {
    char *path;
    char *tmp;
    char why[300];               /* why the last write failed */
    size_t n, cap;
    struct istore_rec *recs;
    size_t n_owed, cap_owed;
    struct istore_owed *owed;
    size_t n_cool, cap_cool;
    struct istore_cool *cools;
};

/* Makes room for one more element in *v (n used of *cap, each size bytes). */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    void *p = realloc(*v, c * size);
    if (!p)
        return TL_ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

static void owed_clear(struct istore_owed *o)
{
    free(o->probe);
    free(o->region);
    free(o->action);
    cJSON_Delete(o->def);
    o->probe = o->region = o->action = NULL;
    o->def = NULL;
}

/* A copy of v (if any) as o[key]. */
static int add_dup(cJSON *o, const char *key, const cJSON *v)
{
    cJSON *c = v ? cJSON_Duplicate(v, 1) : NULL;
    if (!v)
        return 0;
    if (!c || !cJSON_AddItemToObject(o, key, c)) {
        cJSON_Delete(c);
        return TL_ENOMEM;
    }
    return 0;
}

/* A copy of an object member kept (a definition); NULL when absent. */
static int dup_obj(const cJSON *v, cJSON **out)
{
    *out = cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : NULL;
    return cJSON_IsObject(v) && !*out ? TL_ENOMEM : 0;
}

static cJSON *owed_json(const struct istore_owed *o)
{
    cJSON *j = cJSON_CreateObject();
    if (!j || !cJSON_AddStringToObject(j, "probe", o->probe) || !cJSON_AddStringToObject(j, "region", o->region) ||
        !cJSON_AddStringToObject(j, "incidentId", o->incident_id) ||
        !cJSON_AddNumberToObject(j, "level", (double)o->level) || !cJSON_AddStringToObject(j, "action", o->action) ||
        !cJSON_AddNumberToObject(j, "attempts", o->attempts) ||
        !cJSON_AddNumberToObject(j, "nextAtUs", (double)o->next_at_us) || add_dup(j, "rollback", o->def)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static int push_owed(struct istore *s, const struct istore_owed *o)
{
    if (grow((void **)&s->owed, &s->cap_owed, s->n_owed, sizeof *s->owed))
        return TL_ENOMEM;
    s->owed[s->n_owed++] = *o;
    return 0;
}

/* A copy of o in the store; the strings are duplicated. */
static int add_owed(struct istore *s, const struct istore_owed *o)
{
    struct istore_owed c = *o;
    c.probe = strdup(o->probe);
    c.region = strdup(o->region);
    c.action = strdup(o->action);
    c.running = false;
    int rc = c.probe && c.region && c.action && strlen(o->incident_id) == 36 ? dup_obj(o->def, &c.def) : TL_ENOMEM;
    if (rc == 0)
        rc = push_owed(s, &c);
    if (rc)
        owed_clear(&c);
    return rc;
}

void istore_rec_clear(struct istore_rec *r)
{
    free(r->probe);
    free(r->region);
    strv_free(&r->fired);
    strv_free(&r->running);
    cJSON_Delete(r->defs);
    r->probe = r->region = NULL;
    r->defs = NULL;
}

static int strv_copy(struct strv *dst, const struct strv *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (strv_push(dst, src->v[i]))
            return TL_ENOMEM;
    return 0;
}

static int rec_copy(struct istore_rec *dst, const struct istore_rec *src)
{
    *dst = *src;
    strv_init(&dst->fired);
    strv_init(&dst->running);
    dst->defs = NULL;
    dst->probe = strdup(src->probe);
    dst->region = strdup(src->region);
    int rc = dst->probe && dst->region ? dup_obj(src->defs, &dst->defs) : TL_ENOMEM;
    if (rc == 0)
        rc = strv_copy(&dst->fired, &src->fired);
    if (rc == 0)
        rc = strv_copy(&dst->running, &src->running);
    if (rc)
        istore_rec_clear(dst);
    return rc;
}

static int add_strv(cJSON *o, const char *key, const struct strv *sv)
{
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    for (size_t i = 0; arr && i < sv->n; i++) {
        cJSON *v = cJSON_CreateString(sv->v[i]);
        if (!v || !cJSON_AddItemToArray(arr, v)) {
            cJSON_Delete(v);
            return TL_ENOMEM;
        }
    }
    return arr ? 0 : TL_ENOMEM;
}

static cJSON *rec_json(const struct istore_rec *r)
{
    char hash[17];
    cJSON *o = cJSON_CreateObject();
    snprintf(hash, sizeof hash, "%016" PRIx64, r->def_hash);
    if (!o || !cJSON_AddStringToObject(o, "probe", r->probe) || !cJSON_AddStringToObject(o, "region", r->region) ||
        !cJSON_AddStringToObject(o, "definition", hash) ||
        !cJSON_AddStringToObject(o, "incidentId", r->snap.incident_id) ||
        !cJSON_AddNumberToObject(o, "level", (double)r->snap.level) ||
        !cJSON_AddNumberToObject(o, "openedAtUs", (double)r->snap.opened_at_us) ||
        !cJSON_AddNumberToObject(o, "failingSinceUs", (double)r->snap.failing_since_us) ||
        !cJSON_AddNumberToObject(o, "consecutiveFailures", r->snap.consecutive_failures) ||
        !cJSON_AddBoolToObject(o, "flapping", r->snap.flapping) ||
        !cJSON_AddStringToObject(o, "bucket", bucket_str(r->snap.bucket)) ||
        !cJSON_AddStringToObject(o, "reason", r->snap.reason) || !cJSON_AddStringToObject(o, "step", r->snap.step) ||
        !cJSON_AddStringToObject(o, "correlationId", r->snap.correlation_id)) {
        cJSON_Delete(o);
        return NULL;
    }
    if (add_strv(o, "fired", &r->fired) || add_strv(o, "running", &r->running) ||
        add_dup(o, "rollbacks", r->defs)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

#define J_STR(o, k) cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive((o), (k)))
#define J_NUM(o, k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive((o), (k)))

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static enum bucket bucket_of(const char *s)
{
    for (int b = BUCKET_NONE; s && b <= BUCKET_BUDGET; b++)
        if (strcmp(bucket_str((enum bucket)b), s) == 0)
            return (enum bucket)b;
    return BUCKET_NONE;
}

/* One record from the file; TL_ESYNTAX when a member is missing. */
static int rec_parse(const cJSON *o, struct istore_rec *r)
{
    const char *probe = J_STR(o, "probe"), *region = J_STR(o, "region"), *hash = J_STR(o, "definition");
    const char *id = J_STR(o, "incidentId");
    const cJSON *fired = cJSON_GetObjectItemCaseSensitive(o, "fired");
    memset(r, 0, sizeof *r);
    strv_init(&r->fired);
    strv_init(&r->running);
    if (!probe || !region || !hash || !id || strlen(id) != 36 || !cJSON_IsArray(fired))
        return TL_ESYNTAX;
    char *end = NULL;
    r->def_hash = strtoull(hash, &end, 16);
    if (!end || *end)
        return TL_ESYNTAX;
    memcpy(r->snap.incident_id, id, 37);
    double level = J_NUM(o, "level");
    if (!(level >= LEVEL_NONE && level <= LEVEL_CRITICAL))
        return TL_ESYNTAX;
    r->snap.level = (enum level)(int)level;
    r->snap.opened_at_us = (int64_t)J_NUM(o, "openedAtUs");
    r->snap.failing_since_us = (int64_t)J_NUM(o, "failingSinceUs");
    r->snap.consecutive_failures = (int)J_NUM(o, "consecutiveFailures");
    r->snap.flapping = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "flapping"));
    r->snap.bucket = bucket_of(J_STR(o, "bucket"));
    copy_str(r->snap.reason, sizeof r->snap.reason, J_STR(o, "reason"));
    copy_str(r->snap.step, sizeof r->snap.step, J_STR(o, "step"));
    copy_str(r->snap.correlation_id, sizeof r->snap.correlation_id, J_STR(o, "correlationId"));
    r->probe = strdup(probe);
    r->region = strdup(region);
    /* "rollbacks" is absent in a file of an older version */
    int rc = r->probe && r->region ? dup_obj(cJSON_GetObjectItemCaseSensitive(o, "rollbacks"), &r->defs)
                                   : TL_ENOMEM;
    const cJSON *f;
    cJSON_ArrayForEach(f, fired)
    {
        if (rc == 0 && cJSON_IsString(f) && strv_push(&r->fired, f->valuestring))
            rc = TL_ENOMEM;
    }
    /* absent in a file of an older version */
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(o, "running"))
    {
        if (rc == 0 && cJSON_IsString(f) && strv_push(&r->running, f->valuestring))
            rc = TL_ENOMEM;
    }
    if (rc)
        istore_rec_clear(r);
    return rc;
}

static int push_rec(struct istore *s, const struct istore_rec *r)
{
    if (grow((void **)&s->recs, &s->cap, s->n, sizeof *s->recs))
        return TL_ENOMEM;
    s->recs[s->n++] = *r;
    return 0;
}

/* Calls one(s, item) for each item of arr, an optional array. */
static int parse_each(struct istore *s, const cJSON *arr, int (*one)(struct istore *s, const cJSON *j))
{
    const cJSON *j;
    if (!arr)
        return 0; /* a file of an older version */
    if (!cJSON_IsArray(arr))
        return TL_ESYNTAX;
    cJSON_ArrayForEach(j, arr)
    {
        int rc = one(s, j);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_owed(struct istore *s, const cJSON *j)
{
    struct istore_owed o = {
        .probe = (char *)J_STR(j, "probe"), .region = (char *)J_STR(j, "region"),
        .action = (char *)J_STR(j, "action"), .attempts = (int)J_NUM(j, "attempts"),
        .next_at_us = (int64_t)J_NUM(j, "nextAtUs"), .level = (enum level)(int)J_NUM(j, "level"),
        /* absent in a file of an older version */
        .def = cJSON_GetObjectItemCaseSensitive(j, "rollback"),
    };
    const char *id = J_STR(j, "incidentId");
    if (!o.probe || !o.region || !o.action || !id || strlen(id) != 36)
        return TL_ESYNTAX;
    memcpy(o.incident_id, id, 37);
    return add_owed(s, &o);
}

static int cool_add(struct istore *s, const char *probe, const char *action, int64_t at_us)
{
    if (grow((void **)&s->cools, &s->cap_cool, s->n_cool, sizeof *s->cools))
        return TL_ENOMEM;
    struct istore_cool c = {.probe = strdup(probe), .action = strdup(action), .at_us = at_us};
    if (!c.probe || !c.action) {
        free(c.probe);
        free(c.action);
        return TL_ENOMEM;
    }
    s->cools[s->n_cool++] = c;
    return 0;
}

static int parse_cool(struct istore *s, const cJSON *j)
{
    const char *probe = J_STR(j, "probe"), *action = J_STR(j, "action");
    if (!probe || !action)
        return TL_ESYNTAX;
    return cool_add(s, probe, action, (int64_t)J_NUM(j, "lastRunAtUs"));
}

static int parse_all(struct istore *s, const char *text)
{
    int rc = 0;
    cJSON *root = cJSON_Parse(text);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "incidents");
    if (!cJSON_IsArray(arr)) {
        rc = TL_ESYNTAX;
        goto out;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        struct istore_rec r;
        rc = rec_parse(o, &r);
        if (rc == 0 && (rc = push_rec(s, &r)))
            istore_rec_clear(&r);
        if (rc)
            goto out;
    }
    rc = parse_each(s, cJSON_GetObjectItemCaseSensitive(root, "owed"), parse_owed);
    if (rc == 0)
        rc = parse_each(s, cJSON_GetObjectItemCaseSensitive(root, "cooldowns"), parse_cool);
out:
    cJSON_Delete(root);
    return rc;
}

/* The file's text, NUL-terminated; *text NULL when there is no file. */
static int read_all(const char *path, char **text)
{
    int rc = 0;
    struct buf b;
    char chunk[4096];
    *text = NULL;
    buf_init(&b, ISTORE_MAX_BYTES);
    FILE *f = fopen(path, "re");
    if (!f) {
        rc = errno == ENOENT ? 0 : TL_EIO;
        goto out;
    }
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(&b, chunk, got)) {
            rc = TL_ETOOBIG;
            goto out;
        }
    }
    if (ferror(f) || buf_append(&b, "", 1)) {
        rc = TL_EIO;
        goto out;
    }
    *text = buf_take(&b);
    rc = *text ? 0 : TL_ENOMEM;
out:
    if (f)
        fclose(f);
    buf_free(&b);
    return rc;
}

static void drop_all(struct istore *s)
{
    for (size_t i = 0; i < s->n; i++)
        istore_rec_clear(&s->recs[i]);
    s->n = 0;
    for (size_t i = 0; i < s->n_owed; i++)
        owed_clear(&s->owed[i]);
    s->n_owed = 0;
    for (size_t i = 0; i < s->n_cool; i++) {
        free(s->cools[i].probe);
        free(s->cools[i].action);
    }
    s->n_cool = 0;
}

/* A damaged file is kept aside for a human; the agent starts without it
 * rather than refusing to start (a restart loop under systemd). */
static void set_aside(struct istore *s, int why, char *err, size_t errlen)
{
    char corrupt[4200];
    drop_all(s);
    snprintf(corrupt, sizeof corrupt, "%s.corrupt", s->path);
    int moved = rename(s->path, corrupt) == 0;
    if (err)
        snprintf(err, errlen, "%s: %s; %s, starting with no open incident", s->path, tl_strerror(why),
                 moved ? "moved to .corrupt" : "left in place");
}

int istore_open(const char *dir, struct istore **out, char *err, size_t errlen)
{
    int rc = TL_ENOMEM;
    char *text = NULL;
    struct istore *s = calloc(1, sizeof *s);
    if (err && errlen)
        err[0] = '\0';
    if (!s)
        goto out;
    size_t len = strlen(dir) + sizeof("/" ISTORE_FILE ".tmp");
    s->path = malloc(len);
    s->tmp = malloc(len);
    if (!s->path || !s->tmp)
        goto out;
    snprintf(s->path, len, "%s/%s", dir, ISTORE_FILE);
    snprintf(s->tmp, len, "%s/%s.tmp", dir, ISTORE_FILE);
    rc = read_all(s->path, &text);
    if (rc == 0 && text)
        rc = parse_all(s, text);
    if (rc && rc != TL_ENOMEM) {
        set_aside(s, rc, err, errlen);
        rc = 0;
    }
out:
    free(text);
    if (rc) {
        istore_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

void istore_free(struct istore *s)
{
    if (!s)
        return;
    drop_all(s);
    free(s->recs);
    free(s->owed);
    free(s->cools);
    free(s->path);
    free(s->tmp);
    free(s);
}

size_t istore_count(const struct istore *s)
{
    return s ? s->n : 0;
}

struct istore_rec *istore_at(struct istore *s, size_t i)
{
    return i < s->n ? &s->recs[i] : NULL;
}

struct istore_rec *istore_find(struct istore *s, const char *probe, const char *region)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->recs[i].probe, probe) == 0 && strcmp(s->recs[i].region, region) == 0)
            return &s->recs[i];
    return NULL;
}

static int write_fd(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return TL_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Remembers why a write failed (errno), for istore_error(). */
static int write_failed(struct istore *s, const char *what, const char *path)
{
    snprintf(s->why, sizeof s->why, "%s %s: %s", what, path, strerror(errno));
    return TL_EIO;
}

static int fsync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return TL_EIO;
    int rc = fsync(fd) ? TL_EIO : 0;
    close(fd);
    return rc;
}

/* Writes the whole store: a new file, fsynced, renamed over the old one. */
static int save(struct istore *s)
{
    int rc = TL_ENOMEM, fd = -1;
    char *text = NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "incidents") : NULL;
    if (!arr || !cJSON_AddNumberToObject(root, "version", 1))
        goto out;
    for (size_t i = 0; i < s->n; i++) {
        cJSON *o = rec_json(&s->recs[i]);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto out;
        }
    }
    cJSON *owed = cJSON_AddArrayToObject(root, "owed");
    for (size_t i = 0; owed && i < s->n_owed; i++) {
        cJSON *o = owed_json(&s->owed[i]);
        if (!o || !cJSON_AddItemToArray(owed, o)) {
            cJSON_Delete(o);
            goto out;
        }
    }
    cJSON *cools = owed ? cJSON_AddArrayToObject(root, "cooldowns") : NULL;
    for (size_t i = 0; cools && i < s->n_cool; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(cools, o) || !cJSON_AddStringToObject(o, "probe", s->cools[i].probe) ||
            !cJSON_AddStringToObject(o, "action", s->cools[i].action) ||
            !cJSON_AddNumberToObject(o, "lastRunAtUs", (double)s->cools[i].at_us))
            goto out;
    }
    if (!cools || !(text = cJSON_PrintUnformatted(root)))
        goto out;
    fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        rc = write_failed(s, "cannot create", s->tmp);
        goto out;
    }
    if (write_fd(fd, text, strlen(text)) || fsync(fd)) {
        rc = write_failed(s, "cannot write", s->tmp);
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(s->tmp, s->path)) {
        rc = write_failed(s, "cannot rename over", s->path);
        goto out;
    }
    rc = fsync_dir(s->path);
    if (rc)
        write_failed(s, "cannot sync the directory of", s->path);
out:
    if (fd >= 0)
        close(fd);
    /* a half-written copy on a full disk would only take the room a
     * retry needs */
    if (rc == TL_EIO)
        (void)unlink(s->tmp);
    if (rc == TL_ENOMEM)
        snprintf(s->why, sizeof s->why, "out of memory");
    free(text);
    cJSON_Delete(root);
    return rc;
}

const char *istore_error(const struct istore *s)
{
    return s && s->why[0] ? s->why : "no error";
}

int istore_put(struct istore *s, const struct istore_rec *rec)
{
    struct istore_rec copy;
    int rc = rec_copy(&copy, rec);
    if (rc)
        return rc;
    struct istore_rec *old = istore_find(s, rec->probe, rec->region);
    if (old) {
        istore_rec_clear(old);
        *old = copy;
    } else if ((rc = push_rec(s, &copy))) {
        istore_rec_clear(&copy);
        return rc;
    }
    return save(s);
}

int istore_del(struct istore *s, const char *probe, const char *region)
{
    struct istore_rec *r = istore_find(s, probe, region);
    if (!r)
        return 0;
    istore_rec_clear(r);
    *r = s->recs[--s->n];
    return save(s);
}

size_t istore_owed_count(const struct istore *s)
{
    return s ? s->n_owed : 0;
}

struct istore_owed *istore_owed_at(struct istore *s, size_t i)
{
    return i < s->n_owed ? &s->owed[i] : NULL;
}

struct istore_owed *istore_owed_find(struct istore *s, const char *incident_id, const char *action)
{
    for (size_t i = 0; s && i < s->n_owed; i++)
        if (strcmp(s->owed[i].incident_id, incident_id) == 0 && strcmp(s->owed[i].action, action) == 0)
            return &s->owed[i];
    return NULL;
}

int istore_owe(struct istore *s, const struct istore_owed *o)
{
    if (istore_owed_find(s, o->incident_id, o->action))
        return 0;
    int rc = add_owed(s, o);
    return rc ? rc : save(s);
}

int istore_paid(struct istore *s, const char *incident_id, const char *action)
{
    struct istore_owed *o = istore_owed_find(s, incident_id, action);
    if (!o)
        return 0;
    owed_clear(o);
    *o = s->owed[--s->n_owed];
    return save(s);
}

int istore_sync(struct istore *s)
{
    return save(s);
}

size_t istore_cool_count(const struct istore *s)
{
    return s ? s->n_cool : 0;
}

const struct istore_cool *istore_cool_at(const struct istore *s, size_t i)
{
    return s && i < s->n_cool ? &s->cools[i] : NULL;
}

int istore_cool_prune(struct istore *s, int64_t before_us)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->n_cool; i++) {
        if (s->cools[i].at_us >= before_us) {
            s->cools[kept++] = s->cools[i];
            continue;
        }
        free(s->cools[i].probe);
        free(s->cools[i].action);
    }
    if (kept == s->n_cool)
        return 0;
    s->n_cool = kept;
    return save(s);
}

int istore_cool_set(struct istore *s, const char *probe, const char *action, int64_t at_us)
{
    for (size_t i = 0; i < s->n_cool; i++) {
        struct istore_cool *c = &s->cools[i];
        if (strcmp(c->probe, probe) != 0 || strcmp(c->action, action) != 0)
            continue;
        /* the same run seen again (a skip re-reads the clock): no write */
        if (c->at_us - at_us < 500000 && at_us - c->at_us < 500000)
            return 0;
        c->at_us = at_us;
        return save(s);
    }
    int rc = cool_add(s, probe, action, at_us);
    return rc ? rc : save(s);
}
