# cython: language_level=3
"""C onion relay engine for the service node: thin binding of csrc/relay.c.

The node's glue (``session_core/node/fast_relay.py``) drives it from the event loop; this
module only turns the engine's leftover records into the Python objects the node's own
code takes (the same shapes its Python path produces) and releases the GIL around every
engine call.  Import fails (ImportError) where the engine cannot run: no loaded libzmq to
bind (pyzmq not imported, or a Windows build) or a libzmq other than 4.x; the node then
relays in Python, as before.
"""

import os

import zmq
from zmq.backend.cython import _zmq

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memcpy

from session_core.onion.types import MAX_ONION_HOPS, Relay
from session_core.errors import OnionDecryptError, OnionPathTooLongError


cdef extern from "sodium_loader.h" nogil:
    ctypedef struct sc_sodium:
        int aesgcm_ok
    int sc_sodium_load(sc_sodium *lib, const char *path, const char **missing)


cdef extern from "onion.h" nogil:
    enum:
        SC_PEEL_RELAY
        SC_PEEL_OPENED
        SC_PEEL_BAD


cdef extern from "zmq_loader.h" nogil:
    ctypedef struct sc_zmq_msg:
        pass
    ctypedef struct sc_zmq:
        void (*version)(int *major, int *minor, int *patch)
        void *(*msg_data)(sc_zmq_msg *msg)
        size_t (*msg_size)(const sc_zmq_msg *msg)
    int sc_zmq_find_loaded(char *out, size_t cap)
    int sc_zmq_load(sc_zmq *lib, const char *path, const char **missing)


cdef extern from "relay.h" nogil:
    enum:
        SC_RELAY_MAX_ROUTES
        SC_RELAY_PT_OFF
        SC_OUT_HANDLED
        SC_OUT_REQUEST
        SC_OUT_PEELED
        SC_OUT_REPLY
        SC_OUT_QUEUE
    ctypedef struct sc_relay_route:
        int touched
    ctypedef struct sc_relay_out:
        int kind
        int has_frame
        int has_out
        int multipart
        sc_zmq_msg ident
        sc_zmq_msg frame
        sc_zmq_msg out
        const char *peer
        int batch_ok
        int status
        int hop
        size_t body_off
        size_t body_len
        size_t pt_len
        const uint8_t *dest_hex
        uint8_t key[32]
        int enc
        uint8_t ident_len
        uint8_t ident_bytes[32]
    ctypedef struct sc_relay:
        sc_relay_route routes[1]
        size_t n_routes
        int touched[1]
        size_t n_touched
        size_t pend_count
        int router_touched
        uint64_t relayed
        uint64_t answered
        uint64_t timed_out
        uint64_t invalid_replies
        uint64_t queued
    int sc_relay_init(sc_relay *r, const sc_sodium *sodium, const sc_zmq *zmq_lib, const uint8_t *secret,
                      void *router, double timeout_s, size_t batch)
    void sc_relay_free(sc_relay *r)
    size_t SC_RELAY_RECORDS(size_t batch)
    int sc_relay_add_route(sc_relay *r, const uint8_t *key, void *dealer, int batches)
    void sc_relay_remove_route(sc_relay *r, int slot)
    long sc_relay_read_router(sc_relay *r, size_t max, sc_relay_out *outs, int *more)
    long sc_relay_read_dealer(sc_relay *r, int slot, size_t max, sc_relay_out *outs, int *more,
                              size_t *consumed)
    long sc_relay_expire(sc_relay *r, int64_t now_ns, size_t max, sc_relay_out *outs, int *more,
                         int *silent, size_t *n_silent)
    int64_t sc_relay_now_ns()
    void sc_relay_out_close(const sc_relay *r, sc_relay_out *o)


cdef sc_zmq _zmq_lib


def _bind_libzmq():
    """Bind the libzmq pyzmq runs on; its path (ImportError if there is none to bind)."""
    cdef char buf[4096]
    cdef const char *missing = NULL
    candidates = []
    if sc_zmq_find_loaded(buf, sizeof(buf)):
        candidates.append(buf.decode())
    candidates.append(_zmq.__file__)  # a pyzmq built with libzmq linked in statically
    errors = []
    for path in candidates:
        if sc_zmq_load(&_zmq_lib, os.fsencode(path), &missing) == 0:
            break
        errors.append(f"{path}: {missing.decode()} missing")
    else:
        raise ImportError("cannot bind pyzmq's libzmq: " + "; ".join(errors))
    cdef int major = 0, minor = 0, patch = 0
    _zmq_lib.version(&major, &minor, &patch)
    if (major, minor, patch) != zmq.zmq_version_info() or major != 4:
        raise ImportError(f"libzmq {major}.{minor}.{patch} bound, pyzmq runs "
                          f"{zmq.zmq_version()}; the relay engine needs the same 4.x")
    return os.path.realpath(path)


LIBZMQ_PATH = _bind_libzmq()


cdef bytes _msg_bytes(sc_zmq_msg *m, size_t off=0, Py_ssize_t length=-1):
    cdef const char *data = <const char *>_zmq_lib.msg_data(m)
    if length < 0:
        length = <Py_ssize_t>(_zmq_lib.msg_size(m) - off)
    return PyBytes_FromStringAndSize(data + off, length)


