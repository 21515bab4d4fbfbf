"""The node-to-node message format: every request and reply is ONE ZMQ frame (sans-IO codec).

Why one frame: libzmq handles (and CURVE encrypts) every frame separately, so a multipart
message costs per part; measured on loopback, sending and receiving a 1-frame message costs
~16 us of process CPU against ~42 us for the 4-frame messages this replaced.

Layout (all integers little-endian)::

    offset  size  field
    0       1     version, 1
    1       1     kind: 0 request, 1 reply, 2 error (the peer could not read our request)
    2       8     request id (u64), chosen by the asker, echoed by the reply
    10      2     n, the number of parts (u16, at most MAX_PARTS)
    12      4*n   the length of each part (u32)
    12+4n   ...   the parts, back to back; nothing may follow them

A request's first part is its command (``onion``, ``data``, ...); an error's only part is the
reason, as text.  :func:`decode` refuses anything else with a :class:`PeerFrameError` that says
what is wrong and, when it could be read, carries the request id so the receiver can tell the
asker.  Decoding has no side effects.

Batches (kind 3)
----------------
A frame of kind 3, request id 0, carries 2 to :data:`MAX_BATCH` whole frames of the other
kinds as its parts; the receiver reads each as if it had come alone (:func:`unbatch`).  Why:
libzmq's I/O thread and CURVE spend a fixed cost per message (measured on loopback: 6.8 us of
receiver CPU per 500-byte message alone, 1.4 us each in batches of 16), more than a third of
what a relayed hop costs.  A busy relay has many requests for the same next hop, and replies
for the same asker, in one read pass; it sends them as one message.  A malformed batch is
refused whole; a malformed frame inside a well-formed batch is refused on its own, like a
frame that came alone.  Batches do not nest.
"""

from __future__ import annotations

import struct

from session_core.errors import PeerFrameError

VERSION = 1
REQUEST, REPLY, ERROR, BATCH = 0, 1, 2, 3
_KINDS = (REQUEST, REPLY, ERROR)
#: Most frames in one batch (and fewest: a single frame is sent as itself).
MAX_BATCH = 256
HEADER = 12
#: Most parts in one message: catch-up replies carry one part per replication batch (<= 500 kB).
MAX_PARTS = 4096
#: Largest frame accepted (a catch-up reply holds a whole swarm's records).
MAX_FRAME = 512 * 1024 * 1024

_HEAD = struct.Struct("<BBQH")
_LENS = [struct.Struct(f"<{i}I") for i in range(17)]  # the common part counts, precompiled
# Header and lengths in one go for 2- and 3-part messages (onion replies and requests): the
# relay's hot path spends more on Python calls than on bytes.
_FULL2 = struct.Struct("<BBQHII")
_FULL3 = struct.Struct("<BBQHIII")


def _lens(n: int) -> struct.Struct:
    return _LENS[n] if n < len(_LENS) else struct.Struct(f"<{n}I")


def encode(kind: int, req_id: int, parts: list[bytes]) -> bytes:
    """One frame holding *parts* (a ``ValueError`` subclass if they do not fit the format)."""
    n = len(parts)
    if n > MAX_PARTS or not 0 <= req_id < 1 << 64 or kind not in _KINDS:
        raise PeerFrameError(f"cannot encode a message of {n} parts, kind {kind}, request id {req_id}")
    if n == 2:
        a, b = parts
        frame = b"".join((_FULL2.pack(VERSION, kind, req_id, 2, len(a), len(b)), a, b))
    elif n == 3:
        a, b, c = parts
        frame = b"".join((_FULL3.pack(VERSION, kind, req_id, 3, len(a), len(b), len(c)), a, b, c))
    else:
        frame = b"".join([_HEAD.pack(VERSION, kind, req_id, n), _lens(n).pack(*map(len, parts)), *parts])
    if len(frame) > MAX_FRAME:
        raise PeerFrameError(f"message of {len(frame)} bytes exceeds the frame limit of {MAX_FRAME}")
    return frame


