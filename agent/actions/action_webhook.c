/* Webhooks: the method, URL, headers and JSON string leaves rendered from
 * templates against the event, sent through the transfer engine; the
 * status and a snippet of the response go on the timeline. */
#include "agent/actions/actions_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/redact/redact.h"

/* A header value from a template must stay one header line: CR, LF and
 * other control characters become spaces. */
static void header_clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            *s = ' ';
}

struct hook_req {
    char *url;
    bool url_secret;
    size_t n_headers;
    struct http_header *headers;
    char *body;
    bool body_secret;
};

static void hook_req_free(struct hook_req *h)
{
    free(h->url);
    for (size_t i = 0; i < h->n_headers; i++) {
        free(h->headers[i].name);
        free(h->headers[i].value);
    }
    free(h->headers);
    free(h->body);
    memset(h, 0, sizeof *h);
}

/* Renders every string leaf of a JSON body that holds a template. */
static int hook_render_json(cJSON *v, const struct tpl_vars *vs, bool *secret, char *err,
                            size_t errlen)
{
    cJSON *c;
    if (cJSON_IsString(v) && v->valuestring && tpl_has_placeholders(v->valuestring)) {
        struct tpl t = { 0 };
        int off = 0;
        char *s = NULL;
        bool sec = false;
        if (tpl_parse(&t, v->valuestring, err, errlen, &off) != 0)
            return -1;
        s = tpl_render_str(&t, vs, TPL_ESC_NONE, &sec, err, errlen);
        tpl_free(&t);
        if (!s)
            return -1;
        *secret = *secret || sec;
        if (!cJSON_SetValuestring(v, s)) {
            free(s);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(s);
        return 0;
    }
    cJSON_ArrayForEach(c, v) {
        if (hook_render_json(c, vs, secret, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int hook_render(const struct action_do *d, const struct tpl_vars *vs, struct hook_req *h,
                       char *err, size_t errlen)
{
    bool has_ctype = false;
    cJSON *json = NULL;
    int rc = -1;

    h->url = tpl_render_str(&d->url, vs, TPL_ESC_URL, &h->url_secret, err, errlen);
    if (!h->url)
        goto out;
    h->headers = calloc(d->n_headers + 1, sizeof *h->headers);
    if (!h->headers) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < d->n_headers; i++) {
        struct http_header *hh = &h->headers[h->n_headers];
        hh->name = act_strdup(d->headers[i].name);
        hh->value = tpl_render_str(&d->headers[i].value, vs, TPL_ESC_NONE, NULL, err, errlen);
        h->n_headers++;
        if (!hh->name || !hh->value)
            goto out;
        header_clean(hh->value);
        if (strcasecmp(hh->name, "Content-Type") == 0)
            has_ctype = true;
    }
    if (d->json) {
        json = cJSON_Duplicate(d->json, 1);
        if (!json) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (hook_render_json(json, vs, &h->body_secret, err, errlen) != 0)
            goto out;
        h->body = cJSON_PrintUnformatted(json);
        if (!h->body) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (!has_ctype) {
            struct http_header *hh = &h->headers[h->n_headers];
            hh->name = act_strdup("Content-Type");
            hh->value = act_strdup("application/json");
            h->n_headers++;
            if (!hh->name || !hh->value)
                goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(json);
    return rc;
}

/* "PUT http://host/path" as it may be written: a URL rendered from a
 * secret is shown as its template, others lose userinfo and credentials. */
static char *hook_what(const struct action_do *d, const struct hook_req *h)
{
    struct redactor red;
    struct buf b;
    char *url;
    char *out = NULL;

    redactor_init(&red);
    url = h->url_secret ? act_strdup(d->url.src) : redact_url(&red, h->url);
    redactor_free(&red);
    if (!url)
        return NULL;
    buf_init(&b, ACT_DETAIL_MAX);
    if (buf_printf(&b, "%s %s", d->method ? d->method : "POST", url) != TL_ENOMEM)
        out = buf_take(&b);
    buf_free(&b);
    free(url);
    return out;
}

static void hook_done_cb(struct response *resp, void *arg)
{
    struct act_run *run = arg;
    struct buf d;

    buf_init(&d, ACT_DETAIL_MAX);
    if (resp->status > 0 && resp->fail == TRANSFER_OK) {
        run->e.status = resp->status;
        run->e.outcome = resp->status >= 200 && resp->status <= 299 ? "ok" : "failed";
        (void)buf_printf(&d, "HTTP %ld from %s", resp->status, run->what);
        if (resp->body.len > 0) {
            size_t n = resp->body.len < ACTIONS_RESPONSE_MAX ? resp->body.len : ACTIONS_RESPONSE_MAX;
            run->e.output = malloc(n + 1);
            if (run->e.output) {
                memcpy(run->e.output, resp->body.data, n);
                run->e.output[n] = '\0';
                act_text_keep(&run->e.output, n);
            }
        }
    } else {
        run->e.outcome = "failed";
        (void)buf_printf(&d, "%s: %s (%s)",
                         resp->fail == TRANSFER_CURL ? "transport error" : transfer_fail_str(resp->fail),
                         resp->error[0] ? resp->error : "no response", run->what);
    }
    run->e.detail = buf_take(&d);
    buf_free(&d);
    response_free(resp);
    free(resp);
    run->finish(run);
}

void act_hook_start(struct act_run *run, const struct action *a, const struct action_do *d,
                    const struct tpl_vars *vs)
{
    struct hook_req h = { 0 };
    struct transfer_session *s = NULL;
    struct transfer_req req;
    char err[256] = "";

    if (hook_render(d, vs, &h, err, sizeof err) != 0) {
        run->e.outcome = "error";
        run->e.detail = strdup(err[0] ? err : "cannot render the request");
        goto fail;
    }
    run->what = hook_what(d, &h);
    if (!run->what || transfer_session_new(&s, run->r->engine) != 0) {
        run->e.outcome = "error";
        run->e.detail = strdup("out of memory");
        goto fail;
    }
    memset(&req, 0, sizeof req);
    req.method = d->method ? d->method : "POST";
    req.url = h.url;
    req.n_headers = h.n_headers;
    req.headers = h.headers;
    req.body = h.body;
    req.body_len = h.body ? strlen(h.body) : 0;
    req.timeout = a->timeout > 0 ? a->timeout : ACTIONS_TIMEOUT_DEFAULT;
    req.body_max = 64 * 1024;
    if (transfer_start(s, &req, hook_done_cb, run) != 0) {
        run->e.outcome = "error";
        run->e.detail = strdup("cannot start the request");
        goto fail;
    }
    /* The session lives on while its transfer is in flight. */
    transfer_session_free(s);
    hook_req_free(&h);
    return;
fail:
    transfer_session_free(s);
    hook_req_free(&h);
    run->finish(run);
}


void act_hook_dry(const struct action_do *d, const struct tpl_vars *vs, struct buf *b)
{
    struct hook_req h = { 0 };
    char err[256] = "";
    if (hook_render(d, vs, &h, err, sizeof err) != 0) {
        (void)buf_printf(b, "would fail: %s", err);
    } else {
        char *what = hook_what(d, &h);
        (void)buf_printf(b, "would send %s", what ? what : "?");
        if (h.body)
            (void)buf_printf(b, " %.*s", ACT_DETAIL_MAX / 2, h.body_secret ? REDACTED : h.body);
        free(what);
    }
    hook_req_free(&h);
}
