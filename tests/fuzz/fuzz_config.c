/* The agent config loader: any bytes load or give errors, never a fault. */
#include "tests/fuzz/fuzz_util.h"

#include "agent/config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    struct config cfg;
    struct strv errors;
    strv_init(&errors);
    config_defaults(&cfg);
    (void)config_load(&cfg, path, &errors);
    config_free(&cfg);
    strv_free(&errors);
    close(fd);
    return 0;
}
