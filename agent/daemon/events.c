/* Escalation events to the spool (events.h). */
#include "agent/daemon/events.h"

#include <stdlib.h>
#include <string.h>

#include "agent/outbox/delivery.h"
#include "agent/outbox/spool.h"
#include "base/buf.h"
#include "base/time.h"

struct events {
    struct events_opts o;
    struct strv unspooled;       /* events the spool refused, oldest first */
    struct metric_family *f_events;
    struct metric *m_spool_dropped, *m_unspooled, *m_events_lost, *m_spool_up;
    uint64_t down_logged_us;     /* the last "spool unavailable" line */
};

static struct metric *single(struct metric_family *f)
{
    return f ? metrics_series(f, NULL) : NULL;
}

int events_new(const struct events_opts *o, struct events **out)
{
    struct events *ev = calloc(1, sizeof(*ev));
    *out = NULL;
    if (!ev)
        return TL_ENOMEM;
    ev->o = *o;
    strv_init(&ev->unspooled);
    struct metrics *m = o->metrics;
    ev->f_events = metrics_counter(m, "tripline_events_total", "Escalation events emitted by transition",
                                   (const char *const[]){"transition"}, 1);
    ev->m_spool_dropped = single(metrics_counter(m, "tripline_spool_dropped_total",
                                                 "Events dropped because the spool passed its bound", NULL, 0));
    ev->m_unspooled = single(metrics_gauge(
        m, "tripline_events_unspooled", "Events the spool refused (disk full, I/O error), held in memory and retried",
        NULL, 0));
    ev->m_events_lost = single(metrics_counter(
        m, "tripline_events_lost_total", "Events lost: refused by the spool and past the in-memory bound", NULL, 0));
    ev->m_spool_up = single(metrics_gauge(
        m, "tripline_spool_up", "1 when the spool is open; 0: events are held in memory and not delivered", NULL, 0));
    if (!ev->f_events || !ev->m_spool_dropped || !ev->m_unspooled || !ev->m_events_lost || !ev->m_spool_up) {
        events_free(ev);
        return TL_ENOMEM;
    }
    metric_set(ev->m_spool_up, o->spool ? 1 : 0);
    ev->down_logged_us = tl_mono_us();
    *out = ev;
    return 0;
}

static void hold(struct events *ev, const char *text)
{
    if (ev->unspooled.n >= EVENTS_HELD_MAX) {
        /* bounded: the oldest held event goes, and it is counted as lost */
        free(ev->unspooled.v[0]);
        memmove(ev->unspooled.v, ev->unspooled.v + 1, (ev->unspooled.n - 1) * sizeof(char *));
        ev->unspooled.n--;
        metric_inc(ev->m_events_lost);
    }
    if (strv_push(&ev->unspooled, text))
        metric_inc(ev->m_events_lost);
    metric_set(ev->m_unspooled, (double)ev->unspooled.n);
}

#define EV_STR(o, k) cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive((o), (k)))

static void log_event(struct events *ev, const cJSON *e)
{
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(e, "secondOpinion");
    const char *kind = EV_STR(e, "transition");
    log_kv(ev->o.log, LOG_INFO,
           LOG_FIELDS(LOG_STR("probe", EV_STR(e, "probe")), LOG_STR("region", EV_STR(e, "region")),
                      LOG_STR("transition", kind), LOG_STR("level", EV_STR(e, "level")),
                      LOG_STR("bucket", EV_STR(e, "bucket")), LOG_STR("incident", EV_STR(e, "incidentId")),
                      LOG_STR("event", EV_STR(e, "eventId")), LOG_STR("second_opinion", EV_STR(so, "summary"))),
           "incident %s", kind ? kind : "?");
}

void events_spool(struct events *ev, cJSON *e)
{
    char *text = cJSON_PrintUnformatted(e);
    const char *probe = EV_STR(e, "probe"), *kind = EV_STR(e, "transition"), *event_id = EV_STR(e, "eventId");
    if (!text) {
        log_error(ev->o.log, "probe %s: out of memory writing a %s event", probe ? probe : "?", kind ? kind : "?");
        goto out;
    }
    uint64_t seq = 0, dropped = 0;
    int rc = ev->o.spool ? spool_append(ev->o.spool, text, strlen(text), &seq, &dropped) : TL_EIO;
    if (dropped) {
        log_warn(ev->o.log,
                 "spool over its bound (%zu bytes): dropped the %llu oldest undelivered events to keep the newest",
                 ev->o.spool_max_bytes, (unsigned long long)dropped);
        metric_add(ev->m_spool_dropped, (double)dropped);
    }
    if (rc) {
        /* Sinks read only the spool: keep the event in memory and append it
         * again every second until the spool takes it (disk full, EIO). */
        log_error(ev->o.log, "probe %s: cannot spool event %s: %s; holding it in memory", probe ? probe : "?",
                  event_id ? event_id : "?", ev->o.spool ? spool_error(ev->o.spool) : "spool unavailable");
        hold(ev, text);
    }
    log_event(ev, e);
    struct metric *m = kind ? metrics_series(ev->f_events, (const char *const[]){kind}) : NULL;
    if (m)
        metric_inc(m);
    if (ev->o.delivery)
        delivery_kick(ev->o.delivery);
out:
    free(text);
    cJSON_Delete(e);
}

#undef EV_STR

void events_retry(struct events *ev)
{
    size_t done = 0;
    if (!ev->o.spool) {
        uint64_t now = tl_mono_us();
        if (now - ev->down_logged_us >= EVENTS_SPOOL_DOWN_LOG_S * 1000000ull) {
            ev->down_logged_us = now;
            log_error(ev->o.log, "spool unavailable: %zu events held in memory, none delivered", ev->unspooled.n);
        }
        return;
    }
    while (done < ev->unspooled.n) {
        uint64_t seq = 0, dropped = 0;
        const char *t = ev->unspooled.v[done];
        if (spool_append(ev->o.spool, t, strlen(t), &seq, &dropped))
            break;
        if (dropped)
            metric_add(ev->m_spool_dropped, (double)dropped);
        free(ev->unspooled.v[done]);
        done++;
    }
    if (!done)
        return;
    memmove(ev->unspooled.v, ev->unspooled.v + done, (ev->unspooled.n - done) * sizeof(char *));
    ev->unspooled.n -= done;
    metric_set(ev->m_unspooled, (double)ev->unspooled.n);
    log_info(ev->o.log, "spooled %zu held events (%zu still held)", done, ev->unspooled.n);
    if (ev->o.delivery)
        delivery_kick(ev->o.delivery);
}

void events_forget_delivery(struct events *ev)
{
    if (ev)
        ev->o.delivery = NULL;
}

size_t events_held(const struct events *ev)
{
    return ev ? ev->unspooled.n : 0;
}

void events_free(struct events *ev)
{
    if (!ev)
        return;
    if (ev->unspooled.n)
        log_error(ev->o.log, "%zu events were never accepted by the spool and are lost", ev->unspooled.n);
    strv_free(&ev->unspooled);
    free(ev);
}
