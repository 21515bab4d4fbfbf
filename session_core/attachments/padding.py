"""Attachment size buckets (whitepaper 5.3): every stored blob has one of a fixed set of sizes.

Theory of operation
-------------------
Padding is chosen so that the *encrypted blob* (what the file server stores and every relay
sees) is exactly a bucket size, not the plaintext.  The Session attachment format adds
``OVERHEAD`` = 64 bytes to a plaintext whose length is a multiple of 16: a 16-byte IV, one
full PKCS#7 block and a 32-byte MAC.  So a plaintext is zero-filled to ``bucket - 64`` bytes.

The buckets (all multiples of 16):

* powers of two from 512 B to 64 KiB (small files: few classes, coarse sizes);
* above 64 KiB a geometric series, ``next = floor16(1.05 * (b - 63))``, which keeps the
  stored size within 5 % of the plaintext size for every file of 64 KiB or more
  (``blob / plaintext <= 1.05``, the same factor as Signal's size classes);
* capped at :data:`CHUNK_BLOB` (4 MiB), the size of every full chunk of a chunked file
  (:mod:`session_core.attachments.chunks`): larger files are split, never padded whole.

:data:`BUCKETS` is the complete, sorted tuple (94 sizes); ``docs/attachments.md`` lists it.
"""

from __future__ import annotations

from bisect import bisect_left

from session_core.errors import AttachmentInputError, AttachmentDecryptError

__all__ = ["BUCKETS", "CHUNK_BLOB", "OVERHEAD", "MAX_SINGLE_PLAINTEXT", "bucket_for", "pad", "unpad", "zero_fill"]

#: IV (16) + the PKCS#7 block a multiple-of-16 plaintext gets (16) + HMAC-SHA256 (32).
OVERHEAD = 64
#: The blob size of every full chunk, and the largest bucket.
CHUNK_BLOB = 4 * 1024 * 1024
#: The largest plaintext that goes as one blob; larger files are chunked.
MAX_SINGLE_PLAINTEXT = CHUNK_BLOB - OVERHEAD

_RATIO = 1.05


def _make_buckets() -> tuple[int, ...]:
    out = [1 << k for k in range(9, 17)]  # 512 B .. 64 KiB
    while out[-1] < CHUNK_BLOB:
        nxt = int(_RATIO * (out[-1] - OVERHEAD + 1)) // 16 * 16
        out.append(min(max(nxt, out[-1] + 16), CHUNK_BLOB))
    return tuple(out)


BUCKETS: tuple[int, ...] = _make_buckets()


def bucket_for(plaintext_size: int) -> int:
    """The blob size a plaintext of this many bytes is stored as."""
    if type(plaintext_size) is not int or plaintext_size < 0:
        raise AttachmentInputError("a plaintext size is an int >= 0")
    if plaintext_size > MAX_SINGLE_PLAINTEXT:
        raise AttachmentInputError(
            f"{plaintext_size} bytes do not fit one blob (at most {MAX_SINGLE_PLAINTEXT}): send it chunked"
        )
    return BUCKETS[bisect_left(BUCKETS, plaintext_size + OVERHEAD)]


def zero_fill(plaintext_size: int) -> int:
    """How many zero bytes pad a plaintext of this size to its bucket."""
    return bucket_for(plaintext_size) - OVERHEAD - plaintext_size


def pad(data: bytes) -> bytes:
    """Zero-fill ``data`` so that its encryption is exactly ``bucket_for(len(data))`` bytes."""
    target = bucket_for(len(data)) - OVERHEAD
    return bytes(data) + bytes(target - len(data))


def unpad(padded: bytes, size: int) -> bytes:
    """The first ``size`` bytes; everything after them must be the zero fill (as upstream's
    reader demands), else the pointer's size is a lie and :class:`AttachmentDecryptError`."""
    if type(size) is not int or not 0 <= size <= len(padded):
        raise AttachmentDecryptError(f"the attachment is {len(padded)} bytes, shorter than its stated size {size}")
    view = memoryview(padded)
    tail = view[size:]
    if tail.nbytes and bytes(tail).count(0) != tail.nbytes:
        raise AttachmentDecryptError("the bytes after the attachment's stated size are not zero padding")
    return bytes(view[:size])
