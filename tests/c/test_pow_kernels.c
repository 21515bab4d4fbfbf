/* test_pow_kernels.c: the PoW kernels of csrc/ checked in plain C (no Python).
 *
 * Theory of operation.  The oracle chain is
 *   FIPS 180-4 vectors (+ hashlib via --sha512-lengths) -> sc_sha512 (one-shot and
 *   streaming) -> sc_pow_trial_hash / sc_pow_trial_value
 *   (a generic SHA-512 compression, deliberately without the kernels' algebra)
 *   -> every kernel's scan and the threaded search.
 * A scan reports only its FIRST hit, so one call says little about lanes after it.
 * To pin every lane's exact 64-bit value, each random case computes the reference
 * values v[0..count) and then scans with targets v[p] and v[p] + 1 for chosen p
 * (strict "<" means the first must not hit at p, the second must), plus min(v),
 * min(v) + 1, 0, 1, 2^63 +- 1, UINT64_MAX and random targets.  Starts cluster
 * around the edges (0, 2^64 - 1 and the wrap, 2^32 and 2^63 carries), counts
 * are rarely a multiple of the lane count, and positions just past the end of
 * the range check that masked-off lanes never report a hit.
 *
 * Usage: test_pow_kernels [--kernel NAME[,NAME]]... [--data DIR] [--seed N] [--rounds N]
 *                         [--expect-best NAME] [--expect-supported A,B,...] [--sha512-lengths]
 *   SC_POW_KERNEL=NAME[,NAME] (environment) also forces kernels; default: all supported.
 *   --data: folder of sha512_fips180.txt and pow_interop_1_8.txt (default tests/data,
 *   or $SC_TEST_DATA).  --sha512-lengths only prints digests for an external check.
 * Last line: "N passed, M failed"; exit status 0 only when M == 0 and N > 0.
 *
 * Built with -DSC_TEST_AVX512_EMULATED (and csrc/pow_avx512.c compiled a second time
 * with -DSC_AVX512_EMULATED, see tools/test-c-kernels.sh) it also tests the AVX-512
 * kernel through SIMDe as "avx512_emulated". */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session_core.h"

#ifdef SC_TEST_AVX512_EMULATED
int sc_pow_scan_avx512_emulated(const sc_pow_ctx *ctx, uint64_t first, uint64_t count,
                                uint64_t *hit);
#endif

/* ---- bookkeeping ---- */

static unsigned long n_pass, n_fail;
static const char *cur_kernel = "-";

#define CHECK(cond, ...)                                                                \
    do {                                                                                \
        if (cond) {                                                                     \
            n_pass++;                                                                   \
        } else {                                                                        \
            n_fail++;                                                                   \
            if (n_fail <= 40) {                                                         \
                printf("FAIL [%s] %s:%d: ", cur_kernel, __FILE__, __LINE__);            \
                printf(__VA_ARGS__);                                                    \
                printf("\n");                                                           \
            }                                                                           \
        }                                                                               \
    } while (0)

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64: tiny, good enough, reproducible from --seed */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        if (sscanf(s + 2 * i, "%2x", &b) != 1)
            return -1;
        out[i] = (uint8_t)b;
    }
    return 0;
}

static void tohex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* ---- the kernels under test ---- */

typedef struct {
    const char *name;
    sc_pow_scan_fn scan;
    unsigned lanes;
} test_kernel;

#define MAX_KERNELS 16
static test_kernel runnable[MAX_KERNELS];
static size_t n_runnable;

static void collect_kernels(void)
{
    size_t n;
    const sc_pow_kernel *all = sc_pow_kernels(&n);
    for (size_t i = 0; i < n && n_runnable < MAX_KERNELS; i++) {
        int ok = sc_pow_kernel_supported(&all[i]);
        printf("kernel %-16s lanes %2u  %s\n", all[i].name, all[i].lanes,
               ok ? "supported" : "compiled, not supported by this CPU: not tested here");
        if (ok)
            runnable[n_runnable++] = (test_kernel){all[i].name, all[i].scan, all[i].lanes};
    }
#ifdef SC_TEST_AVX512_EMULATED
    runnable[n_runnable++] = (test_kernel){"avx512_emulated", sc_pow_scan_avx512_emulated, 16};
    printf("kernel %-16s lanes %2u  %s\n", "avx512_emulated", 16u, "SIMDe emulation (tests only)");
#endif
}

