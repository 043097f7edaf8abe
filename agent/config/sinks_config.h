/* The sinks an agent config asks for, built and named: "stdout" (the
 * embedded default when nothing else is configured), "file", "service",
 * "alertmanager". Each name is also the sink's cursor in the spool. */
#ifndef TRIPLINE_SINKS_CONFIG_H
#define TRIPLINE_SINKS_CONFIG_H

#include <uv.h>

#include "agent/config/config.h"

struct sink;
struct transfer_engine;

#define SINKS_MAX 4

struct sinks_config {
    size_t n;
    const char *names[SINKS_MAX];
    struct sink *sinks[SINKS_MAX]; /* NULL once handed over */
    char err[512];
};

int sinks_config_build(struct sinks_config *sc, const struct config *cfg, uv_loop_t *loop,
                       struct transfer_engine *engine);
/* Frees the sinks not handed over. */
void sinks_config_free(struct sinks_config *sc);

#endif
