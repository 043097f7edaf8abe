/* The body of a gRPC health answer (5-byte frame header, then a
 * HealthCheckResponse) through grpc_decode_response: libFuzzer's buffer
 * is exactly the body, so ASan sees any read past it. Decoded, the status
 * is a ServingStatus (a name, or "unknown" for a value the proto does not
 * name yet: proto3 enums are open); refused, it is -1 with a reason. */
#include "tests/fuzz/fuzz_util.h"

#include "base/err.h"
#include "probes/grpc/grpc.h"

static bool known(const char *s)
{
    for (int i = 0; i < GRPC_SERVING_COUNT; i++)
        if (strcmp(s, grpc_serving_names[i]) == 0)
            return true;
    return strcmp(s, "unknown") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int serving = 7;
    const char *why = "unset";
    int rc = grpc_decode_response(data, size, &serving, &why);
    if (rc == 0) {
        if (why || serving < 0 || size < 5 || size > 5 + GRPC_MESSAGE_MAX || !known(grpc_serving_str(serving)))
            abort();
        if (serving < GRPC_SERVING_COUNT && strcmp(grpc_serving_str(serving), grpc_serving_names[serving]) != 0)
            abort();
    } else if (rc != TL_EINVAL || serving != -1 || !why || !why[0]) {
        abort();
    }
    return 0;
}
