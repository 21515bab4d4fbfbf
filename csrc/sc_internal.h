/* sc_internal.h: private to csrc/.  ISA detection macros, SHA-512 constants
 * and the kernel entry points each ISA file defines. */
#ifndef SC_INTERNAL_H
#define SC_INTERNAL_H

#include "session_core.h"

#if defined(__x86_64__) || defined(_M_X64)
#define SC_X86_64 1
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define SC_AARCH64 1
#endif

/* GCC and clang both accept per-function/per-file targets; other compilers get
 * the portable kernel only. */
#if defined(__GNUC__) || defined(__clang__)
#define SC_HAVE_TARGET_ATTR 1
#endif

#define SC_ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

extern const uint64_t sc_sha512_K[80];
extern const uint64_t sc_sha512_IV[8];

/* Load/store big-endian 64-bit words. */
static inline uint64_t sc_load_be64(const uint8_t *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) |
           ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
           ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}

static inline void sc_store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* One full SHA-512 compression of a 16-word block into state[8]. */
void sc_sha512_compress(uint64_t state[8], const uint64_t block[16]);

/* Kernel entry points.  A kernel whose ISA is not compiled for this target
 * is simply absent (its file compiles to nothing). */
int sc_pow_scan_portable(const sc_pow_ctx *ctx, uint64_t first, uint64_t count, uint64_t *hit);
#ifdef SC_X86_64
int sc_pow_scan_avx2(const sc_pow_ctx *ctx, uint64_t first, uint64_t count, uint64_t *hit);
int sc_pow_scan_avx512(const sc_pow_ctx *ctx, uint64_t first, uint64_t count, uint64_t *hit);
#endif
#ifdef SC_AARCH64
int sc_pow_scan_neon(const sc_pow_ctx *ctx, uint64_t first, uint64_t count, uint64_t *hit);
int sc_pow_scan_sha512ce(const sc_pow_ctx *ctx, uint64_t first, uint64_t count, uint64_t *hit);
#endif

/* Scan helper shared by kernels: the first hit among `lanes` results.
 * mask bit i set = lane i is a hit; lanes at or beyond `valid` are ignored. */
static inline int sc_first_hit(unsigned mask, uint64_t valid, uint64_t base, uint64_t *hit)
{
    if (valid < 32)
        mask &= (1u << valid) - 1u;
    if (!mask)
        return 0;
    *hit = base + (uint64_t)__builtin_ctz(mask);
    return 1;
}

#endif /* SC_INTERNAL_H */
