/* Test helper: loads the block of one step kind (and its expect.<kind>) from
 * YAML text through the kind's own loader, and looks for errors by position.
 * Header-only: each test is one .c. */
#ifndef TRIPLINE_KIND_DOC_H
#define TRIPLINE_KIND_DOC_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probes/kinds/kind.h"
#include "probes/yaml/yaml_util.h"

struct doc {
    const struct kind_ops *ops;
    struct yu y;
    struct strv errors;
    char path[64];
    void *def;
    int rc;
};

/* Loads text's `<key>:` block and `expect.<key>` with ops->load. */
static inline void doc_load_kind(struct doc *d, const struct kind_ops *ops, const char *text)
{
    memset(d, 0, sizeof(*d));
    d->ops = ops;
    strv_init(&d->errors);
    d->y.errors = &d->errors;
    snprintf(d->path, sizeof(d->path), "/tmp/tripline-test-kind-XXXXXX");
    int fd = mkstemp(d->path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(yu_load(&d->y, d->path, 65536, NULL), 0);
    yaml_node_t *root = yu_root(&d->y);
    yaml_node_t *expect = yu_map_get(&d->y, root, "expect");
    d->rc = ops->load(&d->y, yu_map_get(&d->y, root, ops->key), yu_map_get(&d->y, expect, ops->key), &d->def);
    assert_int_equal(d->rc != 0, d->errors.n > 0);
}

static inline void doc_done(struct doc *d)
{
    if (d->def)
        d->ops->free(d->def);
    yu_free(&d->y);
    strv_free(&d->errors);
    unlink(d->path);
}

/* True when one error holds both ":line:col:" and text; else prints them all. */
static inline bool has_error(const struct doc *d, const char *pos, const char *text)
{
    for (size_t i = 0; i < d->errors.n; i++)
        if (strstr(d->errors.v[i], pos) && strstr(d->errors.v[i], text))
            return true;
    for (size_t i = 0; i < d->errors.n; i++)
        print_message("error %zu: %s\n", i, d->errors.v[i]);
    return false;
}

#endif
