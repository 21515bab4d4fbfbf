# cython: language_level=3
"""C crypto backend of session_core.onion: thin binding of csrc/onion.c.

Buffer and length checks, the GIL released around every libsodium call, return codes
turned into the session_core exceptions.  Same functions as ``_onion_py``, plus the fast
paths the reference has no use for: ``build_route`` (a whole build in one GIL-free call),
``peel_one`` (a relay layer peeled and its Relay made in one call) and ``peel_batch``
(many bodies per GIL release, for peel_many).  Each answers "not sure" rather than decide
an error the reference would decide differently.

Which libsodium: see csrc/sodium_loader.h for why we bind the one inside PyNaCl's
extension module (libsodium 1.0.20 in current wheels) at import time, fall back to a
system libsodium, and otherwise fail to import so that session_core.onion uses the
pure-Python backend (with the usual RuntimeWarning).  ``SESSION_CORE_SODIUM`` =
``pynacl`` | ``system`` | a file path forces one.
"""

import importlib.util
import os

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset

from session_core.onion.types import MAX_BODY_SIZE, MAX_ONION_HOPS
from session_core.errors import (
    OnionArgumentError,
    OnionDecryptError,
    OnionPathTooLongError,
    OnionTooLargeError,
)


cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except NULL
    object PyUnicode_DecodeASCII(const char *s, Py_ssize_t size, const char *errors)
    int PyObject_GenericSetAttr(object o, object name, object value) except -1


# Making the Relay of a relay layer is a visible part of a 40 µs peel (the frozen
# dataclass __init__ alone is ~0.4 µs), so for the one class we know, whose __init__ only
# stores its three fields, the fields are stored directly with object.__setattr__'s C
# implementation (what that __init__ itself calls).  Any other class, or a Relay that
# grows a __post_init__ or other fields, is called normally.
_RELAY_FIELDS = ("next_ed25519", "body", "hop")
_direct_relay = None


cdef object _make_relay(relay, str dest, bytes body, int hop):
    global _direct_relay
    if relay is not _direct_relay:
        fields = getattr(relay, "__dataclass_fields__", None)
        if (type(relay) is not type or fields is None or tuple(fields) != _RELAY_FIELDS
                or hasattr(relay, "__post_init__") or "__slots__" not in relay.__dict__):
            return relay(dest, body, hop)
        _direct_relay = relay
    obj = relay.__new__(relay)
    PyObject_GenericSetAttr(obj, "next_ed25519", dest)
    PyObject_GenericSetAttr(obj, "body", body)
    PyObject_GenericSetAttr(obj, "hop", hop)
    return obj


cdef str _dest_str(const uint8_t *hex64):
    """The 64 hex characters as a lowercase str (one object unless there are capitals)."""
    cdef str s = PyUnicode_DecodeASCII(<const char *>hex64, 64, NULL)
    cdef int i
    for i in range(64):
        if hex64[i] >= 65 and hex64[i] <= 70:  # 'A'..'F'
            return s.lower()
    return s


cdef extern from "sodium_loader.h" nogil:
    ctypedef struct sc_sodium:
        const char *(*version_string)()
        int (*scalarmult_base)(unsigned char *q, const unsigned char *n) noexcept nogil
        int aesgcm_ok
    int sc_sodium_load(sc_sodium *lib, const char *path, const char **missing)


