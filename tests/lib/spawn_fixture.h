/* Test helper: starts a fixture server from the build directory and reads
 * the line it prints first (its ports). Header-only: each test is one .c. */
#ifndef TRIPLINE_SPAWN_FIXTURE_H
#define TRIPLINE_SPAWN_FIXTURE_H

#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Runs $TRIPLINE_BUILD_DIR/name --bind 127.0.0.1; 0 with *pid and the first
 * line of its stdout in line, else -1 (and nothing left running). */
static inline int spawn_fixture(const char *name, pid_t *pid, char *line, int cap)
{
    const char *dir = getenv("TRIPLINE_BUILD_DIR");
    char path[1024];
    int pipefd[2];
    posix_spawn_file_actions_t fa;
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", name);
    char *argv[] = {path, "--bind", "127.0.0.1", NULL};
    if (pipe(pipefd) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    int rc = posix_spawn(pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return -1;
    }
    FILE *f = fdopen(pipefd[0], "r");
    bool ok = f && fgets(line, cap, f);
    if (f)
        fclose(f);
    else
        close(pipefd[0]);
    if (!ok) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    return ok ? 0 : -1;
}

#endif