def encode_batch(frames: list[bytes]) -> bytes:
    """One batch frame carrying 2 to :data:`MAX_BATCH` whole frames (themselves not batches)."""
    if not 2 <= len(frames) <= MAX_BATCH:
        raise PeerFrameError(f"a batch carries 2 to {MAX_BATCH} frames, not {len(frames)}")
    n = len(frames)
    frame = b"".join([_HEAD.pack(VERSION, BATCH, 0, n), _lens(n).pack(*map(len, frames)), *frames])
    if len(frame) > MAX_FRAME:
        raise PeerFrameError(f"batch of {len(frame)} bytes exceeds the frame limit of {MAX_FRAME}")
    return frame


def is_batch(frame: bytes) -> bool:
    """True if *frame* claims to be a batch (:func:`unbatch` checks the rest)."""
    return len(frame) > 1 and frame[1] == BATCH and frame[0] == VERSION


def unbatch(frame: bytes) -> list[bytes]:
    """The frames a batch carries, each to be decoded as if it came alone;
    :class:`PeerFrameError` if the batch itself is malformed."""
    try:
        _, req_id, parts = _parse(frame, (BATCH,))
    except PeerFrameError as exc:
        raise PeerFrameError(f"malformed batch: {exc}") from None
    if req_id != 0 or not 2 <= len(parts) <= MAX_BATCH:
        raise PeerFrameError(f"malformed batch: request id {req_id}, {len(parts)} frames (2 to {MAX_BATCH})")
    for inner in parts:
        if is_batch(inner):
            raise PeerFrameError("malformed batch: a batch inside a batch")
    return parts


def frames(message: bytes) -> list[bytes]:
    """The frames one received message carries: a batch's (:func:`unbatch`, which raises for a
    malformed one), or the message itself."""
    return unbatch(message) if is_batch(message) else [message]


def decode(frame: bytes) -> tuple[int, int, list[bytes]]:
    """``(kind, request id, parts)`` of one frame; :class:`PeerFrameError` if it is malformed
    (a batch included: see :func:`unbatch`)."""
    return _parse(frame, _KINDS)


def _parse(frame: bytes, kinds: tuple[int, ...]) -> tuple[int, int, list[bytes]]:
    size = len(frame)
    if size < HEADER:
        raise PeerFrameError(f"truncated frame: {size} bytes, the header alone is {HEADER}")
    version, kind, req_id, n = _HEAD.unpack_from(frame)
    if version != VERSION:
        raise PeerFrameError(f"unknown frame version {version}")
    if kind not in kinds:
        raise PeerFrameError("unexpected batch" if kind == BATCH else f"unknown message kind {kind}", req_id)
    if size > MAX_FRAME:
        raise PeerFrameError(f"oversized frame: {size} bytes, the limit is {MAX_FRAME}", req_id)
    if n > MAX_PARTS:
        raise PeerFrameError(f"too many parts: {n}, the limit is {MAX_PARTS}", req_id)
    off = HEADER + 4 * n
    if size < off:
        raise PeerFrameError(f"truncated frame: {size} bytes cannot hold the lengths of {n} parts", req_id)
    # Slicing never reads past the end, so one check of the final offset covers every part.
    if n == 2:
        la, lb = _LENS[2].unpack_from(frame, HEADER)
        parts = [frame[off : off + la], frame[off + la : off + la + lb]]
        off += la + lb
    elif n == 3:
        la, lb, lc = _LENS[3].unpack_from(frame, HEADER)
        o2 = off + la + lb
        parts = [frame[off : off + la], frame[off + la : o2], frame[o2 : o2 + lc]]
        off = o2 + lc
    else:
        parts = []
        for ln in (_LENS[n] if n < 17 else _lens(n)).unpack_from(frame, HEADER):
            parts.append(frame[off : off + ln])
            off += ln
    if off != size:
        what = "truncated" if off > size else "trailing bytes in"
        raise PeerFrameError(f"{what} frame: parts of {off - HEADER - 4 * n} bytes declared, "
                             f"{size - HEADER - 4 * n} present", req_id)
    if n == 0 and kind == REQUEST:
        raise PeerFrameError("request without a command", req_id)
    if n != 1 and kind == ERROR:
        raise PeerFrameError(f"error message with {n} parts instead of 1", req_id)
    return kind, req_id, parts


__all__ = ["BATCH", "ERROR", "MAX_BATCH", "MAX_FRAME", "MAX_PARTS", "REPLY", "REQUEST", "VERSION", "decode",
           "encode", "encode_batch", "frames", "is_batch", "unbatch"]
