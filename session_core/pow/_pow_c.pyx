# cython: language_level=3
"""C binding of the proof-of-work kernels (csrc/pow_*.c).

Thin on purpose: check buffers and lengths, release the GIL around C, turn
return codes into values or exceptions.  The public API is session_core.pow.
"""

from libc.stdint cimport uint8_t, uint64_t, uintptr_t
from libc.stdio cimport snprintf
from libc.string cimport memcpy, memset

from session_core.pow._libsc_pow cimport *

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


def trial_value(const uint8_t[::1] h1, uint64_t nonce):
    """First 8 bytes of SHA512(nonce_be8 || h1) as an integer, computed the way verify_fast does."""
    return _trial_first_word(_h1_ptr(h1), nonce)


def payload_trial_value(const uint8_t[::1] payload, uint64_t nonce):
    """First 8 bytes of SHA512(nonce || SHA512(payload)) as an integer (for verify)."""
    cdef uint8_t h1[64]
    cdef uint8_t out[64]
    cdef size_t n = payload.shape[0]
    with nogil:
        sc_sha512(&payload[0] if n else <const uint8_t *>"", n, h1)
        sc_pow_trial_hash(h1, nonce, out)
    return int.from_bytes(out[:8], "big")


# libcrypto's SHA512_Init/Update/Final and SHA512_Transform, when found (see use_openssl_sha512).
ctypedef int (*ossl_init_fn)(void *c) noexcept nogil
ctypedef int (*ossl_update_fn)(void *c, const void *data, size_t n) noexcept nogil
ctypedef int (*ossl_final_fn)(unsigned char *md, void *c) noexcept nogil
ctypedef void (*ossl_transform_fn)(void *c, const unsigned char *data) noexcept nogil
cdef ossl_init_fn _ossl_init = NULL
cdef ossl_update_fn _ossl_update = NULL
cdef ossl_final_fn _ossl_final = NULL
cdef ossl_transform_fn _ossl_transform = NULL
cdef uint64_t _sha512_iv[8]


cdef void _load_iv() noexcept:
    cdef sc_sha512_state st
    cdef int i
    sc_sha512_init(&st)
    for i in range(8):
        _sha512_iv[i] = st.h[i]


_load_iv()


def use_openssl_sha512(uintptr_t init, uintptr_t update, uintptr_t final, uintptr_t transform=0):
    """Let verify_fast use OpenSSL's SHA-512 (0, 0, 0 = our own C for everything).

    init/update/final hash the payload; transform (SHA512_Transform, optional)
    runs the one-block trial.  Set once at import by session_core.pow, before
    any thread verifies.
    """
    global _ossl_init, _ossl_update, _ossl_final, _ossl_transform
    if init == 0 or update == 0 or final == 0:
        _ossl_init, _ossl_update, _ossl_final, _ossl_transform = NULL, NULL, NULL, NULL
    else:
        _ossl_init = <ossl_init_fn>init
        _ossl_update = <ossl_update_fn>update
        _ossl_final = <ossl_final_fn>final
        _ossl_transform = <ossl_transform_fn>transform if transform else NULL


def payload_sha512_provider():
    return "openssl" if _ossl_init != NULL else "session_core"


def trial_sha512_provider():
    return "openssl" if _ossl_transform != NULL else "session_core"


cdef void _payload_h1(const char *ts, size_t ts_n, const char *ttl, size_t ttl_n,
                      const char *pk, size_t pk_n, const char *data, size_t data_n,
                      uint8_t *h1) noexcept nogil:
    cdef sc_sha512_state st
    cdef uint64_t octx[40]  # >= sizeof(SHA512_CTX) (216 bytes), 8-byte aligned
    if _ossl_init != NULL:
        _ossl_init(octx)
        _ossl_update(octx, ts, ts_n)
        _ossl_update(octx, ttl, ttl_n)
        _ossl_update(octx, pk, pk_n)
        _ossl_update(octx, data, data_n)
        _ossl_final(h1, octx)
        return
    sc_sha512_init(&st)
    sc_sha512_update(&st, <const uint8_t *>ts, ts_n)
    sc_sha512_update(&st, <const uint8_t *>ttl, ttl_n)
    sc_sha512_update(&st, <const uint8_t *>pk, pk_n)
    sc_sha512_update(&st, <const uint8_t *>data, data_n)
    sc_sha512_final(&st, h1)


