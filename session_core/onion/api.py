"""Onion requests, byte-compatible with Session's v2 format (docs/interop.md §3.1, §3.3–§3.5).

Client side::

    body, ctx = onion.build(payload, path, destination)      # POST body to path[0]
    answer = ctx.decrypt_reply(response_body)

Node side::

    step = onion.peel(body, my_x25519_secret, hop=hop)
    # Relay -> send step.body to step.next_ed25519 (with hop=step.hop)
    # Exit  -> POST step.body to step.url
    # Final -> handle step.payload, answer step.reply.encrypt_b64(...)

Server reached through an onion (file server, open group server)::

    final = onion.open_request(body, server_x25519_secret)

Every malformed input raises a subclass of :class:`~session_core.errors.OnionError`
whose ``status``/``body`` are what upstream storage servers answer (§3.4).

Crypto runs in C on libsodium (``session_core.onion._onion_c``) when it is built, with the GIL
released, else in the PyNaCl/cryptography reference (``_onion_py``); see
:func:`backend_info`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from collections.abc import Callable
from typing import Any, Iterable, Sequence

from session_core import _backend
from session_core._backend import load_error, load_extension
from session_core.errors import ExtensionUnavailableError, OnionError, OnionFrameError
from session_core.onion import _onion_py
from session_core.onion import proto as _onion_proto
from session_core.onion.types import (
    ENC_AES_GCM,
    MAX_BODY_SIZE,
    MAX_ONION_HOPS,
    BuildContext,
    Crypto,
    Exit,
    Final,
    Node,
    Relay,
    Reply,
    ServerTarget,
    enc_code,
    parse_hop,
)

__all__ = [
    "MAX_BODY_SIZE",
    "MAX_ONION_HOPS",
    "BuildContext",
    "Exit",
    "Final",
    "Node",
    "PeelResult",
    "Relay",
    "Reply",
    "ServerTarget",
    "backend_info",
    "build",
    "finish_peeled",
    "open_request",
    "parse_hop",
    "peel",
    "peel_many",
]

_EXTENSION = "session_core.onion._onion_c"
_c: ModuleType | None = load_extension("onion", _EXTENSION)


class _Backend:
    """The crypto module to use per enc_type: C for both when libsodium has AES-GCM on
    this CPU, else C for xchacha20 and the ``cryptography`` path for aes-gcm."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.aes_gcm: Crypto = module
        if module is not _onion_py and not module.aes_gcm_available():
            self.aes_gcm = _onion_py
        self.xchacha: Crypto = module
        # peel's C fast path (None for the reference backend); it handles every enc_type
        # it can and answers None for the rest.
        self.peel_one: Any = getattr(module, "peel_one", None)

    def for_enc(self, enc: int) -> Crypto:
        return self.aes_gcm if enc == ENC_AES_GCM else self.xchacha


# The backend in use; tests switch it with session_core._backend.use.
_active = _Backend(_c if _c is not None else _onion_py)


def _crypto_for_frame(body: bytes) -> Crypto:
    # Which module opens a frame depends on its enc_type; both backends agree on the
    # format, so peeking at the JSON here only picks the implementation.  Errors are
    # raised later by the real parser.
    if _active.aes_gcm is _active.xchacha or not isinstance(body, (bytes, bytearray, memoryview)):
        return _active.xchacha  # (a non-bytes body: the reference raises its error)
    try:
        n, outer = _onion_proto.split_frame(bytes(body), OnionFrameError)
        return _active.for_enc(enc_code(outer.get("enc_type")))
    except OnionError:
        return _active.xchacha


def build(
    payload: bytes,
    path: Sequence[Node],
    destination: Node | ServerTarget,
    *,
    enc_type: str = "aes-gcm",
) -> tuple[bytes, BuildContext]:
    """Wrap *payload* for *destination* through *path* (guard first), 0..15 hops.

    Returns the body to POST to ``path[0]``'s ``/onion_req/v2`` (or, with an empty path,
    straight to the destination) and the context that opens the reply.  Every layer gets
    a fresh ephemeral key and nonce.
    """
    try:
        enc = enc_code(enc_type)
    except OnionError:
        enc = -1
    crypto = _active.for_enc(enc) if enc >= 0 else _active.xchacha
    return _onion_proto.build(crypto, payload, path, destination, enc_type)


def peel(body: bytes, x25519_secret: bytes, *, hop: int = 0) -> Relay | Final | Exit:
    """Remove one layer of an onion request addressed to this node.

    *hop* is how many nodes relayed the request before this one (0 at the guard; pass
    ``Relay.hop`` along).  Raises an ``OnionError`` subclass on any malformed input.
    """
    fast = _active.peel_one
    if fast is not None:
        done = fast(body, x25519_secret, hop, Relay)
        if type(done) is Relay:  # the common case, with no further Python work
            return done
        if done is not None:
            return _onion_proto.finish_fast(_active.xchacha, done, hop)
    return _onion_proto.peel_reference(_crypto_for_frame(body), body, x25519_secret, hop)