static const test_kernel *runnable_by_name(const char *name)
{
    for (size_t i = 0; i < n_runnable; i++)
        if (strcmp(runnable[i].name, name) == 0)
            return &runnable[i];
    return NULL;
}

/* ---- reference ---- */

/* First i < count with v[i] < target, or -1. */
static long ref_first(const uint64_t *v, uint64_t count, uint64_t target)
{
    for (uint64_t i = 0; i < count; i++)
        if (v[i] < target)
            return (long)i;
    return -1;
}

static void random_h1(uint8_t h1[64])
{
    for (int i = 0; i < 64; i += 8)
        put_be64(h1 + i, rnd());
}

/* Starts that stress carries: around 0, the 2^64 wrap, 2^32 multiples and 2^63. */
static uint64_t edge_start(void)
{
    uint64_t back = rnd_below(48);
    switch (rnd_below(7)) {
    case 0: return back;                                   /* 0 .. 47 */
    case 1: return 0 - back - 1;                           /* ends at or crosses 2^64 - 1 -> 0 */
    case 2: return (1ULL << 32) - back;                    /* crosses 2^32 */
    case 3: return ((rnd_below(0xffffffffULL) + 1) << 32) - back; /* any 32-bit carry */
    case 4: return (1ULL << 63) - back;                    /* sign bit of a signed view */
    case 5: return 0xffffffffULL - back;
    default: return rnd();
    }
}

/* ---- 1. SHA-512 and the scalar reference ---- */

static FILE *open_data(const char *dir, const char *file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        printf("cannot open %s (set --data DIR or SC_TEST_DATA)\n", path);
    return f;
}

/* Reads "key: value" lines; returns 1 per record (ended by a blank line or EOF), 0 at EOF. */
#define MAX_FIELDS 16
typedef struct {
    char key[MAX_FIELDS][32];
    char *val[MAX_FIELDS];
    int n;
} record;

static void record_free(record *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->val[i]);
    r->n = 0;
}

static const char *field(const record *r, const char *key)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->key[i], key) == 0)
            return r->val[i];
    return NULL;
}

static int read_record(FILE *f, record *r)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    r->n = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (line[0] == '#')
            continue;
        if (len == 0) {
            if (r->n)
                break;
            continue;
        }
        char *colon = strchr(line, ':');
        if (!colon || r->n == MAX_FIELDS || colon - line >= 32)
            continue;
        *colon = 0;
        const char *v = colon + 1;
        if (*v == ' ')
            v++;
        snprintf(r->key[r->n], sizeof r->key[0], "%s", line);
        r->val[r->n] = strdup(v);
        r->n++;
    }
    free(line);
    return r->n > 0;
}

static void test_sha512_vectors(const char *dir)
{
    cur_kernel = "sha512";
    FILE *f = open_data(dir, "sha512_fips180.txt");
    CHECK(f != NULL, "sha512 vector file missing");
    if (!f)
        return;
    record r;
    int records = 0;
    while (read_record(f, &r)) {
        const char *msg = field(&r, "msg"), *want_hex = field(&r, "sha512");
        const char *rep = field(&r, "repeat");
        uint8_t want[64], got[64];
        if (!msg || !want_hex || unhex(want_hex, want, 64) != 0) {
            CHECK(0, "malformed record in sha512_fips180.txt");
            record_free(&r);
            continue;
        }
        size_t unit = strlen(msg), times = rep ? strtoull(rep, NULL, 10) : 1;
        uint8_t *buf = malloc(unit * times + 1);
        for (size_t i = 0; i < times; i++)
            memcpy(buf + i * unit, msg, unit);
        sc_sha512(buf, unit * times, got);
        free(buf);
        CHECK(memcmp(got, want, 64) == 0, "sc_sha512(\"%.20s\" x %zu) differs from FIPS 180-4", msg,
              times);
        records++;
        record_free(&r);
    }
    fclose(f);
    CHECK(records >= 4, "expected at least 4 SHA-512 vectors, read %d", records);
}

