/* A raw DNS response message through dns_answer_read, the text capped at
 * 4 KiB so the cap is reached: the call ends in one of its documented
 * codes, the answers are valid JSON of bounded size with every field set,
 * and the text stays under its cap, printable ASCII one record a line. */
#include "tests/fuzz/fuzz_util.h"

#include "base/err.h"
#include "probes/kinds/dns_int.h"

#define TEXT_CAP 4096
/* a record's JSON: the owner and a name in the data, each up to 255 bytes
 * escaped (4 bytes each, then JSON-escaped), and its data 5 times over */
#define RECORD_JSON_MAX 4096

static void check_answers(const cJSON *answers, size_t len)
{
    size_t n = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, answers) {
        if (!cJSON_IsString(cJSON_GetObjectItem(o, "name")) || !cJSON_IsString(cJSON_GetObjectItem(o, "type")) ||
            !cJSON_IsNumber(cJSON_GetObjectItem(o, "ttl")) || !cJSON_IsString(cJSON_GetObjectItem(o, "data")))
            abort();
        n++;
    }
    if (n > len / 11) /* a record is at least 11 bytes on the wire */
        abort();
    char *json = cJSON_PrintUnformatted(answers);
    if (!json)
        return; /* out of memory */
    if (strlen(json) > 2 + n * RECORD_JSON_MAX + 5 * len)
        abort();
    cJSON *back = cJSON_Parse(json);
    if (!back || !cJSON_IsArray(back) || (size_t)cJSON_GetArraySize(back) != n)
        abort();
    cJSON_Delete(back);
    free(json);
}

static void check_text(const struct buf *text, size_t n_answers, int rc)
{
    size_t lines = 0;
    if (text->len > TEXT_CAP)
        abort();
    for (size_t i = 0; i < text->len; i++) {
        unsigned char c = (unsigned char)text->data[i];
        if (c == '\n')
            lines++;
        else if (c < 0x20 || c >= 0x7f)
            abort();
    }
    if (rc == 0 && lines != n_answers)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dns_answer a = {0};
    struct buf text;
    char err[200] = "";
    buf_init(&text, TEXT_CAP);
    int rc = dns_answer_read(data, size, &a, &text, err, sizeof(err));
    if (rc != 0 && rc != TL_ESYNTAX && rc != TL_ETOOBIG && rc != TL_ENOMEM)
        abort();
    if (rc == TL_ESYNTAX && strncmp(err, "malformed answer: ", 18) != 0)
        abort();
    if (a.rcode < 0 || a.rcode > 15 || strlen(a.flags) >= sizeof(a.flags))
        abort();
    if (a.answers) {
        check_answers(a.answers, size);
        check_text(&text, (size_t)cJSON_GetArraySize(a.answers), rc);
    } else if (rc != TL_ENOMEM) {
        abort();
    }
    cJSON_Delete(a.answers);
    buf_free(&text);
    return 0;
}
