/* The delivery driver: one uv_timer_t per sink schedules the next look at
 * the spool, whether "now" (after a delivery or a kick) or after a backoff. */
#include "agent/outbox/delivery.h"
#include "base/io.h"
#include "base/rand.h"
#include "base/time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "probes/redact/redact.h"

#define SEC ((tl_usec)1000000)
#define DEAD_LINE_MAX (256 * 1024 * 1024)
#define DEAD_FILE_MAX (64ull * 1024 * 1024)

enum entry_state { ENTRY_IDLE, ENTRY_SCHEDULED, ENTRY_SENDING };

struct entry {
    struct delivery *d;
    char *name;
    struct sink *sink;
    uv_timer_t timer;           /* freed with the entry in its close callback */
    enum entry_state state;
    struct spool_batch batch;   /* the records being sent */
    size_t n_sending;           /* a prefix of batch */
    const char **evs;
    size_t *lens;
    /* A batch was rejected: its events up to this number go one at a time,
     * so that only the ones the receiver refuses are dead-lettered. */
    uint64_t alone_until;
    /* Some receivers took the failed batch (one Alertmanager of an HA pair
     * down): new events cut the retry wait short, so the healthy ones get
     * them at once rather than after a backoff of up to backoff_max. */
    bool kick_retry;
    struct delivery_stats st;
};

struct delivery {
    uv_loop_t *loop;
    struct spool *sp;
    size_t batch_max;
    tl_usec backoff_min, backoff_max, retry_after_max;
    char *dead_dir;
    uint64_t dead_max;
    delivery_log_fn log;
    void *log_arg;
    uint64_t rng;
    size_t n, cap;
    struct entry **entries;
    size_t open_handles;        /* timers not yet closed; the struct goes with the last */
    bool freeing;
};

static void default_log(void *arg, enum log_level level, const char *sink, const char *msg)
{
    fprintf(stderr, "tripline: %s: delivery to %s: %s\n", log_level_str(level), sink, msg);
}

