#include "agent/cli/junit.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cli/xml_escape.h"
#include "base/io.h"
#include "base/time.h"

#define REPORT_MAX (256u << 20)

struct totals {
    size_t tests, failures, errors;
    tl_usec time;
};

static const char *file_of(const struct run_result *r)
{
    return r->probe && r->probe->file ? r->probe->file : "";
}

static void count(struct totals *t, const struct run_result *r)
{
    t->tests++;
    if (!r->ok && bucket_is_agent(r->bucket))
        t->errors++;
    else if (!r->ok)
        t->failures++;
    t->time += r->duration;
}

/* Seconds with millisecond digits, as JUnit readers expect. */
static int put_secs(struct buf *b, const char *name, tl_usec us)
{
    if (us < 0)
        us = 0;
    return buf_printf(b, " %s=\"%" PRId64 ".%03" PRId64 "\"", name, (int64_t)(us / 1000000),
                      (int64_t)(us / 1000 % 1000));
}

static int put_attr(struct buf *b, const char *name, const char *value)
{
    int rc = buf_printf(b, " %s=\"", name);
    if (rc == 0)
        rc = xml_escape(b, value, true);
    return rc ? rc : buf_puts(b, "\"");
}

static int put_totals(struct buf *b, const struct totals *t)
{
    int rc = buf_printf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\"", t->tests, t->failures,
                        t->errors);
    return rc ? rc : put_secs(b, "time", t->time);
}

/* The first failure a reader should see: the failing step's, else the run's. */
static const char *first_failure(const struct run_result *r)
{
    if (r->failed_step >= 0 && (size_t)r->failed_step < r->n_steps && r->steps[r->failed_step].failures.n)
        return r->steps[r->failed_step].failures.v[0];
    return r->failures.n ? r->failures.v[0] : "failed";
}

/* <failure> or <error>: the message names bucket and reason, the text lists
 * every failed check. The messages were redacted when the run made them. */
static int put_verdict(struct buf *b, const struct run_result *r)
{
    const char *tag = bucket_is_agent(r->bucket) ? "error" : "failure";
    char msg[1024];
    snprintf(msg, sizeof msg, "%s/%s: %s", bucket_str(r->bucket), r->reason ? r->reason : "failed",
             first_failure(r));
    int rc = buf_printf(b, "      <%s", tag);
    if (rc == 0)
        rc = put_attr(b, "message", msg);
    if (rc == 0)
        rc = put_attr(b, "type", bucket_str(r->bucket));
    rc = rc ? rc : buf_puts(b, ">");
    for (size_t i = 0; rc == 0 && i < r->failures.n; i++)
        if ((rc = xml_escape(b, r->failures.v[i], false)) == 0)
            rc = buf_puts(b, "\n");
    for (size_t k = 0; rc == 0 && k < r->n_steps; k++) {
        const struct step_result *s = &r->steps[k];
        for (size_t i = 0; rc == 0 && s->ran && !s->ok && i < s->failures.n; i++)
            if ((rc = xml_escape(b, s->failures.v[i], false)) == 0)
                rc = buf_puts(b, "\n");
    }
    return rc ? rc : buf_printf(b, "</%s>\n", tag);
}

/* One line per step: verdict, status and timings. */
static int put_step(struct buf *b, const struct step_result *s)
{
    char line[256];
    int rc = buf_puts(b, "step ");
    if (rc == 0)
        rc = xml_escape(b, s->name, false);
    if (rc)
        return rc;
    if (!s->ran)
        return buf_puts(b, ": skipped\n");
    int at = snprintf(line, sizeof line, ": %s", s->ok ? "ok" : "FAIL");
    if (!s->ok)
        at += snprintf(line + at, sizeof line - (size_t)at, " %s/%s", bucket_str(s->bucket),
                       s->reason ? s->reason : "failed");
    at += snprintf(line + at, sizeof line - (size_t)at, " status=%ld ttfb=%.1fms total=%.1fms", s->status,
                   s->status > 0 ? (double)s->timings.ttfb / 1000.0 : 0.0, (double)s->timings.total / 1000.0);
    /* a pass on a retry is still a pass, but shown as one */
    if (s->attempts > 1)
        at += snprintf(line + at, sizeof line - (size_t)at, " attempts=%d", s->attempts);
    snprintf(line + at, sizeof line - (size_t)at, "\n");
    return xml_escape(b, line, false);
}