cdef extern from "onion.h" nogil:
    enum:
        SC_ONION_MAX_LAYERS
        SC_ONION_TAG_BYTES
    ctypedef struct sc_onion_spec:
        int enc
        int framed
        const uint8_t *payload
        size_t payload_len
        const uint8_t *final_json
        size_t final_json_len
        size_t layers
        const uint8_t *recipients
        const uint8_t *eph_secrets
        const uint8_t *eph_publics
        const uint8_t *json_heads[SC_ONION_MAX_LAYERS]
        size_t json_head_lens[SC_ONION_MAX_LAYERS]
        const uint8_t *jsons[SC_ONION_MAX_LAYERS]
        size_t json_lens[SC_ONION_MAX_LAYERS]
    ctypedef struct sc_onion_route:
        int enc
        size_t layers
        const uint8_t *payload
        size_t payload_len
        const char *x25519_hex
        const char *ed25519_hex
        const uint8_t *server_json
        size_t server_json_len
    enum:
        SC_PEEL_PYTHON
        SC_PEEL_PENDING
        SC_PEEL_RELAY
        SC_PEEL_OPENED
        SC_PEEL_BAD
    ctypedef struct sc_onion_peel_item:
        const uint8_t *body
        size_t blob_len
        uint8_t *out
        const uint8_t *dest_hex
        uint8_t eph[32]
        uint8_t key[32]
        int enc
        int status
    size_t sc_onion_nonce_bytes(int enc)
    int sc_onion_encrypt(const sc_sodium *lib, int enc, const uint8_t *key, const uint8_t *msg,
                         size_t len, uint8_t *out)
    int sc_onion_decrypt(const sc_sodium *lib, int enc, const uint8_t *key, const uint8_t *inp,
                         size_t len, uint8_t *out)
    int sc_onion_open(const sc_sodium *lib, int enc, const uint8_t *secret, const uint8_t *public_key,
                      const uint8_t *eph_pub, const uint8_t *blob, size_t blob_len, uint8_t *out,
                      uint8_t *key_out)
    int sc_onion_keypairs(const sc_sodium *lib, size_t n, uint8_t *secrets, uint8_t *publics)
    size_t sc_onion_sealed_size(const sc_onion_spec *spec)
    int sc_onion_seal(const sc_sodium *lib, const sc_onion_spec *spec, uint8_t *out, size_t out_len,
                      uint8_t *key0)
    int sc_onion_fast_outer(const uint8_t *body, size_t len, size_t *blob_len, uint8_t *eph,
                            int *enc)
    int sc_onion_fast_relay(const uint8_t *pt, size_t len, const uint8_t **dest_hex)
    size_t sc_onion_route_size(const sc_onion_route *route)
    int sc_onion_build(const sc_sodium *lib, const sc_onion_route *route, uint8_t *out,
                       size_t out_len, uint8_t *key0)
    void sc_onion_peel_batch(const sc_sodium *lib, const uint8_t *secret, const uint8_t *public_key,
                             sc_onion_peel_item *items, size_t n)
    int64_t sc_onion_thread_ns()
    int64_t sc_onion_bench_sequence(const sc_sodium *lib, int enc, const size_t *sizes, size_t layers,
                                    int peel, uint64_t iters, uint8_t *scratch)
    int64_t sc_onion_bench_primitive(const sc_sodium *lib, int prim, int enc, size_t size,
                                     uint64_t iters, uint8_t *scratch)


# PyNaCl release -> the libsodium its wheels bundle (from PyNaCl's changelog), because
# PyNaCl's module does not export sodium_version_string.
_PYNACL_SODIUM = {"1.4": "1.0.18", "1.5": "1.0.18", "1.6": "1.0.20"}
_SYSTEM_NAMES = ("libsodium.so.26", "libsodium.so.23", "libsodium.so", "libsodium.dylib",
                 "libsodium.26.dylib", "libsodium.23.dylib", "libsodium.dll")


# Bodies per GIL release in peel_batch: large enough that the GIL changes hands rarely
# (one slice of guard layers is ~1 ms of X25519), small enough that two threads overlap.
cdef enum:
    _PEEL_SLICE = 32


cdef inline void _check_enc(int enc) except *:
    if enc != 0 and enc != 1:
        raise OnionArgumentError("enc must be 0 (aes-gcm) or 1 (xchacha20)")


cdef inline void _check32(bytes b, str what) except *:
    if len(b) != 32:
        raise OnionArgumentError(f"{what} must be 32 bytes")


