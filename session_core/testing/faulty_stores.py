"""Message stores that misbehave, wrapped around a node's real store (test aids).

- :class:`DroppingStore` acknowledges every store (from clients and peers) and keeps nothing.
  With ``relay=True`` it still reports each message as new, so the node replicates it to its
  swarm as usual (a node that loses its disk: it fails its storage tests, the swarm keeps the
  data); with ``relay=False`` it reports each as already held, so nothing leaves the node
  either (a node swallowing messages: a client that trusted its 200 must use other copies).
- :class:`TamperingStore` stores honestly but flips one byte in the middle of every message
  ``retrieve`` returns, so the recipient must detect the bad copy and use another.
"""

from __future__ import annotations

import base64
import dataclasses
import random
from collections.abc import Iterable, Iterator

from session_core.node.message import Message
from session_core.node.store import MessageStore

__all__ = ["DroppingStore", "TamperingStore"]


class _Wrapped:
    """Passes everything to the wrapped store; subclasses override what they fake."""

    def __init__(self, inner: MessageStore) -> None:
        self.inner = inner

    def save_if_new(self, msg: Message) -> bool:
        return self.inner.save_if_new(msg)

    def save_each(self, msgs: list[Message]) -> list[bool]:
        return self.inner.save_each(msgs)

    def save_many(self, msgs: Iterable[Message]) -> int:
        return self.inner.save_many(msgs)

    def retrieve(self, pubkey: str, last_hash: str, limit: int, now_ms: int) -> list[Message]:
        return self.inner.retrieve(pubkey, last_hash, limit, now_ms)

    def get(self, msg_hash: str, now_ms: int) -> Message | None:
        return self.inner.get(msg_hash, now_ms)

    def messages(self, now_ms: int) -> Iterator[Message]:
        return self.inner.messages(now_ms)

    def messages_after(self, after_id: int, limit: int, now_ms: int) -> list[tuple[int, Message]]:
        return self.inner.messages_after(after_id, limit, now_ms)

    def random_message(self, now_ms: int, rng: random.Random) -> Message | None:
        return self.inner.random_message(now_ms, rng)

    def count(self, now_ms: int) -> int:
        return self.inner.count(now_ms)

    def purge_expired(self, now_ms: int) -> int:
        return self.inner.purge_expired(now_ms)

    def expire(self, owner: str, hashes: list[str], expiry_ms: int, now_ms: int,
               proof: bytes | None = None) -> tuple[list[str], dict[str, int]]:
        return self.inner.expire(owner, hashes, expiry_ms, now_ms, proof)

    def expiry_proofs_after(self, after_id: int, limit: int, now_ms: int) -> list[tuple[int, str, bytes]]:
        return self.inner.expiry_proofs_after(after_id, limit, now_ms)

    def refusal(self, msg: Message, now_ms: int) -> str | None:
        return self.inner.refusal(msg, now_ms)

    def close(self) -> None:
        self.inner.close()


class DroppingStore(_Wrapped):
    def __init__(self, inner: MessageStore, *, relay: bool) -> None:
        super().__init__(inner)
        self.relay = relay

    def save_if_new(self, msg: Message) -> bool:
        return self.relay

    def save_each(self, msgs: list[Message]) -> list[bool]:
        return [self.relay] * len(msgs)

    def save_many(self, msgs: Iterable[Message]) -> int:
        return len(list(msgs)) if self.relay else 0


class TamperingStore(_Wrapped):
    def retrieve(self, pubkey: str, last_hash: str, limit: int, now_ms: int) -> list[Message]:
        return [_flip_middle_byte(m) for m in self.inner.retrieve(pubkey, last_hash, limit, now_ms)]


def _flip_middle_byte(msg: Message) -> Message:
    raw = bytearray(base64.b64decode(msg.data))
    if not raw:
        return msg
    raw[len(raw) // 2] ^= 0x55
    return dataclasses.replace(msg, data=base64.b64encode(bytes(raw)).decode("ascii"))
