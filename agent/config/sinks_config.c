#include "agent/config/sinks_config.h"

#include <stdio.h>
#include <string.h>

#include "agent/sinks/sink.h"

static int add(struct sinks_config *sc, const char *name, int rc, struct sink *s, const char *err)
{
    if (rc) {
        snprintf(sc->err, sizeof(sc->err), "%s: %s", name, err);
        return -1;
    }
    sc->names[sc->n] = name;
    sc->sinks[sc->n] = s;
    sc->n++;
    return 0;
}

int sinks_config_build(struct sinks_config *sc, const struct config *cfg, uv_loop_t *loop,
                       struct transfer_engine *engine)
{
    memset(sc, 0, sizeof(*sc));
    struct sink_identity id = {.agent = cfg->name, .region = cfg->region};
    char err[256] = "";
    struct sink *s = NULL;
    int rc;
    if (cfg->has_service) {
        rc = sink_service_new(&s, engine, &cfg->service, &id, err, sizeof(err));
        if (add(sc, "service", rc, s, err))
            return -1;
    }
    if (cfg->has_alertmanager) {
        rc = sink_alertmanager_new(&s, loop, engine, &cfg->alertmanager, &id, err, sizeof(err));
        if (add(sc, "alertmanager", rc, s, err))
            return -1;
    }
    if (cfg->sink_file) {
        rc = sink_stdout_new(&s, cfg->sink_file, err, sizeof(err));
        if (add(sc, "file", rc, s, err))
            return -1;
    }
    /* stdout: when asked, or as the embedded default when nothing else is */
    if (cfg->sink_stdout || sc->n == 0) {
        rc = sink_stdout_new(&s, NULL, err, sizeof(err));
        if (rc == 0 && cfg->sink_stdout_lines)
            sink_stdout_set_lines(s);
        if (add(sc, "stdout", rc, s, err))
            return -1;
    }
    return 0;
}

void sinks_config_free(struct sinks_config *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        sink_free(sc->sinks[i]);
        sc->sinks[i] = NULL;
    }
    sc->n = 0;
}
