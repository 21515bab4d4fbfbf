/* pow_dispatch.c: which PoW kernels this build has, and which this CPU runs.
 *
 * x86-64: cpuid says what the CPU has, XCR0 (xgetbv) says whether the OS
 * saves the wider registers on a context switch; a kernel runs only when both
 * agree.  aarch64: HWCAP from the kernel (Linux) or sysctl (macOS).  The probe
 * runs once; its result is the only global state (written idempotently, so a
 * race between two first callers is harmless). */
#include <string.h>

#include "sc_internal.h"

#if defined(SC_X86_64) && defined(SC_HAVE_TARGET_ATTR)
#include <cpuid.h>
#endif
#if defined(SC_AARCH64) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(SC_AARCH64) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

enum {
    FEAT_AVX2 = 1 << 0,
    FEAT_AVX512F = 1 << 1,
    FEAT_NEON = 1 << 2,
    FEAT_SHA512 = 1 << 3,
    FEAT_PROBED = 1 << 30,
};

static volatile int cpu_features;

#if defined(SC_X86_64) && defined(SC_HAVE_TARGET_ATTR)
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int probe(void)
{
    unsigned a, b, c, d;
    int f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx)
        return 0;
    uint64_t xcr0 = read_xcr0();
    int os_ymm = (xcr0 & 0x6) == 0x6;           /* SSE + AVX state */
    int os_zmm = (xcr0 & 0xe6) == 0xe6;         /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    if (os_ymm && ((b >> 5) & 1))
        f |= FEAT_AVX2;
    if (os_zmm && ((b >> 16) & 1))
        f |= FEAT_AVX512F;
    return f;
}
#elif defined(SC_AARCH64) && defined(__linux__)
static int probe(void)
{
    unsigned long hw = getauxval(AT_HWCAP);
    int f = 0;
    if (hw & (1UL << 1))   /* HWCAP_ASIMD */
        f |= FEAT_NEON;
    if (hw & (1UL << 21))  /* HWCAP_SHA512 */
        f |= FEAT_SHA512;
    return f;
}
#elif defined(SC_AARCH64) && defined(__APPLE__)
static int probe(void)
{
    int f = FEAT_NEON, v = 0;
    size_t len = sizeof v;
    if (sysctlbyname("hw.optional.armv8_2_sha512", &v, &len, NULL, 0) == 0 && v)
        f |= FEAT_SHA512;
    return f;
}
#else
static int probe(void) { return 0; }
#endif

static int features(void)
{
    int f = cpu_features;
    if (!(f & FEAT_PROBED)) {
        f = probe() | FEAT_PROBED;
        cpu_features = f;
    }
    return f;
}

typedef struct {
    sc_pow_kernel k;
    int needs;
} kernel_entry;

/* Best first. */
static const kernel_entry table[] = {
#if defined(SC_X86_64) && defined(SC_HAVE_TARGET_ATTR)
    {{"avx512", sc_pow_scan_avx512, 16}, FEAT_AVX512F},
    {{"avx2", sc_pow_scan_avx2, 8}, FEAT_AVX2},
#endif
#if defined(SC_AARCH64) && defined(SC_HAVE_TARGET_ATTR)
    {{"sha512ce", sc_pow_scan_sha512ce, 2}, FEAT_SHA512},
    {{"neon", sc_pow_scan_neon, 4}, FEAT_NEON},
#endif
    {{"portable", sc_pow_scan_portable, 2}, 0},
};

#define N_KERNELS (sizeof table / sizeof table[0])
static sc_pow_kernel kernels[N_KERNELS];
static volatile int kernels_ready;

const sc_pow_kernel *sc_pow_kernels(size_t *n)
{
    if (!kernels_ready) {
        for (size_t i = 0; i < N_KERNELS; i++)
            kernels[i] = table[i].k;
        kernels_ready = 1;
    }
    *n = N_KERNELS;
    return kernels;
}

static int needs_of(const sc_pow_kernel *k)
{
    for (size_t i = 0; i < N_KERNELS; i++)
        if (table[i].k.scan == k->scan)
            return table[i].needs;
    return -1;
}

int sc_pow_kernel_supported(const sc_pow_kernel *k)
{
    int needs = needs_of(k);
    return needs >= 0 && (features() & needs) == needs;
}

const sc_pow_kernel *sc_pow_find_kernel(const char *name)
{
    size_t n;
    const sc_pow_kernel *all = sc_pow_kernels(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].name, name) == 0)
            return sc_pow_kernel_supported(&all[i]) ? &all[i] : NULL;
    return NULL;
}

const sc_pow_kernel *sc_pow_best_kernel(void)
{
    size_t n;
    const sc_pow_kernel *all = sc_pow_kernels(&n);
    for (size_t i = 0; i < n; i++)
        if (sc_pow_kernel_supported(&all[i]))
            return &all[i];
    return &all[n - 1];
}
