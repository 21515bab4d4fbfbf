# cython: language_level=3
"""C binding of the proof-of-work kernels (csrc/pow_*.c).

Thin on purpose: check buffers and lengths, release the GIL around C, turn
return codes into values or exceptions.  The public API is session_core.pow.
"""

from libc.stdint cimport uint8_t, uint64_t, uintptr_t

from session_core._libsc_pow cimport *

from session_core.errors import ExtensionUnavailableError, InvalidInputError


cdef const sc_pow_kernel *_kernel_by_name(name) except NULL:
    cdef const sc_pow_kernel *k
    if name is None:
        return sc_pow_best_kernel()
    k = sc_pow_find_kernel(name.encode("ascii"))
    if k == NULL:
        raise ExtensionUnavailableError(
            f"PoW kernel {name!r} is not available here; available: {supported_kernels()}")
    return k


cdef inline const uint8_t *_h1_ptr(const uint8_t[::1] h1) except NULL:
    if h1.shape[0] != 64:
        raise InvalidInputError(f"h1 must be 64 bytes (a SHA-512 digest), got {h1.shape[0]}")
    return &h1[0]


def kernels():
    """All kernels compiled in, best first, as (name, lanes, supported_on_this_cpu)."""
    cdef size_t n, i
    cdef const sc_pow_kernel *ks = sc_pow_kernels(&n)
    return [(ks[i].name.decode(), ks[i].lanes, bool(sc_pow_kernel_supported(&ks[i])))
            for i in range(n)]


def supported_kernels():
    return [name for name, _, ok in kernels() if ok]


def best_kernel():
    return sc_pow_best_kernel().name.decode()


def sha512(const uint8_t[::1] data):
    cdef uint8_t out[64]
    cdef size_t n = data.shape[0]
    with nogil:
        sc_sha512(&data[0] if n else <const uint8_t *>"", n, out)
    return out[:64]


def trial_hash(const uint8_t[::1] h1, uint64_t nonce):
    """H = SHA512(nonce_be8 || h1), all 64 bytes."""
    cdef uint8_t out[64]
    cdef const uint8_t *p = _h1_ptr(h1)
    sc_pow_trial_hash(p, nonce, out)
    return out[:64]


def payload_trial_value(const uint8_t[::1] payload, uint64_t nonce):
    """First 8 bytes of SHA512(nonce || SHA512(payload)) as an integer (for verify)."""
    cdef uint8_t h1[64]
    cdef uint8_t out[64]
    cdef size_t n = payload.shape[0]
    with nogil:
        sc_sha512(&payload[0] if n else <const uint8_t *>"", n, h1)
        sc_pow_trial_hash(h1, nonce, out)
    return int.from_bytes(out[:8], "big")


def scan(const uint8_t[::1] h1, uint64_t target, uint64_t first, uint64_t count, kernel=None):
    """Offset of the first hit among nonces first..first+count-1, or None."""
    cdef sc_pow_ctx ctx
    cdef uint64_t hit = 0
    cdef int got
    cdef const sc_pow_kernel *k = _kernel_by_name(kernel)
    sc_pow_ctx_init(&ctx, _h1_ptr(h1), target)
    with nogil:
        got = k.scan(&ctx, first, count, &hit)
    return hit if got else None


cdef class Search:
    """One PoW search; call work() from any number of threads (each releases the GIL)."""

    cdef sc_pow_ctx ctx
    cdef sc_pow_search s
    cdef readonly str kernel

    def __cinit__(self, const uint8_t[::1] h1, uint64_t target, uint64_t start=0,
                  uint64_t span=0, uint64_t block=1024, kernel=None):
        cdef const sc_pow_kernel *k = _kernel_by_name(kernel)
        sc_pow_ctx_init(&self.ctx, _h1_ptr(h1), target)
        sc_pow_search_init(&self.s, &self.ctx, k, start, span, block)
        self.kernel = k.name.decode()

    def work(self):
        with nogil:
            sc_pow_search_work(&self.s)

    def cancel(self):
        sc_pow_search_cancel(&self.s)

    def result(self):
        """(1, nonce) answered; (0, None) no valid nonce in span; (-1, None) cancelled."""
        cdef uint64_t nonce = 0
        cdef int r = sc_pow_search_result(&self.s, &nonce)
        return (r, nonce if r == 1 else None)

    @property
    def trials(self):
        return sc_pow_search_trials(&self.s)


def baseline_openssl_loop(uintptr_t fn, const uint8_t[::1] h1, uint64_t target, uint64_t count):
    """C loop over OpenSSL's SHA512_Transform at address fn (benchmarks only)."""
    cdef const uint8_t *p = _h1_ptr(h1)
    cdef uint64_t hits
    if fn == 0:
        raise InvalidInputError("null function pointer")
    with nogil:
        hits = sc_baseline_openssl_loop(<sc_openssl_transform_fn>fn, p, target, count)
    return hits


def baseline_sodium_loop(uintptr_t fn, const uint8_t[::1] h1, uint64_t target, uint64_t count):
    """C loop over libsodium's crypto_hash_sha512 at address fn (benchmarks only)."""
    cdef const uint8_t *p = _h1_ptr(h1)
    cdef uint64_t hits
    if fn == 0:
        raise InvalidInputError("null function pointer")
    with nogil:
        hits = sc_baseline_sodium_loop(<sc_sodium_sha512_fn>fn, p, target, count)
    return hits
