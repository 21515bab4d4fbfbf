/* fuzz_common.h: what the libFuzzer targets share: libsodium bound once, a fixed test key,
 * a check that aborts (so libFuzzer records the input), and a way to wrap fuzzer bytes as
 * a layer that really decrypts, so the code after the AEAD gets fuzzed too.
 *
 * libsodium: SC_FUZZ_SODIUM names the shared object (tools/fuzz.sh passes PyNaCl's module
 * or the system libsodium), as the extension binds it (csrc/sodium_loader.c).
 */
#ifndef SC_FUZZ_COMMON_H
#define SC_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onion.h"

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

static sc_sodium fuzz_sodium;
static uint8_t fuzz_secret[32], fuzz_public[32];

static inline const sc_sodium *fuzz_lib(void)
{
    static int loaded;
    if (!loaded) {
        const char *path = getenv("SC_FUZZ_SODIUM"), *missing = "";
        if (!path || !*path)
            path = "libsodium.so.23";
        if (sc_sodium_load(&fuzz_sodium, path, &missing) != 0) {
            fprintf(stderr, "cannot bind libsodium from %s (%s); set SC_FUZZ_SODIUM\n", path, missing);
            exit(2);
        }
        for (int i = 0; i < 32; i++)
            fuzz_secret[i] = (uint8_t)(i * 7 + 1); /* fixed: runs are reproducible */
        fuzz_sodium.scalarmult_base(fuzz_public, fuzz_secret);
        loaded = 1;
    }
    return &fuzz_sodium;
}

/* Frame [u32 N][nonce | AEAD(pt) | tag][{"ephemeral_key":"<hex>","enc_type":"..."}] of a
 * layer for fuzz_public, into a malloc'ed buffer (*len set); NULL if too large. */
static inline uint8_t *fuzz_wrap(const uint8_t *pt, size_t pt_len, int enc, uint8_t seed, size_t *len)
{
    const sc_sodium *lib = fuzz_lib();
    uint8_t eph_sk[32], eph_pk[32], shared[32], key[32];
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++)
        eph_sk[i] = (uint8_t)(seed + 3 * i + 5);
    lib->scalarmult_base(eph_pk, eph_sk);
    if (lib->scalarmult(shared, eph_sk, fuzz_public) != 0)
        return NULL;
    sc_onion_kdf(lib, enc, shared, eph_pk, fuzz_public, key);
    size_t blob = pt_len + sc_onion_nonce_bytes(enc) + SC_ONION_TAG_BYTES;
    char json[160];
    int jl = snprintf(json, sizeof json, "{\"ephemeral_key\":\"%064d\",\"enc_type\":\"%s\"}", 0,
                      enc == SC_ONION_AES_GCM ? "aes-gcm" : "xchacha20");
    for (int i = 0; i < 32; i++) { /* the hex in place of the 64 zeros */
        json[18 + 2 * i] = hex[eph_pk[i] >> 4];
        json[19 + 2 * i] = hex[eph_pk[i] & 15];
    }
    if (blob > 0xFFFFFFFFu)
        return NULL;
    uint8_t *out = malloc(4 + blob + (size_t)jl);
    if (!out)
        return NULL;
    out[0] = (uint8_t)blob;
    out[1] = (uint8_t)(blob >> 8);
    out[2] = (uint8_t)(blob >> 16);
    out[3] = (uint8_t)(blob >> 24);
    if (sc_onion_encrypt(lib, enc, key, pt, pt_len, out + 4) != 0) {
        free(out);
        return NULL;
    }
    memcpy(out + 4 + blob, json, (size_t)jl);
    *len = 4 + blob + (size_t)jl;
    return out;
}

static inline int fuzz_is_hex64(const uint8_t *p)
{
    for (int i = 0; i < 64; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') || (p[i] >= 'A' && p[i] <= 'F')))
            return 0;
    return 1;
}

#endif