cdef class Sodium:
    """One libsodium, bound from a shared object; the onion primitives on top of it."""

    cdef sc_sodium lib
    cdef readonly str origin
    cdef readonly str path
    cdef readonly str version
    cdef uint8_t cached_secret[32]
    cdef uint8_t cached_public[32]
    cdef bint cached

    def __init__(self, str path, str origin="system"):
        cdef const char *missing = NULL
        cdef bytes bpath = os.fsencode(path)
        if sc_sodium_load(&self.lib, bpath, &missing) != 0:
            raise ImportError(f"cannot bind libsodium from {path}: {missing.decode()} missing")
        self.origin = origin
        self.path = path
        if self.lib.version_string != NULL:
            self.version = self.lib.version_string().decode()
        elif origin == "pynacl":
            from importlib.metadata import version
            pynacl = version("pynacl")
            self.version = _PYNACL_SODIUM.get(".".join(pynacl.split(".")[:2]), f"bundled with PyNaCl {pynacl}")
        else:
            self.version = "unknown"

    def without_aes_gcm(self):
        """The same libsodium as if the CPU lacked AES-NI/PCLMUL (libsodium's AES-GCM
        refused): lets tests cover the C paths that must hand aes-gcm to `cryptography`."""
        cdef Sodium other = Sodium(self.path, self.origin)
        other.lib.aesgcm_ok = 0
        return other

    def aes_gcm_available(self) -> bool:
        return self.lib.aesgcm_ok == 1

    def info(self) -> dict:
        return {
            "implementation": "c",
            "libsodium": f"{self.origin} {self.version}",
            "libsodium_path": self.path,
            "aes_gcm": "libsodium" if self.lib.aesgcm_ok else "unavailable on this CPU",
        }

    def public_key(self, bytes secret) -> bytes:
        _check32(secret, "secret")
        cdef bytes out = PyBytes_FromStringAndSize(NULL, 32)
        cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
        cdef const uint8_t *sk = <const uint8_t *>PyBytes_AS_STRING(secret)
        with nogil:
            self.lib.scalarmult_base(o, sk)
        return out

    def keypairs(self, Py_ssize_t n):
        if n < 1 or n > SC_ONION_MAX_LAYERS:
            raise OnionArgumentError("bad number of key pairs")
        cdef bytes sks = PyBytes_FromStringAndSize(NULL, 32 * n)
        cdef bytes pks = PyBytes_FromStringAndSize(NULL, 32 * n)
        cdef uint8_t *s = <uint8_t *>PyBytes_AS_STRING(sks)
        cdef uint8_t *p = <uint8_t *>PyBytes_AS_STRING(pks)
        cdef int rc
        with nogil:
            rc = sc_onion_keypairs(&self.lib, <size_t>n, s, p)
        if rc != 0:
            raise OnionArgumentError("X25519 key generation failed")
        return sks, pks

    def seal(self, bytes payload, bint framed, bytes final_json, bytes recipients,
             bytes eph_secrets, bytes eph_publics, jsons, int enc):
        cdef sc_onion_spec spec
        cdef Py_ssize_t layers = len(recipients) // 32, k
        _check_enc(enc)
        memset(&spec, 0, sizeof(spec))
        jsons = tuple(jsons)  # our own reference: the pointers below must stay valid
        if (layers < 1 or layers > SC_ONION_MAX_LAYERS or len(recipients) != 32 * layers
                or len(eph_secrets) != 32 * layers or len(eph_publics) != 32 * layers
                or len(jsons) != layers):
            raise OnionArgumentError("inconsistent layer arguments")
        spec.enc = enc
        spec.framed = framed
        spec.payload = <const uint8_t *>PyBytes_AS_STRING(payload)
        spec.payload_len = len(payload)
        spec.final_json = <const uint8_t *>PyBytes_AS_STRING(final_json)
        spec.final_json_len = len(final_json)
        spec.layers = layers
        spec.recipients = <const uint8_t *>PyBytes_AS_STRING(recipients)
        spec.eph_secrets = <const uint8_t *>PyBytes_AS_STRING(eph_secrets)
        spec.eph_publics = <const uint8_t *>PyBytes_AS_STRING(eph_publics)
        for k in range(layers):
            j = jsons[k]
            if type(j) is not bytes:
                raise OnionArgumentError("routing JSON must be bytes")
            spec.jsons[k] = <const uint8_t *>PyBytes_AS_STRING(j)
            spec.json_lens[k] = len(j)
        cdef size_t size = sc_onion_sealed_size(&spec)
        if size == 0:
            raise OnionArgumentError("onion too large to frame")
        cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
        cdef bytes key0 = PyBytes_FromStringAndSize(NULL, 32)
        cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
        cdef uint8_t *kp = <uint8_t *>PyBytes_AS_STRING(key0)
        cdef int rc
        with nogil:
            rc = sc_onion_seal(&self.lib, &spec, o, size, kp)
        if rc != 0:
            raise OnionArgumentError("a recipient's X25519 key is invalid (low-order point)")
        return out, key0

    def build_route(self, bytes payload, server_json, str x25519_hex, str ed25519_hex, int enc):
        """The whole client build in one GIL-free C call (sc_onion_build): ephemeral keys,
        routing JSON with its hex, and the layers.  Returns (body, destination layer key).

        x25519_hex: 64 hex chars per layer, destination first, guard last.
        ed25519_hex: 64 per layer but the guard's (the key named beside blob k); for a
        server destination entry 0 is a placeholder.  server_json: None for a node
        destination, else the exit members up to a trailing comma.
        """
        cdef sc_onion_route r
        cdef Py_ssize_t xlen = 0, elen = 0
        _check_enc(enc)
        r.x25519_hex = PyUnicode_AsUTF8AndSize(x25519_hex, &xlen)
        r.ed25519_hex = PyUnicode_AsUTF8AndSize(ed25519_hex, &elen)
        if xlen == 0 or xlen % 64 or xlen > 64 * SC_ONION_MAX_LAYERS or elen != xlen - 64:
            raise OnionArgumentError("inconsistent route: 64 hex characters per key")
        r.enc = enc
        r.layers = <size_t>(xlen // 64)
        r.payload = <const uint8_t *>PyBytes_AS_STRING(payload)
        r.payload_len = len(payload)
        if server_json is None:
            r.server_json = NULL
            r.server_json_len = 0
        elif type(server_json) is bytes:
            r.server_json = <const uint8_t *>PyBytes_AS_STRING(server_json)
            r.server_json_len = len(<bytes>server_json)
        else:
            raise OnionArgumentError("server_json must be bytes or None")
        cdef size_t size = sc_onion_route_size(&r)
        if size == 0 or size > <size_t>MAX_BODY_SIZE:
            raise OnionTooLargeError("payload too large")
        cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
        cdef bytes key0 = PyBytes_FromStringAndSize(NULL, 32)
        cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
        cdef uint8_t *kp = <uint8_t *>PyBytes_AS_STRING(key0)
        cdef int rc
        with nogil:
            rc = sc_onion_build(&self.lib, &r, o, size, kp)
        if rc != 0:
            raise OnionArgumentError("bad key hex, or a recipient's X25519 key is a low-order point")
        return out, key0

    def peel_batch(self, list bodies, Py_ssize_t lo, Py_ssize_t hi, bytes secret, int hop, relay):
        """peel's fast path for bodies[lo:hi], one entry per body:

        ``relay(next_ed25519, body, hop + 1)`` for a valid relay layer;
        (plaintext, key, enc) when decrypted but not a relay (the reference decides);
        an OnionDecryptError / OnionPathTooLongError instance, exactly where peel raises it;
        None where the C scanner is unsure (run the reference peel on that body).

        Works in slices of _PEEL_SLICE bodies: buffers and result objects with the GIL,
        the X25519/AEAD work of the whole slice in one sc_onion_peel_batch call without it.
        Two threads on two halves thus overlap one's bookkeeping with the other's crypto.
        """
        _check32(secret, "secret")
        if lo < 0 or hi > len(bodies) or lo > hi:
            raise OnionArgumentError("bad batch bounds")
        if hop < 0 or hop > MAX_ONION_HOPS:
            raise OnionArgumentError("bad hop")
        cdef Py_ssize_t total = hi - lo, start, m, j
        cdef size_t over, max_body = <size_t>MAX_BODY_SIZE
        cdef bint relay_ok = hop + 1 <= MAX_ONION_HOPS
        cdef int aesgcm_ok = self.lib.aesgcm_ok, st
        cdef const uint8_t *sk = <const uint8_t *>PyBytes_AS_STRING(secret)
        cdef uint8_t pk[32]
        memcpy(pk, self._public_for(secret), 32)  # our copy: another thread may re-key the cache
        cdef sc_onion_peel_item *it
        cdef bytes out
        results = [None] * total
        # Our own references to the inputs and outputs of one slice: the pointers handed to
        # C must outlive the GIL release even if the caller's list changes meanwhile.
        ins = [None] * _PEEL_SLICE
        outs = [None] * _PEEL_SLICE
        cdef sc_onion_peel_item *items = <sc_onion_peel_item *>PyMem_Malloc(
            sizeof(sc_onion_peel_item) * _PEEL_SLICE)
        if items == NULL:
            raise MemoryError()
        try:
            for start in range(lo, hi, _PEEL_SLICE):
                m = min(_PEEL_SLICE, hi - start)
                for j in range(m):
                    body = bodies[start + j]
                    it = &items[j]
                    it.status = SC_PEEL_PYTHON
                    ins[j] = body
                    outs[j] = None
                    if type(body) is not bytes or <size_t>len(<bytes>body) > max_body:
                        continue
                    it.body = <const uint8_t *>PyBytes_AS_STRING(body)
                    if not sc_onion_fast_outer(it.body, len(<bytes>body), &it.blob_len, it.eph, &it.enc):
                        continue
                    if it.enc == 0 and not aesgcm_ok:
                        continue
                    over = sc_onion_nonce_bytes(it.enc) + SC_ONION_TAG_BYTES
                    if it.blob_len < over:
                        it.status = SC_PEEL_BAD
                        continue
                    out = PyBytes_FromStringAndSize(NULL, it.blob_len - over)
                    outs[j] = out
                    it.out = <uint8_t *>PyBytes_AS_STRING(out)
                    it.status = SC_PEEL_PENDING
                with nogil:
                    sc_onion_peel_batch(&self.lib, sk, pk, items, <size_t>m)
                for j in range(m):
                    it = &items[j]
                    st = it.status
                    if st == SC_PEEL_RELAY:
                        if relay_ok:
                            results[start - lo + j] = _make_relay(relay, _dest_str(it.dest_hex), outs[j], hop + 1)
                        else:
                            results[start - lo + j] = OnionPathTooLongError()
                    elif st == SC_PEEL_OPENED:
                        results[start - lo + j] = (outs[j], PyBytes_FromStringAndSize(<char *>it.key, 32), it.enc)
                    elif st == SC_PEEL_BAD:
                        results[start - lo + j] = OnionDecryptError()
                    ins[j] = None
                    outs[j] = None
        finally:
            PyMem_Free(items)
        return results

    def open_blob(self, bytes buf, Py_ssize_t offset, Py_ssize_t length, bytes secret,
                  bytes public, bytes eph_public, int enc):
        _check_enc(enc)
        _check32(secret, "secret")
        _check32(public, "public")
        _check32(eph_public, "eph_public")
        # Each bound on its own: offset + length can overflow Py_ssize_t (2^63 - 10 + 20
        # wraps negative and would pass a summed check, then read far outside buf).
        if offset < 0 or length < 0 or offset > len(buf) or length > len(buf) - offset:
            raise OnionArgumentError("blob outside the buffer")
        cdef size_t over = sc_onion_nonce_bytes(enc) + SC_ONION_TAG_BYTES
        if <size_t>length < over:
            raise OnionDecryptError()
        cdef bytes out = PyBytes_FromStringAndSize(NULL, length - over)
        cdef bytes key = PyBytes_FromStringAndSize(NULL, 32)
        cdef const uint8_t *b = <const uint8_t *>PyBytes_AS_STRING(buf) + offset
        cdef const uint8_t *sk = <const uint8_t *>PyBytes_AS_STRING(secret)
        cdef const uint8_t *pk = <const uint8_t *>PyBytes_AS_STRING(public)
        cdef const uint8_t *ek = <const uint8_t *>PyBytes_AS_STRING(eph_public)
        cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
        cdef uint8_t *kp = <uint8_t *>PyBytes_AS_STRING(key)
        cdef int rc
        with nogil:
            rc = sc_onion_open(&self.lib, enc, sk, pk, ek, b, <size_t>length, o, kp)
        if rc != 0:
            raise OnionDecryptError()
        return out, key

    cdef const uint8_t *_public_for(self, bytes secret):
        """Our X25519 public key (an xchacha20 KDF input).  A node peels with one secret
        all day, so the last one is remembered instead of one extra base-point mult per
        layer.  Called with the GIL held, which serialises the cache."""
        cdef const uint8_t *sk = <const uint8_t *>PyBytes_AS_STRING(secret)
        cdef uint8_t diff = 0
        cdef int i
        for i in range(32):  # no early exit: the comparison does not depend on the secret
            diff |= self.cached_secret[i] ^ sk[i]
        if not self.cached or diff:
            self.lib.scalarmult_base(self.cached_public, sk)
            memcpy(self.cached_secret, sk, 32)
            self.cached = 1
        return self.cached_public

    def peel_one(self, body, secret, hop, relay):
        """peel's fast path: frame, routing JSON and decryption in C, one GIL release.

        None: not sure (argument types, or a frame outside the C scanner's subset, or an
        aes-gcm frame without libsodium AES-GCM): run the reference peel from the start.
        ``relay(next_ed25519, body, hop + 1)``: a valid relay layer.
        (plaintext, key, enc): decrypted; the reference decides what the inner layer is.
        Raises OnionDecryptError / OnionPathTooLongError exactly where the reference would.
        """
        if (type(body) is not bytes or type(secret) is not bytes or len(<bytes>secret) != 32
                or type(hop) is not int or not 0 <= hop <= MAX_ONION_HOPS
                or len(<bytes>body) > MAX_BODY_SIZE):
            return None
        cdef int h = hop
        cdef const uint8_t *b = <const uint8_t *>PyBytes_AS_STRING(body)
        cdef size_t n = len(<bytes>body), blob_len = 0, over
        cdef uint8_t eph[32]
        cdef int enc = 0, rc, is_relay = 0
        cdef const uint8_t *dest = NULL
        if not sc_onion_fast_outer(b, n, &blob_len, eph, &enc):
            return None
        if enc == 0 and not self.lib.aesgcm_ok:
            return None
        over = sc_onion_nonce_bytes(enc) + SC_ONION_TAG_BYTES
        if blob_len < over:
            raise OnionDecryptError()
        cdef uint8_t pk[32]
        memcpy(pk, self._public_for(<bytes>secret), 32)  # ours: another thread may re-key the cache
        cdef const uint8_t *sk = <const uint8_t *>PyBytes_AS_STRING(secret)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, blob_len - over)
        cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
        cdef uint8_t key[32]
        with nogil:
            rc = sc_onion_open(&self.lib, enc, sk, pk, eph, b + 4, blob_len, o, key)
            if rc == 0:
                is_relay = sc_onion_fast_relay(o, blob_len - over, &dest)
        if rc != 0:
            raise OnionDecryptError()
        if is_relay:
            if h + 1 > MAX_ONION_HOPS:
                raise OnionPathTooLongError()
            return _make_relay(relay, _dest_str(dest), out, h + 1)
        return out, PyBytes_FromStringAndSize(<char *>key, 32), enc

    def encrypt(self, bytes key, int enc, bytes data) -> bytes:
        _check_enc(enc)
        _check32(key, "key")
        cdef size_t n = len(data)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, n + sc_onion_nonce_bytes(enc) + SC_ONION_TAG_BYTES)
        cdef const uint8_t *kp = <const uint8_t *>PyBytes_AS_STRING(key)
        cdef const uint8_t *m = <const uint8_t *>PyBytes_AS_STRING(data)
        cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
        cdef int rc
        with nogil:
            rc = sc_onion_encrypt(&self.lib, enc, kp, m, n, o)
        if rc != 0:
            raise OnionArgumentError("AEAD unavailable")
        return out

    def decrypt(self, bytes key, int enc, bytes data) -> bytes:
        _check_enc(enc)
        _check32(key, "key")
        cdef size_t n = len(data), over = sc_onion_nonce_bytes(enc) + SC_ONION_TAG_BYTES
        if n < over:
            raise OnionDecryptError()
        cdef bytes out = PyBytes_FromStringAndSize(NULL, n - over)
        cdef const uint8_t *kp = <const uint8_t *>PyBytes_AS_STRING(key)
        cdef const uint8_t *c = <const uint8_t *>PyBytes_AS_STRING(data)
        cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
        cdef int rc
        with nogil:
            rc = sc_onion_decrypt(&self.lib, enc, kp, c, n, o)
        if rc != 0:
            raise OnionDecryptError()
        return out

    def bench_primitive(self, int prim, int enc, size_t size, uint64_t iters) -> int:
        """Nanoseconds for *iters* runs of one libsodium primitive (benches only)."""
        _check_enc(enc)
        cdef uint8_t *scratch = <uint8_t *>PyMem_Malloc(2 * size + 128)
        cdef int64_t ns
        if scratch == NULL:
            raise MemoryError()
        try:
            with nogil:
                ns = sc_onion_bench_primitive(&self.lib, prim, enc, size, iters, scratch)
        finally:
            PyMem_Free(scratch)
        return ns

    def bench_sequence(self, int enc, sizes, bint peel, uint64_t iters) -> int:
        """Nanoseconds (thread CPU time) for *iters* runs of the primitives one build (per
        layer plaintext size, destination first) or one peel does (benches only)."""
        _check_enc(enc)
        cdef size_t c_sizes[SC_ONION_MAX_LAYERS]
        cdef size_t layers = len(sizes), k, biggest = 0
        if layers < 1 or layers > SC_ONION_MAX_LAYERS or (peel and layers != 1):
            raise OnionArgumentError("bad layer sizes")
        for k in range(layers):
            c_sizes[k] = sizes[k]
            biggest = max(biggest, c_sizes[k])
        cdef uint8_t *scratch = <uint8_t *>PyMem_Malloc(2 * biggest + 128)
        cdef int64_t ns
        if scratch == NULL:
            raise MemoryError()
        try:
            with nogil:
                ns = sc_onion_bench_sequence(&self.lib, enc, c_sizes, layers, peel, iters, scratch)
        finally:
            PyMem_Free(scratch)
        if ns < 0:
            raise OnionArgumentError("primitive sequence failed")
        return ns


