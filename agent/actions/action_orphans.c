/* Records of running commands (<state_dir>/commands/<id>.json, written
 * before the spawn, renamed <pgid>.json once the group is known) and, at
 * start-up, the end of the commands a crash left behind. */
#define _GNU_SOURCE /* memmem */
#include "agent/actions/action_orphans.h"
#include "agent/actions/actions_int.h"
#include "base/io.h"
#include "base/uuid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ORPH_SUBDIR "commands"
#define ORPH_REC_MAX 4096

/* A small file whole into text (NUL-terminated): its length, or -1. */
static ssize_t read_small(int dfd, const char *path, char *text, size_t len)
{
    int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, len - 1);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    return n;
}

/* Process group and start time (clock ticks since boot) of pid, from
 * /proc/PID/stat; the name in parentheses may hold anything, so the fields
 * are counted from its closing parenthesis. */
static int proc_stat(long pid, long *pgrp, unsigned long long *start)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (read_small(AT_FDCWD, path, text, sizeof text) <= 0)
        return TL_ENOTFOUND;
    char *p = strrchr(text, ')');
    if (!p)
        return TL_ESYNTAX;
    /* after ")": state (field 3), ppid, pgrp (5) ... starttime (22) */
    p++;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        char *end = p;
        unsigned long long v = strtoull(p, &end, 10);
        if (field == 5)
            *pgrp = (long)v;
        if (field == 22)
            *start = v;
        if (field > 3 && end == p)
            return TL_ESYNTAX;
        while (*end && *end != ' ')
            end++;
        p = end;
    }
    return 0;
}

/* Whether group pgid is still the recorded command's: its leader with the
 * recorded start time, or (the leader gone) a member started after it and
 * before this agent, so a group id reused since is never taken for it. */
static bool group_is_ours(int pgid, unsigned long long start)
{
    long pgrp = 0;
    unsigned long long st = 0, self_st = 0;
    if (proc_stat(pgid, &pgrp, &st) == 0)
        return pgrp == pgid && st == start;
    if (proc_stat((long)getpid(), &pgrp, &self_st) != 0)
        return false;
    DIR *d = opendir("/proc");
    bool ours = false;
    for (struct dirent *e = d ? readdir(d) : NULL; e && !ours; e = readdir(d)) {
        char *end = NULL;
        long pid = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end || pid <= 0)
            continue;
        ours = proc_stat(pid, &pgrp, &st) == 0 && pgrp == pgid && st >= start && st <= self_st;
    }
    if (d)
        closedir(d);
    return ours;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TL_EIO;
    int rc = fsync(fd) == 0 ? 0 : TL_EIO;
    close(fd);
    return rc;
}

/* Writes text to path durably: a temporary file, fsynced, renamed over. */
static int write_durably(const char *dir, const char *path, const char *text)
{
    char tmp[4200];
    int rc = TL_EIO;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    rc = tl_write_all(fd, text, strlen(text));
    if (rc == 0 && fsync(fd) != 0)
        rc = TL_EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = TL_EIO;
    if (rc == 0)
        rc = fsync_path(dir);
    if (rc)
        (void)unlink(tmp);
out:
    return rc;
}

static char *record_text(const struct act_run *run, unsigned long long start)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (!o || !cJSON_AddStringToObject(o, "id", run->orphan_id) || !cJSON_AddNumberToObject(o, "pgid", run->pgid) ||
        !cJSON_AddNumberToObject(o, "start", (double)start) ||
        !cJSON_AddStringToObject(o, "probe", run->inc->probe_id ? run->inc->probe_id : "") ||
        !cJSON_AddStringToObject(o, "incident", run->inc->id) ||
        !cJSON_AddStringToObject(o, "action", run->e.action ? run->e.action : "") ||
        !cJSON_AddStringToObject(o, "kind", run->e.kind == ACT_ROLLBACK ? "rollback" : "run"))
        goto out;
    text = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return text;
}

/* The folder of the records under the state folder, made if missing. */
static int records_dir(const char *state, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/" ORPH_SUBDIR, state);
    return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : TL_EIO;
}

int act_orphan_intent(struct act_run *run)
{
    const char *state = run->r->opts.state_dir;
    char dir[4096], path[4160];
    char *text = NULL;
    int rc = uuid_v4(run->orphan_id) ? TL_EIO : 0;

    if (rc || !state)
        goto out;
    rc = TL_ENOMEM;
    text = record_text(run, 0);
    if (!text)
        goto out;
    rc = records_dir(state, dir, sizeof dir);
    if (rc)
        goto out;
    snprintf(path, sizeof path, "%s/%s.json", dir, run->orphan_id);
    rc = write_durably(dir, path, text);
    run->orphan_rec = rc == 0 ? strdup(path) : NULL;
    if (rc == 0 && !run->orphan_rec) {
        (void)unlink(path);
        rc = TL_ENOMEM;
    }
out:
    free(text);
    return rc;
}

