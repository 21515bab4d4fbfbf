"""Per-sender hash ratchets ("Sender Keys", whitepaper 5.1).

Every member of a generation has a chain.  Its start is derived from the generation key and the
member's key (so nobody has to hand out chains one by one: that would be O(N^2) messages per
rekey), then it only moves forward::

    message_key(n) = BLAKE2b(chain(n), person="sc-grp-msg")
    chain(n + 1)   = BLAKE2b(chain(n), person="sc-grp-chain")

and a used message key is forgotten, so whoever steals a member's state later cannot go back to
read earlier messages.  A receiver holds one :class:`ReceiveChain` per sender; a message that
arrives ahead of its turn leaves the keys it skipped behind, at most :data:`MAX_SKIPPED_KEYS` of
them (the oldest go first), and one message may not make us derive more than :data:`MAX_SKIP`.
Every method returns a new chain instead of changing this one, so a message that then fails to
authenticate changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from session_core.errors import DuplicateMessageError, TooManySkippedMessagesError

__all__ = ["MAX_SKIP", "MAX_SKIPPED_KEYS", "ReceiveChain", "SendChain", "chain_start"]

MAX_SKIP = 2000
MAX_SKIPPED_KEYS = 1000


def chain_start(generation_seed: bytes, member: bytes) -> bytes:
    return hashlib.blake2b(member, digest_size=32, key=generation_seed, person=b"sc-grp-start").digest()


def _message_key(chain: bytes) -> bytes:
    return hashlib.blake2b(chain, digest_size=32, person=b"sc-grp-msg").digest()


def _next(chain: bytes) -> bytes:
    return hashlib.blake2b(chain, digest_size=32, person=b"sc-grp-chain").digest()


@dataclass(frozen=True)
class SendChain:
    chain: bytes
    counter: int = 0

    def step(self) -> tuple[int, bytes, SendChain]:
        """``(counter, message key, next chain)`` for the next message we send."""
        return self.counter, _message_key(self.chain), SendChain(_next(self.chain), self.counter + 1)

    def to_json(self) -> dict[str, Any]:
        return {"chain": self.chain.hex(), "counter": self.counter}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SendChain:
        return cls(bytes.fromhex(d["chain"]), int(d["counter"]))


@dataclass(frozen=True)
class ReceiveChain:
    chain: bytes
    next_counter: int = 0
    skipped: dict[int, bytes] = field(default_factory=dict)

    def key_for(self, counter: int) -> tuple[bytes, ReceiveChain]:
        """The message key of ``counter`` and the chain to keep once that message authenticated."""
        if counter < self.next_counter:
            mk = self.skipped.get(counter)
            if mk is None:
                raise DuplicateMessageError(f"group message {counter} was already received (replay)")
            rest = dict(self.skipped)
            del rest[counter]
            return mk, ReceiveChain(self.chain, self.next_counter, rest)
        gap = counter - self.next_counter
        if gap > MAX_SKIP:
            raise TooManySkippedMessagesError(f"group message {counter} would skip {gap} keys (at most {MAX_SKIP})")
        skipped = dict(self.skipped)
        chain = self.chain
        for n in range(self.next_counter, counter):
            skipped[n] = _message_key(chain)
            chain = _next(chain)
        while len(skipped) > MAX_SKIPPED_KEYS:
            del skipped[next(iter(skipped))]  # insertion order is counter order: the oldest
        return _message_key(chain), ReceiveChain(_next(chain), counter + 1, skipped)

    def to_json(self) -> dict[str, Any]:
        return {"chain": self.chain.hex(), "next": self.next_counter,
                "skipped": {str(k): v.hex() for k, v in self.skipped.items()}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ReceiveChain:
        return cls(bytes.fromhex(d["chain"]), int(d["next"]),
                   {int(k): bytes.fromhex(v) for k, v in d["skipped"].items()})