/* The streaming form fed in random pieces equals the one-shot form (which the FIPS
 * vectors and the hashlib comparison of --sha512-lengths pin down). */
static void test_sha512_streaming(int rounds)
{
    cur_kernel = "sha512-stream";
    static uint8_t msg[700];
    for (int r = 0; r < rounds; r++) {
        size_t len = (size_t)rnd_below(sizeof msg + 1);
        for (size_t i = 0; i < len; i++)
            msg[i] = (uint8_t)rnd();
        uint8_t want[64], got[64];
        sc_sha512(msg, len, want);
        sc_sha512_state st;
        sc_sha512_init(&st);
        for (size_t off = 0; off < len;) {
            size_t piece = (size_t)rnd_below(r & 1 ? 300 : 20);
            piece = piece > len - off ? len - off : piece;
            sc_sha512_update(&st, msg + off, piece);
            off += piece;
        }
        sc_sha512_final(&st, got);
        CHECK(memcmp(got, want, 64) == 0, "streaming SHA-512 of %zu bytes differs", len);
    }
}

/* sc_pow_trial_hash / _value agree with sc_sha512 over the 72-byte message. */
static void test_trial_reference(int rounds)
{
    cur_kernel = "reference";
    for (int i = 0; i < rounds; i++) {
        uint8_t h1[64], msg[72], want[64], got[64];
        random_h1(h1);
        uint64_t nonce = (i & 1) ? edge_start() : rnd();
        put_be64(msg, nonce);
        memcpy(msg + 8, h1, 64);
        sc_sha512(msg, 72, want);
        sc_pow_trial_hash(h1, nonce, got);
        CHECK(memcmp(got, want, 64) == 0, "sc_pow_trial_hash(nonce %" PRIu64 ") != sc_sha512", nonce);
        sc_pow_ctx ctx;
        sc_pow_ctx_init(&ctx, h1, 0);
        CHECK(sc_pow_trial_value(&ctx, nonce) == be64(want),
              "sc_pow_trial_value(nonce %" PRIu64 ") != first word of SHA512", nonce);
    }
}

/* ---- 2. kernels against the reference ---- */

static void check_scan(const test_kernel *k, const sc_pow_ctx *ctx, uint64_t first,
                       const uint64_t *v, uint64_t count, const char *why)
{
    sc_pow_ctx c = *ctx;
    long want = ref_first(v, count, c.target);
    uint64_t hit = 0xdeadbeefULL;
    int got = k->scan(&c, first, count, &hit);
    if (want < 0)
        CHECK(got == 0, "%s: first %" PRIu64 " count %" PRIu64 " target %016" PRIx64
              ": reported a hit at %" PRIu64 ", reference has none", why, first, count, c.target, hit);
    else
        CHECK(got == 1 && hit == (uint64_t)want,
              "%s: first %" PRIu64 " count %" PRIu64 " target %016" PRIx64
              ": got %d/%" PRIu64 ", reference first hit at %ld", why, first, count, c.target, got,
              hit, want);
}

static void with_target(sc_pow_ctx *ctx, uint64_t t) { ctx->target = t; }

