/* pow_ctx.c: the per-payload precomputation shared by every PoW kernel, and
 * the scalar reference trial.
 *
 * The trial message is one SHA-512 block:
 *   W0 = nonce, W1..W8 = h1, W9 = 0x80 << 56, W10..W14 = 0, W15 = 72 * 8.
 * Only W0 varies, so round 0 reduces to two additions and much of the message
 * schedule W16..W30 is constant or "constant + one variable term".  The
 * algebra below is the one the kernels rely on (pow_lanes.h); the scalar
 * reference sc_pow_trial_value() deliberately does NOT use it, so tests
 * comparing the two catch a slip in either. */
#include "sc_internal.h"

#define BSIG0(x) (SC_ROTR64(x, 28) ^ SC_ROTR64(x, 34) ^ SC_ROTR64(x, 39))
#define BSIG1(x) (SC_ROTR64(x, 14) ^ SC_ROTR64(x, 18) ^ SC_ROTR64(x, 41))
#define SSIG0(x) (SC_ROTR64(x, 1) ^ SC_ROTR64(x, 8) ^ ((x) >> 7))
#define SSIG1(x) (SC_ROTR64(x, 19) ^ SC_ROTR64(x, 61) ^ ((x) >> 6))

static void trial_block(const uint64_t h1[8], uint64_t nonce, uint64_t block[16])
{
    block[0] = nonce;
    for (int i = 0; i < 8; i++)
        block[1 + i] = h1[i];
    block[9] = 0x8000000000000000ULL;
    for (int i = 10; i < 15; i++)
        block[i] = 0;
    block[15] = 72 * 8;
}

void sc_pow_ctx_init(sc_pow_ctx *ctx, const uint8_t h1_bytes[64], uint64_t target)
{
    uint64_t w[16];
    ctx->target = target;
    for (int i = 0; i < 8; i++)
        ctx->h1[i] = sc_load_be64(h1_bytes + 8 * i);
    trial_block(ctx->h1, 0, w);

    const uint64_t *iv = sc_sha512_IV;
    /* Round 0 from the IV: T1 = IV.h + S1(IV.e) + Ch(IV.e, IV.f, IV.g) + K0 + W0. */
    uint64_t t1c = iv[7] + BSIG1(iv[4]) + ((iv[4] & iv[5]) ^ (~iv[4] & iv[6])) + sc_sha512_K[0];
    uint64_t t2 = BSIG0(iv[0]) + ((iv[0] & iv[1]) ^ (iv[0] & iv[2]) ^ (iv[1] & iv[2]));
    ctx->a0 = t1c + t2;
    ctx->e0 = iv[3] + t1c;

    ctx->kw[0] = 0;
    for (int t = 1; t < 16; t++)
        ctx->kw[t] = sc_sha512_K[t] + w[t];

    /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]; the constant parts: */
    ctx->w16c = SSIG1(w[14]) + w[9] + SSIG0(w[1]);          /* + W0 */
    ctx->w17 = SSIG1(w[15]) + w[10] + SSIG0(w[2]) + w[1];
    ctx->c18 = w[11] + SSIG0(w[3]) + w[2];                   /* + s1(W16) */
    ctx->w19 = SSIG1(ctx->w17) + w[12] + SSIG0(w[4]) + w[3];
    ctx->c20 = w[13] + SSIG0(w[5]) + w[4];                   /* + s1(W18) */
    ctx->w21 = SSIG1(ctx->w19) + w[14] + SSIG0(w[6]) + w[5];
    ctx->c22 = w[15] + SSIG0(w[7]) + w[6];                   /* + s1(W20) */
    ctx->c23 = SSIG1(ctx->w21) + SSIG0(w[8]) + w[7];         /* + W16 */
    ctx->c24 = ctx->w17 + SSIG0(w[9]) + w[8];                /* + s1(W22) */
    ctx->c26 = ctx->w19 + SSIG0(w[11]) + w[10];              /* + s1(W24) */
    ctx->c28 = ctx->w21 + SSIG0(w[13]) + w[12];              /* + s1(W26) */
    ctx->c30 = SSIG0(w[15]) + w[14];                         /* + s1(W28) + W23 */
    /* W25 = s1(W23) + W18 + w9 (s0(W10) = 0); W27 = s1(W25) + W20 + w11 (= 0 + 0);
     * W29 = s1(W27) + W22 + s0(w14) + w13 = s1(W27) + W22.  Folded in the kernels. */
}

uint64_t sc_pow_trial_value(const sc_pow_ctx *ctx, uint64_t nonce)
{
    uint64_t state[8], block[16];
    for (int i = 0; i < 8; i++)
        state[i] = sc_sha512_IV[i];
    trial_block(ctx->h1, nonce, block);
    sc_sha512_compress(state, block);
    return state[0];
}

void sc_pow_trial_hash(const uint8_t h1_bytes[64], uint64_t nonce, uint8_t out[64])
{
    uint64_t state[8], block[16], h1[8];
    for (int i = 0; i < 8; i++) {
        state[i] = sc_sha512_IV[i];
        h1[i] = sc_load_be64(h1_bytes + 8 * i);
    }
    trial_block(h1, nonce, block);
    sc_sha512_compress(state, block);
    for (int i = 0; i < 8; i++)
        sc_store_be64(out + 8 * i, state[i]);
}

uint64_t sc_pow_target(uint64_t payload_len, uint64_t ttl_ms, uint64_t difficulty)
{
    /* Python computes this with unbounded integers; 128 bits are enough for
     * any 64-bit inputs except the final product, whose overflow means the
     * target is 0 (the integer division would give 0 too). */
    if (difficulty == 0 || payload_len > UINT64_MAX - 8)
        return 0;
    unsigned __int128 total = (unsigned __int128)payload_len + 8;
    unsigned __int128 inner = ((unsigned __int128)(ttl_ms / 1000) * total) / 65535;
    unsigned __int128 denom;
    if (__builtin_mul_overflow((unsigned __int128)difficulty, total + inner, &denom))
        return 0;
    return denom > UINT64_MAX ? 0 : UINT64_MAX / (uint64_t)denom;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int sc_pow_decode_nonce(const char *text, size_t len, uint64_t *value)
{
    /* 11 characters carry 66 bits: the 64-bit nonce and 2 spare bits, which
     * lenient decoders (the 2020 server's, Python's) ignore, and so do we. */
    if (len != 12 || text[11] != '=')
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < 11; i++) {
        int d = b64_value(text[i]);
        if (d < 0)
            return -1;
        v = i < 10 ? (v << 6) | (uint64_t)d : (v << 4) | ((uint64_t)d >> 2);
    }
    *value = v;
    return 0;
}
