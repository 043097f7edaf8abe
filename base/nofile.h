/* The descriptor limit of a process that runs many checks at once.
 *
 * Every run in flight holds a socket, so limits.concurrency wants as many
 * descriptors. The soft RLIMIT_NOFILE goes up to the hard one, as Go's
 * runtime and most daemons do (a shell's soft 1,024 is the usual trap).
 * Nothing in tripline uses select(): descriptors above 1,024 are fine. */
#ifndef TRIPLINE_NOFILE_H
#define TRIPLINE_NOFILE_H

#include <stdbool.h>

/* Descriptors a process holds besides its runs' sockets: the loop, the
 * listeners, log, spool, sinks' connections, the resolver. */
#define TL_NOFILE_RESERVE 64

/* Raises the soft limit to the hard one. Returns true when the limit is
 * then still below concurrency + TL_NOFILE_RESERVE, with the limit in
 * *limit: the caller says so (runs past it fail as agent/fd_limit). */
bool tl_nofile_raise(unsigned long concurrency, unsigned long long *limit);

#endif
