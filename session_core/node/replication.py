"""Replication batches between swarm members (docs/interop.md §4.6), sans-IO.

The wire format is the 2.0.x one (all integers u64 little-endian), repeated per
message: ``pubkey (66 ASCII, no length) | len+hash | len+data | ttl | timestamp |
len+nonce``.  A receiver never trusts a batch: :func:`verify` recomputes the PoW
hash, checks it against the hash that was sent and checks TTL, expiry and the
difficulty that was valid at the message's timestamp (docs/interop.md §1.5).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from session_core.errors import ReplicationBatchError
from session_core.node import powcheck
from session_core.node.difficulty import DifficultyTracker
from session_core.node.message import Message
from session_core.node.storage_rpc import _HEX, FUTURE_TOLERANCE_MS, MAX_MESSAGE_BODY, MIN_TTL_MS
from session_core.protocol.groups import wire as group_wire

BATCH_SIZE = 500_000  # upstream: start a new batch past this many bytes
_U64 = struct.Struct("<Q")
_MAX_FIELD = MAX_MESSAGE_BODY + 1024  # nothing legitimate is longer


def _field(b: str) -> bytes:
    raw = b.encode("ascii")
    return _U64.pack(len(raw)) + raw


def serialize(msg: Message) -> bytes:
    return b"".join(
        (
            msg.pubkey.encode("ascii"),
            _field(msg.hash),
            _field(msg.data),
            _U64.pack(msg.ttl),
            _U64.pack(msg.timestamp),
            _field(msg.nonce),
        )
    )


def serialize_batches(msgs: Iterable[Message], max_bytes: int = BATCH_SIZE) -> list[bytes]:
    """Cut *msgs* into blobs; a blob is closed once it exceeds *max_bytes*."""
    batches: list[bytes] = []
    cur: list[bytes] = []
    size = 0
    for m in msgs:
        part = serialize(m)
        cur.append(part)
        size += len(part)
        if size > max_bytes:
            batches.append(b"".join(cur))
            cur, size = [], 0
    if cur:
        batches.append(b"".join(cur))
    return batches


class _Reader:
    def __init__(self, blob: bytes) -> None:
        self.blob, self.pos = blob, 0

    def take(self, n: int) -> bytes:
        if n > len(self.blob) - self.pos:
            raise ReplicationBatchError(f"replication batch truncated at byte {self.pos}")
        out = self.blob[self.pos : self.pos + n]
        self.pos += n
        return out

    def u64(self) -> int:
        (v,) = _U64.unpack(self.take(8))
        return int(v)

    def text(self) -> str:
        n = self.u64()
        if n > _MAX_FIELD:
            raise ReplicationBatchError(f"replication batch field of {n} bytes is too long")
        try:
            return self.take(n).decode("ascii")
        except UnicodeDecodeError:
            raise ReplicationBatchError("replication batch field is not ASCII") from None


def parse_batch(blob: bytes) -> list[Message]:
    """Decode a batch; raises :class:`ReplicationBatchError` on any malformation."""
    r = _Reader(blob)
    out: list[Message] = []
    while r.pos < len(blob):
        try:
            pk = r.take(66).decode("ascii")
        except UnicodeDecodeError:
            raise ReplicationBatchError("replication batch pubkey is not ASCII") from None
        h, data = r.text(), r.text()
        ttl, ts = r.u64(), r.u64()
        nonce = r.text()
        out.append(Message(pubkey=pk, hash=h, data=data, ttl=ttl, timestamp=ts, nonce=nonce))
    return out


def verify(msg: Message, now_ms: int, difficulty: DifficultyTracker, max_ttl_ms: int) -> bool:
    """Would we have accepted this message ourselves (with the difficulty of its time)?"""
    if not MIN_TTL_MS <= msg.ttl <= max_ttl_ms:
        return False
    if msg.timestamp > now_ms + FUTURE_TOLERANCE_MS or msg.expiration <= now_ms:
        return False
    if len(msg.data) > MAX_MESSAGE_BODY:
        return False
    if len(msg.pubkey) != 66 or not _HEX.issuperset(msg.pubkey):
        return False
    if group_wire.node_refusal(msg.pubkey, msg.data) is not None:
        return False  # a forged group control record does not get in by replication either
    d = difficulty.for_replicated(msg.timestamp, now_ms)
    # check() returns the recomputed hash: it must be the one the peer claimed.
    return powcheck.check(msg.nonce, str(msg.timestamp), str(msg.ttl), msg.pubkey, msg.data, d) == msg.hash
