/* pow_portable.c: the PoW kernel in plain C, for every CPU.
 *
 * Scalar code wants the sigma functions as nested rotations,
 *   S1(e) = ror14(e ^ ror4(e ^ ror23(e))),
 * which need one register copy where three independent rotations need three
 * (x86 rotates in place).  Two nonces per step, the fastest of 1-4 measured on
 * Zen 3: 1.0x OpenSSL's scalar x86-64 assembly, where 3-4 spill registers. */
#include "sc_internal.h"

/* Keep GCC from turning the interleaved scalar lanes into SSE2 vectors, which
 * lack 64-bit rotates and run slower than the scalar code. */
#if defined(__GNUC__) && !defined(__clang__)
#define SC_KERNEL_ATTR __attribute__((optimize("no-tree-vectorize", "no-tree-slp-vectorize")))
#endif
#define SC_V uint64_t
#define SC_LANES 1
#define SC_IL 2
#define SC_KERNEL_NAME sc_pow_scan_portable
#define V_SET1(x) ((uint64_t)(x))
#define V_ADD(a, b) ((a) + (b))
#define V_XOR(a, b) ((a) ^ (b))
#define V_AND(a, b) ((a) & (b))
#define V_OR(a, b) ((a) | (b))
#define V_ROTR(x, n) SC_ROTR64((x), (n))
#define V_SHR(x, n) ((x) >> (n))
#define V_BSIG0(x) SC_ROTR64((x) ^ SC_ROTR64((x) ^ SC_ROTR64((x), 5), 6), 28)
#define V_BSIG1(x) SC_ROTR64((x) ^ SC_ROTR64((x) ^ SC_ROTR64((x), 23), 4), 14)
#define V_SSIG0(x) (SC_ROTR64((x) ^ SC_ROTR64((x), 7), 1) ^ ((x) >> 7))
#define V_SSIG1(x) (SC_ROTR64((x) ^ SC_ROTR64((x), 42), 19) ^ ((x) >> 6))
#define V_NONCES(base) ((uint64_t)(base))
#define V_HITMASK(v, t) ((unsigned)((v) < (t)))

#include "pow_lanes.h"
