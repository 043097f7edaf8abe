/* A pause on the engine's loop (a retry's delay): one uv timer per wait, on
 * the engine's list so that freeing the engine drops it like a transfer in
 * flight, without its callback; what it would start could not run. */
#include "probes/http/transfer_wait.h"

#include <stdlib.h>

#include "base/err.h"

struct transfer_wait {
    uv_timer_t timer;
    struct transfer_wait **list;
    struct transfer_wait *next;
    void (*cb)(void *arg);
    void *arg;
};

static void wait_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void wait_close(struct transfer_wait *w)
{
    for (struct transfer_wait **p = w->list; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, wait_close_cb);
}

static void wait_fire(uv_timer_t *t)
{
    struct transfer_wait *w = t->data;
    void (*cb)(void *) = w->cb;
    void *arg = w->arg;
    wait_close(w);
    cb(arg);
}

void transfer_waits_drop(struct transfer_wait **list)
{
    while (*list)
        wait_close(*list);
}

int transfer_session_after(struct transfer_session *s, tl_usec delay, void (*cb)(void *arg), void *arg)
{
    uv_loop_t *loop;
    struct transfer_wait **list = transfer_session_waits(s, &loop);
    if (!list)
        return TL_ESTATE;
    struct transfer_wait *w = calloc(1, sizeof(*w));
    if (!w)
        return TL_ENOMEM;
    if (uv_timer_init(loop, &w->timer) != 0) {
        free(w);
        return TL_ELOOP;
    }
    w->timer.data = w;
    w->list = list;
    w->cb = cb;
    w->arg = arg;
    w->next = *list;
    *list = w;
    uint64_t ms = delay > 0 ? (uint64_t)((delay + 999) / 1000) : 0;
    if (uv_timer_start(&w->timer, wait_fire, ms, 0) != 0) {
        wait_close(w);
        return TL_ELOOP;
    }
    return 0;
}
