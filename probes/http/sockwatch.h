/* The sockets of the transfer engine in one epoll set of its own, itself
 * watched by one uv_poll_t. A check's socket costs an ADD, a MOD and a DEL:
 * a uv_poll_t per socket costs about eight epoll_ctl calls and an ioctl
 * (libuv tests the descriptor at init and deletes before every start). */
#ifndef TRIPLINE_SOCKWATCH_H
#define TRIPLINE_SOCKWATCH_H

#include <uv.h>

struct sockwatch;

/* Flags of a ready socket, curl's values: CURL_CSELECT_IN / _OUT / _ERR. */
typedef void (*sockwatch_ready_cb)(void *arg, int fd, int cselect);
/* Called once after each batch of ready sockets. */
typedef void (*sockwatch_batch_cb)(void *arg);

int sockwatch_new(struct sockwatch **out, uv_loop_t *loop, sockwatch_ready_cb ready, sockwatch_batch_cb batch,
                  void *arg);
/* what is curl's CURL_POLL_IN / _OUT / _INOUT / _REMOVE for fd. 0 or TL_E*. */
int sockwatch_set(struct sockwatch *w, int fd, int what);
/* Closes the watcher; no callback runs after this. NULL is a no-op. */
void sockwatch_free(struct sockwatch *w);

#endif
