/* Waits on the transfer engine's loop: transfer_session_after (transfer.h)
 * and what the engine needs of them. Internal to probes/http/. */
#ifndef TRIPLINE_TRANSFER_WAIT_H
#define TRIPLINE_TRANSFER_WAIT_H

#include <uv.h>

#include "probes/http/transfer.h"

struct transfer_wait;

/* transfer.c: s's loop and its engine's list of pending waits, NULL once the
 * engine is being freed. */
struct transfer_wait **transfer_session_waits(struct transfer_session *s, uv_loop_t **loop);
/* Closes every wait of a list without calling it back (the engine is going). */
void transfer_waits_drop(struct transfer_wait **list);

#endif