int act_orphan_record(struct act_run *run)
{
    const char *state = run->r->opts.state_dir;
    char dir[4096], path[4160];
    long pgrp = 0;
    unsigned long long start = 0;
    char *text = NULL;
    int rc = 0;

    if (!state || run->pgid <= 0)
        goto out;
    rc = proc_stat(run->pgid, &pgrp, &start);
    if (rc)
        goto out;
    rc = TL_ENOMEM;
    text = record_text(run, start);
    if (!text)
        goto out;
    rc = records_dir(state, dir, sizeof dir);
    if (rc)
        goto out;
    snprintf(path, sizeof path, "%s/%d.json", dir, run->pgid);
    /* The intent's record becomes this one in one rename: at every moment
     * there is exactly one record of the command. */
    rc = write_durably(dir, run->orphan_rec ? run->orphan_rec : path, text);
    if (rc == 0 && run->orphan_rec) {
        if (rename(run->orphan_rec, path) != 0) {
            rc = TL_EIO; /* whole under its id: that one is removed at the end */
            goto out;
        }
        free(run->orphan_rec);
        run->orphan_rec = NULL;
        rc = fsync_path(dir);
    }
    if (rc == 0)
        run->orphan_rec = strdup(path);
    if (rc == 0 && !run->orphan_rec) {
        (void)unlink(path);
        rc = TL_ENOMEM;
    }
out:
    free(text);
    return rc;
}

void act_orphan_forget(struct act_run *run)
{
    if (!run->orphan_rec)
        return;
    (void)unlink(run->orphan_rec);
    free(run->orphan_rec);
    run->orphan_rec = NULL;
}

static cJSON *read_record(int dfd, const char *name)
{
    char text[ORPH_REC_MAX];
    return read_small(dfd, name, text, sizeof text) > 0 ? cJSON_Parse(text) : NULL;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The process group of a command recorded before it was spawned (the agent
 * died before it knew the group): the process that holds the record's id
 * in its environment (TRIPLINE_COMMAND_ID, set for the command alone). 0
 * when none is alive. */
static int group_by_id(const char *id)
{
    char needle[80], path[64];
    size_t cap = 256 * 1024;
    char *env = malloc(cap);
    int pgid = 0;
    if (!env || strlen(id) != 36)
        goto out;
    snprintf(needle, sizeof needle, "TRIPLINE_COMMAND_ID=%s", id);
    DIR *d = opendir("/proc");
    for (struct dirent *e = d ? readdir(d) : NULL; e && !pgid; e = readdir(d)) {
        char *end = NULL;
        long pid = strtol(e->d_name, &end, 10), pgrp = 0;
        unsigned long long start = 0;
        if (end == e->d_name || *end || pid <= 1 || pid == (long)getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        ssize_t n = read_small(AT_FDCWD, path, env, cap);
        if (n > 0 && memmem(env, (size_t)n, needle, strlen(needle)) && proc_stat(pid, &pgrp, &start) == 0 &&
            pgrp > 1 && pgrp != (long)getpgrp())
            pgid = (int)pgrp;
    }
    if (d)
        closedir(d);
out:
    free(env);
    return pgid;
}

/* Kills the command of one record if it is still there: 1 when killed. */
static int reap_one(const cJSON *o, actions_orphan_cb cb, void *arg)
{
    const cJSON *pg = cJSON_GetObjectItemCaseSensitive(o, "pgid");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "start");
    if (!cJSON_IsNumber(pg) || !cJSON_IsNumber(st) || pg->valuedouble > 1e9)
        return 0;
    int pgid = (int)pg->valuedouble;
    if (pgid == 0) {
        /* recorded before its spawn: found by its id, or not alive */
        pgid = group_by_id(str_of(o, "id"));
        if (pgid <= 0 || kill(-pgid, SIGKILL) != 0)
            return 0;
    } else if (pgid < 2 || !group_is_ours(pgid, (unsigned long long)st->valuedouble) || kill(-pgid, SIGKILL) != 0) {
        return 0;
    }
    struct actions_orphan orphan = {.pgid = pgid, .probe = str_of(o, "probe"),
                                    .incident = str_of(o, "incident"), .action = str_of(o, "action"),
                                    .kind = str_of(o, "kind")};
    if (cb)
        cb(arg, &orphan);
    return 1;
}

int actions_orphans_reap(const char *state_dir, actions_orphan_cb cb, void *arg)
{
    char dir[4096];
    int killed = 0;
    snprintf(dir, sizeof dir, "%s/" ORPH_SUBDIR, state_dir);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : TL_EIO;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
            cJSON *o = read_record(dirfd(d), e->d_name);
            if (o)
                killed += reap_one(o, cb, arg);
            cJSON_Delete(o);
        }
        /* records and half-written ones alike: none outlives the reaping */
        (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
    return killed;
}
