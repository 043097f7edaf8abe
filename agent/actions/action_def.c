/* The definition of an action's rollback as JSON, kept with a rollback owed
 * (and with an open incident's actions that ran) in incidents.json, and a
 * probe made back from it: a restart can then undo a mitigation whose probe
 * no file holds any more.
 *
 * Templates are kept as written, never rendered: a header "Bearer
 * {{ env.FLAGS_TOKEN }}" keeps the variable's name, and its value is read
 * again when the rollback runs. A value written literally under a
 * credential's name (an Authorization header, a "token" var or JSON key, a
 * URL with a password) is not kept at all: the rollback then refuses to run
 * from the kept definition and says which part is missing. */
#include "agent/actions/actions_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/redact/redact.h"

/* Adds what to def's "withheld" list: a literal secret left out. */
static int withhold(cJSON *def, const char *what, const char *name)
{
    char line[160];
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(def, "withheld");
    if (!arr)
        arr = cJSON_AddArrayToObject(def, "withheld");
    snprintf(line, sizeof line, "%s %.120s", what, name);
    cJSON *s = cJSON_CreateString(line);
    if (!arr || !s || !cJSON_AddItemToArray(arr, s)) {
        cJSON_Delete(s);
        return TL_ENOMEM;
    }
    return 0;
}

/* A literal (no placeholder) value under a credential's name. */
static bool literal_secret(const char *name, const char *value)
{
    return redact_name_sensitive(name) && value && value[0] && !tpl_has_placeholders(value);
}

/* A URL written with a password or a credential's query value in it
 * (not from a placeholder). */
static bool url_literal_secret(const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t hostlen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hostlen);
    if (at && at > host && !memchr(host, '{', (size_t)(at - host)))
        return true;
    const char *q = strchr(host, '?');
    while (q && *q && *q != '#') {
        q++;
        size_t len = strcspn(q, "&#");
        const char *eq = memchr(q, '=', len);
        if (eq) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(eq - q), q);
            const char *v = eq + 1;
            size_t vlen = len - (size_t)(v - q);
            if (vlen > 0 && redact_name_sensitive(name) && !memchr(v, '{', vlen))
                return true;
        }
        q += len;
        if (*q != '&')
            break;
    }
    return false;
}

/* Drops the literal secrets of a JSON body (string leaves under a
 * credential's key), naming each in def's "withheld". */
static int json_withhold(cJSON *def, cJSON *v)
{
    cJSON *c = v ? v->child : NULL;
    while (c) {
        cJSON *next = c->next;
        if (cJSON_IsObject(v) && c->string && cJSON_IsString(c) && literal_secret(c->string, c->valuestring)) {
            if (withhold(def, "json key", c->string))
                return TL_ENOMEM;
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
        } else if (json_withhold(def, c)) {
            return TL_ENOMEM;
        }
        c = next;
    }
    return 0;
}

static int add_webhook(cJSON *def, const struct action_do *d)
{
    cJSON *w = cJSON_AddObjectToObject(def, "webhook");
    if (!w || (d->method && !cJSON_AddStringToObject(w, "method", d->method)))
        return TL_ENOMEM;
    const char *url = d->url.src ? d->url.src : "";
    if (url_literal_secret(url) ? withhold(def, "url", "credentials") : !cJSON_AddStringToObject(w, "url", url))
        return TL_ENOMEM;
    cJSON *hs = cJSON_AddArrayToObject(w, "headers");
    for (size_t i = 0; hs && i < d->n_headers; i++) {
        const struct header_tpl *h = &d->headers[i];
        if (literal_secret(h->name, h->value.src)) {
            if (withhold(def, "header", h->name))
                return TL_ENOMEM;
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(hs, o) || !cJSON_AddStringToObject(o, "name", h->name) ||
            !cJSON_AddStringToObject(o, "value", h->value.src ? h->value.src : ""))
            return TL_ENOMEM;
    }
    if (!hs)
        return TL_ENOMEM;
    if (d->json) {
        cJSON *j = cJSON_Duplicate(d->json, 1);
        if (!j || !cJSON_AddItemToObject(w, "json", j)) {
            cJSON_Delete(j);
            return TL_ENOMEM;
        }
        return json_withhold(def, j);
    }
    return 0;
}

