/* libFuzzer target: the routing-JSON scanner of the peel fast path (csrc/onion_json.c) on
 * raw bytes, as an outer frame and as a decrypted layer.  Checks the scanner's promises:
 * a "parsed" answer points inside the input and names valid hex and a known enc_type. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t blob_len = 0;
    uint8_t eph[32];
    int enc = -1;
    if (sc_onion_fast_outer(data, size, &blob_len, eph, &enc)) {
        FUZZ_CHECK(size >= 4 && blob_len <= size - 4);
        FUZZ_CHECK(enc == SC_ONION_AES_GCM || enc == SC_ONION_XCHACHA20);
    }
    const uint8_t *dest = NULL;
    if (sc_onion_fast_relay(data, size, &dest)) {
        FUZZ_CHECK(dest >= data + 4 && dest + 64 <= data + size);
        FUZZ_CHECK(fuzz_is_hex64(dest));
    }
    uint8_t out[64];
    size_t n = size > 128 ? 128 : size & ~(size_t)1;
    (void)sc_onion_unhex(data, n, out);
    return 0;
}
