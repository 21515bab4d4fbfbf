/* pow_avx512.c: the PoW kernel on AVX-512F, 8 nonces per 512-bit vector.
 * AVX-512F has a native 64-bit rotate, and vpternlogq computes Ch, Maj and
 * three-way XORs in one instruction each. */
#include "sc_internal.h"

#if defined(SC_X86_64) && defined(SC_HAVE_TARGET_ATTR)
#include <immintrin.h>

#define SC_KERNEL_ATTR __attribute__((target("avx512f")))
#define SC_V __m512i
#define SC_LANES 8
#define SC_IL 2
#define SC_KERNEL_NAME sc_pow_scan_avx512
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
