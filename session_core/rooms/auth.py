"""X-SOGS-* request authentication (session-pysogs ``routes/auth.py``).

Every request carries four headers: ``X-SOGS-Pubkey`` ("15" + the blinded Ed25519 key, hex),
``X-SOGS-Nonce`` (16 random bytes, base64 or hex), ``X-SOGS-Timestamp`` (unix seconds, decimal)
and ``X-SOGS-Signature`` (64 bytes, base64 or hex) over::

    SERVER_PUBKEY (32) ‖ NONCE (16) ‖ TIMESTAMP (the header's digits) ‖ METHOD ‖ PATH[?QUERY] ‖ HBODY

where HBODY is BLAKE2b-512 of the body when there is one, and nothing otherwise.  A batch is
signed once, on the outer request.  What the server adds — timestamp window, nonce reuse, bans
— is in :mod:`session_core.opengroup.auth`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from session_core.blinding import BlindedKeyPair, parse_blinded_id, verify_blinded
from session_core.errors import BlindingError, RoomAuthError

__all__ = ["AuthHeaders", "HEADERS", "parse_auth_headers", "sign_request", "signature_message"]

HEADERS = ("X-SOGS-Pubkey", "X-SOGS-Nonce", "X-SOGS-Timestamp", "X-SOGS-Signature")


def signature_message(server_pk: bytes, nonce: bytes, timestamp: str, method: str, path: str,
                      body: bytes | None) -> bytes:
    parts = [server_pk, nonce, timestamp.encode(), method.encode(), path.encode()]
    if body:
        parts.append(hashlib.blake2b(body, digest_size=64).digest())
    return b"".join(parts)


def sign_request(keys: BlindedKeyPair, server_pk: bytes, method: str, path: str, body: bytes | None = None, *,
                 timestamp: int, nonce: bytes | None = None) -> dict[str, str]:
    """The four headers for a request (``path`` with its query string, as sent)."""
    nonce = os.urandom(16) if nonce is None else nonce
    ts = str(int(timestamp))
    sig = keys.sign(signature_message(server_pk, nonce, ts, method.upper(), path, body))
    return {"X-SOGS-Pubkey": keys.blinded_id, "X-SOGS-Nonce": base64.b64encode(nonce).decode(),
            "X-SOGS-Timestamp": ts, "X-SOGS-Signature": base64.b64encode(sig).decode()}


def _decode(value: str, size: int, what: str) -> bytes:
    """Hex or (padded or unpadded, standard or URL-safe) base64 of exactly *size* bytes."""
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise RoomAuthError(f"{what} must be {size} bytes in hex or base64")
    return raw


@dataclass(frozen=True)
class AuthHeaders:
    blinded_id: str
    nonce: bytes
    timestamp: int
    timestamp_text: str
    signature: bytes

    def verify(self, server_pk: bytes, method: str, path: str, body: bytes | None) -> bool:
        msg = signature_message(server_pk, self.nonce, self.timestamp_text, method, path, body)
        return verify_blinded(self.blinded_id, msg, self.signature)


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RoomAuthError(f"{name} must be a string")
    return value


def parse_auth_headers(headers: Mapping[str, Any]) -> AuthHeaders | None:
    """The authentication of a request; ``None`` when it carries none of the four headers."""
    pk, nonce, ts, sig = (_header(headers, h) for h in HEADERS)
    missing = sum(v is None for v in (pk, nonce, ts, sig))
    if missing == 4:
        return None
    if missing:
        raise RoomAuthError(f"missing {missing} of the 4 X-SOGS-* authentication headers")
    assert pk is not None and nonce is not None and ts is not None and sig is not None
    blinded = pk.lower()
    if len(blinded) == 66 and blinded.startswith("00"):
        raise RoomAuthError("unblinded (00…) X-SOGS-Pubkey is not accepted: this server requires blinded IDs")
    try:
        parse_blinded_id(blinded)
    except BlindingError as exc:
        raise RoomAuthError(f"X-SOGS-Pubkey: {exc}") from None
    if not ts.isascii() or not ts.isdigit() or len(ts) > 12:
        raise RoomAuthError("X-SOGS-Timestamp must be a unix time in decimal digits")
    return AuthHeaders(blinded, _decode(nonce, 16, "X-SOGS-Nonce"), int(ts), ts,
                       _decode(sig, 64, "X-SOGS-Signature"))
