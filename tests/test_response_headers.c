/* The response header parser (probes/http/response_headers.c), line by line
 * as curl's header callback hands the lines over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "probes/http/response_headers.h"

static int feed(struct resp_hdr *h, struct response *r, const char *line)
{
    return resp_hdr_line(h, r, line, strlen(line));
}

static void test_kept_and_trimmed(void **state)
{
    struct resp_hdr h = {0};
    struct response r = {0};
    assert_int_equal(feed(&h, &r, "HTTP/1.1 200 OK\r\n"), 0);
    assert_int_equal(feed(&h, &r, "Content-Type:  application/json \r\n"), 0);
    assert_int_equal(feed(&h, &r, "Location: http://x:81/a\r\n"), 0);
    assert_int_equal(feed(&h, &r, "X-Empty:\r\n"), 0);
    assert_int_equal(feed(&h, &r, "\r\n"), 0);
    assert_int_equal(r.n_headers, 3);
    assert_string_equal(response_header(&r, "content-type"), "application/json");
    assert_string_equal(response_header(&r, "Location"), "http://x:81/a");
    assert_string_equal(response_header(&r, "X-Empty"), "");
    response_free(&r);
}

static void test_last_response_only_and_no_trailers(void **state)
{
    struct resp_hdr h = {0};
    struct response r = {0};
    feed(&h, &r, "HTTP/1.1 100 Continue\r\n");
    feed(&h, &r, "X-First: 1\r\n");
    feed(&h, &r, "\r\n");
    feed(&h, &r, "HTTP/1.1 200 OK\r\n");
    feed(&h, &r, "X-Second: 2\r\n");
    feed(&h, &r, "\r\n");
    h.in_body = true;
    assert_int_equal(feed(&h, &r, "X-Trailer: 3\r\n"), 0);
    assert_int_equal(r.n_headers, 1);
    assert_null(response_header(&r, "X-First"));
    assert_null(response_header(&r, "X-Trailer"));
    assert_string_equal(response_header(&r, "X-Second"), "2");
    response_free(&r);
}

static void test_folded_continuation(void **state)
{
    struct resp_hdr h = {0};
    struct response r = {0};
    feed(&h, &r, "HTTP/1.1 200 OK\r\n");
    feed(&h, &r, " X-Orphan: fold before any header\r\n");
    feed(&h, &r, "X-Long: one\r\n");
    feed(&h, &r, "   two: still the value\r\n");
    feed(&h, &r, "\tthree\r\n");
    assert_int_equal(r.n_headers, 1);
    assert_string_equal(response_header(&r, "X-Long"), "one two: still the value three");
    assert_null(response_header(&r, "two"));
    response_free(&r);
}

static void test_junk_names_skipped(void **state)
{
    static const char *const junk[] = {
        ": no name\r\n", "\x01X-Ctl: a\r\n", "X\x7f: a\r\n", "Two words: a\r\n",
        "Caf\xc3\xa9: a\r\n", "no colon at all\r\n", "X\x1b[31m: a\r\n",
    };
    struct resp_hdr h = {0};
    struct response r = {0};
    feed(&h, &r, "HTTP/1.1 200 OK\r\n");
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        assert_int_equal(feed(&h, &r, junk[i]), 0);
    assert_int_equal(feed(&h, &r, "X-Good : kept\r\n"), 0);
    assert_int_equal(r.n_headers, 1);
    assert_string_equal(r.headers[0].name, "X-Good");
    response_free(&r);
}

static void test_byte_cap(void **state)
{
    struct resp_hdr h = {0};
    struct response r = {0};
    static char line[RESP_HDR_BYTES_MAX + 2];
    const char *status = "HTTP/1.1 200 OK\r\n";
    size_t room = RESP_HDR_BYTES_MAX - strlen(status);
    memset(line, 'v', room);
    memcpy(line, "X-Big: ", 7);
    memcpy(line + room - 2, "\r\n", 2);
    feed(&h, &r, status);
    assert_int_equal(resp_hdr_line(&h, &r, line, room), 0); /* exactly at the cap */
    assert_int_equal(h.bytes, RESP_HDR_BYTES_MAX);
    assert_int_equal(feed(&h, &r, "\r\n"), TL_ETOOBIG);
    char why[100];
    resp_hdr_too_big(&h, why, sizeof(why));
    assert_string_equal(why, "response headers larger than 65536 bytes");
    response_free(&r);
}

