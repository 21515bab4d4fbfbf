"""Proof of work for Session messages, byte-exact with the 2020 storage server.

The payload is ``timestamp || ttl || pubkey || data`` (the exact ASCII strings
of the ``store`` request), a trial is ``H = SHA512(nonce_be8 || SHA512(payload))``
and a nonce is valid when the first 8 bytes of H, big-endian, are below
:func:`target`.  See docs/interop.md §1 for every detail and the upstream test vectors.

Example::

    from session_core import pow
    nonce = pow.solve(1554859211000, 86_400_000, "05" + "ab" * 32, "aGVsbG8=", difficulty=1)
    assert pow.verify(nonce, 1554859211000, 86_400_000, "05" + "ab" * 32, "aGVsbG8=", 1)

The search runs in C with SIMD kernels (AVX-512, AVX2, ARMv8.2 SHA-512, NEON,
portable C; the best one the CPU supports) on all cores by default, and always
returns the *first* valid nonce counting from ``start``, like Session Desktop,
whatever the number of threads.  Set ``SESSION_CORE_NO_EXTENSIONS=1`` to use
the pure-Python reference instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from session_core import _backend
from session_core._backend import load_error, load_extension
from session_core.pow import _pow_py
from session_core.pow import fields
from session_core.pow.solver import (
    BLOCK,
    CancelLike,
    CancelToken,
    SolveProgress,
    default_threads,
    run_search,
)
from session_core.errors import ExtensionUnavailableError, InvalidInputError

__all__ = [
    "target",
    "payload",
    "solve",
    "solve_async",
    "verify",
    "message_hash",
    "expected_trials",
    "encode_nonce",
    "decode_nonce",
    "kernels",
    "backend_info",
    "CancelToken",
    "SolveProgress",
]

_EXTENSION = "session_core.pow._pow_c"
_c: Any = load_extension("pow", _EXTENSION)
_impl: Any = _c if _c is not None else _pow_py


def _find_openssl_sha512() -> tuple[int, int, int, int] | None:
    """libcrypto's SHA512_Init/Update/Final (+ SHA512_Transform, 0 if absent), through hashlib's copy.

    verify() hashes the whole payload (hundreds of bytes) and then one trial
    block; OpenSSL's assembly does both about twice as fast as portable C.
    Opening ``_hashlib``'s own file makes dlsym search its dependencies, so no
    second libcrypto is loaded and none is needed to build.
    """
    import ctypes

    try:
        import _hashlib

        lib = ctypes.CDLL(_hashlib.__file__)
        names = ("SHA512_Init", "SHA512_Update", "SHA512_Final")
        found = [ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0 for name in names]
    except (ImportError, OSError, AttributeError):
        return None
    try:  # deprecated in OpenSSL 3: may vanish, then our C runs the trial block
        transform = ctypes.cast(lib.SHA512_Transform, ctypes.c_void_p).value or 0
    except AttributeError:
        transform = 0
    return found[0], found[1], found[2], transform


if _c is not None:
    _found = _find_openssl_sha512()
    if _found and all(_found[:3]):
        _c.use_openssl_sha512(*_found)

decode_nonce = fields.decode_nonce
encode_nonce = fields.encode_nonce
payload = fields.payload


def target(payload_len: int, ttl_ms: int, difficulty: int) -> int:
    """The largest valid trial value + 1 for a payload of *payload_len* bytes.

    ``payload_len`` is the length of the payload (timestamp, TTL, pubkey and
    data strings together), as Session Desktop's ``calcTarget``.  Longer
    payloads, longer TTLs and higher difficulty all make the target smaller.
    """
    return fields.target(payload_len, ttl_ms, difficulty)


def expected_trials(target_value: int) -> float:
    """Average number of trials to find a nonce below *target_value*."""
    if target_value <= 0:
        return float("inf")
    return (1 << 64) / target_value


def _resolve(difficulty: int, timestamp_ms: int | str, ttl_ms: int | str, pubkey: str,
             data: str) -> tuple[bytes, int]:
    raw = payload(timestamp_ms, ttl_ms, pubkey, data)
    return raw, fields.target(len(raw), ttl_ms, difficulty)  # type: ignore[arg-type]


def solve(
    timestamp_ms: int | str,
    ttl_ms: int | str,
    pubkey: str,
    data: str,
    difficulty: int,
    *,
    threads: int | None = None,
    start: int = 0,
    timeout: float | None = None,
    cancel: CancelLike | None = None,
    progress: Callable[[SolveProgress], Any] | None = None,
    progress_interval: float = 0.25,
    kernel: str | None = None,
    span: int | None = None,
) -> str:
    """Find a valid nonce; return it as the 12-character base64 string to send.

    threads:   worker threads (default: every CPU this process may use).  The
               answer is the first valid nonce from *start* for any value.
    start:     first nonce tried (0..2^64-1); the search wraps modulo 2^64.
    timeout:   seconds; raises :class:`~session_core.errors.SolveTimeoutError`.
    cancel:    a :class:`CancelToken` or ``threading.Event``; once set from any
               thread the solve raises :class:`~session_core.errors.SolveCancelledError`
               within about a millisecond.
    progress:  called from the calling thread every *progress_interval* seconds
               with a :class:`SolveProgress` (trials, rate, expected work).
    kernel:    force one SIMD kernel by name (see :func:`kernels`); default the best.
    span:      search only this many nonces; raises
               :class:`~session_core.errors.NonceSpaceExhaustedError` if none is valid.

    Misuse warning: the timestamp you pass must be the one you send; the node
    rejects messages whose timestamp is more than 10 s ahead of its clock, so a
    solve that takes long should be redone with a fresh timestamp.
    """
    raw, tgt = _resolve(difficulty, timestamp_ms, ttl_ms, pubkey, data)
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= fields.U64_MAX:
        raise InvalidInputError(f"start must be an int in 0..2^64-1, got {start!r:.40}")
    if threads is None:
        threads = default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidInputError(f"threads must be an int >= 1, got {threads!r:.40}")
    if span is not None and (isinstance(span, bool) or not isinstance(span, int) or not 1 <= span <= 1 << 64):
        raise InvalidInputError(f"span must be an int in 1..2^64, got {span!r:.40}")
    if timeout is not None and not isinstance(timeout, (int, float)):
        raise InvalidInputError(f"timeout must be a number of seconds, got {timeout!r:.40}")
    if _c is None:
        threads = 1  # hashlib holds the GIL on 72-byte inputs: more threads only add overhead
    search = _impl.Search(
        _impl.sha512(raw), tgt, start, 0 if span in (None, 1 << 64) else span, BLOCK, kernel
    )
    nonce = run_search(
        search,
        threads=threads,
        expected=expected_trials(tgt),
        timeout=timeout,
        cancel=cancel,
        progress=progress,
        progress_interval=progress_interval,
    )
    return fields.encode_nonce(nonce)


async def solve_async(
    timestamp_ms: int | str,
    ttl_ms: int | str,
    pubkey: str,
    data: str,
    difficulty: int,
    **options: Any,
) -> str:
    """Awaitable :func:`solve`: runs in a worker thread, the event loop stays free.

    Cancelling the awaiting task stops the search within about a millisecond.
    Takes the same keyword options as :func:`solve` (``cancel`` must then be a
    :class:`CancelToken` if given).
    """
    import asyncio  # here, not at the top: it is most of this module's import time

    own = CancelToken()
    user_cancel = options.pop("cancel", None)
    unsubscribe = None
    if isinstance(user_cancel, CancelToken):
        unsubscribe = user_cancel._subscribe(own.cancel)
    elif user_cancel is not None:
        raise InvalidInputError("solve_async takes a CancelToken as cancel= (or cancel the task)")
    call = functools.partial(solve, timestamp_ms, ttl_ms, pubkey, data, difficulty,
                             cancel=own, **options)
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        own.cancel()
        raise
    finally:
        if unsubscribe is not None:
            unsubscribe()


def verify(
    nonce: str,
    timestamp_ms: int | str,
    ttl_ms: int | str,
    pubkey: str,
    data: str,
    difficulty: int,
) -> bool:
    """True when *nonce* is a valid proof of work for these fields (strict ``<`` target)."""
    if _c is not None:
        fast = _c.verify_fast(nonce, timestamp_ms, ttl_ms, pubkey, data, difficulty)
        if fast >= 0:
            return bool(fast)
    value = fields.decode_nonce(nonce)
    raw, tgt = _resolve(difficulty, timestamp_ms, ttl_ms, pubkey, data)
    return bool(_impl.payload_trial_value(raw, value) < tgt)


def message_hash(nonce: str, timestamp_ms: int | str, ttl_ms: int | str, pubkey: str,
                 data: str) -> str:
    """The message's id in the PoW era: lowercase hex of H (128 characters, docs/interop.md §1.7)."""
    value = fields.decode_nonce(nonce)
    raw = payload(timestamp_ms, ttl_ms, pubkey, data)
    return str(_impl.trial_hash(_impl.sha512(raw), value).hex())


