/* Vantage slots: how many runs a probe gets, their region labels, their
 * scheduler ids and the egress settings they run with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "agent/fleet/vantage.h"

static void test_no_vantage_is_one_slot_in_the_agent_region(void **state)
{
    char region[] = "eu-west";
    struct config cfg;
    char id[64];

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.region = region;
    assert_int_equal(vantage_slots(&cfg), 1);
    assert_null(vantage_slot(&cfg, 0));
    assert_string_equal(vantage_region(&cfg, NULL), "eu-west");
    assert_int_equal(vantage_entry_id("checkout", NULL, id, sizeof(id)), 0);
    assert_string_equal(id, "checkout");
}

static void test_each_vantage_is_a_slot_with_its_own_id(void **state)
{
    char eu[] = "eu-west", us[] = "us-east", ap[] = "ap-south";
    struct vantage vs[2];
    struct config cfg;
    char id[64];

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    memset(vs, 0, sizeof(vs));
    vs[0].region = us;
    vs[1].region = ap;
    cfg.region = eu;
    cfg.vantages = vs;
    cfg.n_vantages = 2;
    assert_int_equal(vantage_slots(&cfg), 2);
    assert_ptr_equal(vantage_slot(&cfg, 1), &vs[1]);
    assert_null(vantage_slot(&cfg, 2));
    assert_string_equal(vantage_region(&cfg, &vs[0]), "us-east");
    assert_int_equal(vantage_entry_id("checkout", &vs[1], id, sizeof(id)), 0);
    assert_string_equal(id, "checkout@ap-south");
}

static void test_entry_id_that_does_not_fit_fails(void **state)
{
    char us[] = "us-east";
    struct vantage v = {.region = us};
    char id[12];

    (void)state;
    assert_int_equal(vantage_entry_id("checkout", &v, id, sizeof(id)), -1);
    assert_int_equal(vantage_entry_id("checkout-12", NULL, id, sizeof(id)), 0);
    assert_int_equal(vantage_entry_id("checkout-123", NULL, id, sizeof(id)), -1);
}

static void test_env_takes_the_vantage_egress(void **state)
{
    char us[] = "us-east", proxy[] = "http://proxy:3128", ifc[] = "10.0.0.2";
    char resolve[] = "shop:443:192.0.2.1";
    struct vantage v = {.region = us, .proxy = proxy, .interface = ifc, .resolve_lines = resolve};
    struct journey_env base, env;

    (void)state;
    memset(&base, 0, sizeof(base));
    base.region = "eu-west";
    base.agent_name = "a1";
    base.body_max = 99;
    vantage_env(&env, &base, NULL);
    assert_string_equal(env.region, "eu-west");
    assert_null(env.vantage);
    assert_null(env.proxy);
    assert_null(env.resolve);
    vantage_env(&env, &base, &v);
    assert_string_equal(env.region, "us-east");
    assert_string_equal(env.vantage, "us-east");
    assert_string_equal(env.proxy, "http://proxy:3128");
    assert_string_equal(env.interface, "10.0.0.2");
    assert_string_equal(env.resolve, "shop:443:192.0.2.1");
    assert_string_equal(env.agent_name, "a1");
    assert_int_equal(env.body_max, 99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_vantage_is_one_slot_in_the_agent_region),
        cmocka_unit_test(test_each_vantage_is_a_slot_with_its_own_id),
        cmocka_unit_test(test_entry_id_that_does_not_fit_fails),
        cmocka_unit_test(test_env_takes_the_vantage_egress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
