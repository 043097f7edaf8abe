/* Action webhooks on their own: rendering of the URL and JSON leaves from
 * the event, and what a dry run says (credentials never shown). Sending is
 * covered against a real server in test_actions.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "agent/actions/actions_int.h"
#include "probes/redact/redact.h"

struct hook {
    struct action_do d;
    struct tpl_vars vs;
    struct buf out;
};

static void hook_init(struct hook *h, const char *method, const char *url, const char *json)
{
    char err[128];
    int off = 0;
    memset(h, 0, sizeof *h);
    h->d.kind = ACTION_WEBHOOK;
    h->d.method = (char *)method;
    assert_int_equal(tpl_parse(&h->d.url, url, err, sizeof err, &off), 0);
    h->d.json = json ? cJSON_Parse(json) : NULL;
    tpl_vars_init(&h->vs);
    assert_int_equal(tpl_vars_set(&h->vs, "probe", "checkout", false), 0);
    assert_int_equal(tpl_vars_set(&h->vs, "key", "k-123", true), 0);
    buf_init(&h->out, 4096);
}

static void hook_done(struct hook *h)
{
    tpl_free(&h->d.url);
    cJSON_Delete(h->d.json);
    tpl_vars_free(&h->vs);
    buf_free(&h->out);
}

static void test_dry_renders_url_and_body(void **state)
{
    struct hook h;
    (void)state;
    hook_init(&h, "PUT", "http://flags.local/p/{{ probe }}", "{\"probe\":\"{{ probe }}\",\"on\":false}");
    act_hook_dry(&h.d, &h.vs, &h.out);
    assert_string_equal(h.out.data,
                        "would send PUT http://flags.local/p/checkout {\"probe\":\"checkout\",\"on\":false}");
    hook_done(&h);
}

/* A URL rendered from a secret shows as its template, a body from a
 * secret as redacted; userinfo in a plain URL is dropped. */
static void test_dry_hides_secrets(void **state)
{
    struct hook h;
    (void)state;
    hook_init(&h, NULL, "http://flags.local/{{ key }}", "{\"key\":\"{{ key }}\"}");
    act_hook_dry(&h.d, &h.vs, &h.out);
    assert_null(strstr(h.out.data, "k-123"));
    assert_non_null(strstr(h.out.data, "would send POST http://flags.local/{{ key }} "));
    assert_non_null(strstr(h.out.data, REDACTED));
    hook_done(&h);

    hook_init(&h, NULL, "http://u:pw@flags.local/{{ probe }}", NULL);
    act_hook_dry(&h.d, &h.vs, &h.out);
    assert_null(strstr(h.out.data, "pw"));
    assert_non_null(strstr(h.out.data, "flags.local/checkout"));
    hook_done(&h);
}

static void test_dry_render_failure(void **state)
{
    struct hook h;
    (void)state;
    hook_init(&h, "POST", "http://flags.local/{{ nope }}", NULL);
    act_hook_dry(&h.d, &h.vs, &h.out);
    assert_non_null(strstr(h.out.data, "would fail: "));
    assert_non_null(strstr(h.out.data, "nope"));
    hook_done(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dry_renders_url_and_body),
        cmocka_unit_test(test_dry_hides_secrets),
        cmocka_unit_test(test_dry_render_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
