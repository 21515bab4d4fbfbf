/* sha512.c: plain SHA-512 (FIPS 180-4) for whole messages.
 *
 * Why our own: the PoW kernels need the round constants and a scalar
 * compression as their reference anyway, and verify() must hash the payload
 * without a round trip through Python objects; linking OpenSSL or libsodium
 * for these ~80 lines would add a build dependency for nothing. */
#include <string.h>

#include "sc_internal.h"

const uint64_t sc_sha512_K[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

const uint64_t sc_sha512_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

/* Nested rotations (one register copy each instead of three on x86), see pow_portable.c. */
#define BSIG0(x) SC_ROTR64((x) ^ SC_ROTR64((x) ^ SC_ROTR64((x), 5), 6), 28)
#define BSIG1(x) SC_ROTR64((x) ^ SC_ROTR64((x) ^ SC_ROTR64((x), 23), 4), 14)
#define SSIG0(x) (SC_ROTR64((x) ^ SC_ROTR64((x), 7), 1) ^ ((x) >> 7))
#define SSIG1(x) (SC_ROTR64((x) ^ SC_ROTR64((x), 42), 19) ^ ((x) >> 6))

void sc_sha512_compress(uint64_t state[8], const uint64_t block[16])
{
    uint64_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = block[t];
    for (int t = 16; t < 80; t++)
        w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];

    uint64_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint64_t e = state[4], f = state[5], g = state[6], h = state[7];
    uint64_t bc = b ^ c; /* Maj(a,b,c) = b ^ ((a ^ b) & (b ^ c)); a ^ b is next round's b ^ c */
    for (int t = 0; t < 80; t++) {
        uint64_t t1 = h + BSIG1(e) + (g ^ (e & (f ^ g))) + sc_sha512_K[t] + w[t];
        uint64_t ab = a ^ b;
        uint64_t t2 = BSIG0(a) + (b ^ (ab & bc));
        bc = ab;
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

static void compress_bytes(uint64_t h[8], const uint8_t *p)
{
    uint64_t block[16];
    for (int t = 0; t < 16; t++)
        block[t] = sc_load_be64(p + 8 * t);
    sc_sha512_compress(h, block);
}

void sc_sha512_init(sc_sha512_state *st)
{
    memcpy(st->h, sc_sha512_IV, sizeof st->h);
    st->total = 0;
    st->buflen = 0;
}

void sc_sha512_update(sc_sha512_state *st, const uint8_t *data, size_t len)
{
    st->total += len;
    if (st->buflen) {
        size_t take = 128 - st->buflen < len ? 128 - st->buflen : len;
        memcpy(st->buf + st->buflen, data, take);
        st->buflen += take;
        data += take;
        len -= take;
        if (st->buflen < 128)
            return;
        compress_bytes(st->h, st->buf);
        st->buflen = 0;
    }
    for (; len >= 128; data += 128, len -= 128)
        compress_bytes(st->h, data);
    memcpy(st->buf, data, len);
    st->buflen = len;
}

void sc_sha512_final(sc_sha512_state *st, uint8_t out[64])
{
    /* Padding: 0x80, zeros, then the 128-bit big-endian bit length. */
    uint64_t bits_hi = st->total >> 61, bits_lo = st->total << 3;
    st->buf[st->buflen++] = 0x80;
    if (st->buflen > 112) {
        memset(st->buf + st->buflen, 0, 128 - st->buflen);
        compress_bytes(st->h, st->buf);
        st->buflen = 0;
    }
    memset(st->buf + st->buflen, 0, 112 - st->buflen);
    sc_store_be64(st->buf + 112, bits_hi);
    sc_store_be64(st->buf + 120, bits_lo);
    compress_bytes(st->h, st->buf);
    for (int i = 0; i < 8; i++)
        sc_store_be64(out + 8 * i, st->h[i]);
}

void sc_sha512(const uint8_t *data, size_t len, uint8_t out[64])
{
    sc_sha512_state st;
    sc_sha512_init(&st);
    sc_sha512_update(&st, data, len);
    sc_sha512_final(&st, out);
}
