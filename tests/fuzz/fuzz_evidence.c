/* A hostile response body through the issue schema check and the evidence
 * pack, with a secret registered as the agent would: the printed pack and
 * the schema messages must never hold it (abort if they do). */
#include "tests/fuzz/fuzz_util.h"

#include "probes/check/issue_schema.h"
#include "probes/triage/evidence.h"

#define SECRET "fuzz-canary-7f3a9c"
#define CID "0b7c6a55-0d7e-4b8e-9d36-2f3c1b9e7a10"

static void must_not_leak(const char *s)
{
    if (s && strstr(s, SECRET)) {
        fprintf(stderr, "secret leaked into: %s\n", s);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct step st = {.name = "fuzz"};
    struct probe pr = {.id = "fuzz", .n_steps = 1, .steps = &st, .file = "fuzz.yaml"};
    struct http_header hdr = {.name = "Content-Type", .value = "application/json"};
    struct response resp;
    struct redactor red;
    struct strv msgs;

    memset(&resp, 0, sizeof resp);
    resp.status = 500;
    resp.n_headers = 1;
    resp.headers = &hdr;
    buf_init(&resp.body, 1 << 20);
    redactor_init(&red);
    redactor_add(&red, SECRET);
    strv_init(&msgs);
    if (buf_append(&resp.body, data, size) == 0) {
        cJSON *body = cJSON_ParseWithLength((const char *)data, size);
        (void)issue_schema_check(body, CID, false, true, &msgs);
        cJSON_Delete(body);
        struct evidence_in in = {.probe = &pr, .region = "r", .agent = "a", .method = "GET",
                                 .url = "https://api.test/v1", .correlation_id = CID,
                                 .resp = &resp, .redactor = &red};
        cJSON *ev = evidence_pack(&in);
        char *printed = ev ? cJSON_PrintUnformatted(ev) : NULL;
        must_not_leak(printed);
        free(printed);
        cJSON_Delete(ev);
    }
    buf_free(&resp.body);
    redactor_free(&red);
    strv_free(&msgs);
    return 0;
}
