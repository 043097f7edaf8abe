/* Evaluation of compiled JSON paths (compilation lives in jsonpath_compile.c). */
#include "probes/check/jsonpath.h"

static const cJSON *jpath_step(const cJSON *node, const struct jpath_seg *seg)
{
    if (seg->key)
        return cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, seg->key) : NULL;
    if (!cJSON_IsArray(node))
        return NULL;
    long n = (long)cJSON_GetArraySize(node);
    long i = seg->index;
    /* A negative index counts from the end: -1 is the last element. */
    if (i < 0)
        i += n;
    if (i < 0 || i >= n)
        return NULL;
    return cJSON_GetArrayItem(node, (int)i);
}

const cJSON *jpath_eval(const struct jpath *p, const cJSON *root)
{
    const cJSON *node = root;
    for (size_t i = 0; node && p && i < p->n; i++)
        node = jpath_step(node, &p->segs[i]);
    return node;
}

const char *json_type_name(const cJSON *v)
{
    if (!v)
        return "missing";
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsObject(v))
        return "object";
    if (cJSON_IsArray(v))
        return "array";
    return "invalid";
}
