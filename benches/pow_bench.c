/* pow_bench.c: PoW trials per second for every kernel and thread count, without Python.
 *
 * Meant to be built on (or cross-compiled for) whatever machine you want to
 * know about, a phone or an ARM board included: see docs/pow-c.md.
 *
 * Each measurement is the real multi-threaded search (sc_pow_search_*) on a
 * target of 0, so no nonce ever qualifies and every thread works until the
 * main thread cancels it after --seconds.  Rates are printed beside baselines
 * measured in the same run (so the ratios survive a noisy, shared machine):
 *   - "generic C" : sc_pow_trial_value, a plain SHA-512 compression per trial;
 *   - "openssl"   : a loop over OpenSSL's SHA512_Transform (build with
 *                   -DHAVE_OPENSSL ... -lcrypto), the usual "fast C" reference.
 * The ratio baseline (OpenSSL when built in, else generic C) runs right before
 * and right after each kernel's figures; the ratio uses their mean.
 *
 * Before timing, each kernel must find the same first valid nonce as the
 * scalar reference (a quick guard against a miscompiled kernel on new hardware).
 *
 * Usage: pow_bench [--threads N] [--seconds S] [--kernel NAME]...
 *   --threads N   measure 1..N threads (default: the number of online CPUs)
 *   --seconds S   time per measurement (default 1.0)
 *   --kernel NAME only this kernel (repeatable; default: every supported one) */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "session_core.h"

#ifdef HAVE_OPENSSL
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA512_Transform is deprecated, yet the honest baseline */
#include <openssl/opensslv.h>
#include <openssl/sha.h>

static void openssl_transform(void *ctx, const unsigned char *block)
{
    SHA512_Transform((SHA512_CTX *)ctx, block);
}
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const uint8_t h1[64] = {
    /* SHA512 of the docs/interop.md §1.8 payload; any 64 bytes would do, the work does not depend on them. */
    0x54, 0xcc, 0xf0, 0x07, 0x06, 0x77, 0xcf, 0x53, 0x16, 0x43, 0x4b, 0x82, 0x51, 0xbe, 0xb8, 0x59,
    0xfc, 0x19, 0x16, 0xa4, 0xcd, 0x0f, 0x69, 0x33, 0xa2, 0xd5, 0x48, 0x49, 0x35, 0x4c, 0x07, 0xba,
    0xa9, 0x5b, 0x47, 0x31, 0xb1, 0x12, 0x74, 0x55, 0x7c, 0x25, 0xc6, 0xa0, 0xbc, 0x06, 0x48, 0x9f,
    0x02, 0x1e, 0x78, 0x82, 0xa4, 0x82, 0xec, 0xf7, 0x2c, 0xb3, 0x6a, 0x21, 0xe4, 0x5e, 0x38, 0xb5,
};

/* ---- baselines: single thread, timed in chunks until `seconds` pass ---- */

static volatile uint64_t sink; /* keeps the compiler from discarding baseline results */

static double rate_generic(double seconds)
{
    sc_pow_ctx ctx;
    sc_pow_ctx_init(&ctx, h1, 0);
    uint64_t n = 0, acc = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 4096; i++)
            acc += sc_pow_trial_value(&ctx, n++) < ctx.target;
        t = now();
    } while (t - t0 < seconds);
    sink = acc;
    return (double)n / (t - t0);
}

#ifdef HAVE_OPENSSL
static double rate_openssl(double seconds)
{
    uint64_t n = 0, acc = 0;
    double t0 = now(), t;
    do {
        acc += sc_baseline_openssl_loop(openssl_transform, h1, 1000, 16384);
        n += 16384;
        t = now();
    } while (t - t0 < seconds);
    sink = acc;
    return (double)n / (t - t0);
}
#endif

/* ---- kernels through the real search ---- */

static void *worker(void *p)
{
    sc_pow_search_work((sc_pow_search *)p, 0);
    return NULL;
}

static double rate_kernel(const sc_pow_kernel *k, int threads, double seconds)
{
    sc_pow_ctx ctx;
    sc_pow_ctx_init(&ctx, h1, 0); /* target 0: nothing qualifies, the search runs until cancelled */
    sc_pow_search s;
    sc_pow_search_init(&s, &ctx, k, 0, 0, 0);
    pthread_t th[256];
    double t0 = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, &s);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    sc_pow_search_cancel(&s);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double t = now();
    return (double)sc_pow_search_trials(&s) / (t - t0);
}

