/* pow_portable.c: the PoW kernel in plain C, for every CPU.
 * Four independent nonces per step give a scalar out-of-order core enough
 * parallel work to hide the latency of each SHA-512 round. */
#include "sc_internal.h"

#define SC_V uint64_t
#define SC_LANES 1
#define SC_IL 4
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
