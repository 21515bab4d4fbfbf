/* libFuzzer target: the C batch peel (sc_onion_peel_batch, csrc/onion.c) as the binding
 * drives it (session_core/onion/_onion_c.pyx peel_batch), with a fixed test key.
 *
 * Input: first byte = mode.  Even: the rest is up to 16 bodies, each [u16 LE len][bytes],
 * peeled as they are (almost all fail before or at the AEAD).  Odd: the rest is the
 * *plaintext* of one layer, encrypted for the test key (bit 1 picks the enc_type), so the
 * scanner of decrypted layers is fuzzed behind a real decryption; then the peel must
 * succeed and give back exactly that plaintext. */
#include "fuzz_common.h"

#define MAX_ITEMS 16

static void peel(const uint8_t **bodies, const size_t *lens, size_t n, const uint8_t *expect,
                 size_t expect_len)
{
    const sc_sodium *lib = fuzz_lib();
    sc_onion_peel_item items[MAX_ITEMS];
    uint8_t *outs[MAX_ITEMS] = {0};
    for (size_t i = 0; i < n; i++) {
        sc_onion_peel_item *it = &items[i];
        memset(it, 0, sizeof *it);
        it->status = SC_PEEL_PYTHON;
        if (!sc_onion_fast_outer(bodies[i], lens[i], &it->blob_len, it->eph, &it->enc))
            continue;
        if (it->enc == SC_ONION_AES_GCM && !lib->aesgcm_ok)
            continue;
        size_t over = sc_onion_nonce_bytes(it->enc) + SC_ONION_TAG_BYTES;
        if (it->blob_len < over) {
            it->status = SC_PEEL_BAD;
            continue;
        }
        /* exactly the plaintext size: ASan sees any write past it */
        outs[i] = malloc(it->blob_len - over ? it->blob_len - over : 1);
        it->body = bodies[i];
        it->out = outs[i];
        it->status = SC_PEEL_PENDING;
    }
    sc_onion_peel_batch(lib, fuzz_secret, fuzz_public, items, n);
    for (size_t i = 0; i < n; i++) {
        sc_onion_peel_item *it = &items[i];
        FUZZ_CHECK(it->status != SC_PEEL_PENDING);
        if (it->status == SC_PEEL_RELAY) {
            size_t pt = it->blob_len - sc_onion_nonce_bytes(it->enc) - SC_ONION_TAG_BYTES;
            FUZZ_CHECK(it->dest_hex >= it->out + 4 && it->dest_hex + 64 <= it->out + pt);
            FUZZ_CHECK(fuzz_is_hex64(it->dest_hex));
        }
        if (expect && (lib->aesgcm_ok || it->enc != SC_ONION_AES_GCM)) {
            FUZZ_CHECK(it->status == SC_PEEL_RELAY || it->status == SC_PEEL_OPENED);
            FUZZ_CHECK(memcmp(it->out, expect, expect_len) == 0);
        }
        free(outs[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++, size--;
    if (mode & 1) {
        size_t len = 0;
        int enc = (mode & 2) ? SC_ONION_XCHACHA20 : SC_ONION_AES_GCM;
        uint8_t *body = fuzz_wrap(data, size, enc, mode, &len);
        if (!body)
            return 0;
        const uint8_t *b[1] = {body};
        peel(b, &len, 1, data, size);
        free(body);
        return 0;
    }
    const uint8_t *bodies[MAX_ITEMS];
    size_t lens[MAX_ITEMS], n = 0;
    uint8_t *copies[MAX_ITEMS];
    while (n < MAX_ITEMS && size >= 2) {
        size_t len = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2, size -= 2;
        if (len > size)
            len = size;
        /* each body in its own exact-size allocation, so overreads show */
        copies[n] = malloc(len ? len : 1);
        memcpy(copies[n], data, len);
        bodies[n] = copies[n];
        lens[n++] = len;
        data += len, size -= len;
    }
    peel(bodies, lens, n, NULL, 0);
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    return 0;
}
