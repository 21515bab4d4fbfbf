/* pow_sha512ce.c: the PoW kernel on the ARMv8.2 SHA-512 instructions.
 *
 * SHA512H/SHA512H2 perform two rounds on a state held as four 2-word vectors
 * (ab, cd, ef, gh) plus one scratch vector; the five rotate roles every double
 * round and come back after five.  SHA512SU0/SU1 extend the message schedule two
 * words at a time.  The instructions work on one message, so SC_IL nonces are
 * interleaved to keep the pipelines busy. */
#include "sc_internal.h"

#if defined(SC_AARCH64) && defined(SC_HAVE_TARGET_ATTR)
#include <arm_neon.h>

#define SC_IL 2

#if defined(__clang__) && !defined(__ARM_FEATURE_SHA512)
/* clang before 16 (and Apple clang) declares the SHA-512 intrinsics only when the
 * whole file is built with +sha3, which would let the compiler use the extension
 * anywhere in this file.  Inline asm keeps the instructions inside this kernel,
 * which the dispatcher runs only after HWCAP/sysctl said the CPU has them. */
#define ATTR
static inline uint64x2_t sc_sha512h(uint64x2_t hash, uint64x2_t a, uint64x2_t b)
{
    __asm__(".arch_extension sha3\n\tsha512h %q0, %q1, %2.2d" : "+w"(hash) : "w"(a), "w"(b));
    return hash;
}
static inline uint64x2_t sc_sha512h2(uint64x2_t hash, uint64x2_t a, uint64x2_t b)
{
    __asm__(".arch_extension sha3\n\tsha512h2 %q0, %q1, %2.2d" : "+w"(hash) : "w"(a), "w"(b));
    return hash;
}
static inline uint64x2_t sc_sha512su0(uint64x2_t w, uint64x2_t a)
{
    __asm__(".arch_extension sha3\n\tsha512su0 %0.2d, %1.2d" : "+w"(w) : "w"(a));
    return w;
}
static inline uint64x2_t sc_sha512su1(uint64x2_t w, uint64x2_t a, uint64x2_t b)
{
    __asm__(".arch_extension sha3\n\tsha512su1 %0.2d, %1.2d, %2.2d" : "+w"(w) : "w"(a), "w"(b));
    return w;
}
#define vsha512hq_u64 sc_sha512h
#define vsha512h2q_u64 sc_sha512h2
#define vsha512su0q_u64 sc_sha512su0
#define vsha512su1q_u64 sc_sha512su1
#elif defined(__clang__)
#define ATTR
#else
#define ATTR __attribute__((target("arch=armv8.2-a+sha3")))
#endif

/* Roles (ab, cd, ef, gh, new) of the five state vectors for double round r % 5. */
static const int roles[5][5] = {
    {0, 1, 2, 3, 4}, {3, 0, 4, 2, 1}, {2, 3, 1, 4, 0}, {4, 2, 0, 1, 3}, {1, 4, 3, 0, 2},
};

int sc_pow_scan_sha512ce(const sc_pow_ctx *ctx, uint64_t first, uint64_t count,
                         uint64_t *hit) ATTR;

ATTR int sc_pow_scan_sha512ce(const sc_pow_ctx *ctx, uint64_t first, uint64_t count,
                              uint64_t *hit)
{
    const uint64x2_t iv_ab = vld1q_u64(sc_sha512_IV), iv_cd = vld1q_u64(sc_sha512_IV + 2);
    const uint64x2_t iv_ef = vld1q_u64(sc_sha512_IV + 4), iv_gh = vld1q_u64(sc_sha512_IV + 6);
    uint64_t tail[16] = {0};
    for (int i = 0; i < 8; i++)
        tail[1 + i] = ctx->h1[i];
    tail[9] = 0x8000000000000000ULL;
    tail[15] = 72 * 8;

    for (uint64_t base = 0; base < count; base = (count - base > SC_IL) ? base + SC_IL : count) {
        uint64x2_t st[SC_IL][5], m[SC_IL][8];
        for (int j = 0; j < SC_IL; j++) {
            tail[0] = first + base + (uint64_t)j;
            for (int i = 0; i < 8; i++)
                m[j][i] = vld1q_u64(tail + 2 * i);
            st[j][0] = iv_ab;
            st[j][1] = iv_cd;
            st[j][2] = iv_ef;
            st[j][3] = iv_gh;
        }
#pragma GCC unroll 40
        for (int r = 0; r < 40; r++) {
            const int *p = roles[r % 5];
            uint64x2_t k = vld1q_u64(sc_sha512_K + 2 * r);
            for (int j = 0; j < SC_IL; j++) {
                uint64x2_t *ab = &st[j][p[0]], *cd = &st[j][p[1]], *ef = &st[j][p[2]];
                uint64x2_t *gh = &st[j][p[3]], *nw = &st[j][p[4]];
                uint64x2_t kw = vaddq_u64(k, m[j][r & 7]);
                if (r < 32)
                    m[j][r & 7] = vsha512su1q_u64(vsha512su0q_u64(m[j][r & 7], m[j][(r + 1) & 7]),
                                                  m[j][(r + 7) & 7],
                                                  vextq_u64(m[j][(r + 4) & 7], m[j][(r + 5) & 7], 1));
                uint64x2_t fg = vextq_u64(*ef, *gh, 1), de = vextq_u64(*cd, *ef, 1);
                uint64x2_t t = vaddq_u64(*gh, vextq_u64(kw, kw, 1));
                t = vsha512hq_u64(t, fg, de);
                *nw = vaddq_u64(*cd, t);
                *gh = vsha512h2q_u64(t, *cd, *ab);
            }
        }
        unsigned mask = 0;
        for (int j = 0; j < SC_IL; j++) {
            /* After 40 double rounds (8 full role cycles) vector 0 is ab again. */
            uint64_t a = vgetq_lane_u64(vaddq_u64(st[j][0], iv_ab), 0);
            mask |= (unsigned)(a < ctx->target) << j;
        }
        (void)iv_cd; (void)iv_ef; (void)iv_gh;
        if (mask && sc_first_hit(mask, count - base, base, hit))
            return 1;
    }
    return 0;
}

#endif
