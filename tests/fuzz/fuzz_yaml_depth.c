/* The YAML nesting pre-scan: any bytes give 0 or TL_ETOOBIG with a position
 * inside the input. */
#include "tests/fuzz/fuzz_util.h"

#include "base/err.h"
#include "probes/yaml/yaml_depth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int line = 0, col = 0;
    int rc = yaml_depth_scan((const char *)data, size, 64, &line, &col);
    if ((rc != 0 && rc != TL_ETOOBIG) || line < 1 || col < 1 || (size_t)line > size + 1)
        abort();
    return 0;
}
