"""Checking and encoding the proof-of-work fields (docs/interop.md §1.1, §1.3, §1.4).

The payload is built from the exact strings a client sends in its ``store``
request, so integers are accepted either as ``int`` or as the decimal string
that was sent (used verbatim: "0123" stays "0123", as the server hashed it).
"""

from __future__ import annotations

import binascii

from session_core.errors import (
    InvalidDataError,
    InvalidDifficultyError,
    InvalidNonceError,
    InvalidPubkeyError,
    InvalidTimestampError,
    InvalidTTLError,
    PowInputError,
)

U64_MAX = (1 << 64) - 1
NONCE_LEN = 8
_HEX = frozenset(b"0123456789abcdefABCDEF")


def decimal_field(value: object, name: str, error: type[PowInputError]) -> bytes:
    """ASCII decimal digits of a non-negative integer given as int or decimal str."""
    if isinstance(value, bool):
        raise error(f"{name} must be an integer, not a bool")
    if isinstance(value, int):
        if value < 0:
            raise error(f"{name} must not be negative, got {value}")
        return str(value).encode("ascii")
    if isinstance(value, str):
        if value.isascii() and value.isdigit():
            return value.encode("ascii")
        raise error(f"{name} must be a non-negative decimal integer, got {value!r:.40}")
    raise error(f"{name} must be an int or a decimal str, got {type(value).__name__}")


def ttl_value(ttl_ms: object) -> tuple[bytes, int]:
    text = decimal_field(ttl_ms, "ttl_ms", InvalidTTLError)
    return text, int(text)


def pubkey_field(pubkey: object) -> bytes:
    if not isinstance(pubkey, str):
        raise InvalidPubkeyError(f"pubkey must be a hex str, got {type(pubkey).__name__}")
    if not pubkey.isascii():
        raise InvalidPubkeyError("pubkey must be ASCII hex, found a non-ASCII character")
    raw = pubkey.encode("ascii")
    if not raw or not _HEX.issuperset(raw):
        raise InvalidPubkeyError(f"pubkey must be a non-empty hex string, got {pubkey!r:.80}")
    return raw


def data_field(data: object) -> bytes:
    if not isinstance(data, str):
        raise InvalidDataError(f"data must be the base64 str as sent, got {type(data).__name__}")
    if not data.isascii():
        raise InvalidDataError("data must be ASCII (base64 text), found a non-ASCII character")
    return data.encode("ascii")


def difficulty_value(difficulty: object) -> int:
    if isinstance(difficulty, bool) or not isinstance(difficulty, int):
        raise InvalidDifficultyError(
            f"difficulty must be an int >= 1, got {type(difficulty).__name__}"
        )
    if difficulty < 1:
        raise InvalidDifficultyError(f"difficulty must be >= 1, got {difficulty}")
    return difficulty


def payload(timestamp_ms: object, ttl_ms: object, pubkey: object, data: object) -> bytes:
    """timestamp || ttl || pubkey || data, all as the ASCII strings sent (docs/interop.md §1.1)."""
    return b"".join(
        (
            decimal_field(timestamp_ms, "timestamp_ms", InvalidTimestampError),
            decimal_field(ttl_ms, "ttl_ms", InvalidTTLError),
            pubkey_field(pubkey),
            data_field(data),
        )
    )


def target(payload_len: int, ttl_ms: int, difficulty: int) -> int:
    """(2^64 - 1) // (D * (L + (ttl_s * L) // 65535)), L = payload_len + 8 (docs/interop.md §1.3)."""
    if isinstance(payload_len, bool) or not isinstance(payload_len, int) or payload_len < 0:
        raise PowInputError(f"payload_len must be a non-negative int, got {payload_len!r:.40}")
    _, ttl = ttl_value(ttl_ms)
    d = difficulty_value(difficulty)
    total_len = payload_len + NONCE_LEN
    inner = ((ttl // 1000) * total_len) // 65535
    return U64_MAX // (d * (total_len + inner))


def decode_nonce(nonce: object) -> int:
    """Padded standard base64 of 8 bytes -> the big-endian integer (docs/interop.md §1.4)."""
    if isinstance(nonce, bytes):
        raise InvalidNonceError("nonce must be the base64 str as sent, not raw bytes")
    if not isinstance(nonce, str):
        raise InvalidNonceError(f"nonce must be a base64 str, got {type(nonce).__name__}")
    if len(nonce) != 12 or not nonce.isascii():
        raise InvalidNonceError(
            f"nonce must be 12 characters of padded base64 (8 bytes), got {nonce!r:.40}"
        )
    try:
        raw = binascii.a2b_base64(nonce, strict_mode=True)
    except binascii.Error as exc:
        raise InvalidNonceError(f"nonce is not valid base64: {exc}") from None
    if len(raw) != NONCE_LEN:
        raise InvalidNonceError(f"nonce must decode to 8 bytes, got {len(raw)}")
    return int.from_bytes(raw, "big")


def encode_nonce(value: int) -> str:
    return binascii.b2a_base64((value & U64_MAX).to_bytes(NONCE_LEN, "big"), newline=False).decode()
