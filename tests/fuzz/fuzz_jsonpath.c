/* JSON path compile: any bytes compile or give an error with an offset;
 * a compiled path evaluates on a small document without fault. */
#include "tests/fuzz/fuzz_util.h"

#include "probes/check/jsonpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cJSON *doc;
    if (!doc)
        doc = cJSON_Parse("{\"a\":[1,{\"b\":\"c\"},[2,3]],\"issues\":[{\"code\":\"x.y.z\"}],\"\":null}");
    char *src = fuzz_cstr(data, size);
    if (!src)
        return 0;
    struct jpath p;
    char err[256];
    int off = -1;
    memset(&p, 0, sizeof p);
    if (jpath_compile(&p, src, err, sizeof err, &off) == 0) {
        (void)jpath_eval(&p, doc);
        jpath_free(&p);
    } else if (!memchr(err, '\0', sizeof err)) {
        abort();
    }
    free(src);
    return 0;
}
