/* A rollback's definition kept on disk (action_def.c): what it holds, what it
 * never holds (secret values), and the probe made back from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/actions/actions.h"
#include "probes/load/load.h"

#define SECRET "s3cr3t-value-never-on-disk"

/* Loads the one probe of yaml; *set must be freed with probe_set_free. */
static const struct probe *load(const char *yaml, struct probe_set **set)
{
    char path[] = "/tmp/tl-action-def-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    struct strv errors;
    strv_init(&errors);
    char *files[] = {path};
    int rc = probe_load_files(set, files, 1, &errors);
    for (size_t i = 0; i < errors.n; i++)
        fprintf(stderr, "%s\n", errors.v[i]);
    strv_free(&errors);
    unlink(path);
    assert_int_equal(rc, 0);
    assert_int_equal((*set)->n, 1);
    return (*set)->probes[0];
}

static const char PROBE[] =
    "- probe: api\n"
    "  vars: {flags: \"http://127.0.0.1:9/f\", token: \"{{ env.TL_DEF_TOKEN }}\"}\n"
    "  steps: [{name: get, request: {url: \"http://127.0.0.1:9/\"}}]\n"
    "  escalation: {ladder: [{level: warning, when: {consecutive_failures: 2}, actions: [off, cmd, lit]}]}\n"
    "  actions:\n"
    "    cmd:\n"
    "      command: [/bin/true, a b]\n"
    "      rollback: {command: [/bin/sh, -c, 'rm -f \"$0\"', /tmp/flag]}\n"
    "      timeout: 30s\n"
    "    off:\n"
    "      webhook: {url: \"{{ flags }}/off\"}\n"
    "      rollback:\n"
    "        webhook:\n"
    "          method: PUT\n"
    "          url: \"{{ flags }}/on?api_key={{ token }}\"\n"
    "          headers: {Authorization: \"Bearer {{ env.TL_DEF_TOKEN }}\"}\n"
    "          json: {enabled: true, password: \"{{ token }}\"}\n"
    "      dry_run: true\n"
    "    lit:\n"
    "      webhook: {url: \"{{ flags }}/off\"}\n"
    "      rollback:\n"
    "        webhook:\n"
    "          url: \"http://127.0.0.1:9/on?token=abc123\"\n"
    "          headers: {Authorization: \"Bearer abc123\", X-Trace: \"1\"}\n"
    "          json: {enabled: true, secret: \"abc123\"}\n";

/* A command's rollback keeps its argv and timeout, and comes back whole. */
static void test_command(void **unused)
{
    (void)unused;
    struct probe_set *set = NULL;
    const struct probe *p = load(PROBE, &set);
    assert_null(actions_rollback_def(p, "nope"));
    cJSON *def = actions_rollback_def(p, "cmd");
    assert_non_null(def);
    char *text = cJSON_PrintUnformatted(def);
    assert_string_equal(text, "{\"timeoutUs\":30000000,\"dryRun\":false,"
                              "\"command\":[\"/bin/sh\",\"-c\",\"rm -f \\\"$0\\\"\",\"/tmp/flag\"]}");
    free(text);

    struct probe *back = NULL;
    char err[256];
    assert_int_equal(actions_def_probe(def, "api", "cmd", &back, err, sizeof err), 0);
    assert_string_equal(back->id, "api");
    assert_int_equal(back->n_actions, 1);
    const struct action *a = &back->actions[0];
    assert_string_equal(a->name, "cmd");
    assert_true(a->has_rollback);
    assert_int_equal(a->timeout, 30 * 1000000);
    assert_int_equal(a->rollback.kind, ACTION_COMMAND);
    assert_int_equal(a->rollback.argc, 4);
    assert_string_equal(a->rollback.argv[3], "/tmp/flag");
    probe_free(back);
    cJSON_Delete(def);
    probe_set_free(set);
}

/* A webhook's templates are kept as written: env. by name, never its value
 * (which the process knows), and they come back as templates to render. */
static void test_webhook_templates(void **unused)
{
    (void)unused;
    setenv("TL_DEF_TOKEN", SECRET, 1);
    struct probe_set *set = NULL;
    const struct probe *p = load(PROBE, &set);
    cJSON *def = actions_rollback_def(p, "off");
    assert_non_null(def);
    char *text = cJSON_PrintUnformatted(def);
    assert_null(strstr(text, SECRET));
    assert_non_null(strstr(text, "{{ env.TL_DEF_TOKEN }}"));
    assert_non_null(strstr(text, "\"url\":\"{{ flags }}/on?api_key={{ token }}\""));
    assert_non_null(strstr(text, "\"dryRun\":true"));
    assert_null(cJSON_GetObjectItemCaseSensitive(def, "withheld"));
    free(text);

    struct probe *back = NULL;
    char err[256];
    assert_int_equal(actions_def_probe(def, "api", "off", &back, err, sizeof err), 0);
    const struct action_do *d = &back->actions[0].rollback;
    assert_int_equal(d->kind, ACTION_WEBHOOK);
    assert_string_equal(d->method, "PUT");
    assert_string_equal(d->url.src, "{{ flags }}/on?api_key={{ token }}");
    assert_int_equal(d->n_headers, 1);
    assert_string_equal(d->headers[0].value.src, "Bearer {{ env.TL_DEF_TOKEN }}");
    assert_true(back->actions[0].dry_run);
    assert_int_equal(back->n_vars, 2);
    assert_string_equal(back->vars[1].value.src, "{{ env.TL_DEF_TOKEN }}");
    probe_free(back);
    cJSON_Delete(def);
    probe_set_free(set);
    unsetenv("TL_DEF_TOKEN");
}

/* Literal secrets are not kept; the definition then refuses to run and
 * says which parts are missing. */
static void test_literal_secrets_withheld(void **unused)
{
    (void)unused;
    struct probe_set *set = NULL;
    const struct probe *p = load(PROBE, &set);
    cJSON *def = actions_rollback_def(p, "lit");
    assert_non_null(def);
    char *text = cJSON_PrintUnformatted(def);
    assert_null(strstr(text, "abc123"));
    assert_non_null(strstr(text, "X-Trace"));
    free(text);

    struct probe *back = NULL;
    char err[256];
    assert_int_equal(actions_def_probe(def, "api", "lit", &back, err, sizeof err), TL_ESYNTAX);
    assert_null(back);
    assert_non_null(strstr(err, "header Authorization"));
    assert_non_null(strstr(err, "url credentials"));
    assert_non_null(strstr(err, "json key secret"));
    assert_non_null(strstr(err, "env. or file:"));
    cJSON_Delete(def);
    probe_set_free(set);
}

/* A damaged definition is refused, never half-run. */
static void test_damaged(void **unused)
{
    (void)unused;
    struct probe *back = NULL;
    char err[256];
    cJSON *def = cJSON_Parse("{\"command\":[]}");
    assert_int_equal(actions_def_probe(def, "api", "x", &back, err, sizeof err), TL_ESYNTAX);
    assert_string_equal(err, "empty command");
    cJSON_Delete(def);
    def = cJSON_Parse("{\"webhook\":{\"url\":\"{{ x\"}}");
    assert_int_equal(actions_def_probe(def, "api", "x", &back, err, sizeof err), TL_ESYNTAX);
    cJSON_Delete(def);
    assert_int_equal(actions_def_probe(NULL, "api", "x", &back, err, sizeof err), TL_ESYNTAX);
    assert_string_equal(err, "no definition kept");
    assert_null(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_webhook_templates),
        cmocka_unit_test(test_literal_secrets_withheld),
        cmocka_unit_test(test_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