static void test_kernel_random(const test_kernel *k, int rounds)
{
    enum { MAXC = 4096 };
    static uint64_t v[MAXC + 64];
    for (int round = 0; round < rounds; round++) {
        uint8_t h1[64];
        random_h1(h1);
        sc_pow_ctx ctx;
        sc_pow_ctx_init(&ctx, h1, 0);
        uint64_t first = (round & 1) ? edge_start() : rnd();
        uint64_t count;
        switch (round % 8) {
        case 0: count = rnd_below(2 * k->lanes) + 1; break;            /* less than two steps */
        case 7: count = (round % 64 == 7) ? MAXC - rnd_below(100) : 200 + rnd_below(300); break;
        default: count = rnd_below(5 * k->lanes + 8) + 1;
        }
        /* Values past the end too: lanes there must stay silent. */
        uint64_t extra = k->lanes + 2;
        for (uint64_t i = 0; i < count + extra; i++)
            v[i] = sc_pow_trial_value(&ctx, first + i);

        uint64_t lo = UINT64_MAX;
        for (uint64_t i = 0; i < count; i++)
            lo = v[i] < lo ? v[i] : lo;
        uint64_t targets[32];
        int nt = 0;
        targets[nt++] = lo; /* strict: never a hit */
        targets[nt++] = lo + (lo != UINT64_MAX);
        targets[nt++] = 0;
        targets[nt++] = 1;
        targets[nt++] = UINT64_MAX;
        targets[nt++] = 1ULL << 63;
        targets[nt++] = (1ULL << 63) + 1;
        targets[nt++] = (1ULL << 63) - 1;
        targets[nt++] = rnd();
        targets[nt++] = UINT64_MAX / (rnd_below(k->lanes * 4) + 2); /* frequent hits */
        for (int j = 0; j < 8; j++) {
            /* A position in the range or just past it: target v[p] + 1 hits at p or earlier. */
            uint64_t p = rnd_below(count + extra);
            targets[nt++] = v[p];
            targets[nt++] = v[p] + (v[p] != UINT64_MAX);
        }
        for (int j = 0; j < nt; j++) {
            with_target(&ctx, targets[j]);
            check_scan(k, &ctx, first, v, count, "random");
        }
    }
}

/* Every lane position of the first steps holds the only hit once. */
static void test_kernel_each_lane(const test_kernel *k)
{
    uint8_t h1[64];
    random_h1(h1);
    sc_pow_ctx ctx;
    sc_pow_ctx_init(&ctx, h1, 0);
    const uint64_t starts[] = {0, UINT64_MAX - 5, (1ULL << 32) - 3, rnd()};
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        uint64_t first = starts[s], count = 2 * k->lanes + 3, v[128];
        for (uint64_t i = 0; i < count; i++)
            v[i] = sc_pow_trial_value(&ctx, first + i);
        for (uint64_t p = 0; p < count; p++) {
            /* Only lanes whose value is <= v[p] can hit; the reference decides which is first. */
            with_target(&ctx, v[p] + (v[p] != UINT64_MAX));
            check_scan(k, &ctx, first, v, count, "lane");
            with_target(&ctx, v[p]);
            check_scan(k, &ctx, first, v, count, "lane-strict");
            /* The same range cut just before p: p's lane must be masked off. */
            with_target(&ctx, v[p] + (v[p] != UINT64_MAX));
            check_scan(k, &ctx, first, v, p, "cut");
        }
    }
    uint64_t hit = 12345;
    with_target(&ctx, UINT64_MAX);
    CHECK(k->scan(&ctx, 77, 0, &hit) == 0 && hit == 12345, "count 0 must scan nothing");
}

/* ---- 3. the threaded search with this kernel ---- */

typedef struct {
    sc_pow_search *s;
} worker_arg;

static void *worker(void *p)
{
    sc_pow_search_work(((worker_arg *)p)->s, 0);
    return NULL;
}

/* Runs a search with `threads` threads; returns sc_pow_search_result. */
static int run_search(sc_pow_search *s, int threads, uint64_t *nonce)
{
    pthread_t th[8];
    worker_arg a = {s};
    for (int i = 1; i < threads; i++)
        pthread_create(&th[i], NULL, worker, &a);
    sc_pow_search_work(s, 0);
    for (int i = 1; i < threads; i++)
        pthread_join(th[i], NULL);
    return sc_pow_search_result(s, nonce);
}