static void logf_(struct entry *en, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(struct entry *en, enum log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* reasons quote what a sink answered, which may echo its credentials */
    char *clean = redact_text(NULL, msg);
    en->d->log(en->d->log_arg, level, en->name, clean ? clean : "(message withheld: out of memory)");
    free(clean);
}

tl_usec delivery_backoff(tl_usec min, tl_usec max, unsigned int failures, uint64_t *rng)
{
    tl_usec cap = min > 0 ? min : 1;
    unsigned int i;

    for (i = 1; i < failures && cap < max; i++)
        cap *= 2;
    if (cap > max)
        cap = max;
    /* Full jitter spreads agents that lost the same server apart. */
    return (tl_usec)tl_rand_below(rng, (uint64_t)cap + 1);
}

static void look(uv_timer_t *t);

static void schedule(struct entry *en, tl_usec delay)
{
    uint64_t ms = delay > 0 ? (uint64_t)((delay + 999) / 1000) : 0;

    en->state = ENTRY_SCHEDULED;
    uv_timer_start(&en->timer, look, ms, 0);
}

static void batch_release(struct entry *en)
{
    spool_batch_free(&en->batch);
    free(en->evs);
    free(en->lens);
    en->evs = NULL;
    en->lens = NULL;
    en->n_sending = 0;
    en->st.in_flight = 0;
}

static int put_json_string(struct buf *b, const char *s)
{
    cJSON *str = cJSON_CreateString(s);
    char *text = str ? cJSON_PrintUnformatted(str) : NULL;
    int rc = text ? buf_puts(b, text) : TL_ENOMEM;

    cJSON_free(text);
    cJSON_Delete(str);
    return rc;
}

/* Appends one JSON line to dead-letter-<sink>.jsonl and syncs it: after this
 * the records may be acked. With raw set the first record is not JSON and is
 * kept as a string. */
static int dead_letter(struct entry *en, size_t n, bool raw, const char *reason, long status)
{
    struct buf line, path;
    char at[32];
    size_t i;
    int fd = -1, rc;

    buf_init(&line, DEAD_LINE_MAX);
    buf_init(&path, 4096);
    tl_iso8601_now(false, at);
    rc = buf_printf(&path, "%s/dead-letter-%s.jsonl", en->d->dead_dir, en->name);
    if (rc == 0)
        rc = buf_puts(&line, "{\"sink\":");
    if (rc == 0)
        rc = put_json_string(&line, en->name);
    if (rc == 0)
        rc = buf_printf(&line, ",\"at\":\"%s\",\"status\":%ld,\"reason\":", at, status);
    char *clean = redact_text(NULL, reason);
    if (rc == 0)
        rc = clean ? put_json_string(&line, clean) : TL_ENOMEM;
    free(clean);
    if (rc == 0)
        rc = buf_puts(&line, ",\"seqs\":[");
    for (i = 0; i < n && rc == 0; i++)
        rc = buf_printf(&line, "%s%llu", i ? "," : "", (unsigned long long)en->batch.recs[i].seq);
    if (rc == 0)
        rc = buf_puts(&line, raw ? "],\"raw\":" : "],\"events\":[");
    if (rc == 0 && raw)
        rc = put_json_string(&line, en->batch.recs[0].data);
    for (i = 0; i < n && rc == 0 && !raw; i++) {
        if (i > 0)
            rc = buf_append(&line, ",", 1);
        if (rc == 0)
            rc = buf_append(&line, en->batch.recs[i].data, en->batch.recs[i].len);
    }
    if (rc == 0)
        rc = buf_puts(&line, raw ? "}\n" : "]}\n");
    if (rc)
        goto out;
    rc = TL_EIO;
    fd = open(path.data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        logf_(en, LOG_ERROR, "cannot open %s: %s", path.data, strerror(errno));
        goto out;
    }
    /* Bounded: a receiver refusing everything must not fill the disk. The
     * file moves to .1 whole (replacing the one before) and a new one starts. */
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size + line.len > en->d->dead_max) {
        char old[4200];
        snprintf(old, sizeof old, "%s.1", path.data);
        close(fd);
        fd = -1;
        if (rename(path.data, old) != 0) {
            logf_(en, LOG_ERROR, "cannot move %s to %s: %s", path.data, old, strerror(errno));
            goto out;
        }
        logf_(en, LOG_WARN, "%s reached %llu bytes: moved to %s, replacing the older dead letters there",
              path.data, (unsigned long long)st.st_size, old);
        fd = open(path.data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            logf_(en, LOG_ERROR, "cannot open %s: %s", path.data, strerror(errno));
            goto out;
        }
    }
    if (tl_write_all(fd, line.data, line.len) != 0) {
        logf_(en, LOG_ERROR, "cannot write %s: %s", path.data, strerror(errno));
        goto out;
    }
    if (fdatasync(fd) != 0) {
        logf_(en, LOG_ERROR, "cannot sync %s: %s", path.data, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    buf_free(&line);
    buf_free(&path);
    return rc;
}

static void after_failure(struct entry *en, tl_usec retry_after)
{
    struct delivery *d = en->d;
    tl_usec delay;

    en->st.failures++;
    /* Retry-After: 0 is no licence to hammer the server: the backoff holds. */
    if (retry_after > 0)
        delay = retry_after < d->retry_after_max ? retry_after : d->retry_after_max;
    else
        delay = delivery_backoff(d->backoff_min, d->backoff_max, en->st.failures, &d->rng);
    batch_release(en);
    schedule(en, delay);
}

/* Acks the first n records; on failure they will simply be sent again. */
static int ack(struct entry *en, size_t n)
{
    uint64_t last = en->batch.recs[n - 1].seq;
    int rc = spool_ack(en->d->sp, en->name, last);

    if (rc == 0 && last >= en->alone_until)
        en->alone_until = 0;

    if (rc)
        logf_(en, LOG_ERROR, "cannot ack up to %llu: %s",
              (unsigned long long)en->batch.recs[n - 1].seq, spool_error(en->d->sp));
    return rc;
}

static void sent(const struct sink_result *res, void *arg)
{
    struct entry *en = arg;
    size_t n = en->n_sending;

    /* a Retry-After is the server's to set: no shortcut past it */
    en->kick_retry = res->outcome == SINK_RETRY && res->partial && res->retry_after <= 0;
    switch (res->outcome) {
    case SINK_DELIVERED:
        if (ack(en, n) != 0) {
            after_failure(en, -1);
            return;
        }
        en->st.delivered += n;
        en->st.batches++;
        en->st.failures = 0;
        batch_release(en);
        schedule(en, 0);
        return;
    case SINK_RETRY:
        en->st.retried++;
        if (res->status == 401 || res->status == 403) {
            en->st.auth_failures++;
            logf_(en, LOG_ERROR, "%zu events, retry: %s (check the sink's token)", n, res->reason);
            /* a Retry-After does not hurry a credential fix */
            after_failure(en, -1);
            return;
        }
        if (sink_http_misdirected(res->status)) {
            /* a wrong URL: the events wait for the fix, with backoff */
            logf_(en, LOG_ERROR, "%zu events, retry: %s", n, res->reason);
            after_failure(en, -1);
            return;
        }
        logf_(en, LOG_WARN, "%zu events, retry: %s", n, res->reason);
        after_failure(en, res->retry_after);
        return;
    case SINK_REJECTED:
        if (n > 1) {
            /* One bad event must not take the rest of its batch along. */
            logf_(en, LOG_WARN, "%zu events rejected together (%s): sending them one at a time", n,
                  res->reason);
            en->alone_until = en->batch.recs[n - 1].seq;
            batch_release(en);
            schedule(en, 0);
            return;
        }
        logf_(en, LOG_ERROR, "%zu events rejected for good, dead-lettered: %s", n, res->reason);
        if (dead_letter(en, n, false, res->reason, res->status) != 0 || ack(en, n) != 0) {
            after_failure(en, -1);
            return;
        }
        en->st.dead_lettered += n;
        en->st.failures = 0;
        batch_release(en);
        schedule(en, 0);
        return;
    }
}

static bool is_object(const char *data, size_t len)
{
    cJSON *doc = cJSON_ParseWithLength(data, len);
    bool ok = cJSON_IsObject(doc);

    cJSON_Delete(doc);
    return ok;
}

static void look(uv_timer_t *t)
{
    struct entry *en = t->data;
    struct delivery *d = en->d;
    size_t i, n;
    int rc;

    en->state = ENTRY_IDLE;
    rc = spool_next(d->sp, en->name, en->alone_until ? 1 : d->batch_max, &en->batch);
    if (rc) {
        logf_(en, LOG_ERROR, "cannot read the spool: %s", spool_error(d->sp));
        after_failure(en, -1);
        return;
    }
    if (en->batch.n == 0) {
        batch_release(en);
        return;
    }
    /* A record that is not an event can never be delivered: it goes to the
     * dead-letter file alone, and the valid records before it go as a batch. */
    for (n = 0; n < en->batch.n; n++)
        if (!is_object(en->batch.recs[n].data, en->batch.recs[n].len))
            break;
    if (n == 0) {
        logf_(en, LOG_ERROR, "record %llu is not a JSON object, dead-lettered",
              (unsigned long long)en->batch.recs[0].seq);
        if (dead_letter(en, 1, true, "not a JSON object", 0) != 0 || ack(en, 1) != 0) {
            after_failure(en, -1);
            return;
        }
        en->st.dead_lettered++;
        batch_release(en);
        schedule(en, 0);
        return;
    }
    en->evs = calloc(n, sizeof(*en->evs));
    en->lens = calloc(n, sizeof(*en->lens));
    if (!en->evs || !en->lens) {
        after_failure(en, -1);
        return;
    }
    for (i = 0; i < n; i++) {
        en->evs[i] = en->batch.recs[i].data;
        en->lens[i] = en->batch.recs[i].len;
    }
    en->n_sending = n;
    en->st.in_flight = n;
    en->st.attempts++;
    /* The sink may answer from inside sink_send: set the state first. */
    en->state = ENTRY_SENDING;
    rc = sink_send(en->sink, en->evs, en->lens, n, sent, en);
    if (rc) {
        logf_(en, LOG_ERROR, "cannot start a send (%d): %s", rc, sink_error(en->sink));
        en->st.retried++;
        after_failure(en, -1);
    }
}

int delivery_new(struct delivery **out, uv_loop_t *loop, struct spool *sp,
                 const struct delivery_opts *opts)
{
    struct delivery *d;

    *out = NULL;
    if (!loop || !sp)
        return TL_EINVAL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return TL_ENOMEM;
    d->loop = loop;
    d->sp = sp;
    d->batch_max = opts && opts->batch_max ? opts->batch_max : 100;
    d->backoff_min = opts && opts->backoff_min > 0 ? opts->backoff_min : 1 * SEC;
    d->dead_max = opts && opts->dead_letter_max > 0 ? opts->dead_letter_max : DEAD_FILE_MAX;
    d->backoff_max = opts && opts->backoff_max > 0 ? opts->backoff_max : 300 * SEC;
    if (d->backoff_max < d->backoff_min)
        d->backoff_max = d->backoff_min;
    d->retry_after_max = opts && opts->retry_after_max > 0 ? opts->retry_after_max : 3600 * SEC;
    d->log = opts && opts->log ? opts->log : default_log;
    d->log_arg = opts ? opts->log_arg : NULL;
    d->dead_dir = strdup(opts && opts->dead_letter_dir ? opts->dead_letter_dir : ".");
    d->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)d;
    if (!d->dead_dir) {
        free(d);
        return TL_ENOMEM;
    }
    *out = d;
    return 0;
}

int delivery_add(struct delivery *d, const char *name, struct sink *s)
{
    struct entry *en = NULL;
    int rc = TL_EINVAL;

    if (!d || !name || !s || d->freeing)
        goto out;
    rc = TL_ENOMEM;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        struct entry **v = realloc(d->entries, cap * sizeof(*v));
        if (!v)
            goto out;
        d->entries = v;
        d->cap = cap;
    }
    en = calloc(1, sizeof(*en));
    if (!en)
        goto out;
    en->name = strdup(name);
    if (!en->name)
        goto out;
    if (uv_timer_init(d->loop, &en->timer) != 0)
        goto out;
    en->d = d;
    en->sink = s;
    en->timer.data = en;
    d->entries[d->n++] = en;
    d->open_handles++;
    s = NULL;
    /* A fresh sink may have a backlog from before a restart. */
    schedule(en, 0);
    en = NULL;
    rc = 0;
out:
    if (en) {
        free(en->name);
        free(en);
    }
    sink_free(s);
    return rc;
}