/* The probe's vars as written: a webhook's templates may use them. */
static int add_vars(cJSON *def, const struct probe *p)
{
    cJSON *vars = cJSON_AddArrayToObject(def, "vars");
    for (size_t i = 0; vars && i < p->n_vars; i++) {
        const struct var_def *v = &p->vars[i];
        if (literal_secret(v->name, v->value.src)) {
            if (withhold(def, "var", v->name))
                return TL_ENOMEM;
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(vars, o) || !cJSON_AddStringToObject(o, "name", v->name) ||
            !cJSON_AddStringToObject(o, "value", v->value.src ? v->value.src : ""))
            return TL_ENOMEM;
    }
    return vars ? 0 : TL_ENOMEM;
}

cJSON *actions_rollback_def(const struct probe *p, const char *action)
{
    const struct action *a = NULL;
    for (size_t i = 0; p && i < p->n_actions; i++)
        if (strcmp(p->actions[i].name, action) == 0)
            a = &p->actions[i];
    if (!a || !a->has_rollback)
        return NULL;
    const struct action_do *d = &a->rollback;
    cJSON *def = cJSON_CreateObject();
    int rc = def && cJSON_AddNumberToObject(def, "timeoutUs", (double)a->timeout) &&
                     cJSON_AddBoolToObject(def, "dryRun", a->dry_run)
                 ? 0
                 : TL_ENOMEM;
    if (rc == 0 && d->kind == ACTION_COMMAND) {
        /* an argv is never a template: kept as it is */
        cJSON *argv = cJSON_AddArrayToObject(def, "command");
        for (size_t i = 0; argv && rc == 0 && i < d->argc; i++) {
            cJSON *s = cJSON_CreateString(d->argv[i]);
            if (!s || !cJSON_AddItemToArray(argv, s)) {
                cJSON_Delete(s);
                rc = TL_ENOMEM;
            }
        }
        if (!argv)
            rc = TL_ENOMEM;
    } else if (rc == 0) {
        rc = add_webhook(def, d);
        if (rc == 0)
            rc = add_vars(def, p);
    }
    if (rc) {
        cJSON_Delete(def);
        return NULL;
    }
    return def;
}

/* --- back to a probe ---------------------------------------------------- */