/* First offset < limit whose trial is below target, or -1. */
static long ref_search(const sc_pow_ctx *ctx, uint64_t start, uint64_t limit)
{
    for (uint64_t i = 0; i < limit; i++)
        if (sc_pow_trial_value(ctx, start + i) < ctx->target)
            return (long)i;
    return -1;
}

static void test_kernel_search(const test_kernel *k, int rounds)
{
    sc_pow_kernel kk = {k->name, k->scan, k->lanes};
    const uint64_t blocks[] = {1, 7, 64, 1000, 0 /* default */};
    for (int round = 0; round < rounds; round++) {
        uint8_t h1[64];
        random_h1(h1);
        sc_pow_ctx ctx;
        sc_pow_ctx_init(&ctx, h1, UINT64_MAX / (200 + rnd_below(800)));
        uint64_t start = (round & 1) ? edge_start() : rnd();
        long want = ref_search(&ctx, start, 200000);
        CHECK(want >= 0, "reference found no hit in 200000 trials (p ~ 1/1000)");
        if (want < 0)
            continue;
        uint64_t block = blocks[round % 5];
        int threads = 1 + round % 3;
        sc_pow_search s;
        uint64_t nonce = 0;

        sc_pow_search_init(&s, &ctx, &kk, start, 0, block);
        int r = run_search(&s, threads, &nonce);
        CHECK(r == 1 && nonce == start + (uint64_t)want,
              "unbounded search (%d threads, block %" PRIu64 ") from %" PRIu64 ": got %d/%" PRIu64
              ", want %" PRIu64, threads, block, start, r, nonce, start + (uint64_t)want);
        uint64_t trials = sc_pow_search_trials(&s);
        if (threads == 1)
            CHECK(trials == (uint64_t)want + 1, "1 thread: %" PRIu64 " trials, want %ld", trials,
                  want + 1);
        else
            CHECK(trials >= (uint64_t)want + 1, "%" PRIu64 " trials < %ld", trials, want + 1);

        /* Worked in slices of a few blocks (as a binding polling for cancellation does):
         * the same answer, and "exhausted" only once a bounded span is all claimed. */
        sc_pow_search_init(&s, &ctx, &kk, start, (uint64_t)want + 1 + rnd_below(3000), block);
        int slices = 0;
        while (sc_pow_search_result(&s, &nonce) == 0 && !sc_pow_search_exhausted(&s) &&
               slices < 1000000) {
            sc_pow_search_work(&s, 1 + (uint64_t)(slices % 3));
            slices++;
        }
        CHECK(sc_pow_search_result(&s, &nonce) == 1 && nonce == start + (uint64_t)want,
              "sliced search (block %" PRIu64 "): got %" PRIu64 ", want %" PRIu64, block, nonce,
              start + (uint64_t)want);

        /* A span ending just before the hit holds nothing (span 0 would mean unbounded);
         * one more nonce finds it. */
        if (want > 0) {
            sc_pow_search_init(&s, &ctx, &kk, start, (uint64_t)want, block);
            r = run_search(&s, threads, &nonce);
            CHECK(r == 0 && sc_pow_search_exhausted(&s), "span %ld ends before the hit: got %d",
                  want, r);
            if (threads == 1)
                CHECK(sc_pow_search_trials(&s) == (uint64_t)want,
                      "exhausted span: %" PRIu64 " trials, want %ld", sc_pow_search_trials(&s),
                      want);
        }
        sc_pow_search_init(&s, &ctx, &kk, start, (uint64_t)want + 1, block);
        r = run_search(&s, threads, &nonce);
        CHECK(r == 1 && nonce == start + (uint64_t)want, "span %ld: got %d/%" PRIu64, want + 1, r,
              nonce);
    }

    /* Cancelled before any work: -1, nothing tried. */
    sc_pow_ctx ctx;
    uint8_t h1[64] = {0};
    sc_pow_ctx_init(&ctx, h1, 0);
    sc_pow_search s;
    uint64_t nonce;
    sc_pow_search_init(&s, &ctx, &kk, 0, 0, 0);
    sc_pow_search_cancel(&s);
    CHECK(run_search(&s, 2, &nonce) == -1 && sc_pow_search_trials(&s) == 0,
          "a search cancelled first must report -1 and no trials");

    /* Cancelled from another thread while hopeless (target 0): the workers return. */
    sc_pow_search_init(&s, &ctx, &kk, 0, 0, 256);
    pthread_t th;
    worker_arg a = {&s};
    pthread_create(&th, NULL, worker, &a);
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sc_pow_search_cancel(&s);
    pthread_join(th, NULL);
    CHECK(sc_pow_search_result(&s, &nonce) == -1, "cancelled hopeless search must report -1");
}