/* The steps, then the evidence of each failed step (already redacted). */
static int put_system_out(struct buf *b, const struct run_result *r)
{
    int rc = buf_puts(b, "      <system-out>");
    for (size_t k = 0; rc == 0 && k < r->n_steps; k++)
        rc = put_step(b, &r->steps[k]);
    for (size_t k = 0; rc == 0 && k < r->n_steps; k++) {
        const struct step_result *s = &r->steps[k];
        if (!s->evidence)
            continue;
        char *text = cJSON_Print(s->evidence);
        if (!text)
            return TL_ENOMEM;
        rc = buf_puts(b, "evidence of step ");
        if (rc == 0)
            rc = xml_escape(b, s->name, false);
        if (rc == 0)
            rc = buf_puts(b, ":\n");
        if (rc == 0)
            rc = xml_escape(b, text, false);
        free(text);
        if (rc == 0)
            rc = buf_puts(b, "\n");
    }
    return rc ? rc : buf_puts(b, "</system-out>\n");
}

static int put_case(struct buf *b, const struct run_result *r)
{
    int rc = buf_puts(b, "    <testcase");
    if (rc == 0)
        rc = put_attr(b, "classname", file_of(r));
    if (rc == 0)
        rc = put_attr(b, "name", r->probe_id);
    if (rc == 0)
        rc = put_secs(b, "time", r->duration);
    if (rc == 0)
        rc = buf_puts(b, ">\n");
    if (rc == 0 && !r->ok)
        rc = put_verdict(b, r);
    if (rc == 0)
        rc = put_system_out(b, r);
    return rc ? rc : buf_puts(b, "    </testcase>\n");
}

/* The testsuite of one file: every result in rs whose probe came from it. */
static int put_suite(struct buf *b, struct run_result *const *rs, size_t n, const char *file, size_t id,
                     const char *host)
{
    struct totals t = {0};
    int64_t first = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(file_of(rs[i]), file) != 0)
            continue;
        count(&t, rs[i]);
        if (first == 0 || rs[i]->started_at_us < first)
            first = rs[i]->started_at_us;
    }
    char when[TL_ISO8601_LEN];
    tl_iso8601(first, false, when);
    int rc = buf_printf(b, "  <testsuite id=\"%zu\"", id);
    if (rc == 0)
        rc = put_attr(b, "name", file);
    if (rc == 0)
        rc = put_totals(b, &t);
    if (rc == 0)
        rc = put_attr(b, "timestamp", when);
    if (rc == 0)
        rc = put_attr(b, "hostname", host);
    if (rc == 0)
        rc = buf_puts(b, ">\n");
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (strcmp(file_of(rs[i]), file) == 0)
            rc = put_case(b, rs[i]);
    return rc ? rc : buf_puts(b, "  </testsuite>\n");
}

static int render(struct buf *b, struct run_result *const *rs, size_t n)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    struct totals t = {0};
    for (size_t i = 0; i < n; i++)
        count(&t, rs[i]);
    int rc = buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tripline\"");
    if (rc == 0)
        rc = put_totals(b, &t);
    if (rc == 0)
        rc = buf_puts(b, ">\n");
    /* suites in the order their files first appear */
    for (size_t i = 0, id = 0; rc == 0 && i < n; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(file_of(rs[k]), file_of(rs[i])) == 0;
        if (!seen)
            rc = put_suite(b, rs, n, file_of(rs[i]), id++, host);
    }
    return rc ? rc : buf_puts(b, "</testsuites>\n");
}

int junit_write(const char *path, struct run_result *const *rs, size_t n)
{
    struct buf b;
    char *tmp = NULL;
    int fd = -1, rc;
    buf_init(&b, REPORT_MAX);
    if ((rc = render(&b, rs, n)))
        goto out;
    rc = TL_ENOMEM;
    size_t len = strlen(path) + sizeof ".tmp.XXXXXX";
    if (!(tmp = malloc(len)))
        goto out;
    snprintf(tmp, len, "%s.tmp.XXXXXX", path);
    rc = TL_EIO;
    fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        tmp = NULL;
        goto out;
    }
    /* mkstemp makes it 0600; a report is for the CI server to read */
    bool wrote = fchmod(fd, 0644) == 0 && tl_write_all(fd, b.data, b.len) == 0 && fsync(fd) == 0;
    wrote = close(fd) == 0 && wrote;
    fd = -1;
    if (wrote && rename(tmp, path) == 0)
        rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (tmp && rc)
        unlink(tmp);
    free(tmp);
    buf_free(&b);
    return rc;
}