static const char *str_of(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int parse_tpl(struct tpl *t, const char *src, const char *what, char *err, size_t errlen)
{
    char why[200];
    int off = 0;
    if (!src) {
        snprintf(err, errlen, "no %s", what);
        return TL_ESYNTAX;
    }
    if (tpl_parse(t, src, why, sizeof why, &off) != 0) {
        snprintf(err, errlen, "%s: %s", what, why);
        return TL_ESYNTAX;
    }
    return 0;
}

static int def_command(const cJSON *argv, struct action_do *d, char *err, size_t errlen)
{
    int n = cJSON_GetArraySize(argv);
    d->kind = ACTION_COMMAND;
    if (!cJSON_IsArray(argv) || n == 0) {
        snprintf(err, errlen, "empty command");
        return TL_ESYNTAX;
    }
    d->argv = calloc((size_t)n, sizeof *d->argv);
    if (!d->argv)
        return TL_ENOMEM;
    const cJSON *s;
    cJSON_ArrayForEach(s, argv)
    {
        if (!cJSON_IsString(s)) {
            snprintf(err, errlen, "command: not a string");
            return TL_ESYNTAX;
        }
        d->argv[d->argc] = strdup(s->valuestring);
        if (!d->argv[d->argc])
            return TL_ENOMEM;
        d->argc++;
    }
    return 0;
}

static int def_webhook(const cJSON *w, struct action_do *d, char *err, size_t errlen)
{
    d->kind = ACTION_WEBHOOK;
    const char *method = str_of(w, "method");
    d->method = method ? strdup(method) : NULL;
    if (method && !d->method)
        return TL_ENOMEM;
    int rc = parse_tpl(&d->url, str_of(w, "url"), "url", err, errlen);
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(w, "headers");
    int n = cJSON_GetArraySize(hs);
    if (rc == 0 && n > 0) {
        d->headers = calloc((size_t)n, sizeof *d->headers);
        rc = d->headers ? 0 : TL_ENOMEM;
    }
    const cJSON *h;
    cJSON_ArrayForEach(h, hs)
    {
        if (rc)
            break;
        struct header_tpl *ht = &d->headers[d->n_headers];
        const char *name = str_of(h, "name");
        ht->name = name ? strdup(name) : NULL;
        if (!name) {
            snprintf(err, errlen, "header without a name");
            rc = TL_ESYNTAX;
        } else if (!ht->name) {
            rc = TL_ENOMEM;
        } else {
            d->n_headers++;
            rc = parse_tpl(&ht->value, str_of(h, "value"), "header value", err, errlen);
        }
    }
    const cJSON *json = cJSON_GetObjectItemCaseSensitive(w, "json");
    if (rc == 0 && json) {
        d->json = cJSON_Duplicate(json, 1);
        rc = d->json ? 0 : TL_ENOMEM;
    }
    return rc;
}

static int def_vars(const cJSON *vars, struct probe *p, char *err, size_t errlen)
{
    int n = cJSON_GetArraySize(vars);
    if (n == 0)
        return 0;
    p->vars = calloc((size_t)n, sizeof *p->vars);
    if (!p->vars)
        return TL_ENOMEM;
    const cJSON *v;
    cJSON_ArrayForEach(v, vars)
    {
        const char *name = str_of(v, "name");
        struct var_def *vd = &p->vars[p->n_vars];
        if (!name) {
            snprintf(err, errlen, "var without a name");
            return TL_ESYNTAX;
        }
        vd->name = strdup(name);
        if (!vd->name)
            return TL_ENOMEM;
        p->n_vars++;
        int rc = parse_tpl(&vd->value, str_of(v, "value"), "var value", err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

int actions_def_probe(const cJSON *def, const char *probe_id, const char *action, struct probe **out, char *err,
                      size_t errlen)
{
    struct probe *p = calloc(1, sizeof *p);
    struct action *a = p ? calloc(1, sizeof *a) : NULL;
    int rc = TL_ENOMEM;
    const cJSON *withheld = cJSON_GetObjectItemCaseSensitive(def, "withheld");

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!a)
        goto out;
    p->actions = a;
    p->n_actions = 1;
    a->has_rollback = true;
    a->run.kind = ACTION_COMMAND; /* never run: only its rollback is */
    p->id = strdup(probe_id);
    a->name = strdup(action);
    if (!p->id || !a->name)
        goto out;
    rc = TL_ESYNTAX;
    if (!cJSON_IsObject(def)) {
        snprintf(err, errlen, "no definition kept");
        goto out;
    }
    if (cJSON_GetArraySize(withheld) > 0) {
        char *list = cJSON_PrintUnformatted(withheld);
        snprintf(err, errlen, "%s %s not kept on disk (a literal secret): put it in env. or file:",
                 list ? list : "a part", cJSON_GetArraySize(withheld) > 1 ? "are" : "is");
        free(list);
        goto out;
    }
    a->timeout = (tl_usec)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(def, "timeoutUs"));
    if (a->timeout <= 0)
        a->timeout = ACTIONS_TIMEOUT_DEFAULT;
    a->dry_run = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(def, "dryRun"));
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(def, "command");
    const cJSON *hook = cJSON_GetObjectItemCaseSensitive(def, "webhook");
    if (cmd)
        rc = def_command(cmd, &a->rollback, err, errlen);
    else if (cJSON_IsObject(hook))
        rc = def_webhook(hook, &a->rollback, err, errlen);
    else
        snprintf(err, errlen, "neither a command nor a webhook");
    if (rc == 0)
        rc = def_vars(cJSON_GetObjectItemCaseSensitive(def, "vars"), p, err, errlen);
out:
    if (rc == TL_ENOMEM && err && errlen)
        snprintf(err, errlen, "out of memory");
    if (rc) {
        probe_free(p);
        p = NULL;
    }
    *out = p;
    return rc;
}