static void test_count_cap(void **state)
{
    struct resp_hdr h = {0};
    struct response r = {0};
    feed(&h, &r, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < RESP_HDR_COUNT_MAX; i++)
        assert_int_equal(feed(&h, &r, "a:\r\n"), 0);
    assert_int_equal(r.n_headers, RESP_HDR_COUNT_MAX);
    assert_int_equal(feed(&h, &r, "a:\r\n"), TL_ETOOBIG);
    assert_int_equal(r.n_headers, RESP_HDR_COUNT_MAX);
    char why[100];
    resp_hdr_too_big(&h, why, sizeof(why));
    assert_string_equal(why, "response with more than 1024 headers");
    /* a later response starts from nothing */
    struct resp_hdr h2 = {0};
    struct response r2 = {0};
    feed(&h2, &r2, "HTTP/1.1 200 OK\r\n");
    assert_int_equal(feed(&h2, &r2, "a: 1\r\n"), 0);
    response_free(&r2);
    response_free(&r);
}

/* Framing a client cannot trust: a length out of range, negative, two that
 * disagree (in two lines or one list), a length beside Transfer-Encoding.
 * Equal lengths, in a list or twice, are one length (RFC 9110 8.6). */
static void test_broken_framing(void **state)
{
    static const struct {
        const char *a, *b;
        int rc;
    } cases[] = {
        {"Content-Length: 99999999999999999999\r\n", NULL, TL_ESYNTAX},
        {"Content-Length: 9223372036854775808\r\n", NULL, TL_ESYNTAX},
        {"Content-Length: -1\r\n", NULL, TL_ESYNTAX},
        {"Content-Length: 12abc\r\n", NULL, TL_ESYNTAX},
        {"Content-Length:\r\n", NULL, TL_ESYNTAX},
        {"Content-Length: 11, 5\r\n", NULL, TL_ESYNTAX},
        {"Content-Length: 11,\r\n", NULL, TL_ESYNTAX},
        {"Content-Length: 11\r\n", "Content-Length: 5\r\n", TL_ESYNTAX},
        {"Transfer-Encoding: chunked\r\n", "Content-Length: 5\r\n", TL_ESYNTAX},
        {"Content-Length: 5\r\n", "transfer-encoding: chunked\r\n", TL_ESYNTAX},
        {"Content-Length: 11\r\n", "content-length: 11\r\n", 0},
        {"Content-Length: 11 , 11\r\n", NULL, 0},
        {"Content-Length: 9223372036854775807\r\n", NULL, 0},
        {"Transfer-Encoding: chunked\r\n", NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resp_hdr h = {0};
        struct response r = {0};
        assert_int_equal(feed(&h, &r, "HTTP/1.1 200 OK\r\n"), 0);
        int rc = feed(&h, &r, cases[i].a);
        if (rc == 0 && cases[i].b)
            rc = feed(&h, &r, cases[i].b);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %d, want %d", i, cases[i].a, rc, cases[i].rc);
        if (rc)
            assert_non_null(strstr(h.broken, "Content-Length"));
        response_free(&r);
    }
    /* a 100 Continue's length is not the final response's */
    struct resp_hdr h = {0};
    struct response r = {0};
    feed(&h, &r, "HTTP/1.1 100 Continue\r\n");
    feed(&h, &r, "Content-Length: 0\r\n");
    feed(&h, &r, "\r\n");
    feed(&h, &r, "HTTP/1.1 200 OK\r\n");
    assert_int_equal(feed(&h, &r, "Content-Length: 2\r\n"), 0);
    response_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_and_trimmed),
        cmocka_unit_test(test_last_response_only_and_no_trailers),
        cmocka_unit_test(test_folded_continuation),
        cmocka_unit_test(test_junk_names_skipped),
        cmocka_unit_test(test_byte_cap),
        cmocka_unit_test(test_count_cap),
        cmocka_unit_test(test_broken_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
