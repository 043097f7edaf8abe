/* Retry-After parsing: any header value gives -1 or a delay within the cap,
 * never an overflow (UBSan aborts on one). */
#include "tests/fuzz/fuzz_util.h"

#include "agent/sinks/sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = fuzz_cstr(data, size);
    if (!v)
        return 0;
    tl_usec d = sink_parse_retry_after(v, 1795307516LL);
    if (d < -1 || d > 1000000000LL * 1000000)
        abort();
    free(v);
    return 0;
}