cdef uint64_t _trial_first_word(const uint8_t *h1, uint64_t nonce) noexcept nogil:
    # The first word of SHA512(nonce_be8 || h1): one compression of a single block.
    cdef uint64_t octx[40]  # SHA512_CTX: h[8] first, the rest unused by SHA512_Transform
    cdef uint8_t block[128]
    cdef uint8_t out[64]
    cdef int i
    if _ossl_transform == NULL:
        sc_pow_trial_hash(h1, nonce, out)
        return ((<uint64_t>out[0] << 56) | (<uint64_t>out[1] << 48) | (<uint64_t>out[2] << 40)
                | (<uint64_t>out[3] << 32) | (<uint64_t>out[4] << 24) | (<uint64_t>out[5] << 16)
                | (<uint64_t>out[6] << 8) | <uint64_t>out[7])
    for i in range(8):
        block[i] = <uint8_t>(nonce >> (56 - 8 * i))
    memcpy(block + 8, h1, 64)
    memset(block + 72, 0, 56)
    block[72] = 0x80
    block[126] = (72 * 8) >> 8
    block[127] = (72 * 8) & 0xff
    memcpy(octx, _sha512_iv, 64)
    _ossl_transform(octx, block)
    return octx[0]  # SHA512_Transform adds the block into h: the feed-forward is done


cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    const char *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)


cdef inline bint _ascii_view(object s, const char **data, Py_ssize_t *n):
    # Borrow the characters of a compact ASCII str without making a bytes copy.
    if type(s) is not str or not PyUnicode_IS_COMPACT_ASCII(s):
        return False
    data[0] = PyUnicode_DATA(s)
    n[0] = PyUnicode_GET_LENGTH(s)
    return True


cdef extern from "Python.h":
    unsigned long long PyLong_AsUnsignedLongLong(object o) except? -1
    void PyErr_Clear()


cdef inline bint _u64(object v, uint64_t *out) noexcept:
    # Exactly int (not bool, not a subclass), 0 <= v < 2^64; anything else -> slow path.
    if type(v) is not int:
        return False
    try:
        out[0] = PyLong_AsUnsignedLongLong(v)
    except OverflowError:  # negative or too large
        PyErr_Clear()
        return False
    return True