/* The kernel's search must agree with the scalar reference (first hit from 0). */
static int self_check(const sc_pow_kernel *k)
{
    sc_pow_ctx ctx;
    sc_pow_ctx_init(&ctx, h1, UINT64_MAX / 3000);
    uint64_t want = 0;
    while (sc_pow_trial_value(&ctx, want) >= ctx.target)
        want++;
    sc_pow_search s;
    sc_pow_search_init(&s, &ctx, k, 0, 0, 0);
    sc_pow_search_work(&s, 0);
    uint64_t got;
    return sc_pow_search_result(&s, &got) == 1 && got == want;
}

int main(int argc, char **argv)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int max_threads = online > 0 ? (int)online : 1;
    double seconds = 1.0;
    const char *only[16];
    int n_only = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--threads") == 0)
            max_threads = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--kernel") == 0 && n_only < 16)
            only[n_only++] = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--threads N] [--seconds S] [--kernel NAME]...\n", argv[0]);
            return 2;
        }
    }
    if (max_threads < 1 || max_threads > 256 || !(seconds > 0)) {
        fprintf(stderr, "need 1 <= threads <= 256 and seconds > 0\n");
        return 2;
    }

    size_t n;
    const sc_pow_kernel *all = sc_pow_kernels(&n);
    const sc_pow_kernel *todo[16];
    int n_todo = 0;
    for (size_t i = 0; i < n; i++) {
        int wanted = n_only == 0;
        for (int j = 0; j < n_only; j++)
            wanted |= strcmp(only[j], all[i].name) == 0;
        if (wanted && sc_pow_kernel_supported(&all[i]))
            todo[n_todo++] = &all[i];
    }
    for (int j = 0; j < n_only; j++)
        if (!sc_pow_find_kernel(only[j])) {
            fprintf(stderr, "kernel %s is not compiled in or not supported by this CPU\n", only[j]);
            return 2;
        }

    printf("session_core PoW benchmark: %ld CPUs online, 1..%d threads, %.2f s per figure\n",
           online, max_threads, seconds);
    printf("compiled kernels:");
    for (size_t i = 0; i < n; i++)
        printf(" %s%s", all[i].name, sc_pow_kernel_supported(&all[i]) ? "" : "(unsupported)");
    printf("; dispatcher picks %s\n", sc_pow_best_kernel()->name);

    for (int i = 0; i < n_todo; i++)
        if (!self_check(todo[i])) {
            printf("SELF-CHECK FAILED: kernel %s disagrees with the scalar reference\n",
                   todo[i]->name);
            return 1;
        }
    printf("self-check: every kernel finds the reference's first valid nonce\n\n");

    /* The ratio baseline is measured right before and right after each kernel's
     * figures, and the mean of the two is used, so slow drift on a shared machine
     * (other jobs, clock changes) hits both sides of the ratio alike. */
#ifdef HAVE_OPENSSL
    double (*rate_base)(double) = rate_openssl;
    const char *base_name = "OpenSSL";
#else
    double (*rate_base)(double) = rate_generic;
    const char *base_name = "generic";
#endif
    double rates[16][257], base[16];
    for (int i = 0; i < n_todo; i++) {
        double before = rate_base(seconds / 2);
        for (int t = 1; t <= max_threads; t++)
            rates[i][t] = rate_kernel(todo[i], t, seconds);
        base[i] = (before + rate_base(seconds / 2)) / 2;
    }

    printf("%-34s %14s\n", "baseline (1 thread)", "Mtrials/s");
    printf("%-34s %14.2f\n", "generic C compression (reference)", rate_generic(seconds) / 1e6);
#ifdef HAVE_OPENSSL
    printf("%-34s %14.2f   (%s)\n", "OpenSSL SHA512_Transform loop", rate_openssl(seconds) / 1e6,
           OPENSSL_VERSION_TEXT);
#else
    printf("%-34s %14s   (build with -DHAVE_OPENSSL -lcrypto)\n", "OpenSSL SHA512_Transform loop",
           "n/a");
#endif

    printf("\n%-10s %7s %12s %12s %12s %16s\n", "kernel", "threads", "Mtrials/s", "per thread",
           "vs 1 thread", "per thread vs");
    printf("%-10s %7s %12s %12s %12s %16s\n", "", "", "", "", "", base_name);
    for (int i = 0; i < n_todo; i++)
        for (int t = 1; t <= max_threads; t++)
            printf("%-10s %7d %12.2f %12.2f %11.2fx %15.2fx\n", todo[i]->name, t,
                   rates[i][t] / 1e6, rates[i][t] / t / 1e6, rates[i][t] / rates[i][1],
                   rates[i][t] / t / base[i]);
    return 0;
}
