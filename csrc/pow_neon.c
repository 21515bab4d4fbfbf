/* pow_neon.c: the PoW kernel on AArch64 Advanced SIMD, 2 nonces per vector.
 * A rotation is a shift plus a shift-right-and-insert (2 instructions). */
#include "sc_internal.h"

#if defined(SC_AARCH64) && defined(SC_HAVE_TARGET_ATTR)
#include <arm_neon.h>

#define SC_V uint64x2_t
#define SC_LANES 2
#define SC_IL 2
#define SC_KERNEL_NAME sc_pow_scan_neon
#define V_SET1(x) vdupq_n_u64((uint64_t)(x))
#define V_ADD(a, b) vaddq_u64((a), (b))
#define V_XOR(a, b) veorq_u64((a), (b))
#define V_AND(a, b) vandq_u64((a), (b))
#define V_OR(a, b) vorrq_u64((a), (b))
#define V_SHR(x, n) vshrq_n_u64((x), (n))
#define V_ROTR(x, n) vsriq_n_u64(vshlq_n_u64((x), 64 - (n)), (x), (n))
/* Ch = (e & f) | (~e & g) is one bit-select. */
#define V_CH(e, f, g) vbslq_u64((e), (f), (g))
#define V_NONCES(base) vaddq_u64(V_SET1(base), vcombine_u64(vcreate_u64(0), vcreate_u64(1)))

static inline unsigned sc_neon_hitmask(uint64x2_t v, uint64x2_t target)
{
    uint64x2_t lt = vcltq_u64(v, target);
    return (unsigned)(vgetq_lane_u64(lt, 0) & 1) | (unsigned)((vgetq_lane_u64(lt, 1) & 1) << 1);
}
#define V_HITMASK(v, t) sc_neon_hitmask((v), (t))

#include "pow_lanes.h"

#endif
