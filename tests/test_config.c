/* Agent config: defaults with no file, every key read, and every broken key
 * reported in one pass as file:line:column. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/config.h"

#define SEC 1000000LL

static int to_source_dir(void **state)
{
    const char *src = getenv("TRIPLINE_SOURCE_DIR");
    return chdir(src ? src : TRIPLINE_SOURCE_DIR);
}

static void test_defaults(void **state)
{
    struct config cfg;
    config_defaults(&cfg);
    assert_null(cfg.file);
    assert_string_equal(cfg.region, "local");
    assert_non_null(cfg.name);
    assert_true(strlen(cfg.name) > 0);
    assert_int_equal(cfg.n_probe_globs, 1);
    assert_string_equal(cfg.probe_globs[0], "/etc/tripline/probes.d/*.yaml");
    assert_string_equal(cfg.listen, "127.0.0.1:9464");
    assert_string_equal(cfg.spool_dir, "/var/lib/tripline/spool");
    assert_int_equal(cfg.spool_max_bytes, 64u << 20);
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_true(cfg.sink_stdout);
    assert_false(cfg.has_service);
    assert_false(cfg.has_alertmanager);
    assert_int_equal(cfg.concurrency, 256);
    assert_int_equal(cfg.per_host, 8);
    assert_int_equal(cfg.body_max, 1u << 20);
    assert_int_equal(cfg.drain_timeout, 10 * SEC);
    assert_null(cfg.shard);
    assert_string_equal(log_level_str(cfg.log_level), "info");
    config_free(&cfg);
}

static void test_full(void **state)
{
    struct config cfg;
    struct strv errors;
    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, "tests/data/config/full.yaml", &errors), 0);
    assert_int_equal(errors.n, 0);
    assert_string_equal(cfg.file, "tests/data/config/full.yaml");
    assert_string_equal(cfg.region, "eu-west");
    assert_string_equal(cfg.name, "edge-eu-west-1");
    assert_int_equal(cfg.n_probe_globs, 2);
    /* Relative globs start in the config file's folder, not the cwd. */
    assert_string_equal(cfg.probe_globs[0], "tests/data/config/probes.d/*.yaml");
    assert_string_equal(cfg.probe_globs[1], "/etc/tripline/extra/*.yaml");
    assert_string_equal(cfg.listen, "[::1]:9555");
    assert_string_equal(cfg.status_token_file, "/etc/tripline/status.token");
    assert_string_equal(cfg.spool_dir, "/var/lib/tripline/spool-eu");
    assert_int_equal(cfg.spool_max_bytes, 128u << 20);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_true(cfg.sink_stdout);
    assert_string_equal(cfg.sink_file, "/var/log/tripline/events.jsonl");
    assert_true(cfg.has_service);
    assert_string_equal(cfg.service.url, "https://escalation.example.test/v1/events");
    assert_string_equal(cfg.service.token_file, "/etc/tripline/token");
    assert_string_equal(cfg.service.hmac_key_file, "/etc/tripline/hmac.key");
    assert_int_equal(cfg.service.timeout, 5 * SEC);
    assert_int_equal(cfg.service.batch_max, 50);
    assert_true(cfg.has_alertmanager);
    assert_int_equal(cfg.alertmanager.n_urls, 2);
    assert_string_equal(cfg.alertmanager.urls[1], "http://am-2:9093");
    assert_int_equal(cfg.alertmanager.repost, 120 * SEC);
    assert_int_equal(cfg.concurrency, 64);
    assert_int_equal(cfg.per_host, 4);
    assert_int_equal(cfg.body_max, 512u << 10);
    assert_string_equal(cfg.ca_file, "/etc/tripline/ca.pem");
    assert_int_equal(cfg.drain_timeout, 30 * SEC);
    assert_string_equal(cfg.shard, "1/3");
    config_free(&cfg);
    strv_free(&errors);
}

static void test_service_replaces_stdout(void **state)
{
    struct config cfg;
    struct strv errors;
    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, "tests/data/config/service-only.yaml", &errors), 0);
    /* stdout is the default sink only while nothing else is configured. */
    assert_false(cfg.sink_stdout);
    assert_true(cfg.has_service);
    assert_int_equal(cfg.service.timeout, 10 * SEC);
    assert_int_equal(cfg.service.batch_max, 100);
    assert_string_equal(cfg.region, "us-east");
    assert_string_equal(cfg.listen, "127.0.0.1:9464");
    config_free(&cfg);
    strv_free(&errors);
}

/* Writes text to a new file named after the template path. */
static void temp_config(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* `stdout: line` turns the stdout sink on in its short line format, beside a file. */
static void test_stdout_line_format(void **state)
{
    char path[] = "/tmp/tripline-config-XXXXXX";
    struct config cfg;
    struct strv errors;
    (void)state;
    temp_config(path, "sinks: {file: /tmp/events.jsonl, stdout: line}\n");
    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, path, &errors), 0);
    assert_true(cfg.sink_stdout);
    assert_true(cfg.sink_stdout_lines);
    config_free(&cfg);
    strv_free(&errors);
    unlink(path);
}

