/* The path of the key being read, for error messages. Walking pushes and
 * pops a frame per key and list item; the dotted text is built only when an
 * error needs it, so a file without errors never formats a path. */
#include "probes/yaml/yaml_util.h"

#include <string.h>

static size_t push(struct yu *y, const char *key, size_t index)
{
    size_t mark = y->n_frames;
    if (mark < YU_FRAMES_MAX)
        y->frames[mark] = (struct yu_frame){.key = key, .index = index};
    y->n_frames = mark + 1;
    return mark;
}

size_t yu_path_key(struct yu *y, const char *key)
{
    return push(y, key, 0);
}

size_t yu_path_index(struct yu *y, size_t i)
{
    return push(y, NULL, i);
}

void yu_path_pop(struct yu *y, size_t mark)
{
    if (mark < y->n_frames)
        y->n_frames = mark;
}

void yu_path_set(struct yu *y, const char *path)
{
    size_t n = strnlen(path, sizeof(y->path_base) - 1);
    memcpy(y->path_base, path, n);
    y->path_base[n] = '\0';
    y->n_frames = 0;
}

size_t yu_path_depth(const struct yu *y)
{
    return y->n_frames;
}

const char *yu_path_top(const struct yu *y)
{
    size_t n = y->n_frames;
    return n > 0 && n <= YU_FRAMES_MAX ? y->frames[n - 1].key : NULL;
}

/* Appends what fits: a path too long for the text is cut, never overrun. */
static void put(struct yu *y, size_t *len, const char *s)
{
    size_t room = sizeof(y->path_text) - 1 - *len;
    size_t n = strnlen(s, room);
    memcpy(y->path_text + *len, s, n);
    *len += n;
}

/* "[i]" written backwards from end: every URL reference renders its path. */
static const char *index_text(size_t i, char *end)
{
    char *p = end;
    *--p = '\0';
    *--p = ']';
    do
        *--p = (char)('0' + i % 10);
    while (i /= 10);
    *--p = '[';
    return p;
}

const char *yu_path(struct yu *y)
{
    char num[32];
    size_t len = 0, n = y->n_frames < YU_FRAMES_MAX ? y->n_frames : YU_FRAMES_MAX;
    put(y, &len, y->path_base);
    for (size_t i = 0; i < n; i++) {
        const struct yu_frame *f = &y->frames[i];
        if (f->key && len)
            put(y, &len, ".");
        put(y, &len, f->key ? f->key : index_text(f->index, num + sizeof(num)));
    }
    y->path_text[len] = '\0';
    return y->path_text;
}
