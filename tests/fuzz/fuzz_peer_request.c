/* Peer request verification (peers_check). The first byte picks a variant:
 *   even: outside bytes, [71 bytes of X-Tripline-Signature] body; bit 1
 *         sends no header at all. Nothing is accepted unless the header is
 *         the key's HMAC of the body, which only a holder of the key makes.
 *   odd:  the body signed with the key, checked (accepted or not, never a
 *         fault), replayed (refused if it was accepted), then one byte of
 *         the body (bit 1 clear) or of the signature (bit 1 set) flipped at
 *         [pos lo][pos hi] with [mask]: always refused.
 * The clock is fixed so that seeds naming "ts": 1767225600 are fresh. */
#include "tests/fuzz/fuzz_util.h"

#include <stdbool.h>

#include "agent/fleet/peers.h"

#define NOW 1767225600LL
#define KEY "fuzz peers key 0123456789abcdef"
#define SIG_LEN 71

static char key_path[64];

static struct peers *peers_fresh(void)
{
    static struct peers_config cfg;
    if (!key_path[0]) {
        int fd = fuzz_file((const uint8_t *)KEY, strlen(KEY), key_path, sizeof(key_path));
        if (fd < 0)
            abort(); /* kept open for the process: its path is the key file */
        cfg.key_file = key_path;
        cfg.timeout = 1000000;
    }
    struct peers_opts o = {.cfg = &cfg, .region = "eu-west", .agent = "eu-1"};
    struct peers *p = NULL;
    char err[256];
    if (peers_new(&p, &o, err, sizeof(err)) != 0)
        abort();
    return p;
}

static int check(struct peers *p, const char *sig, const char *body, size_t len)
{
    char probe[128], nonce[128], why[256];
    int st = peers_check(p, sig, body, len, NOW, probe, sizeof(probe), nonce, sizeof(nonce), why, sizeof(why));
    if (st != 200 && (!why[0] || !peers_refusal(p)))
        abort(); /* a refusal always says why */
    if (st == 200 && (!probe[0] || peers_refusal(p)))
        abort();
    return st;
}

static void outside(struct peers *p, const uint8_t *data, size_t size)
{
    char sig[SIG_LEN + 1] = "";
    bool have = !(data[0] & 2) && size > SIG_LEN;
    if (have) {
        memcpy(sig, data + 1, SIG_LEN);
        data += SIG_LEN;
        size -= SIG_LEN;
    }
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char want[72];
    if (peers_sign(p, body, len, want) != 0)
        abort();
    if (check(p, have ? sig : NULL, body, len) == 200 && strcmp(sig, want) != 0)
        abort(); /* accepted without the key's signature */
}

static void signed_then_mutated(struct peers *p, const uint8_t *data, size_t size)
{
    if (size < 5)
        return;
    size_t pos = (size_t)(data[1] | data[2] << 8);
    uint8_t mask = data[3] ? data[3] : 1;
    bool on_sig = data[0] & 2;
    size_t len = size - 4;
    char *body = malloc(len + 1), sig[72];
    if (!body)
        return;
    memcpy(body, data + 4, len);
    body[len] = '\0';
    if (peers_sign(p, body, len, sig) != 0)
        abort();
    int first = check(p, sig, body, len);
    if (first == 200 && check(p, sig, body, len) == 200)
        abort(); /* a replay accepted */
    if (on_sig)
        sig[pos % SIG_LEN] ^= (char)mask;
    else
        body[pos % len] ^= (char)mask;
    if (check(p, sig, body, len) == 200)
        abort(); /* a changed request accepted */
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct peers *p = peers_fresh();
    if (data[0] & 1)
        signed_then_mutated(p, data, size);
    else
        outside(p, data, size);
    peers_free(p);
    return 0;
}