/* ---- 4. docs/interop.md §1.8 ---- */

typedef struct {
    int ok;
    uint8_t h1[64], H[64];
    uint64_t target, nonce, first_valid;
} interop_vec;

static interop_vec load_interop(const char *dir)
{
    interop_vec iv = {0};
    cur_kernel = "interop-1.8";
    FILE *f = open_data(dir, "pow_interop_1_8.txt");
    CHECK(f != NULL, "pow_interop_1_8.txt missing");
    if (!f)
        return iv;
    record r;
    read_record(f, &r);
    fclose(f);
    const char *ts = field(&r, "timestamp"), *ttl = field(&r, "ttl"), *pk = field(&r, "pubkey");
    const char *data = field(&r, "data"), *diff = field(&r, "difficulty");
    const char *plen = field(&r, "payload_len"), *tgt = field(&r, "target");
    const char *h1 = field(&r, "h1"), *H = field(&r, "H"), *nonce = field(&r, "nonce");
    const char *fv = field(&r, "first_valid_from_0");
    if (!ts || !ttl || !pk || !data || !diff || !plen || !tgt || !h1 || !H || !nonce || !fv ||
        unhex(h1, iv.h1, 64) || unhex(H, iv.H, 64)) {
        CHECK(0, "malformed pow_interop_1_8.txt");
        record_free(&r);
        return iv;
    }
    size_t len = strlen(ts) + strlen(ttl) + strlen(pk) + strlen(data);
    char *payload = malloc(len + 1);
    snprintf(payload, len + 1, "%s%s%s%s", ts, ttl, pk, data);
    CHECK(len == strtoull(plen, NULL, 10), "payload length %zu, vector says %s", len, plen);
    uint8_t got[64];
    sc_sha512((const uint8_t *)payload, len, got);
    free(payload);
    CHECK(memcmp(got, iv.h1, 64) == 0, "SHA512(payload) differs from the vector's h1");

    /* docs/interop.md §1.3, in integers: the vector's target must follow from its inputs. */
    uint64_t L = len + 8, ttl_s = strtoull(ttl, NULL, 10) / 1000;
    uint64_t want_target = UINT64_MAX / (strtoull(diff, NULL, 10) * (L + ttl_s * L / 65535));
    iv.target = strtoull(tgt, NULL, 10);
    CHECK(iv.target == want_target, "target %" PRIu64 " != formula %" PRIu64, iv.target,
          want_target);
    CHECK(sc_pow_target(len, strtoull(ttl, NULL, 10), strtoull(diff, NULL, 10)) == iv.target,
          "sc_pow_target of the vector");
    iv.nonce = strtoull(nonce, NULL, 10);
    const char *b64 = field(&r, "nonce_b64");
    uint64_t decoded = 0;
    CHECK(b64 && sc_pow_decode_nonce(b64, strlen(b64), &decoded) == 0 && decoded == iv.nonce,
          "sc_pow_decode_nonce(%s) = %" PRIu64 ", want %" PRIu64, b64 ? b64 : "?", decoded,
          iv.nonce);
    iv.first_valid = strtoull(fv, NULL, 10);

    sc_pow_trial_hash(iv.h1, iv.nonce, got);
    CHECK(memcmp(got, iv.H, 64) == 0, "H for nonce %" PRIu64 " differs from the vector", iv.nonce);
    sc_pow_ctx ctx;
    sc_pow_ctx_init(&ctx, iv.h1, iv.target);
    CHECK(sc_pow_trial_value(&ctx, iv.nonce) == be64(iv.H) && be64(iv.H) < iv.target,
          "trial value of the valid nonce");
    CHECK(ref_search(&ctx, 0, iv.first_valid + 1) == (long)iv.first_valid,
          "reference: first valid nonce from 0 is not %" PRIu64, iv.first_valid);
    record_free(&r);
    iv.ok = 1;
    return iv;
}

