/* pow_portable.c: the PoW kernel in plain C, for every CPU.
 * One nonce per step: measured on x86-64 (Zen 3), interleaving 2-4 scalar
 * nonces spilled registers and ran slower than letting the CPU overlap
 * consecutive trials by itself. */
#include "sc_internal.h"

/* Keep GCC from turning the interleaved scalar lanes into SSE2 vectors, which
 * lack 64-bit rotates and run slower than the scalar code. */
#if defined(__GNUC__) && !defined(__clang__)
#define SC_KERNEL_ATTR __attribute__((optimize("no-tree-vectorize", "no-tree-slp-vectorize")))
#endif
#define SC_V uint64_t
#define SC_LANES 1
#define SC_IL 1
#define SC_KERNEL_NAME sc_pow_scan_portable
#define V_SET1(x) ((uint64_t)(x))
#define V_ADD(a, b) ((a) + (b))
#define V_XOR(a, b) ((a) ^ (b))
#define V_AND(a, b) ((a) & (b))
#define V_OR(a, b) ((a) | (b))
#define V_ROTR(x, n) SC_ROTR64((x), (n))
#define V_SHR(x, n) ((x) >> (n))
#define V_NONCES(base) ((uint64_t)(base))
#define V_HITMASK(v, t) ((unsigned)((v) < (t)))

#include "pow_lanes.h"
