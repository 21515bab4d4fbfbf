# C declarations of csrc/session_core.h used by the PoW binding.
from libc.stdint cimport uint8_t, uint64_t

cdef extern from "session_core.h" nogil:
    void sc_sha512(const uint8_t *data, size_t length, uint8_t *out)

    ctypedef struct sc_sha512_state:
        uint64_t h[8]
    void sc_sha512_init(sc_sha512_state *st)
    void sc_sha512_update(sc_sha512_state *st, const uint8_t *data, size_t length)
    void sc_sha512_final(sc_sha512_state *st, uint8_t *out)
    uint64_t sc_pow_target(uint64_t payload_len, uint64_t ttl_ms, uint64_t difficulty)
    int sc_pow_decode_nonce(const char *text, size_t length, uint64_t *value)

    ctypedef struct sc_pow_ctx:
        uint64_t target

    ctypedef int (*sc_pow_scan_fn)(const sc_pow_ctx *ctx, uint64_t first, uint64_t count,
                                   uint64_t *hit)

    ctypedef struct sc_pow_kernel:
        const char *name
        sc_pow_scan_fn scan
        unsigned lanes

    void sc_pow_ctx_init(sc_pow_ctx *ctx, const uint8_t *h1, uint64_t target)
    uint64_t sc_pow_trial_value(const sc_pow_ctx *ctx, uint64_t nonce)
    void sc_pow_trial_hash(const uint8_t *h1, uint64_t nonce, uint8_t *out)

    const sc_pow_kernel *sc_pow_kernels(size_t *n)
    int sc_pow_kernel_supported(const sc_pow_kernel *k)
    const sc_pow_kernel *sc_pow_best_kernel()
    const sc_pow_kernel *sc_pow_find_kernel(const char *name)

    ctypedef struct sc_pow_search:
        pass

    void sc_pow_search_init(sc_pow_search *s, const sc_pow_ctx *ctx, const sc_pow_kernel *k,
                            uint64_t start, uint64_t span, uint64_t block)
    void sc_pow_search_work(sc_pow_search *s, uint64_t max_blocks)
    int sc_pow_search_exhausted(sc_pow_search *s)
    void sc_pow_search_cancel(sc_pow_search *s)
    int sc_pow_search_result(sc_pow_search *s, uint64_t *nonce)
    uint64_t sc_pow_search_trials(sc_pow_search *s)

    ctypedef void (*sc_openssl_transform_fn)(void *ctx, const unsigned char *data)
    ctypedef int (*sc_sodium_sha512_fn)(unsigned char *out, const unsigned char *inp,
                                       unsigned long long inlen)
    uint64_t sc_baseline_openssl_loop(sc_openssl_transform_fn fn, const uint8_t *h1,
                                      uint64_t target, uint64_t count)
    uint64_t sc_baseline_sodium_loop(sc_sodium_sha512_fn fn, const uint8_t *h1,
                                     uint64_t target, uint64_t count)