static void test_kernel_interop(const test_kernel *k, const interop_vec *iv)
{
    if (!iv->ok)
        return;
    sc_pow_ctx ctx;
    sc_pow_ctx_init(&ctx, iv->h1, iv->target);
    uint64_t hit = 99;
    CHECK(k->scan(&ctx, iv->nonce, 1, &hit) == 1 && hit == 0, "the valid nonce itself");
    uint64_t v[64];
    for (uint64_t i = 0; i < 40; i++)
        v[i] = sc_pow_trial_value(&ctx, iv->nonce - 20 + i);
    check_scan(k, &ctx, iv->nonce - 20, v, 40, "around the valid nonce");

    sc_pow_kernel kk = {k->name, k->scan, k->lanes};
    for (int threads = 1; threads <= 2; threads++) {
        sc_pow_search s;
        uint64_t nonce = 0;
        sc_pow_search_init(&s, &ctx, &kk, 0, 0, 97);
        int r = run_search(&s, threads, &nonce);
        CHECK(r == 1 && nonce == iv->first_valid, "search from 0 (%d threads): %d/%" PRIu64
              ", want %" PRIu64, threads, r, nonce, iv->first_valid);
        sc_pow_search_init(&s, &ctx, &kk, iv->nonce, 1, 0);
        r = run_search(&s, threads, &nonce);
        CHECK(r == 1 && nonce == iv->nonce, "search of the one valid nonce");
    }
}

/* ---- 5. dispatcher ---- */

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static void test_dispatch(const char *expect_best, const char *expect_supported)
{
    cur_kernel = "dispatch";
    size_t n;
    const sc_pow_kernel *all = sc_pow_kernels(&n);
    const sc_pow_kernel *best = sc_pow_best_kernel();
    CHECK(n >= 1 && strcmp(all[n - 1].name, "portable") == 0, "portable must be compiled, last");
    CHECK(best != NULL && sc_pow_kernel_supported(best), "best kernel must be supported");
    for (size_t i = 0; i < n; i++) {
        int sup = sc_pow_kernel_supported(&all[i]);
        CHECK(all[i].lanes >= 1 && all[i].scan != NULL, "%s: lanes/scan", all[i].name);
        CHECK((sc_pow_find_kernel(all[i].name) != NULL) == sup, "find_kernel(%s) vs supported",
              all[i].name);
        if (sup) {
            CHECK(best == &all[i], "best kernel is %s, but %s is the first supported", best->name,
                  all[i].name);
            break;
        }
    }
    CHECK(sc_pow_find_kernel("no-such-kernel") == NULL, "unknown name must give NULL");
    printf("dispatcher picks: %s\n", best->name);
    if (expect_best)
        CHECK(strcmp(best->name, expect_best) == 0, "dispatcher picked %s, expected %s",
              best->name, expect_best);
    if (expect_supported) {
        for (size_t i = 0; i < n; i++)
            CHECK(sc_pow_kernel_supported(&all[i]) == in_list(expect_supported, all[i].name),
                  "kernel %s: supported=%d, expected set {%s}", all[i].name,
                  sc_pow_kernel_supported(&all[i]), expect_supported);
        for (const char *p = expect_supported; *p;) {
            const char *end = strchr(p, ',');
            char name[64];
            size_t len = end ? (size_t)(end - p) : strlen(p);
            snprintf(name, sizeof name, "%.*s", (int)len, p);
            CHECK(sc_pow_find_kernel(name) != NULL, "expected kernel %s is not available", name);
            if (!end)
                break;
            p = end + 1;
        }
    }
}

