/* The probe file loader, end to end (depth pre-scan, libyaml, every key
 * table, semantic checks): any bytes load or give errors, never a fault. */
#include "tests/fuzz/fuzz_util.h"

#include "probes/load/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    struct probe_set *set = probe_set_new();
    struct strv errors;
    strv_init(&errors);
    if (set)
        (void)probe_load_file(set, path, &errors);
    probe_set_free(set);
    strv_free(&errors);
    close(fd);
    return 0;
}
