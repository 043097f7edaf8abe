/* Redaction: any text through redact_text, redact_body_text and
 * redact_url; the registered secret never survives in its plain form. */
#include "tests/fuzz/fuzz_util.h"

#include "probes/redact/redact.h"

#define SECRET "fuzz-canary-7f3a9c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size);
    if (!in)
        return 0;
    struct redactor red;
    redactor_init(&red);
    redactor_add(&red, SECRET);
    char *outs[3] = {redact_text(&red, in), redact_body_text(&red, in), redact_url(&red, in)};
    for (int i = 0; i < 3; i++) {
        if (outs[i] && strstr(outs[i], SECRET))
            abort();
        free(outs[i]);
    }
    redactor_free(&red);
    free(in);
    return 0;
}
