#include "base/nofile.h"

#include <sys/resource.h>

bool tl_nofile_raise(unsigned long concurrency, unsigned long long *limit)
{
    struct rlimit rl;
    *limit = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    *limit = (unsigned long long)rl.rlim_cur;
    return rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)concurrency + TL_NOFILE_RESERVE;
}
