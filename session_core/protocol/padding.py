"""Message padding of plaintext protobufs before encryption (docs/interop.md §6.2).

The 2020 client (``MessageEncrypter.padPlainTextBuffer``) appends a 0x80 terminator and fills
with zeros up to ``ceil((len + 2) / 160) * 160 - 1`` bytes.  The ``- 1`` reproduces that code's
off-by-one, so padded sizes are 159, 319, 479, ...  Unpadding strips trailing zeros and requires
the 0x80 terminator.  Sizes are therefore hidden within 160-byte buckets.
"""

from __future__ import annotations

from session_core.errors import PaddingError

__all__ = ["BLOCK", "padded_size", "pad", "unpad"]

BLOCK = 160
_TERMINATOR = 0x80


def padded_size(length: int) -> int:
    """Total size of a ``length``-byte message after padding (terminator included)."""
    if length < 0:
        raise ValueError("length must be >= 0")
    return -(-(length + 2) // BLOCK) * BLOCK - 1


def pad(message: bytes) -> bytes:
    """Append 0x80 and zero-fill to the padded size."""
    total = padded_size(len(message))
    return bytes(message) + b"\x80" + bytes(total - len(message) - 1)


def unpad(padded: bytes) -> bytes:
    """Strip the zero fill and the 0x80 terminator; :class:`PaddingError` if absent."""
    end = len(padded.rstrip(b"\x00"))
    if end == 0 or padded[end - 1] != _TERMINATOR:
        raise PaddingError("message padding has no 0x80 terminator")
    return bytes(padded[: end - 1])
