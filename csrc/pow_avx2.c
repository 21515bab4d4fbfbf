/* pow_avx2.c: the PoW kernel on AVX2, 4 nonces per 256-bit vector.
 * AVX2 has no 64-bit rotate: a rotation is two shifts and an OR, except the
 * rotation by 8 in s0, which is a byte shuffle. */
#include "sc_internal.h"

#if defined(SC_X86_64) && defined(SC_HAVE_TARGET_ATTR)
#include <immintrin.h>

#define SC_KERNEL_ATTR __attribute__((target("avx2")))
#define SC_V __m256i
#define SC_LANES 4
#define SC_IL 2
#define SC_KERNEL_NAME sc_pow_scan_avx2
#define V_SET1(x) _mm256_set1_epi64x((long long)(x))
#define V_ADD(a, b) _mm256_add_epi64((a), (b))
#define V_XOR(a, b) _mm256_xor_si256((a), (b))
#define V_AND(a, b) _mm256_and_si256((a), (b))
#define V_OR(a, b) _mm256_or_si256((a), (b))
#define V_SHR(x, n) _mm256_srli_epi64((x), (n))
#define V_ROTR(x, n) _mm256_or_si256(_mm256_srli_epi64((x), (n)), _mm256_slli_epi64((x), 64 - (n)))
#define V_ROTR8(x)                                                                         \
    _mm256_shuffle_epi8((x), _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, \
                                              15, 8, 1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12,  \
                                              13, 14, 15, 8))
#define V_SSIG0(x) V_XOR(V_XOR(V_ROTR((x), 1), V_ROTR8(x)), V_SHR((x), 7))
#define V_NONCES(base) _mm256_add_epi64(V_SET1(base), _mm256_setr_epi64x(0, 1, 2, 3))

SC_KERNEL_ATTR static inline unsigned sc_avx2_hitmask(__m256i v, __m256i target)
{
    /* Unsigned v < target via signed compare after flipping the sign bits. */
    const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ULL);
    __m256i lt = _mm256_cmpgt_epi64(_mm256_xor_si256(target, sign), _mm256_xor_si256(v, sign));
    return (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(lt));
}
#define V_HITMASK(v, t) sc_avx2_hitmask((v), (t))

#include "pow_lanes.h"

#endif
