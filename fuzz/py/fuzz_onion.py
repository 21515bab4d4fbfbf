"""Fuzz target: onion.peel / open_request / peel_many on both backends, which must agree.

First byte: bit 0 = wrap the rest as the plaintext of a layer for the test key (so the
decrypted-layer parser is reached), bit 1 = enc_type, bits 2-6 = hop.  Any exception other
than an OnionError, or any difference between the C and the pure-Python backend, is a crash.
"""

from __future__ import annotations

from typing import Any

from harness import atheris, SECRET, main, wrap

with atheris.instrument_imports():
    from session_core import _backend, onion
    from session_core.errors import OnionError
    from session_core.onion import api as onion_api


def summary(result: Any) -> tuple[Any, ...]:
    if isinstance(result, onion.Relay):
        return ("relay", result.next_ed25519, result.body, result.hop)
    if isinstance(result, onion.Final):
        return ("final", result.payload, dict(result.meta), result.reply.key, result.reply.enc)
    if isinstance(result, onion.Exit):
        return ("exit", result.host, result.target, result.port, result.protocol, result.method, result.body)
    assert isinstance(result, OnionError), result
    return ("error", type(result).__name__, result.status, result.body, result.reply is not None)


def outcomes(body: bytes, hop: int) -> list[tuple[Any, ...]]:
    out = []
    for call in (lambda: onion.peel(body, SECRET, hop=hop), lambda: onion.open_request(body, SECRET)):
        try:
            out.append(summary(call()))
        except OnionError as exc:
            out.append(summary(exc))
    out.extend(summary(r) for r in onion.peel_many([body, body], SECRET, threads=1, hop=hop))
    return out


def test_one(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0], data[1:]
    hop = (mode >> 2) & 0x1F
    body = wrap(rest, (mode >> 1) & 1, mode) if mode & 1 else rest
    with _backend.use("c", "onion"):
        c = outcomes(body, hop)
    with _backend.use("python", "onion"):
        py = outcomes(body, hop)
    if c != py:
        raise AssertionError(f"backends disagree:\n  c:  {c}\n  py: {py}")


if __name__ == "__main__":
    if onion_api._c is None:
        raise SystemExit("the onion C extension is not loaded: nothing to compare")
    print(f"fuzz_onion: C backend from {onion_api._c.__file__}", flush=True)
    main(test_one)
