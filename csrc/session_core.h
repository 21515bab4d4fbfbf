/* session_core.h: the public C interface of session_core's kernels.
 *
 * Plain C11, no Python.  Every function is reentrant; the only global mutable
 * state is the cached CPU-feature probe in the dispatchers.
 */
#ifndef SESSION_CORE_H
#define SESSION_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SHA-512 (whole messages; used for SHA512(payload) and for verify) ---- */

void sc_sha512(const uint8_t *data, size_t len, uint8_t out[64]);

/* Streaming form, for hashing a payload from its pieces without joining them. */
typedef struct sc_sha512_state {
    uint64_t h[8];
    uint64_t total;      /* bytes absorbed */
    uint8_t buf[128];
    size_t buflen;
} sc_sha512_state;

void sc_sha512_init(sc_sha512_state *st);
void sc_sha512_update(sc_sha512_state *st, const uint8_t *data, size_t len);
void sc_sha512_final(sc_sha512_state *st, uint8_t out[64]);

/* ---- Proof of work (Session / Loki storage server 2020, docs/interop.md §1) ----
 *
 * One trial computes H = SHA512(nonce_be8 || h1) where h1 = SHA512(payload), and
 * is a hit when the first 8 bytes of H, read big-endian, are < target.  The
 * 72-byte message fits one SHA-512 block in which only the first word (the
 * nonce itself) changes, so sc_pow_ctx holds everything that can be computed
 * once per payload. */

typedef struct sc_pow_ctx {
    uint64_t target;
    uint64_t h1[8];      /* message words W1..W8 */
    uint64_t a0, e0;     /* after round 0: a = nonce + a0, e = nonce + e0 */
    uint64_t kw[16];     /* K[t] + W[t] for the constant words t = 1..15 */
    uint64_t w16c;       /* W16 = nonce + w16c */
    uint64_t w17, w19, w21; /* constant schedule words */
    uint64_t c18, c20, c22, c23, c24, c26, c28, c30; /* constant parts of W18..W30 */
} sc_pow_ctx;

/* Precompute the per-payload constants.  h1 is SHA512(payload) as bytes. */
void sc_pow_ctx_init(sc_pow_ctx *ctx, const uint8_t h1[64], uint64_t target);

/* (2^64-1) / (D * (L + (ttl_s * L) / 65535)), L = payload_len + 8 (docs/interop.md §1.3).
 * Returns 0 (no nonce can be valid) when the denominator exceeds 64 bits or D is 0. */
uint64_t sc_pow_target(uint64_t payload_len, uint64_t ttl_ms, uint64_t difficulty);

/* Decode the 12-character padded base64 nonce ("AAAAAAAaFio=") into *value.
 * Returns 0, or -1 when the text is not exactly 11 base64 characters and '='. */
int sc_pow_decode_nonce(const char *text, size_t len, uint64_t *value);

/* First 64-bit word of H (big-endian value) for one nonce: the scalar reference. */
uint64_t sc_pow_trial_value(const sc_pow_ctx *ctx, uint64_t nonce);

/* The whole 64-byte H for one nonce (the message hash once hex-encoded). */
void sc_pow_trial_hash(const uint8_t h1[64], uint64_t nonce, uint8_t out[64]);

/* A kernel scans the nonces first, first+1, ..., first+count-1 (mod 2^64) in
 * that order.  It returns 1 and stores the offset of the FIRST hit in *hit,
 * or returns 0 when none of them is a hit. */
typedef int (*sc_pow_scan_fn)(const sc_pow_ctx *ctx, uint64_t first, uint64_t count,
                              uint64_t *hit);

typedef struct sc_pow_kernel {
    const char *name;    /* "avx512", "avx2", "sha512ce", "neon", "portable" */
    sc_pow_scan_fn scan;
    unsigned lanes;      /* nonces evaluated together */
} sc_pow_kernel;

/* Kernels compiled into this build, best first.  *n receives the count. */
const sc_pow_kernel *sc_pow_kernels(size_t *n);
/* 1 when this CPU (and OS) can run the kernel. */
int sc_pow_kernel_supported(const sc_pow_kernel *k);
/* The best supported kernel (never NULL: "portable" always runs). */
const sc_pow_kernel *sc_pow_best_kernel(void);
/* A compiled and supported kernel by name, or NULL. */
const sc_pow_kernel *sc_pow_find_kernel(const char *name);

/* ---- Multi-threaded search with a deterministic answer ----
 *
 * Any number of threads call sc_pow_search_work() on the same job.  They claim
 * blocks of `block` nonces in increasing order; a hit lowers `found` (an atomic
 * minimum of offsets) and nobody claims blocks beyond it, while blocks below it
 * are finished.  So the answer is always the first valid nonce counting from
 * `start`, whatever the number of threads: the one Session Desktop finds. */

typedef struct sc_pow_search {
    const sc_pow_ctx *ctx;
    const sc_pow_kernel *kernel;
    uint64_t start;      /* first nonce */
    uint64_t span;       /* nonces to search; 0 = the whole 2^64 space */
    uint64_t block;      /* nonces per claim, also the cancellation granularity */
    uint64_t next;       /* atomic: next offset to claim */
    uint64_t found;      /* atomic: smallest offset of a hit, UINT64_MAX if none */
    uint64_t trials;     /* atomic: nonces evaluated so far (progress) */
    int stop;            /* atomic: set by sc_pow_search_cancel */
} sc_pow_search;

void sc_pow_search_init(sc_pow_search *s, const sc_pow_ctx *ctx, const sc_pow_kernel *k,
                        uint64_t start, uint64_t span, uint64_t block);
/* Work until the job is answered, exhausted or cancelled, or until this call
 * has claimed max_blocks blocks (0 = no limit). */
void sc_pow_search_work(sc_pow_search *s, uint64_t max_blocks);
/* 1 once every nonce of a bounded span has been claimed. */
int sc_pow_search_exhausted(sc_pow_search *s);
void sc_pow_search_cancel(sc_pow_search *s);
/* 1: *nonce is the answer.  0: the span holds no valid nonce.  -1: cancelled first. */
int sc_pow_search_result(sc_pow_search *s, uint64_t *nonce);
uint64_t sc_pow_search_trials(sc_pow_search *s);

/* ---- Benchmark baselines (measured in the same run as our kernels) ----
 * Tight C loops over other implementations' SHA-512, reached through function
 * pointers found at run time, so neither library is needed to build. */

/* OpenSSL: void SHA512_Transform(SHA512_CTX *c, const unsigned char *data). */
typedef void (*sc_openssl_transform_fn)(void *sha512_ctx, const unsigned char *data);
/* libsodium: int crypto_hash_sha512(unsigned char *out, const unsigned char *in, unsigned long long inlen). */
typedef int (*sc_sodium_sha512_fn)(unsigned char *out, const unsigned char *in,
                                   unsigned long long inlen);

/* Each runs `count` PoW trials from nonce 0 and returns how many were hits. */
uint64_t sc_baseline_openssl_loop(sc_openssl_transform_fn fn, const uint8_t h1[64],
                                  uint64_t target, uint64_t count);
uint64_t sc_baseline_sodium_loop(sc_sodium_sha512_fn fn, const uint8_t h1[64],
                                 uint64_t target, uint64_t count);

#ifdef __cplusplus
}
#endif
#endif /* SESSION_CORE_H */
