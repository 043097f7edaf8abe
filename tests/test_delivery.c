/* Delivery against a scripted in-process sink: batching, acks, retries and
 * dead letters, without any network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/outbox/delivery.h"
#include "agent/outbox/spool.h"
#include "agent/sinks/sink.h"

#define MAX_OUTCOMES 8
#define SEC ((tl_usec)1000000)

/* A sink that answers from inside send with the next scripted outcome
 * (delivered once the script runs out) and counts what it was given. */
struct fake {
    struct sink base;
    enum sink_outcome script[MAX_OUTCOMES];
    size_t n_script, next;
    size_t sends, events;
    size_t sizes[16];
    const char *poison;         /* a batch holding an event with this text is rejected */
    int *freed;
};

static int fake_send(struct sink *s, const char *const *events, const size_t *lens, size_t n,
                     sink_done_cb cb, void *arg)
{
    struct fake *f = (struct fake *)s;
    struct sink_result res = {.outcome = SINK_DELIVERED, .retry_after = -1};

    if (f->next < f->n_script)
        res.outcome = f->script[f->next++];
    for (size_t i = 0; f->poison && i < n; i++)
        if (lens[i] && strstr(events[i], f->poison)) /* spool records end in a NUL */
            res.outcome = SINK_REJECTED;
    if (res.outcome == SINK_RETRY)
        res.retry_after = 0; /* come back at once: the test waits on the loop */
    if (res.outcome == SINK_REJECTED) {
        res.status = 422;
        snprintf(res.reason, sizeof(res.reason), "scripted rejection");
    }
    if (f->sends < 16)
        f->sizes[f->sends] = n;
    f->sends++;
    if (res.outcome == SINK_DELIVERED)
        f->events += n;
    cb(&res, arg);
    return 0;
}

static void fake_free(struct sink *s)
{
    struct fake *f = (struct fake *)s;

    if (f->freed)
        (*f->freed)++;
    free(f);
}

static const struct sink_ops fake_ops = {.kind = "fake", .send = fake_send, .free = fake_free};

struct fx {
    char dir[256];
    uv_loop_t loop;
    struct spool *sp;
    struct delivery *d;
    struct fake *sink;
    int freed;
    size_t logged;
    uint64_t dead_max; /* delivery_opts.dead_letter_max; 0 = the default */
};

static void quiet_log(void *arg, enum log_level level, const char *sink, const char *msg)
{
    struct fx *f = arg;

    (void)level;
    (void)sink;
    (void)msg;
    f->logged++;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    const char *names[] = {"fake"};

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s/tripline-delivery-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(f->dir) || uv_loop_init(&f->loop) != 0)
        return -1;
    if (spool_open(f->dir, NULL, names, 1, &f->sp, NULL, 0) != 0)
        return -1;
    f->sink = calloc(1, sizeof(*f->sink));
    if (!f->sink)
        return -1;
    f->sink->base.ops = &fake_ops;
    f->sink->freed = &f->freed;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d;
    struct dirent *e;
    char p[512];

    delivery_free(f->d);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->freed, 1);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    spool_free(f->sp);
    d = opendir(f->dir);
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void start(struct fx *f, size_t batch_max)
{
    struct delivery_opts o = {
        .batch_max = batch_max,
        .backoff_min = 1000,
        .backoff_max = 2000,
        .dead_letter_dir = f->dir,
        .dead_letter_max = f->dead_max,
        .log = quiet_log,
        .log_arg = f,
    };

    assert_int_equal(delivery_new(&f->d, &f->loop, f->sp, &o), 0);
    assert_int_equal(delivery_add(f->d, "fake", &f->sink->base), 0);
}

static void append(struct fx *f, const char *rec)
{
    assert_int_equal(spool_append(f->sp, rec, strlen(rec), NULL, NULL), 0);
}

