"""TEMPORARY stand-in for session_core.pow (INTEROP §1.1-1.3); deleted once it lands."""

from __future__ import annotations

import base64
import binascii
import hashlib


def target(payload_len: int, ttl_ms: int, difficulty: int) -> int:
    total = payload_len + 8
    return (2**64 - 1) // (difficulty * (total + ((ttl_ms // 1000) * total) // 65535))


def _h(nonce: str, timestamp_ms: int, ttl_ms: int, pubkey: str, data: str) -> tuple[bytes, int]:
    try:
        raw = base64.b64decode(nonce, validate=True)
    except binascii.Error as exc:
        raise ValueError("bad nonce") from exc
    if len(raw) != 8:
        raise ValueError("bad nonce")
    payload = f"{timestamp_ms}{ttl_ms}{pubkey}{data}".encode("ascii")
    return hashlib.sha512(raw + hashlib.sha512(payload).digest()).digest(), len(payload)


def verify(nonce: str, timestamp_ms: int, ttl_ms: int, pubkey: str, data: str, difficulty: int) -> bool:
    h, n = _h(nonce, timestamp_ms, ttl_ms, pubkey, data)
    return int.from_bytes(h[:8], "big") < target(n, ttl_ms, difficulty)


def message_hash(nonce: str, timestamp_ms: int, ttl_ms: int, pubkey: str, data: str) -> str:
    return _h(nonce, timestamp_ms, ttl_ms, pubkey, data)[0].hex()


def solve(timestamp_ms: int, ttl_ms: int, pubkey: str, data: str, difficulty: int, **_: object) -> str:
    n = 0
    while True:
        nonce = base64.b64encode(n.to_bytes(8, "big")).decode()
        if verify(nonce, timestamp_ms, ttl_ms, pubkey, data, difficulty):
            return nonce
        n += 1
