/* pow_avx512.c: the PoW kernel on AVX-512F, 8 nonces per 512-bit vector,
 * two vectors (16 nonces) in flight.  AVX-512F has a native 64-bit rotate
 * (vprorq), and vpternlogq computes Ch, Maj and three-way XORs in one
 * instruction each; 32 registers allow the ring layout of pow_lanes.h.
 * Where it stands against the machine's limit: docs/pow-c.md. */
#include "sc_internal.h"

#if defined(SC_AVX512_EMULATED)
/* TESTS ONLY (tests/c/, tools/test-c-kernels.sh; never in the extension build).
 * The same kernel text compiled against SIMDe's plain-C emulation of the
 * AVX-512 intrinsics, so machines without AVX-512 can still check its logic.
 * No target attribute: the emulation must run on any CPU.  Its own name, so it
 * links beside the real kernel. */
#define SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_NO_INLINE /* out-of-line emulation: builds in seconds instead of a minute */
#include <simde/x86/avx512.h>
#ifndef _mm512_cmplt_epu64_mask /* absent from SIMDe 0.7.4: a per-lane scalar stand-in */
static inline simde__mmask8 sc_emu_cmplt_epu64_mask(simde__m512i a, simde__m512i b)
{
    uint64_t x[8], y[8];
    simde__mmask8 m = 0;
    simde_mm512_storeu_si512(x, a);
    simde_mm512_storeu_si512(y, b);
    for (int i = 0; i < 8; i++)
        m |= (simde__mmask8)((x[i] < y[i]) << i);
    return m;
}
#define _mm512_cmplt_epu64_mask(a, b) sc_emu_cmplt_epu64_mask((a), (b))
#endif
int sc_pow_scan_avx512_emulated(const sc_pow_ctx *ctx, uint64_t first, uint64_t count,
                                uint64_t *hit);
#define SC_KERNEL_ATTR
#define SC_KERNEL_NAME sc_pow_scan_avx512_emulated
#define SC_AVX512_KERNEL 1
#elif defined(SC_X86_64) && defined(SC_HAVE_TARGET_ATTR)
#include <immintrin.h>
#define SC_KERNEL_ATTR __attribute__((target("avx512f")))
#define SC_KERNEL_NAME sc_pow_scan_avx512
#define SC_AVX512_KERNEL 1
#endif

#ifdef SC_AVX512_KERNEL
#define SC_V __m512i
#define SC_LANES 8
#define SC_IL 2
#define SC_RING_LAYOUT 1 /* 32 zmm registers: see pow_lanes.h */
#define V_SET1(x) _mm512_set1_epi64((long long)(x))
#define V_ADD(a, b) _mm512_add_epi64((a), (b))
#define V_XOR(a, b) _mm512_xor_si512((a), (b))
#define V_AND(a, b) _mm512_and_si512((a), (b))
#define V_OR(a, b) _mm512_or_si512((a), (b))
#define V_SHR(x, n) _mm512_srli_epi64((x), (n))
#define V_ROTR(x, n) _mm512_ror_epi64((x), (n))
/* Truth tables: 0x96 = a ^ b ^ c, 0xca = a ? b : c (Ch), 0xe8 = majority. */
#define V_XOR3(a, b, c) _mm512_ternarylogic_epi64((a), (b), (c), 0x96)
#define V_CH(e, f, g) _mm512_ternarylogic_epi64((e), (f), (g), 0xca)
#define V_MAJ(a, b, c) _mm512_ternarylogic_epi64((a), (b), (c), 0xe8)
#define V_NONCES(base) _mm512_add_epi64(V_SET1(base), _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7))
#define V_HITMASK(v, t) ((unsigned)_mm512_cmplt_epu64_mask((v), (t)))

#include "pow_lanes.h"

#endif