cdef inline int _decimal(uint64_t v, char *buf) noexcept nogil:
    # ASCII decimal of v into buf (>= 20 bytes); returns the length.
    cdef char tmp[20]
    cdef int n = 0, i
    while True:
        tmp[n] = <char>(48 + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    for i in range(n):
        buf[i] = tmp[n - 1 - i]
    return n


cdef inline bint _is_hex(const char *p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef char ch
    if n == 0:
        return False
    for i in range(n):
        ch = p[i]
        if not ((b'0' <= ch <= b'9') or (b'a' <= ch <= b'f') or (b'A' <= ch <= b'F')):
            return False
    return True


cdef enum:
    _NOGIL_MIN = 2048  # bytes of data from which verify_fast releases the GIL


def verify_fast(nonce, timestamp_ms, ttl_ms, pubkey, data, difficulty):
    """1 valid, 0 invalid, -1 "not the plain shape: use the checked Python path".

    The plain shape is: ASCII str nonce/pubkey/data, int timestamp/TTL/difficulty.
    Anything else (str integers, bad types, bad characters) goes to the Python
    path, which gives the same answer or the precise error.
    """
    cdef const char *nonce_p
    cdef const char *pk_p
    cdef const char *data_p
    cdef Py_ssize_t nonce_n, pk_n, data_n
    cdef uint64_t ts, ttl, diff, value, tgt
    cdef char digits[48]
    cdef int ts_n, ttl_n
    cdef uint8_t h1[64]
    if not (_ascii_view(nonce, &nonce_p, &nonce_n) and _ascii_view(pubkey, &pk_p, &pk_n)
            and _ascii_view(data, &data_p, &data_n) and _u64(timestamp_ms, &ts)
            and _u64(ttl_ms, &ttl) and _u64(difficulty, &diff) and diff >= 1):
        return -1
    if sc_pow_decode_nonce(nonce_p, nonce_n, &value) != 0 or not _is_hex(pk_p, pk_n):
        return -1
    ts_n = _decimal(ts, digits)
    ttl_n = _decimal(ttl, digits + 24)
    tgt = sc_pow_target(<uint64_t>(ts_n + ttl_n + pk_n + data_n), ttl, diff)
    if data_n < _NOGIL_MIN:
        # Short payloads: releasing and retaking the GIL would cost more than
        # the hashing it lets others overlap (hashlib draws the line at 2 KiB too).
        _payload_h1(digits, ts_n, digits + 24, ttl_n, pk_p, pk_n, data_p, data_n, h1)
        value = _trial_first_word(h1, value)
    else:
        with nogil:
            _payload_h1(digits, ts_n, digits + 24, ttl_n, pk_p, pk_n, data_p, data_n, h1)
            value = _trial_first_word(h1, value)
    return 1 if value < tgt else 0


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

    def work(self, uint64_t max_blocks=0):
        """Search (GIL released) until done, or for at most max_blocks blocks."""
        with nogil:
            sc_pow_search_work(&self.s, max_blocks)

    @property
    def exhausted(self):
        return bool(sc_pow_search_exhausted(&self.s))

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


def baseline_loop(str kind, uintptr_t fn, const uint8_t[::1] h1, uint64_t target, uint64_t count):
    """Benchmarks only: a C loop of PoW trials over another library's SHA-512 at address fn.

    kind "openssl": fn is SHA512_Transform; kind "sodium": fn is crypto_hash_sha512.
    """
    cdef const uint8_t *p = _h1_ptr(h1)
    cdef uint64_t hits
    cdef bint openssl = kind == "openssl"
    if not openssl and kind != "sodium":
        raise InvalidInputError(f"unknown baseline {kind!r}")
    if fn == 0:
        raise InvalidInputError("null function pointer")
    with nogil:
        if openssl:
            hits = sc_baseline_openssl_loop(<sc_openssl_transform_fn>fn, p, target, count)
        else:
            hits = sc_baseline_sodium_loop(<sc_sodium_sha512_fn>fn, p, target, count)
    return hits


def payload_trial_hash(const uint8_t[::1] payload, uint64_t nonce):
    """H = SHA512(nonce_be8 || SHA512(payload)), all 64 bytes (verify and hash in one pass)."""
    cdef uint8_t h1[64]
    cdef uint8_t out[64]
    cdef size_t n = payload.shape[0]
    with nogil:
        sc_sha512(&payload[0] if n else <const uint8_t *>"", n, h1)
        sc_pow_trial_hash(h1, nonce, out)
    return out[:64]


cdef inline bint _decimal_view(object v, char *buf, const char **p, Py_ssize_t *n, uint64_t *value):
    # The decimal text of a timestamp/TTL as sent: a str of 1..19 ASCII digits used verbatim
    # (so "0123" stays "0123", as the server hashed it), or an int written into buf (>= 20 bytes).
    cdef Py_ssize_t i
    cdef uint64_t acc = 0
    if type(v) is int:
        if not _u64(v, value):
            return False
        n[0] = _decimal(value[0], buf)
        p[0] = buf
        return True
    if not _ascii_view(v, p, n) or n[0] < 1 or n[0] > 19:  # 19 digits always fit in 64 bits
        return False
    for i in range(n[0]):
        if not (b'0' <= p[0][i] <= b'9'):
            return False
        acc = acc * 10 + <uint64_t>(p[0][i] - 48)
    value[0] = acc
    return True


def verified_hash_fast(nonce, timestamp_ms, ttl_ms, pubkey, data, difficulty):
    """The message hash (128 lowercase hex) if nonce is valid, None if not, -1 for "not the
    plain shape: use the checked Python path".

    One pass: the payload is hashed once, and the trial that decides validity is the hash
    returned.  The plain shape is: ASCII str nonce/pubkey/data, timestamp and TTL as int or as
    the decimal str sent (at most 19 digits), int difficulty >= 1.  Anything else goes to the
    Python path, which gives the same answer or the precise error.
    """
    cdef const char *nonce_p
    cdef const char *pk_p
    cdef const char *data_p
    cdef const char *ts_p
    cdef const char *ttl_p
    cdef Py_ssize_t nonce_n, pk_n, data_n, ts_n, ttl_n
    cdef uint64_t ts, ttl, diff, value, tgt, first_word
    cdef int i
    cdef char digits[48]
    cdef uint8_t h1[64]
    cdef uint8_t out[64]
    if not (_ascii_view(nonce, &nonce_p, &nonce_n) and _ascii_view(pubkey, &pk_p, &pk_n)
            and _ascii_view(data, &data_p, &data_n)
            and _decimal_view(timestamp_ms, digits, &ts_p, &ts_n, &ts)
            and _decimal_view(ttl_ms, digits + 24, &ttl_p, &ttl_n, &ttl)
            and _u64(difficulty, &diff) and diff >= 1):
        return -1
    if sc_pow_decode_nonce(nonce_p, nonce_n, &value) != 0 or not _is_hex(pk_p, pk_n):
        return -1
    tgt = sc_pow_target(<uint64_t>(ts_n + ttl_n + pk_n + data_n), ttl, diff)
    with nogil:
        _payload_h1(ts_p, ts_n, ttl_p, ttl_n, pk_p, pk_n, data_p, data_n, h1)
        sc_pow_trial_hash(h1, value, out)
    first_word = 0
    for i in range(8):
        first_word = (first_word << 8) | out[i]
    return out[:64].hex() if first_word < tgt else None

ctypedef unsigned char *(*ossl_sha512_fn)(const unsigned char *d, size_t n,
                                          unsigned char *md) noexcept nogil


def baseline_sha512_loop(uintptr_t fn, const uint8_t[::1] data, uint64_t count):
    """Benchmarks only: count calls of OpenSSL's one-shot SHA512 (at address fn) over data."""
    cdef uint8_t out[64]
    cdef uint64_t i
    cdef size_t n = data.shape[0]
    cdef const uint8_t *p = &data[0] if n else <const uint8_t *>""
    if fn == 0:
        raise InvalidInputError("null function pointer")
    with nogil:
        for i in range(count):
            (<ossl_sha512_fn>fn)(p, n, out)
    return bytes(out[:64])
