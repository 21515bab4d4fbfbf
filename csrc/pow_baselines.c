/* pow_baselines.c: tight C loops over other libraries' SHA-512, so benchmarks
 * compare our kernels with them in the same process and the same run.
 * The functions arrive as pointers found at run time (ctypes / the loaded
 * PyNaCl module), so building needs neither OpenSSL nor libsodium headers. */
#include <string.h>

#include "sc_internal.h"

/* OpenSSL's SHA512_CTX: h[8], Nl, Nh, then the 128-byte block and two ints.
 * Only h[] matters to SHA512_Transform; the struct is over-allocated. */
typedef struct {
    uint64_t h[8];
    uint64_t rest[32];
} openssl_sha512_ctx;

uint64_t sc_baseline_openssl_loop(sc_openssl_transform_fn fn, const uint8_t h1[64],
                                  uint64_t target, uint64_t count)
{
    uint8_t block[128] = {0};
    memcpy(block + 8, h1, 64);
    block[72] = 0x80;
    block[126] = (72 * 8) >> 8;
    block[127] = (72 * 8) & 0xff;
    openssl_sha512_ctx ctx;
    uint64_t hits = 0;
    for (uint64_t nonce = 0; nonce < count; nonce++) {
        sc_store_be64(block, nonce);
        memcpy(ctx.h, sc_sha512_IV, sizeof ctx.h);
        fn(&ctx, block);
        hits += ctx.h[0] < target;
    }
    return hits;
}

uint64_t sc_baseline_sodium_loop(sc_sodium_sha512_fn fn, const uint8_t h1[64], uint64_t target,
                                 uint64_t count)
{
    uint8_t msg[72], out[64];
    memcpy(msg + 8, h1, 64);
    uint64_t hits = 0;
    for (uint64_t nonce = 0; nonce < count; nonce++) {
        sc_store_be64(msg, nonce);
        fn(out, msg, sizeof msg);
        hits += sc_load_be64(out) < target;
    }
    return hits;
}