/* Runs the loop until the delivery has nothing left to do. */
static void drain(struct fx *f)
{
    delivery_kick(f->d);
    for (int i = 0; i < 1000 && !delivery_idle(f->d); i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(delivery_idle(f->d));
}

static struct delivery_stats stats(const struct fx *f)
{
    struct delivery_stats st;

    assert_int_equal(delivery_stats(f->d, "fake", &st), 0);
    return st;
}

/* Scripts the sink's first answers, then delivers two events in one batch. */
static struct delivery_stats two_events(struct fx *f, const enum sink_outcome *script, size_t n)
{
    memcpy(f->sink->script, script, n * sizeof(*script));
    f->sink->n_script = n;
    start(f, 10);
    append(f, "{\"a\":1}");
    append(f, "{\"b\":2}");
    drain(f);
    return stats(f);
}

/* Retry-After: 0 on every answer still waits the jittered backoff: seven
 * retries with a 100 ms cap take well over 50 ms (odds against: 1e-6). */
static void test_retry_after_zero_keeps_the_backoff(void **state)
{
    struct fx *f = *state;
    struct delivery_opts o = {.batch_max = 10, .backoff_min = 100000, .backoff_max = 100000,
                              .dead_letter_dir = f->dir, .log = quiet_log, .log_arg = f};
    for (size_t i = 0; i < 7; i++)
        f->sink->script[i] = SINK_RETRY;
    f->sink->n_script = 7;
    assert_int_equal(delivery_new(&f->d, &f->loop, f->sp, &o), 0);
    assert_int_equal(delivery_add(f->d, "fake", &f->sink->base), 0);
    append(f, "{\"a\":1}");
    uint64_t t0 = uv_hrtime();
    drain(f);
    assert_int_equal(f->sink->sends, 8);
    assert_true(uv_hrtime() - t0 >= 50 * 1000000ULL);
}

static void test_batches_are_capped_and_acked(void **state)
{
    struct fx *f = *state;
    struct delivery_stats st;

    start(f, 2);
    for (int i = 0; i < 5; i++)
        append(f, "{\"n\":1}");
    drain(f);
    st = stats(f);
    assert_int_equal(st.delivered, 5);
    assert_int_equal(st.batches, 3);
    assert_int_equal(f->sink->sizes[0], 2);
    assert_int_equal(f->sink->sizes[2], 1);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(spool_sink_depth(f->sp, "fake"), 0);
}

static void test_retry_sends_the_same_events_again(void **state)
{
    struct fx *f = *state;
    struct delivery_stats st;

    st = two_events(f, (const enum sink_outcome[]){SINK_RETRY, SINK_RETRY}, 2);
    assert_int_equal(f->sink->sends, 3);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.attempts, 3);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.failures, 0); /* a success resets the backoff */
    assert_int_equal(spool_sink_depth(f->sp, "fake"), 0);
}

static size_t dead_lines(const struct fx *f, char *last, size_t cap)
{
    char path[512];
    FILE *fp;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/dead-letter-fake.jsonl", f->dir);
    fp = fopen(path, "r");
    if (!fp)
        return 0;
    while (fgets(last, (int)cap, fp))
        n++;
    fclose(fp);
    return n;
}

static void test_rejected_batch_is_dead_lettered_then_acked(void **state)
{
    struct fx *f = *state;
    struct delivery_stats st;
    char line[1024];

    /* the batch, then each event alone */
    st = two_events(f, (const enum sink_outcome[]){SINK_REJECTED, SINK_REJECTED, SINK_REJECTED}, 3);
    assert_int_equal(st.dead_lettered, 2);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(f->sink->sends, 3);
    assert_int_equal(spool_sink_depth(f->sp, "fake"), 0);
    assert_int_equal(dead_lines(f, line, sizeof(line)), 2);
    assert_non_null(strstr(line, "\"status\":422"));
    assert_non_null(strstr(line, "scripted rejection"));
    assert_non_null(strstr(line, "\"seqs\":[2]"));
    assert_true(f->logged >= 1);
}

/* One event the receiver refuses does not take the rest of its batch to the
 * dead-letter file: a rejected batch is sent again one event at a time, up
 * to its last event, and only the refused one is dead-lettered. Then batches
 * are whole again. */