def thread_ns() -> int:
    """This thread's CPU time in ns: the clock bench_primitive uses (benches only)."""
    return sc_onion_thread_ns()


def pynacl_path():
    """The file of PyNaCl's extension module, which carries libsodium, or None."""
    try:
        spec = importlib.util.find_spec("nacl._sodium")
    except ImportError:
        return None
    return spec.origin if spec is not None else None


def load(str which):
    """A Sodium for ``pynacl``, ``system`` or a file path; ImportError if unavailable."""
    if which == "pynacl":
        path = pynacl_path()
        if path is None:
            raise ImportError("PyNaCl's nacl._sodium module not found")
        return Sodium(path, "pynacl")
    if which == "system":
        errors = []
        for name in _SYSTEM_NAMES:
            try:
                return Sodium(name, "system")
            except ImportError as exc:
                errors.append(str(exc))
        raise ImportError("no system libsodium: " + "; ".join(errors[:2]))
    return Sodium(which, "path")


def _load_default():
    forced = os.environ.get("SESSION_CORE_SODIUM", "")
    if forced:
        return load(forced)
    try:
        return load("pynacl")
    except ImportError as first:
        try:
            return load("system")
        except ImportError as second:
            raise ImportError(f"{first}; {second}") from None


default = _load_default()
keypairs = default.keypairs
seal = default.seal
open_blob = default.open_blob
encrypt = default.encrypt
decrypt = default.decrypt
public_key = default.public_key
aes_gcm_available = default.aes_gcm_available
info = default.info
peel_one = default.peel_one
build_route = default.build_route
peel_batch = default.peel_batch
