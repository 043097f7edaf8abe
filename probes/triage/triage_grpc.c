/* Triage of a gRPC health answer (grpc: steps), once the HTTP status was as
 * expected: grpc-status first, then the serving status. README.md has the
 * table; the choices that are not obvious are explained where they are made. */
#include "probes/triage/triage.h"

#include <stddef.h>

#include "probes/grpc/grpc.h"

#define GRPC_CODES 16 /* CANCELLED (1) .. UNAUTHENTICATED (16) */

static const char *const grpc_reason_names[] = {
    [REASON_GRPC_CANCELLED - REASON_GRPC_CANCELLED] = "grpc_cancelled",
    [REASON_GRPC_UNKNOWN - REASON_GRPC_CANCELLED] = "grpc_unknown",
    [REASON_GRPC_INVALID_ARGUMENT - REASON_GRPC_CANCELLED] = "grpc_invalid_argument",
    [REASON_GRPC_DEADLINE_EXCEEDED - REASON_GRPC_CANCELLED] = "grpc_deadline_exceeded",
    [REASON_GRPC_NOT_FOUND - REASON_GRPC_CANCELLED] = "grpc_not_found",
    [REASON_GRPC_ALREADY_EXISTS - REASON_GRPC_CANCELLED] = "grpc_already_exists",
    [REASON_GRPC_PERMISSION_DENIED - REASON_GRPC_CANCELLED] = "grpc_permission_denied",
    [REASON_GRPC_RESOURCE_EXHAUSTED - REASON_GRPC_CANCELLED] = "grpc_resource_exhausted",
    [REASON_GRPC_FAILED_PRECONDITION - REASON_GRPC_CANCELLED] = "grpc_failed_precondition",
    [REASON_GRPC_ABORTED - REASON_GRPC_CANCELLED] = "grpc_aborted",
    [REASON_GRPC_OUT_OF_RANGE - REASON_GRPC_CANCELLED] = "grpc_out_of_range",
    [REASON_GRPC_UNIMPLEMENTED - REASON_GRPC_CANCELLED] = "grpc_unimplemented",
    [REASON_GRPC_INTERNAL - REASON_GRPC_CANCELLED] = "grpc_internal",
    [REASON_GRPC_UNAVAILABLE - REASON_GRPC_CANCELLED] = "grpc_unavailable",
    [REASON_GRPC_DATA_LOSS - REASON_GRPC_CANCELLED] = "grpc_data_loss",
    [REASON_GRPC_UNAUTHENTICATED - REASON_GRPC_CANCELLED] = "grpc_unauthenticated",
    [REASON_GRPC_OTHER - REASON_GRPC_CANCELLED] = "grpc_other",
    [REASON_GRPC_NOT_SERVING - REASON_GRPC_CANCELLED] = "grpc_not_serving",
    [REASON_GRPC_SERVICE_UNKNOWN - REASON_GRPC_CANCELLED] = "grpc_service_unknown",
    [REASON_GRPC_SERVING_UNKNOWN - REASON_GRPC_CANCELLED] = "grpc_serving_unknown",
    [REASON_GRPC_BROKEN - REASON_GRPC_CANCELLED] = "grpc_broken",
};

_Static_assert(sizeof(grpc_reason_names) / sizeof(grpc_reason_names[0]) ==
                   REASON_GRPC_BROKEN - REASON_GRPC_CANCELLED + 1,
               "every REASON_GRPC_* has a name");

const char *triage_grpc_reason_str(enum reason r)
{
    if (r < REASON_GRPC_CANCELLED || r > REASON_GRPC_BROKEN)
        return NULL;
    return grpc_reason_names[r - REASON_GRPC_CANCELLED];
}

/* The bucket of grpc-status 1..16, indexed by the code. UNIMPLEMENTED is
 * contract, not client: the request is the standard health check, byte for
 * byte, so nothing on the client side can be wrong; the server answers but
 * no longer offers the health service the check depends on. Codes a health
 * service never defines (ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED,
 * OUT_OF_RANGE) are contract too. */
static const enum bucket code_buckets[GRPC_CODES + 1] = {
    [1] = BUCKET_UPSTREAM,    /* CANCELLED: the call was dropped on the way */
    [2] = BUCKET_SERVER,      /* UNKNOWN: an exception in the handler */
    [3] = BUCKET_CLIENT,      /* INVALID_ARGUMENT */
    [4] = BUCKET_UPSTREAM,    /* DEADLINE_EXCEEDED: a timeout behind the server */
    [5] = BUCKET_CLIENT,      /* NOT_FOUND: the service named is not known */
    [6] = BUCKET_CONTRACT,
    [7] = BUCKET_AUTH,        /* PERMISSION_DENIED */
    [8] = BUCKET_RATE_LIMIT,  /* RESOURCE_EXHAUSTED */
    [9] = BUCKET_CONTRACT,
    [10] = BUCKET_CONTRACT,
    [11] = BUCKET_CONTRACT,
    [12] = BUCKET_CONTRACT,   /* UNIMPLEMENTED */
    [13] = BUCKET_SERVER,     /* INTERNAL */
    [14] = BUCKET_UPSTREAM,   /* UNAVAILABLE: down, draining or unreachable behind a proxy */
    [15] = BUCKET_SERVER,     /* DATA_LOSS */
    [16] = BUCKET_AUTH,       /* UNAUTHENTICATED */
};

static struct verdict grpc_verdict(enum bucket b, enum reason r, long status)
{
    return (struct verdict){ .bucket = b, .reason = r, .status = status };
}

struct verdict triage_grpc(const struct grpc_answer *a, long status)
{
    if (!a || !a->read)
        return grpc_verdict(BUCKET_NONE, REASON_OK, status);
    if (a->broken)
        return grpc_verdict(BUCKET_CONTRACT, REASON_GRPC_BROKEN, status);
    if (a->code > GRPC_CODES)
        return grpc_verdict(BUCKET_CONTRACT, REASON_GRPC_OTHER, status);
    if (a->code > 0)
        return grpc_verdict(code_buckets[a->code], (enum reason)(REASON_GRPC_CANCELLED + a->code - 1), status);
    if (a->serving == a->expect_serving)
        return grpc_verdict(BUCKET_NONE, REASON_OK, status);
    switch (a->serving) {
    case GRPC_NOT_SERVING: /* the service itself says it is down */
        return grpc_verdict(BUCKET_UPSTREAM, REASON_GRPC_NOT_SERVING, status);
    case GRPC_SERVICE_UNKNOWN: /* the probe names a service the server does not know */
        return grpc_verdict(BUCKET_CLIENT, REASON_GRPC_SERVICE_UNKNOWN, status);
    case GRPC_SERVING_UNKNOWN: /* the server cannot tell yet: not serving for a client */
        return grpc_verdict(BUCKET_UPSTREAM, REASON_GRPC_SERVING_UNKNOWN, status);
    default:
        break;
    }
    /* SERVING where another status was expected, or a status the proto lacks */
    return grpc_verdict(BUCKET_CONTRACT, a->serving == GRPC_SERVING ? REASON_CHECK : REASON_GRPC_BROKEN, status);
}
