/* pow_kernel_ab.c: a variant of the avx512 kernel against the shipped one, same process.
 *
 * Kernel experiments move speed by a few per cent while a shared machine moves
 * it by more between runs, so a variant is only judged against the shipped
 * kernel in the same process, alternating, best of N runs on the thread's CPU
 * clock, with OpenSSL's SHA512_Transform loop timed between them for the ratio
 * the `session-core pow bench` reports.  Before timing, both kernels must
 * report the reference's first hit on random ranges (a quick check, not the
 * harness in tests/c/).
 *
 *   mkdir /tmp/v && cp csrc/pow_avx512.c csrc/pow_lanes.h /tmp/v && edit /tmp/v/...
 *   make -C benches pow_kernel_ab VARIANT=/tmp/v/pow_avx512.c [VARIANT_CFLAGS=-DSC_IL=3]
 *   ./benches/pow_kernel_ab [ROUNDS [NONCES]]
 *
 * The variant is compiled with its own folder first on the include path (so its
 * pow_lanes.h is used) and its entry point renamed by the Makefile. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sc_internal.h"

int sc_ab_shipped(const sc_pow_ctx *ctx, uint64_t first, uint64_t count, uint64_t *hit);
int sc_ab_variant(const sc_pow_ctx *ctx, uint64_t first, uint64_t count, uint64_t *hit);

static double thread_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Both kernels against the scalar reference: the first lane below min + 1. */
static int check(const uint8_t h1[64], int cases)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int c = 0; c < cases; c++) {
        sc_pow_ctx ctx;
        sc_pow_ctx_init(&ctx, h1, 0);
        uint64_t first = next(&seed), count = 1 + next(&seed) % 400, best = UINT64_MAX, at = 0;
        for (uint64_t i = 0; i < count; i++) {
            uint64_t v = sc_pow_trial_value(&ctx, first + i);
            if (v < best) {
                best = v;
                at = i;
            }
        }
        sc_pow_ctx_init(&ctx, h1, best + 1);
        uint64_t a = 0, b = 0;
        int ha = sc_ab_shipped(&ctx, first, count, &a), hb = sc_ab_variant(&ctx, first, count, &b);
        if (!ha || !hb || a != at || b != at) {
            printf("MISMATCH first=%llu count=%llu expected %llu: shipped %d/%llu variant %d/%llu\n",
                   (unsigned long long)first, (unsigned long long)count, (unsigned long long)at,
                   ha, (unsigned long long)a, hb, (unsigned long long)b);
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 12;
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        printf("this CPU lacks AVX-512F\n");
        return 0;
    }
    uint8_t h1[64];
    for (int i = 0; i < 64; i++)
        h1[i] = (uint8_t)(i * 7 + 1);
    if (!check(h1, 300))
        return 1;

    void *lib = dlopen("libcrypto.so.3", RTLD_NOW);
    if (!lib)
        lib = dlopen("libcrypto.so", RTLD_NOW);
    sc_openssl_transform_fn ssl = lib ? (sc_openssl_transform_fn)dlsym(lib, "SHA512_Transform") : NULL;

    sc_pow_ctx ctx;
    sc_pow_ctx_init(&ctx, h1, 0); /* target 0: nothing qualifies, every nonce is tried */
    double shipped = 1e9, variant = 1e9, openssl = 1e9;
    uint64_t hit;
    for (int r = 0; r < rounds; r++) {
        double t = thread_seconds();
        sc_ab_shipped(&ctx, 0, n, &hit);
        t = (thread_seconds() - t) / (double)n;
        shipped = t < shipped ? t : shipped;
        t = thread_seconds();
        sc_ab_variant(&ctx, 0, n, &hit);
        t = (thread_seconds() - t) / (double)n;
        variant = t < variant ? t : variant;
        if (ssl) {
            t = thread_seconds();
            sc_baseline_openssl_loop(ssl, h1, 0, n / 8);
            t = (thread_seconds() - t) / (double)(n / 8);
            openssl = t < openssl ? t : openssl;
        }
    }
    printf("shipped %.2f M/s  variant %.2f M/s  variant/shipped %.3f", 1e-6 / shipped,
           1e-6 / variant, shipped / variant);
    if (ssl)
        printf("  OpenSSL loop %.2f M/s  shipped %.2fx  variant %.2fx", 1e-6 / openssl,
               openssl / shipped, openssl / variant);
    printf("\n");
    return 0;
}
