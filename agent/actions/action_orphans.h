/* Commands a crash left running. Each command the agent starts is recorded
 * while it runs, one small file per command in <state_dir>/commands/ (its
 * process group, the start time of its leader from /proc so a reused PID is
 * never taken for it, the action and the incident); the record goes when the
 * command ends. At start-up, before any action runs, actions_orphans_reap()
 * kills (SIGKILL to the group) every recorded command that is still there,
 * so an orphan of the last run and the run after the restart never act at
 * once. See docs/actions.md. */
#ifndef TRIPLINE_ACTION_ORPHANS_H
#define TRIPLINE_ACTION_ORPHANS_H

#include "base/err.h" /* returns 0 or a TL_E* code */

/* A command of the last run that was still running (strings borrowed for
 * the callback). */
struct actions_orphan {
    int pgid;
    const char *probe, *incident, *action;
    const char *kind;            /* run, rollback */
};

typedef void (*actions_orphan_cb)(void *arg, const struct actions_orphan *o);

/* Kills every recorded command group of state_dir still alive and the same
 * process (cb is called for each one killed), then removes every record.
 * Returns how many were killed, or a negative TL_E* code when the folder of
 * records cannot be read (none is then killed). */
int actions_orphans_reap(const char *state_dir, actions_orphan_cb cb, void *arg);

#endif