void delivery_kick(struct delivery *d)
{
    size_t i;

    if (!d || d->freeing)
        return;
    for (i = 0; i < d->n; i++)
        if (d->entries[i]->state == ENTRY_IDLE ||
            (d->entries[i]->state == ENTRY_SCHEDULED && d->entries[i]->kick_retry))
            schedule(d->entries[i], 0);
}

int delivery_reload(struct delivery *d)
{
    size_t i;
    int rc = 0, r;

    for (i = 0; d && i < d->n; i++) {
        r = sink_reload(d->entries[i]->sink);
        if (r) {
            logf_(d->entries[i], LOG_ERROR, "reload failed, keeping the old secrets: %s",
                  sink_error(d->entries[i]->sink));
            if (rc == 0)
                rc = r;
        }
    }
    return rc;
}

int delivery_stats(const struct delivery *d, const char *name, struct delivery_stats *out)
{
    size_t i;

    for (i = 0; d && name && i < d->n; i++) {
        if (strcmp(d->entries[i]->name, name) == 0) {
            *out = d->entries[i]->st;
            return 0;
        }
    }
    return TL_EINVAL;
}

bool delivery_idle(const struct delivery *d)
{
    size_t i;

    for (i = 0; d && i < d->n; i++)
        if (d->entries[i]->state != ENTRY_IDLE)
            return false;
    return true;
}

static void entry_closed(uv_handle_t *h)
{
    struct entry *en = h->data;
    struct delivery *d = en->d;

    free(en->name);
    free(en);
    if (--d->open_handles == 0) {
        free(d->dead_dir);
        free(d);
    }
}

void delivery_free(struct delivery *d)
{
    size_t i;

    if (!d || d->freeing)
        return;
    d->freeing = true;
    for (i = 0; i < d->n; i++) {
        struct entry *en = d->entries[i];
        sink_free(en->sink);
        en->sink = NULL;
        batch_release(en);
        uv_timer_stop(&en->timer);
        uv_close((uv_handle_t *)&en->timer, entry_closed);
    }
    free(d->entries);
    d->entries = NULL;
    d->n = 0;
    if (d->open_handles == 0) {
        free(d->dead_dir);
        free(d);
    }
}
