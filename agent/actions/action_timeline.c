/* Incidents and their timelines: what ran, when, with what outcome, and the
 * output or response it left, cleaned and redacted before it is kept. */
#include "agent/actions/actions_int.h"
#include "base/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/redact/redact.h"

char *act_strdup(const char *s)
{
    return strdup(s ? s : "");
}

char *act_fmt_dur(char *out, size_t len, uint64_t us)
{
    if (us >= 3600ULL * 1000000)
        snprintf(out, len, "%.1fh", (double)us / 3600e6);
    else if (us >= 60ULL * 1000000)
        snprintf(out, len, "%.1fm", (double)us / 60e6);
    else if (us >= 1000000)
        snprintf(out, len, "%.1fs", (double)us / 1e6);
    else
        snprintf(out, len, "%llums", (unsigned long long)(us / 1000));
    return out;
}

/* Output and response bodies are outside data headed for JSON: invalid
 * UTF-8, NULs and control characters (bar tab and newline) become '?'. */
static void text_clean(char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        bool ok = need != 9 && i + need < len && !(need == 1 && c < 0xC2) && !(need == 3 && c > 0xF4);
        for (size_t k = 1; ok && k <= need; k++)
            ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (!ok) {
            s[i++] = '?';
            continue;
        }
        if (need == 0 && (c < 0x20 || c == 0x7F) && c != '\n' && c != '\t')
            s[i] = '?';
        i += need + 1;
    }
}

/* What an action printed or a webhook answered goes on the timeline, into
 * events and /status: credentials in it are redacted by name, and every
 * secret the process knows (env., file:, sink and peer keys) by value. */
void act_text_keep(char **text, size_t len)
{
    char *clean;
    text_clean(*text, len);
    clean = redact_body_text(NULL, *text);
    if (!clean)
        return;
    free(*text);
    *text = clean;
}

static const char *kind_str(enum act_kind k)
{
    return k == ACT_ROLLBACK ? "rollback" : "run";
}

void act_entry_clear(struct act_entry *e)
{
    free(e->action);
    free(e->detail);
    free(e->output);
    memset(e, 0, sizeof *e);
}

struct act_incident *act_incident_find(const struct actions *r, const char *id)
{
    for (struct act_incident *inc = r->incidents; inc; inc = inc->next)
        if (strcmp(inc->id, id) == 0)
            return inc;
    return NULL;
}

void act_incident_free(struct act_incident *inc)
{
    if (!inc)
        return;
    for (size_t i = 0; i < ACTIONS_TIMELINE_MAX; i++)
        act_entry_clear(&inc->ring[i]);
    strv_free(&inc->fired);
    free(inc->probe_id);
    free(inc->region);
    free(inc);
}

static void incident_unlink(struct actions *r, struct act_incident *inc)
{
    struct act_incident **pp = &r->incidents;
    while (*pp && *pp != inc)
        pp = &(*pp)->next;
    if (*pp)
        *pp = inc->next;
}

static bool same_place(const struct act_incident *inc, const char *probe_id, const char *region)
{
    return strcmp(inc->probe_id, probe_id) == 0 && (!region || strcmp(inc->region, region) == 0);
}

/* Drops every other incident of (probe, region) that keep is meant to
 * replace: at most one open or one last-resolved timeline per place. Those
 * with runs in flight are freed when their last run ends. */
static void incident_supersede(struct actions *r, const struct act_incident *keep)
{
    struct act_incident **pp = &r->incidents;
    while (*pp) {
        struct act_incident *inc = *pp;
        if (inc != keep && same_place(inc, keep->probe_id, keep->region)) {
            if (inc->pending == 0) {
                *pp = inc->next;
                act_incident_free(inc);
                continue;
            }
            inc->stale = true;
        }
        pp = &inc->next;
    }
}

struct act_incident *act_incident_get(struct actions *r, const char *id, const char *probe_id,
                                      const char *region)
{
    struct act_incident *inc = act_incident_find(r, id);
    if (inc)
        return inc;
    inc = calloc(1, sizeof *inc);
    if (!inc)
        return NULL;
    snprintf(inc->id, sizeof inc->id, "%s", id);
    inc->probe_id = act_strdup(probe_id);
    inc->region = act_strdup(region);
    strv_init(&inc->fired);
    if (!inc->probe_id || !inc->region) {
        act_incident_free(inc);
        return NULL;
    }
    inc->next = r->incidents;
    r->incidents = inc;
    incident_supersede(r, inc);
    return inc;
}