def verified_message_hash(nonce: str, timestamp_ms: int | str, ttl_ms: int | str, pubkey: str,
                          data: str, difficulty: int) -> str | None:
    """:func:`message_hash` if :func:`verify` holds, else None, in one pass.

    The payload is hashed once and the trial that decides validity is the hash
    returned (``verify`` then ``message_hash`` hash it twice).  Pass the strings
    exactly as sent (a node passes the ``store`` request's ``timestamp`` and
    ``ttl`` text); errors for malformed fields are those of :func:`verify`.
    """
    if _c is not None:
        fast = _c.verified_hash_fast(nonce, timestamp_ms, ttl_ms, pubkey, data, difficulty)
        if fast != -1:
            return fast  # type: ignore[no-any-return]
    value = fields.decode_nonce(nonce)
    raw, tgt = _resolve(difficulty, timestamp_ms, ttl_ms, pubkey, data)
    h: bytes = _impl.payload_trial_hash(raw, value)
    return h.hex() if int.from_bytes(h[:8], "big") < tgt else None


def kernels() -> list[str]:
    """Names of the kernels this CPU can run, best first (``["python"]`` without C)."""
    return list(_impl.supported_kernels())


def backend_info() -> dict[str, Any]:
    """Which implementation and kernel :func:`solve` uses here."""
    info: dict[str, Any] = {
        "implementation": "c" if _c is not None else "python",
        "kernel": _impl.best_kernel(),
        "kernels": [
            {"name": name, "lanes": lanes, "supported": ok} for name, lanes, ok in _impl.kernels()
        ],
        "threads": default_threads(),
    }
    if _c is not None:
        info["payload_sha512"] = _c.payload_sha512_provider()
        info["trial_sha512"] = _c.trial_sha512_provider()
    if _c is None:
        error = load_error("pow")
        info["reason"] = error or "SESSION_CORE_NO_EXTENSIONS is set"
    return info


def _select(name: str) -> Callable[[], None]:
    """Switch this core to "c" or "python" (see :func:`session_core._backend.use`)."""
    global _impl, _c
    previous = (_impl, _c)
    if name == "python":
        _impl, _c = _pow_py, None
    else:
        ext = load_extension("pow", _EXTENSION)
        if ext is None:
            raise ExtensionUnavailableError(f"the C extension {_EXTENSION} is not built")
        _impl, _c = ext, ext

    def restore() -> None:
        global _impl, _c
        _impl, _c = previous

    return restore


_backend.register_selector("pow", _select)


