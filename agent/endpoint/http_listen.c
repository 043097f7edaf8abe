/* Listen addresses for the endpoint (http.h): literals only, no DNS. */
#include "agent/endpoint/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!listen)
        return TL_EADDR;
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || colon[1] == '\0')
        return TL_EADDR;
    char host[INET6_ADDRSTRLEN + 1];
    const char *hs = listen;
    size_t hl = (size_t)(colon - listen);
    bool v6 = listen[0] == '[';
    if (v6) {
        if (hl < 3 || listen[hl - 1] != ']')
            return TL_EADDR;
        hs++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return TL_EADDR;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    const char *ps = colon + 1;
    for (const char *p = ps; *p; p++) {
        if (*p < '0' || *p > '9')
            return TL_EADDR;
    }
    errno = 0;
    long port = strtol(ps, NULL, 10);
    if (errno || port < 0 || port > 65535 || strlen(ps) > 5)
        return TL_EADDR;
    memset(ss, 0, sizeof(*ss));
    if (v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return TL_EADDR;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return TL_EADDR;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *len = sizeof(*sin);
    }
    return 0;
}