/* Moves e into the timeline (e is left empty). The oldest entry goes when
 * the ring is full: a flapping action must not grow memory. */
struct act_entry *act_timeline_push(struct act_incident *inc, struct act_entry *e)
{
    size_t slot;
    if (inc->n == ACTIONS_TIMELINE_MAX) {
        act_entry_clear(&inc->ring[inc->head]);
        slot = inc->head;
        inc->head = (inc->head + 1) % ACTIONS_TIMELINE_MAX;
        inc->dropped++;
    } else {
        slot = (inc->head + inc->n) % ACTIONS_TIMELINE_MAX;
        inc->n++;
    }
    inc->ring[slot] = *e;
    memset(e, 0, sizeof *e);
    return &inc->ring[slot];
}

/* An entry that needs no run: skipped, dry run, or an error before starting. */
void act_timeline_note(struct act_incident *inc, const char *action, enum act_kind kind,
                       const char *outcome, const char *detail)
{
    struct act_entry e = { .kind = kind, .outcome = outcome, .status = -1 };
    tl_iso8601_now(true, e.at);
    e.action = act_strdup(action);
    e.detail = act_strdup(detail);
    if (!e.action || !e.detail) {
        act_entry_clear(&e);
        return;
    }
    act_timeline_push(inc, &e);
}

/* A resolved incident whose runs have all ended is kept as the last
 * resolved timeline of its place; older ones go. */
void act_incident_settle(struct actions *r, struct act_incident *inc)
{
    if (inc->pending > 0)
        return;
    if (inc->stale) {
        incident_unlink(r, inc);
        act_incident_free(inc);
    }
}

/* The timeline as JSON, for events and /status. */
static cJSON *timeline_json(const struct act_incident *inc)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < inc->n; i++) {
        const struct act_entry *e = &inc->ring[(inc->head + i) % ACTIONS_TIMELINE_MAX];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddStringToObject(o, "at", e->at);
        cJSON_AddStringToObject(o, "action", e->action);
        cJSON_AddStringToObject(o, "kind", kind_str(e->kind));
        cJSON_AddStringToObject(o, "outcome", e->outcome ? e->outcome : "error");
        cJSON_AddStringToObject(o, "detail", e->detail ? e->detail : "");
        if (e->status >= 0)
            cJSON_AddNumberToObject(o, "status", (double)e->status);
        if (e->output)
            cJSON_AddStringToObject(o, "output", e->output);
    }
    return arr;
}

size_t actions_pending(const struct actions *r, const char *incident_id)
{
    const struct act_incident *inc = r && incident_id ? act_incident_find(r, incident_id) : NULL;
    return inc && inc->pending > 0 ? (size_t)inc->pending : 0;
}

cJSON *actions_timeline_json(const struct actions *r, const char *incident_id)
{
    const struct act_incident *inc;
    if (!r || !incident_id)
        return NULL;
    inc = act_incident_find(r, incident_id);
    return inc ? timeline_json(inc) : NULL;
}

cJSON *actions_probe_json(const struct actions *r, const char *probe_id, const char *region)
{
    const struct act_incident *best = NULL;
    cJSON *o, *tl;

    if (!r || !probe_id)
        return NULL;
    /* The open incident wins over the last resolved one. */
    for (const struct act_incident *inc = r->incidents; inc; inc = inc->next) {
        if (inc->stale || !same_place(inc, probe_id, region))
            continue;
        if (!best || (best->resolved && !inc->resolved))
            best = inc;
    }
    if (!best)
        return NULL;
    o = cJSON_CreateObject();
    tl = timeline_json(best);
    if (!o || !tl) {
        cJSON_Delete(o);
        cJSON_Delete(tl);
        return NULL;
    }
    cJSON_AddStringToObject(o, "incident_id", best->id);
    cJSON_AddStringToObject(o, "region", best->region);
    cJSON_AddStringToObject(o, "state", best->resolved ? "resolved" : "open");
    cJSON_AddNumberToObject(o, "dropped", (double)best->dropped);
    cJSON_AddItemToObject(o, "timeline", tl);
    return o;
}