cdef str _dest_str(const uint8_t *hex64):
    s = PyBytes_FromStringAndSize(<const char *>hex64, 64).decode("ascii")
    return s.lower()


cdef class RelayEngine:
    """One node's relay engine over its ROUTER socket (see csrc/relay.h).

    ``secret``: the node's X25519 secret (the onion layers' key); ``router``: the address of
    the pyzmq ROUTER socket (``Socket.underlying``); ``timeout``: seconds a forwarded request
    may wait for its reply (then 504).  Not thread-safe: call it from one thread.
    """

    cdef sc_sodium sodium
    cdef sc_relay *r
    cdef sc_relay_out *outs
    cdef int *silent
    cdef Py_ssize_t batch
    cdef readonly str sodium_path
    cdef object _router_ref
    cdef readonly list last_batching  # routing ids of the last read_router's leftovers that read batches

    def __cinit__(self):
        self.r = NULL
        self.outs = NULL
        self.silent = NULL
        self.last_batching = []

    def __init__(self, str sodium_path, bytes secret, router, double timeout, Py_ssize_t batch=256):
        cdef const char *missing = NULL
        if self.r != NULL:
            raise RuntimeError("RelayEngine is already initialised")
        if len(secret) != 32:
            raise ValueError("secret must be 32 bytes")
        if not 1 <= batch <= 65536:
            raise ValueError("batch must be 1..65536")
        if not 0 < timeout <= 1e6:
            raise ValueError("timeout must be in (0, 1e6] seconds")
        cdef void *sock = <void *><size_t>router.underlying  # (raises before anything is held)
        if sc_sodium_load(&self.sodium, os.fsencode(sodium_path), &missing) != 0:
            raise ImportError(f"cannot bind libsodium from {sodium_path}: {missing.decode()} missing")
        self.sodium_path = sodium_path
        self.batch = batch
        self._router_ref = router  # the socket must outlive the engine
        self.outs = <sc_relay_out *>PyMem_Malloc(sizeof(sc_relay_out) * SC_RELAY_RECORDS(batch))
        self.silent = <int *>PyMem_Malloc(sizeof(int) * SC_RELAY_MAX_ROUTES)
        cdef sc_relay *r = <sc_relay *>PyMem_Malloc(sizeof(sc_relay))
        if self.outs == NULL or self.silent == NULL or r == NULL:
            PyMem_Free(r)
            raise MemoryError()
        if sc_relay_init(r, &self.sodium, &_zmq_lib, <const uint8_t *>PyBytes_AS_STRING(secret),
                         sock, timeout, <size_t>batch) != 0:
            PyMem_Free(r)
            raise MemoryError()
        self.r = r  # only ever set to a fully initialised engine

    def __dealloc__(self):
        if self.r != NULL:
            sc_relay_free(self.r)
            PyMem_Free(self.r)
        PyMem_Free(self.outs)
        PyMem_Free(self.silent)

    cdef inline void _ready(self) except *:
        if self.r == NULL:
            raise RuntimeError("RelayEngine is not initialised")

    cdef inline size_t _limit(self, Py_ssize_t limit) except? 0:
        if limit < 1:
            raise ValueError("limit must be positive")
        return <size_t>(limit if limit < self.batch else self.batch)

    def add_route(self, bytes ed25519, dealer, bint batches=False) -> int:
        """Relay to the node with this Ed25519 key over the pyzmq DEALER *dealer* (*batches*:
        it reads batches); the route's slot, or -1 if refused (table full, or a route to that
        key exists)."""
        self._ready()
        if len(ed25519) != 32:
            raise ValueError("ed25519 must be 32 bytes")
        cdef void *sock = <void *><size_t>dealer.underlying
        return sc_relay_add_route(self.r, <const uint8_t *>PyBytes_AS_STRING(ed25519), sock, batches)

    def remove_route(self, int slot) -> None:
        """Stop using a route (call before its socket closes)."""
        self._ready()
        sc_relay_remove_route(self.r, slot)

    def read_router(self, Py_ssize_t limit):
        """Relay what waits on the ROUTER; ``(leftovers, touched slots, more)``.

        A leftover is ``(ident, frame or None, peer or None, peeled)``: frame None for a
        multipart message; peeled None if the engine did not peel it, else what
        ``_onion_c.peel_batch`` gives for the layer (a Relay, ``(plaintext, key, enc)``, or an
        exception instance).  Raises ``zmq.ZMQError`` if the socket failed.
        """
        cdef long n, i
        cdef int more = 0
        cdef sc_relay_out *o
        self._ready()
        cdef size_t m = self._limit(limit)
        with nogil:
            n = sc_relay_read_router(self.r, m, self.outs, &more)
        touched = []
        for i in range(<long>self.r.n_touched):  # (first: nothing below may skip the reset)
            self.r.routes[self.r.touched[i]].touched = 0
            touched.append(self.r.touched[i])
        self.r.n_touched = 0
        if n < 0:
            raise zmq.ZMQError(zmq.ENOTSOCK, "the ROUTER socket failed")
        left = []
        self.last_batching = batching = []
        try:
            for i in range(n):
                o = &self.outs[i]
                if o.kind == SC_OUT_HANDLED:
                    continue
                ident = _msg_bytes(&o.ident)
                if o.batch_ok:
                    batching.append(ident)
                peer = o.peer.decode("ascii", "replace") if o.peer != NULL else None
                frame = None if o.multipart else _msg_bytes(&o.frame)
                peeled = None
                if o.kind == SC_OUT_PEELED:
                    peeled = self._peeled(o)
                left.append((ident, frame, peer, peeled))
        finally:
            for i in range(n):
                sc_relay_out_close(self.r, &self.outs[i])
        return left, touched, bool(more)

    cdef object _peeled(self, sc_relay_out *o):
        if o.status == SC_PEEL_RELAY:
            if o.hop + 1 > MAX_ONION_HOPS:
                return OnionPathTooLongError()
            return Relay(_dest_str(o.dest_hex), _msg_bytes(&o.out, SC_RELAY_PT_OFF, <Py_ssize_t>o.pt_len),
                         o.hop + 1)
        if o.status == SC_PEEL_OPENED:
            return (_msg_bytes(&o.out, SC_RELAY_PT_OFF, <Py_ssize_t>o.pt_len),
                    PyBytes_FromStringAndSize(<const char *>o.key, 32), o.enc)
        return OnionDecryptError()

    cdef tuple _collect(self, long n):
        """The REPLY frames and QUEUE replies of the last call, every record closed after:
        ``([frame], [(ident, frame)])``."""
        cdef sc_relay_out *o
        cdef long i
        frames = []
        queued = []
        try:
            for i in range(n):
                o = &self.outs[i]
                if o.kind == SC_OUT_REPLY:
                    frames.append(_msg_bytes(&o.frame))
                elif o.kind == SC_OUT_QUEUE:
                    queued.append((PyBytes_FromStringAndSize(<const char *>o.ident_bytes, o.ident_len),
                                   _msg_bytes(&o.frame)))
        finally:
            for i in range(n):
                sc_relay_out_close(self.r, &self.outs[i])
        return frames, queued

    def read_dealer(self, int slot, Py_ssize_t limit):
        """Read a route's DEALER; ``(frames for Python, frames used here, queued replies,
        router touched, more)``.  Queued replies are ``(ident, frame)`` the ROUTER refused
        for now (a full queue): send them after the ones already waiting."""
        cdef long n
        cdef int more = 0
        cdef size_t consumed = 0
        self._ready()
        cdef size_t m = self._limit(limit)
        self.r.router_touched = 0
        with nogil:
            n = sc_relay_read_dealer(self.r, slot, m, self.outs, &more, &consumed)
        if n < 0:
            raise zmq.ZMQError(zmq.ENOTSOCK, "the DEALER socket failed (or no such route)")
        frames, queued = self._collect(n)
        return frames, consumed, queued, bool(self.r.router_touched), bool(more)

    def expire(self):
        """Answer 504 to what passed its deadline; ``(queued replies, silent route slots,
        router touched)``: a silent route sent nothing back since such a request went out."""
        cdef long n
        cdef int more = 1
        cdef size_t n_silent = 0, i
        cdef int64_t now = sc_relay_now_ns()
        self._ready()
        queued = []
        silent = set()
        self.r.router_touched = 0
        while more:
            with nogil:
                n = sc_relay_expire(self.r, now, <size_t>self.batch, self.outs, &more, self.silent, &n_silent)
            queued.extend(self._collect(n)[1])
            for i in range(n_silent):
                silent.add(self.silent[i])
        return queued, sorted(silent), bool(self.r.router_touched)

    def stats(self) -> dict:
        self._ready()
        return {
            "relayed": self.r.relayed,
            "answered": self.r.answered,
            "timed_out": self.r.timed_out,
            "invalid_replies": self.r.invalid_replies,
            "queued": self.r.queued,  # replies the ROUTER refused for a while (handed to Python)
            "pending": self.r.pend_count,
            "routes": self.r.n_routes,
        }


cdef extern from "relay.h" nogil:
    ctypedef struct sc_wire:
        int kind
        uint64_t req_id
        size_t n
    int sc_wire_parse(const uint8_t *frame, size_t size, sc_wire *w)
    size_t sc_wire_batch(const uint8_t *frame, size_t size)


def wire_parse(bytes frame):
    """``(kind, request id, part count)`` if the engine's parser accepts *frame*, else None
    (for the tests that hold it to ``session_core.node.wire.decode``)."""
    cdef sc_wire w
    if sc_wire_parse(<const uint8_t *>PyBytes_AS_STRING(frame), len(frame), &w) != 0:
        return None
    return w.kind, w.req_id, w.n


def wire_batch(bytes frame):
    """How many frames the engine reads in *frame* as a batch (0: not a batch it accepts;
    for the tests that hold it to ``session_core.node.wire.unbatch``)."""
    return sc_wire_batch(<const uint8_t *>PyBytes_AS_STRING(frame), len(frame))