def open_request(body: bytes, x25519_secret: bytes) -> Final:
    """Open the request an exit node POSTs to a server (docs/interop.md §3.3 server destination)."""
    return _onion_proto.open_request(_crypto_for_frame(body), body, x25519_secret)


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    pool = _pools.get(threads)
    if pool is None:
        pool = _pools.setdefault(threads, ThreadPoolExecutor(threads, thread_name_prefix="onion-peel"))
    return pool


PeelResult = Relay | Final | Exit | OnionError


def _peel_chunk(bodies: Sequence[bytes], secret: bytes, hop: int) -> list[PeelResult]:
    out: list[PeelResult] = []
    for body in bodies:
        try:
            out.append(peel(body, secret, hop=hop))
        except OnionError as exc:
            out.append(exc)
    return out


def finish_peeled(result: Any, body: bytes, x25519_secret: bytes, hop: int) -> PeelResult:
    """What ``peel(body)`` returns or raises, from a C batch peel's *result* for it (from
    ``peel_batch`` or the node's relay engine): None (the C scanner was unsure: peel here),
    ``(plaintext, key, enc)`` (decrypted; the reference reads the layer), or final already."""
    try:
        if result is None:
            return peel(body, x25519_secret, hop=hop)
        if type(result) is tuple:
            return _onion_proto.finish_fast(_active.xchacha, result, hop)
    except OnionError as exc:
        return exc
    done: PeelResult = result
    return done


def _peel_share(items: list[bytes], secret: bytes, hop: int, lo: int, hi: int) -> list[PeelResult]:
    """``peel`` of items[lo:hi], through the C batch call when the backend has one."""
    crypto = _active.xchacha
    batch = getattr(crypto, "peel_batch", None)
    if (
        batch is None
        or type(secret) is not bytes
        or len(secret) != 32
        or type(hop) is not int
        or not 0 <= hop <= MAX_ONION_HOPS
    ):
        return _peel_chunk(items[lo:hi], secret, hop)
    out: list[Any] = batch(items, lo, hi, secret, hop, Relay)
    # What the C scanner left open goes through the reference, exactly as peel would.
    for i, r in enumerate(out):
        if r is None or type(r) is tuple:
            out[i] = finish_peeled(r, items[lo + i], secret, hop)
    return out


def peel_many(
    bodies: Iterable[bytes], x25519_secret: bytes, *, threads: int | None = None, hop: int = 0
) -> list[PeelResult]:
    """Peel a batch; item i of the result is what ``peel(bodies[i])`` returns or raises.

    Errors are returned in place, not raised, so one bad request does not sink the batch.
    With the C backend each thread takes a contiguous share and peels it in C, releasing
    the GIL for the X25519/AEAD work of 32 bodies at a time, so *threads* (default: one
    per CPU) scale on that work; the calling thread peels the first share itself.
    """
    items = list(bodies)
    n = threads if threads is not None else (os.cpu_count() or 1)
    n = max(1, min(n, len(items)))
    if n == 1:
        return _peel_share(items, x25519_secret, hop, 0, len(items))
    size = -(-len(items) // n)
    bounds = [(lo, min(lo + size, len(items))) for lo in range(0, len(items), size)]
    pool = _pool(len(bounds) - 1)
    futures = [pool.submit(_peel_share, items, x25519_secret, hop, lo, hi) for lo, hi in bounds[1:]]
    results = _peel_share(items, x25519_secret, hop, *bounds[0])
    for future in futures:
        results.extend(future.result())
    return results


def backend_info() -> dict[str, Any]:
    """Which implementation and which libsodium this module uses.

    Example: ``{"implementation": "c", "libsodium": "pynacl 1.0.20", "aes_gcm": "libsodium", ...}``.
    """
    module = _active.module
    if module is _onion_py:
        info: dict[str, Any] = _onion_py.info()
        if _c is None and not _backend.NO_EXTENSIONS:
            info["reason"] = load_error("onion") or "not built"
        return info
    info = dict(module.info())
    if _active.aes_gcm is not module:
        info["aes_gcm"] = "cryptography (libsodium lacks AES-GCM on this CPU: no AES-NI/PCLMUL)"
    return info


def _select(name: str) -> Callable[[], None]:
    """Switch this core to "c" or "python" (see :func:`session_core._backend.use`)."""
    global _active
    previous = _active
    if name == "python":
        _active = _Backend(_onion_py)
    elif _c is None:
        raise ExtensionUnavailableError(f"the C extension {_EXTENSION} is not built")
    else:
        _active = _Backend(_c)

    def restore() -> None:
        global _active
        _active = previous

    return restore


_backend.register_selector("onion", _select)
