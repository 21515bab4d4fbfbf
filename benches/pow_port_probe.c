/* pow_port_probe.c: what this x86-64 AVX-512 CPU can issue, for the PoW kernel's ceiling.
 *
 * The avx512 kernel (csrc/pow_avx512.c) is a stream of four 512-bit operations:
 * rotates (vprorq), shifts (vpsrlq), three-input logic (vpternlogq) and adds
 * (vpaddq).  How fast such a stream can go depends on which execution pipes
 * each operation may use, which is what this program measures: throughput of
 * each operation alone and in pairs, a few latencies, and a stream with the
 * kernel's proportions (per round and schedule word: 10 rotates, 2 shifts,
 * 6 ternlogs, 10 adds).  All streams are independent operations (no
 * dependency chains), so they give the port-bound ceiling; the kernel's own
 * dependencies can only make it slower.
 *
 * Cycles come from a calibration chain of dependent vpaddq (latency 1 cycle on
 * every AVX-512 core we know of), so the figures are in cycles of the clock the
 * core actually runs at, and do not depend on the TSC or on turbo.
 *
 *   make -C benches pow_port_probe && ./benches/pow_port_probe [OPS_PER_TRIAL]
 *
 * OPS_PER_TRIAL (default 239.4) is the kernel's count of vector ALU operations
 * per nonce, from its disassembly (docs/pow-c.md, "AVX-512 on Zen 4"). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)

#define ITER 2000000L
#define CLOBBERS                                                                                 \
    "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",   \
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",         \
        "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"
/* Each body is repeated twice per loop iteration; every destination is a different
 * register and no operation reads another's result (except in the latency probes). */
#define PROBE(name, body)                                                                        \
    __attribute__((noinline, target("avx512f,avx512dq"))) static void name(long n)               \
    {                                                                                            \
        __asm__ volatile("vpxorq %%zmm0, %%zmm0, %%zmm0\n vpternlogq $0xff, %%zmm1, %%zmm1, %%zmm1\n" \
                         "1:\n.rept 2\n" body ".endr\ndec %0\njnz 1b\n"                         \
                         : "+r"(n)::"xmm0", "xmm1", CLOBBERS);                                    \
    }
#define T(r) "vpternlogq $0x96,%%zmm0,%%zmm1,%%zmm" #r "\n"
#define R(r) "vprorq $3,%%zmm1,%%zmm" #r "\n"
#define A(r) "vpaddq %%zmm0,%%zmm1,%%zmm" #r "\n"
#define H(r) "vpsrlq $3,%%zmm1,%%zmm" #r "\n"
#define X(r) "vpxorq %%zmm0,%%zmm1,%%zmm" #r "\n"
#define M(r) "vpmullq %%zmm0,%%zmm1,%%zmm" #r "\n"
#define B(r) "vpshufb %%zmm0,%%zmm1,%%zmm" #r "\n"
#define OCT(OP) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9)

PROBE(p_add, OCT(A))
PROBE(p_xor, OCT(X))
PROBE(p_tern, OCT(T))
PROBE(p_ror, OCT(R))
PROBE(p_srl, OCT(H))
PROBE(p_ror_srl, R(2) H(3) R(4) H(5) R(6) H(7) R(8) H(9))
PROBE(p_ror_add, R(2) A(3) R(4) A(5) R(6) A(7) R(8) A(9))
PROBE(p_ror_tern, R(2) T(3) R(4) T(5) R(6) T(7) R(8) T(9))
PROBE(p_ror_shufb, R(2) B(3) R(4) B(5) R(6) B(7) R(8) B(9))
PROBE(p_ror_mul, R(2) M(3) R(4) M(5) R(6) M(7) R(8) M(9))
/* One round (6 R, 4 T, 7 A) and one schedule word (4 R, 2 H, 2 T, 3 A). */
PROBE(p_mix, R(2) R(3) R(4) T(5) T(6) A(7) R(8) R(9) R(10) T(11) T(12) A(13) A(14) A(15) A(16)
                 A(17) A(18) R(19) R(20) H(21) T(22) R(23) R(24) H(25) T(26) A(27) A(28) A(29))
/* Latency: each operation reads the previous one's result. */
PROBE(l_add, ".rept 8\n vpaddq %%zmm0,%%zmm2,%%zmm2\n.endr\n")
PROBE(l_ror, ".rept 8\n vprorq $3,%%zmm2,%%zmm2\n.endr\n")
PROBE(l_tern, ".rept 8\n vpternlogq $0x96,%%zmm0,%%zmm1,%%zmm2\n.endr\n")

static double thread_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Best of several runs: seconds per operation. */
static double per_op(void (*fn)(long), int ops_per_body)
{
    double best = 1e9;
    for (int k = 0; k < 7; k++) {
        double began = thread_seconds();
        fn(ITER);
        double spent = thread_seconds() - began;
        if (spent < best)
            best = spent;
    }
    return best / ((double)ITER * 2.0 * ops_per_body);
}

int main(int argc, char **argv)
{
    double ops_per_trial = argc > 1 ? atof(argv[1]) : 239.4;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq")) {
        printf("this CPU lacks AVX-512F/DQ: nothing to probe\n");
        return 0;
    }
    for (int warm = 0; warm < 3; warm++)
        p_mix(ITER);
    double cycle = per_op(l_add, 8); /* seconds per cycle */
    printf("clock while running 512-bit code: %.2f GHz (from a vpaddq dependency chain)\n\n",
           1e-9 / cycle);
    printf("latency, cycles: vpaddq %.2f  vprorq %.2f  vpternlogq %.2f\n\n",
           per_op(l_add, 8) / cycle, per_op(l_ror, 8) / cycle, per_op(l_tern, 8) / cycle);
    static const struct {
        const char *name;
        void (*fn)(long);
        int ops;
    } probes[] = {
        {"vpaddq", p_add, 8},
        {"vpxorq", p_xor, 8},
        {"vpternlogq", p_tern, 8},
        {"vprorq", p_ror, 8},
        {"vpsrlq", p_srl, 8},
        {"vprorq + vpsrlq", p_ror_srl, 8},
        {"vprorq + vpaddq", p_ror_add, 8},
        {"vprorq + vpternlogq", p_ror_tern, 8},
        {"vprorq + vpshufb", p_ror_shufb, 8},
        {"vprorq + vpmullq", p_ror_mul, 8},
        {"kernel mix (10 R, 2 H, 6 T, 10 A)", p_mix, 28},
    };
    printf("%-36s %s\n", "independent 512-bit operations", "per cycle");
    double mix = 0;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        double rate = cycle / per_op(probes[i].fn, probes[i].ops);
        printf("%-36s %6.2f\n", probes[i].name, rate);
        if (probes[i].fn == p_mix)
            mix = rate;
    }
    double cycles_per_trial = ops_per_trial / mix;
    printf("\nport-bound ceiling for %.1f operations per nonce: %.1f cycles per nonce, "
           "%.1f M nonces/s per core at this clock\n",
           ops_per_trial, cycles_per_trial, 1e-6 / (cycle * cycles_per_trial));
    return 0;
}

#else
int main(void)
{
    printf("pow_port_probe: x86-64 with GCC or clang only\n");
    return 0;
}
#endif