/* ---- main ---- */

static void print_sha512_lengths(void)
{
    /* Digests of the message b[i] = (7 i + 3) mod 256 for lengths across the padding
     * boundaries (111/112, 127/128, 239/240...); tests/test_pow_c_harness.py compares them
     * with hashlib. */
    static uint8_t msg[1200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(7 * i + 3);
    for (size_t len = 0; len <= sizeof msg; len += (len < 300 ? 1 : 113)) {
        uint8_t d[64];
        char hex[129];
        sc_sha512(msg, len, d);
        tohex(d, 64, hex);
        printf("%zu %s\n", len, hex);
    }
}

int main(int argc, char **argv)
{
    const char *data_dir = getenv("SC_TEST_DATA") ? getenv("SC_TEST_DATA") : "tests/data";
    const char *force = getenv("SC_POW_KERNEL");
    char forced[512] = "";
    const char *expect_best = NULL, *expect_supported = NULL;
    uint64_t seed = 0x5e55101c0de5eedULL;
    int rounds = 600;

    if (force && *force)
        snprintf(forced, sizeof forced, "%s", force);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--sha512-lengths") == 0) {
            print_sha512_lengths();
            return 0;
        } else if (next && strcmp(a, "--kernel") == 0) {
            size_t used = strlen(forced);
            snprintf(forced + used, sizeof forced - used, "%s%s", used ? "," : "", next);
            i++;
        } else if (next && strcmp(a, "--data") == 0) {
            data_dir = argv[++i];
        } else if (next && strcmp(a, "--seed") == 0) {
            seed = strtoull(argv[++i], NULL, 0);
        } else if (next && strcmp(a, "--rounds") == 0) {
            rounds = atoi(argv[++i]);
        } else if (next && strcmp(a, "--expect-best") == 0) {
            expect_best = argv[++i];
        } else if (next && strcmp(a, "--expect-supported") == 0) {
            expect_supported = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--kernel NAME]... [--data DIR] [--seed N] [--rounds N]"
                            " [--expect-best NAME] [--expect-supported A,B] [--sha512-lengths]\n",
                    argv[0]);
            printf("0 passed, 1 failed\n");
            return 2;
        }
    }
    rng_state = seed;
    printf("seed %#" PRIx64 ", rounds %d, data %s\n", seed, rounds, data_dir);

    collect_kernels();
    test_dispatch(expect_best, expect_supported);
    test_sha512_vectors(data_dir);
    test_sha512_streaming(rounds);
    test_trial_reference(rounds);
    interop_vec iv = load_interop(data_dir);

    /* The kernels to test: the forced ones (each must be runnable here), else all. */
    const test_kernel *todo[MAX_KERNELS];
    size_t n_todo = 0;
    if (forced[0]) {
        for (char *save = NULL, *name = strtok_r(forced, ",", &save); name;
             name = strtok_r(NULL, ",", &save)) {
            const test_kernel *k = runnable_by_name(name);
            cur_kernel = name;
            CHECK(k != NULL, "forced kernel %s is not compiled in or not supported here", name);
            if (k && n_todo < MAX_KERNELS)
                todo[n_todo++] = k;
        }
    } else {
        for (size_t i = 0; i < n_runnable; i++)
            todo[n_todo++] = &runnable[i];
    }

    for (size_t i = 0; i < n_todo; i++) {
        const test_kernel *k = todo[i];
        unsigned long f0 = n_fail, p0 = n_pass;
        cur_kernel = k->name;
        test_kernel_each_lane(k);
        test_kernel_random(k, rounds);
        test_kernel_search(k, rounds / 20 + 3);
        test_kernel_interop(k, &iv);
        printf("kernel %-16s %lu checks, %lu failed\n", k->name, n_pass - p0 + n_fail - f0,
               n_fail - f0);
    }
    printf("%lu passed, %lu failed\n", n_pass, n_fail);
    return (n_fail == 0 && n_pass > 0) ? 0 : 1;
}
