#include "base/uuid.h"

#include "base/err.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* Random bytes are drawn in batches: one RAND_bytes call per 64 ids instead
 * of one per id (each call pays the DRBG's locking and its fork check). */
#define UUID_BATCH (16 * 64)

struct uuid_pool {
    unsigned char b[UUID_BATCH];
    size_t used; /* bytes handed out; UUID_BATCH = empty */
};

static _Thread_local struct uuid_pool uuid_pool = {.used = UUID_BATCH};
static pthread_once_t uuid_once = PTHREAD_ONCE_INIT;

/* A forked child must not hand out the ids its parent will also hand out. */
static void uuid_atfork_child(void)
{
    OPENSSL_cleanse(uuid_pool.b, sizeof(uuid_pool.b));
    uuid_pool.used = UUID_BATCH;
}

static void uuid_init(void)
{
    (void)pthread_atfork(NULL, NULL, uuid_atfork_child);
}

static int uuid_draw(unsigned char b[16])
{
    struct uuid_pool *p = &uuid_pool;
    if (p->used + 16 > UUID_BATCH) {
        pthread_once(&uuid_once, uuid_init);
        if (RAND_bytes(p->b, UUID_BATCH) != 1)
            return TL_ERAND;
        p->used = 0;
    }
    memcpy(b, p->b + p->used, 16);
    /* bytes handed out are not kept */
    memset(p->b + p->used, 0, 16);
    p->used += 16;
    return 0;
}

int uuid_v4(char out[UUID_STR_LEN])
{
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";
    if (uuid_draw(b))
        return TL_ERAND;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
    return 0;
}

bool uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}
