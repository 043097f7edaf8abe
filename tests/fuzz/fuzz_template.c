/* Templates: any bytes parse or give an error; a parsed template renders
 * with plain and secret vars in both escapes without fault, and an error
 * message never holds the secret. */
#include "tests/fuzz/fuzz_util.h"

#include "probes/run/template.h"

#define SECRET "fuzz-canary-7f3a9c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = fuzz_cstr(data, size);
    if (!src)
        return 0;
    struct tpl t;
    struct tpl_vars vs;
    char err[256];
    int off = -1;
    memset(&t, 0, sizeof t);
    tpl_vars_init(&vs);
    tpl_vars_set(&vs, "user", "alice", false);
    tpl_vars_set(&vs, "token", SECRET, true);
    tpl_vars_set(&vs, "correlation_id", "0b7c6a55-0d7e-4b8e-9d36-2f3c1b9e7a10", false);
    if (tpl_parse(&t, src, err, sizeof err, &off) == 0) {
        for (int esc = TPL_ESC_NONE; esc <= TPL_ESC_URL; esc++) {
            bool secret = false;
            err[0] = '\0';
            char *out = tpl_render_str(&t, &vs, (enum tpl_escape)esc, &secret, err, sizeof err);
            /* the secret comes out only through a var, which sets the flag,
             * unless the template itself spells it */
            bool spelled = strstr(src, SECRET) != NULL;
            if (!spelled && (strstr(err, SECRET) || (out && strstr(out, SECRET) && !secret)))
                abort();
            free(out);
        }
        tpl_free(&t);
    }
    tpl_vars_free(&vs);
    free(src);
    return 0;
}
