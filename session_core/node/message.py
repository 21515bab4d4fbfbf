"""A stored message as the storage server keeps it (docs/interop.md §4.2, §4.6).

All fields are the exact strings the client sent (they are part of the proof of
work payload, so they must never be re-formatted); ``timestamp`` and ``ttl``
are also kept as integers for expiry arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    pubkey: str  # recipient, 66 hex chars with the network prefix
    hash: str  # 128 lowercase hex chars: the PoW hash H (docs/interop.md §1.7)
    data: str  # base64 text, never decoded by the node
    ttl: int  # milliseconds
    timestamp: int  # milliseconds since the Unix epoch, as chosen by the client
    nonce: str  # base64 of the 8-byte PoW nonce
    #: Set by a store when the owner's ``expire`` brought the expiry forward (never part of
    #: the proof of work, never replicated as such: peers get the owner's signed proof).
    shortened_to: int | None = None

    @property
    def expiration(self) -> int:
        """Milliseconds since the epoch after which the message is gone (the current expiry:
        what ``retrieve`` reports, as oxen-storage-server does after an ``expire``)."""
        return self.timestamp + self.ttl if self.shortened_to is None else self.shortened_to

    @property
    def paid_expiration(self) -> int:
        """The expiry the proof of work paid for (timestamp + TTL)."""
        return self.timestamp + self.ttl

    def wire_size(self) -> int:
        """Approximate serialized size, used to cut replication batches."""
        return len(self.pubkey) + len(self.hash) + len(self.data) + len(self.nonce) + 48
