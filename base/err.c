#include "base/err.h"

#include <stddef.h>

const char *tl_strerror(int code)
{
    switch (code) {
    case TL_OK:
        return "success";
#define TL_ERR_MSG_(name, msg) \
    case TL_E##name:           \
        return msg;
        TL_ERRNO_MAP(TL_ERR_MSG_)
#undef TL_ERR_MSG_
    default:
        return "unknown error";
    }
}

const char *tl_err_name(int code)
{
    switch (code) {
    case TL_OK:
        return "OK";
#define TL_ERR_NAME_(name, msg) \
    case TL_E##name:            \
        return #name;
        TL_ERRNO_MAP(TL_ERR_NAME_)
#undef TL_ERR_NAME_
    default:
        return "UNKNOWN";
    }
}