static void test_one_refused_event_does_not_sink_its_batch(void **state)
{
    struct fx *f = *state;
    struct delivery_stats st;
    char line[1024];

    f->sink->poison = "poison";
    start(f, 10);
    append(f, "{\"a\":1}");
    append(f, "{\"b\":2}");
    append(f, "{\"c\":\"poison\"}");
    append(f, "{\"d\":4}");
    append(f, "{\"e\":5}");
    drain(f);
    st = stats(f);
    assert_int_equal(st.delivered, 4);
    assert_int_equal(st.dead_lettered, 1);
    assert_int_equal(dead_lines(f, line, sizeof(line)), 1);
    assert_non_null(strstr(line, "\"seqs\":[3]"));
    assert_int_equal(spool_sink_depth(f->sp, "fake"), 0);
    /* the batch of 5, then 5 alone */
    assert_int_equal(f->sink->sends, 6);
    append(f, "{\"f\":6}");
    append(f, "{\"g\":7}");
    drain(f);
    assert_int_equal(f->sink->sends, 7);
    assert_int_equal(f->sink->sizes[6], 2);
}

static void test_non_object_record_goes_alone_to_dead_letter(void **state)
{
    struct fx *f = *state;
    struct delivery_stats st;
    char line[1024];

    start(f, 10);
    append(f, "{\"a\":1}");
    append(f, "not json");
    append(f, "{\"c\":3}");
    drain(f);
    st = stats(f);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.dead_lettered, 1);
    assert_int_equal(f->sink->sends, 2); /* the records around it, one batch each */
    assert_int_equal(dead_lines(f, line, sizeof(line)), 1);
    assert_non_null(strstr(line, "not a JSON object"));
    assert_non_null(strstr(line, "\"seqs\":[2]"));
}

static void test_unknown_sink_and_bad_arguments(void **state)
{
    struct fx *f = *state;
    struct delivery_stats st;
    struct delivery *d = NULL;

    start(f, 0);
    assert_int_not_equal(delivery_stats(f->d, "nope", &st), 0);
    assert_int_equal(delivery_new(&d, NULL, f->sp, NULL), TL_EINVAL);
    assert_null(d);
    drain(f); /* an empty spool leaves it idle */
    assert_int_equal(f->sink->sends, 0);
}

static void test_backoff_doubles_with_full_jitter(void **state)
{
    uint64_t rng = 42;
    tl_usec most = 0, least = 1000 * SEC, d;
    int i;

    for (unsigned int f = 1; f <= 30; f++) {
        tl_usec cap = SEC << (f - 1 < 20 ? f - 1 : 20);
        if (cap > 300 * SEC)
            cap = 300 * SEC;
        for (i = 0; i < 50; i++) {
            d = delivery_backoff(SEC, 300 * SEC, f, &rng);
            assert_true(d >= 0 && d <= cap);
        }
    }
    /* Full jitter spreads retries over the whole window, not just its top. */
    for (i = 0; i < 1000; i++) {
        d = delivery_backoff(SEC, 300 * SEC, 30, &rng);
        if (d > most)
            most = d;
        if (d < least)
            least = d;
    }
    assert_true(most > 200 * SEC);
    assert_true(least < 100 * SEC);
}

/* A receiver that refuses everything does not fill the disk: past its bound
 * the dead-letter file moves to .1 (the older .1 goes) and a new one starts,
 * so a sink's dead letters take at most twice the bound. */
static void test_dead_letters_are_bounded(void **state)
{
    struct fx *f = *state;
    char path[512], line[1024];
    struct stat st;

    f->dead_max = 1000;
    f->sink->poison = "poison";
    start(f, 1);
    for (int i = 0; i < 40; i++)
        append(f, "{\"x\":\"poison\",\"pad\":\"................................\"}");
    drain(f);
    assert_int_equal(stats(f).dead_lettered, 40);
    assert_int_equal(spool_sink_depth(f->sp, "fake"), 0);
    snprintf(path, sizeof path, "%s/dead-letter-fake.jsonl", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 0 && st.st_size <= 1000);
    snprintf(path, sizeof path, "%s/dead-letter-fake.jsonl.1", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 0 && st.st_size <= 1000);
    /* the newest is in the live file, whole lines only */
    size_t n = dead_lines(f, line, sizeof line);
    assert_true(n > 0 && n < 40);
    assert_non_null(strstr(line, "\"seqs\":[40]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batches_are_capped_and_acked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_zero_keeps_the_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_sends_the_same_events_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_batch_is_dead_lettered_then_acked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_refused_event_does_not_sink_its_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_non_object_record_goes_alone_to_dead_letter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_sink_and_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters_are_bounded, setup, teardown),
        cmocka_unit_test(test_backoff_doubles_with_full_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