/* The config file cap (1 MiB, docs/probe-file.md "Size cap"): one byte
 * over is refused unread, with the cap in the message; at the cap it loads. */
static void test_size_cap(void **state)
{
    char path[] = "/tmp/tripline-config-XXXXXX";
    struct config cfg;
    struct strv errors;
    const char *text = "region: eu-west\n";
    (void)state;
    temp_config(path, text);
    assert_int_equal(truncate(path, (1 << 20) + 1), 0);
    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, path, &errors), -1);
    assert_int_equal(errors.n, 1);
    char want[256];
    snprintf(want, sizeof(want), "%s: file is 1048577 bytes, over the limit of 1048576 bytes; refused unread", path);
    assert_string_equal(errors.v[0], want);
    config_free(&cfg);
    strv_free(&errors);
    /* padded with a comment to exactly the cap: loads */
    assert_int_equal(truncate(path, 0), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fputc('#', f);
    for (size_t n = strlen(text) + 2; n < (1 << 20); n++)
        fputc('x', f);
    fputc('\n', f);
    fclose(f);
    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, path, &errors), 0);
    assert_string_equal(cfg.region, "eu-west");
    config_free(&cfg);
    strv_free(&errors);
    unlink(path);
}

static void test_broken(void **state)
{
    struct config cfg;
    struct strv errors;
    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, "tests/data/config/broken.yaml", &errors), -1);
    FILE *f = fopen("tests/data/config/broken.expected", "r");
    assert_non_null(f);
    char line[1024];
    size_t i = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        assert_true(i < errors.n);
        assert_string_equal(errors.v[i], line);
        i++;
    }
    fclose(f);
    assert_int_equal(i, errors.n);
    assert_true(errors.n >= 15);
    config_free(&cfg);
    strv_free(&errors);
}

static void test_missing_and_not_a_mapping(void **state)
{
    struct config cfg;
    struct strv errors;
    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, "/nonexistent/tripline.yaml", &errors), -1);
    assert_int_equal(errors.n, 1);
    assert_string_equal(errors.v[0], "/nonexistent/tripline.yaml: cannot read: No such file or directory");
    config_free(&cfg);
    strv_free(&errors);

    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, "tests/data/broken/scalar-root.yaml", &errors), -1);
    assert_int_equal(errors.n, 1);
    assert_string_equal(errors.v[0],
                        "tests/data/broken/scalar-root.yaml:1:1: expected a mapping of settings, got a string");
    config_free(&cfg);
    strv_free(&errors);
}

static void test_vantages_and_peers(void **state)
{
    struct config cfg;
    struct strv errors;
    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(cfg.n_vantages, 0);
    assert_false(cfg.has_peers);
    assert_int_equal(cfg.peers.timeout, 2 * SEC);
    assert_int_equal(config_load(&cfg, "tests/data/config/vantages.yaml", &errors), 0);
    assert_int_equal(errors.n, 0);
    assert_int_equal(cfg.n_vantages, 4);
    assert_string_equal(cfg.vantages[0].region, "eu-west");
    assert_string_equal(cfg.vantages[0].proxy, "http://proxy.eu.example.test:3128");
    assert_null(cfg.vantages[0].interface);
    assert_null(cfg.vantages[0].resolve_lines);
    assert_string_equal(cfg.vantages[1].interface, "10.0.0.5");
    assert_int_equal(cfg.vantages[2].n_resolve, 2);
    /* transfer_req.resolve takes the entries one per line */
    assert_string_equal(cfg.vantages[2].resolve_lines,
                        "api.example.test:443:10.1.2.3\ncdn.example.test:443:[2001:db8::1]");
    assert_string_equal(cfg.vantages[3].region, "direct");
    assert_null(cfg.vantages[3].proxy);
    assert_true(cfg.has_peers);
    assert_string_equal(cfg.peers.key_file, "/etc/tripline/peer.key");
    assert_int_equal(cfg.peers.timeout, 3 * SEC);
    assert_int_equal(cfg.peers.n_urls, 2);
    assert_string_equal(cfg.peers.urls[1], "https://agent.us.example.test/tripline/peer/run");
    config_free(&cfg);
    strv_free(&errors);

    strv_init(&errors);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, "tests/data/config/vantages-broken.yaml", &errors), -1);
    FILE *f = fopen("tests/data/config/vantages-broken.expected", "r");
    assert_non_null(f);
    char line[1024];
    size_t i = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        assert_true(i < errors.n);
        assert_string_equal(errors.v[i], line);
        i++;
    }
    fclose(f);
    assert_int_equal(i, errors.n);
    config_free(&cfg);
    strv_free(&errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_service_replaces_stdout),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_stdout_line_format),
        cmocka_unit_test(test_broken),
        cmocka_unit_test(test_missing_and_not_a_mapping),
        cmocka_unit_test(test_vantages_and_peers),
    };
    return cmocka_run_group_tests(tests, to_source_dir, NULL);
}
