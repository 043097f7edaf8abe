/* Steps of other kinds than HTTP (tcp, dns, icmp) in a journey: the kind's
 * exchange started on the engine's loop through probes/kinds/kind.h, then
 * the checks that need no status line, the kind's own judgement, triage and
 * evidence, as for HTTP steps. */
#include "probes/run/journey_int.h"
#include "base/err.h"

#include <stdlib.h>

#include "probes/check/checks.h"
#include "probes/kinds/kind.h"
#include "probes/triage/evidence.h"

static int kind_render(void *arg, const struct tpl *t, char **out, bool *secret, char *err, size_t errlen)
{
    return journey_render_ex(arg, t, TPL_ESC_NONE, out, secret, err, errlen);
}

/* Checks without a status line, then the kind's own judgement. */
static void judge_kind(struct journey *j, const struct step *st, const struct response *resp,
                       struct check_outcome *co, struct verdict *answer)
{
    struct step_result *sr = &j->result->steps[j->step];
    const struct kind_ops *ops = kind_ops_of(st->kind);
    if (checks_run_data(&st->expect, resp, resp->facts, &j->vars, co) != 0 ||
        (ops->judge && ops->judge(st->kind_def, resp, &j->vars, co, answer) != 0))
        strv_push(&co->failures, "checks ran out of memory");
    for (size_t i = 0; i < co->failures.n; i++)
        journey_push_failure(j, &sr->failures, st->name, co->failures.v[i]);
    for (size_t i = 0; i < co->budget_failures.n; i++)
        journey_push_failure(j, &sr->failures, st->name, co->budget_failures.v[i]);
    if (co->failures.n == 0)
        journey_run_captures(j, st, resp, resp->facts, co);
}

static void on_kind_response(struct response *resp, void *arg)
{
    struct journey *j = arg;
    const struct step *st = &j->probe->steps[j->step];
    struct step_result *sr = &j->result->steps[j->step];
    struct check_outcome co;
    check_outcome_init(&co);
    struct verdict answer = { BUCKET_NONE, REASON_OK, 0 };
    bool failed = resp->fail != TRANSFER_OK;
    sr->answered = !failed || resp->fail == TRANSFER_BODY_TOO_BIG;
    if (failed)
        journey_push_failure(j, &sr->failures, st->name, resp->error[0] ? resp->error : transfer_fail_str(resp->fail));
    else
        judge_kind(j, st, resp, &co, &answer);
    struct triage_input ti = {
        .kind_step = true,
        .kind_reason = resp->kind_reason,
        .kind_answer = answer,
        .transport_failed = failed,
        .body_too_big = resp->fail == TRANSFER_BODY_TOO_BIG,
        .checks_failed = co.checks_failed || co.failures.n > 0,
        .config_error = co.config_error,
        .budget_breached = co.budget_breached,
        .budget_phase = co.budget_phase,
        .loop_stalled = (failed || co.budget_breached) && journey_loop_stalled(j),
    };
    sr->budget_breached = co.budget_breached;
    struct evidence_in ev = {
        .probe = j->probe,
        .region = j->env->region,
        .agent = j->env->agent_name,
        .vantage = j->env->vantage,
        .step_index = j->step,
        .method = step_kind_str(st->kind),
        .url = j->req_url,
        .resp = resp,
        .thresholds = &co.budget_failures,
        .redactor = &j->redactor,
    };
    struct verdict v = triage_step(&ti);
    bool again = journey_retry_again(j, st, &v, resp->timings.total);
    if (!again)
        journey_step_done(j, &resp->timings, v, &ev);
    check_outcome_free(&co);
    response_free(resp);
    free(resp);
    if (!again)
        journey_next(j);
}

/* Why a kind could not start, as an agent fault. */
static enum reason kind_start_reason(int rc)
{
    switch (rc) {
    case TL_EKEY:
    case TL_ENOMEM:
    case TL_ETOOBIG:
    case TL_ESYNTAX:
    case TL_ENOTFOUND: return journey_render_reason(rc);
    default: break;
    }
    return REASON_FD_LIMIT;
}

int journey_start_kind(struct journey *j, const struct step *st, tl_usec timeout)
{
    const struct kind_ops *ops = kind_ops_of(st->kind);
    char err[512] = "";
    struct kind_run run = {
        .loop = transfer_engine_loop(j->env->engine),
        .step = st,
        .def = st->kind_def,
        .timeout = timeout,
        .data_max = j->env->body_max ? j->env->body_max : DEFAULT_BODY_MAX,
        .interface = j->env->interface,
        .render = kind_render,
        .render_arg = j,
        .done = on_kind_response,
        .done_arg = j,
        .err = err,
        .errlen = sizeof(err),
    };
    if (!ops) {
        journey_step_agent_fault(j, "this build cannot run this kind of step", REASON_PROBE_CONFIG);
        return -1;
    }
    j->req_url = ops->target ? ops->target(&run) : NULL;
    int rc = ops->start(&run);
    if (rc == 0)
        return 0;
    if (rc == TL_ENOTFOUND && st->is_finally) {
        journey_skip_step(j);
        return -1;
    }
    journey_step_agent_fault(j, err[0] ? err : tl_strerror(rc), kind_start_reason(rc));
    return -1;
}

