"""Owner-signed expiry proofs: how an ``expire`` travels from one swarm member to the others.

Theory of operation
-------------------
oxen-storage-server makes ``expire`` *recursive*: the member a client reaches hands the same
signed request to each other member of its swarm, and each member checks the owner's
signature itself before it shortens anything.  We do the same, but through the replicator
instead of a synchronous fan-out (the answer covers this member; peers follow within a
replication round, and a peer that was unreachable or down gets it later from the backlog or
the catch-up), so a proof must be able to outlive the client request:

- an :class:`ExpiryProof` is exactly what the owner signed (``pubkey``, ``pubkey_ed25519``,
  ``signature``, ``expiry``, ``shorten``, the hash list), nothing the forwarding node could
  change without breaking the signature.  A hostile peer can replay a proof the owner made (it
  only ever shortens to the time the owner chose) but cannot make one, widen one to other
  hashes or push an expiry later: stores only ever bring an expiry forward.
- on the wire between nodes each proof is one ZMQ frame of compact JSON (our own node-to-node
  format; upstream forwards the bt-encoded request over ``sn.storage_cc``);
- a member keeps the proof beside the messages it shortened (:meth:`MessageStore.expire`) until
  they are purged, so a member that was down gets it by catch-up;
- :class:`PendingExpiries` remembers, for a while, proofs naming messages this member does not
  hold yet (the message may still be on its way from another member): they apply on arrival.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from session_core.errors import ReplicationBatchError
from session_core.node.message import Message
from session_core.node.store import MessageStore
from session_core.protocol import storage_auth

__all__ = ["ExpiryProof", "ExpiryProofError", "PendingExpiries", "MAX_PROOF_BYTES", "MAX_PROOF_HASHES",
           "apply", "apply_pending"]

MAX_PROOF_HASHES = 1000  # = storage_rpc.MAX_EXPIRE_HASHES (a proof is one client request)
MAX_HASH_CHARS = 128
MAX_PROOF_BYTES = 200_000  # 1000 hashes of 128 characters plus the envelope, with room
_HEX = frozenset("0123456789abcdef")


class ExpiryProofError(ReplicationBatchError):
    """A forwarded expiry proof that is not even well-formed (the signature is checked apart)."""


@dataclass(frozen=True, slots=True)
class ExpiryProof:
    pubkey: str  # the 05 Session ID whose messages these are
    pubkey_ed25519: str  # hex of the Ed25519 key behind it, which signed
    signature: str  # base64, as the owner sent it
    expiry: int  # ms since the epoch
    shorten: bool
    hashes: tuple[str, ...]

    def signed_bytes(self) -> bytes:
        return storage_auth.expire_message(self.expiry, list(self.hashes), shorten=self.shorten)

    def verify(self) -> bool:
        """Did the owner of :attr:`pubkey` sign exactly this?"""
        return storage_auth.verify_owner(self.pubkey, self.pubkey_ed25519, self.signature, self.signed_bytes())

    def encode(self) -> bytes:
        return json.dumps({"pubkey": self.pubkey, "pubkey_ed25519": self.pubkey_ed25519,
                           "signature": self.signature, "expiry": self.expiry, "shorten": self.shorten,
                           "messages": list(self.hashes)}, separators=(",", ":")).encode("ascii")

    @classmethod
    def decode(cls, blob: bytes) -> ExpiryProof:
        """Parse one frame; :class:`ExpiryProofError` names what is wrong."""
        if len(blob) > MAX_PROOF_BYTES:
            raise ExpiryProofError(f"expiry proof of {len(blob)} bytes is too long (max {MAX_PROOF_BYTES})")
        try:
            doc = json.loads(blob)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ExpiryProofError("expiry proof is not JSON") from None
        if not isinstance(doc, dict):
            raise ExpiryProofError("expiry proof must be a JSON object")
        return cls(_pubkey(doc), _text(doc, "pubkey_ed25519", 64, hex_only=True), _text(doc, "signature", 100),
                   _expiry(doc), _flag(doc), _hashes(doc))


def _text(doc: dict[str, Any], key: str, max_len: int, *, hex_only: bool = False) -> str:
    v = doc.get(key)
    if not isinstance(v, str) or not v or len(v) > max_len or not v.isascii():
        raise ExpiryProofError(f"expiry proof: `{key}` must be an ASCII string of at most {max_len} characters")
    if hex_only and not _HEX.issuperset(v):
        raise ExpiryProofError(f"expiry proof: `{key}` must be lowercase hex")
    return v


def _pubkey(doc: dict[str, Any]) -> str:
    pk = _text(doc, "pubkey", 66, hex_only=True)
    if len(pk) != 66:
        raise ExpiryProofError("expiry proof: `pubkey` must be 66 hex characters")
    return pk


def _expiry(doc: dict[str, Any]) -> int:
    v = doc.get("expiry")
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**63:
        raise ExpiryProofError("expiry proof: `expiry` must be a non-negative integer (ms)")
    return v


def _flag(doc: dict[str, Any]) -> bool:
    v = doc.get("shorten")
    if not isinstance(v, bool):
        raise ExpiryProofError("expiry proof: `shorten` must be a boolean")
    return v


def _hashes(doc: dict[str, Any]) -> tuple[str, ...]:
    v = doc.get("messages")
    if (not isinstance(v, list) or not 0 < len(v) <= MAX_PROOF_HASHES
            or not all(isinstance(h, str) and 0 < len(h) <= MAX_HASH_CHARS and h.isascii() for h in v)):
        raise ExpiryProofError(f"expiry proof: `messages` must be a list of 1-{MAX_PROOF_HASHES} message hashes")
    return tuple(v)


class PendingExpiries:
    """Verified proofs naming messages this member does not hold (yet), by message hash.

    A proof whose time has passed is kept too: the message may still arrive alive by its own
    TTL, and must then die at once.  Bounded (*capacity* hashes, oldest forgotten first) and in
    memory only: a member that restarts gets the proofs again by catch-up from the members that
    applied them."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._by_hash: OrderedDict[str, ExpiryProof] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_hash)

    def remember(self, proof: ExpiryProof, missing: Iterable[str]) -> None:
        for h in missing:
            old = self._by_hash.get(h)
            if old is None or old.expiry > proof.expiry:  # the earliest time wins, as in the stores
                self._by_hash[h] = proof
                self._by_hash.move_to_end(h)
        while len(self._by_hash) > self.capacity:
            self._by_hash.popitem(last=False)

    def take(self, hashes: Iterable[str]) -> list[ExpiryProof]:
        """The proofs waiting for any of *hashes* (forgotten here; each listed once)."""
        out: dict[int, ExpiryProof] = {}
        for h in hashes:
            p = self._by_hash.pop(h, None)
            if p is not None:
                out[id(p)] = p
        return list(out.values())


def apply(store: MessageStore, proof: ExpiryProof, now_ms: int, pending: PendingExpiries) -> list[str]:
    """Apply a *verified* proof here (shorten only); remember it for the hashes not held.
    Returns the hashes whose expiry moved."""
    updated, unchanged = store.expire(proof.pubkey, list(proof.hashes), proof.expiry, now_ms, proof.encode())
    done = set(updated).union(unchanged)
    missing = [h for h in dict.fromkeys(proof.hashes) if h not in done]
    if missing:
        pending.remember(proof, missing)
    return updated


def apply_pending(store: MessageStore, msgs: Iterable[Message], now_ms: int, pending: PendingExpiries) -> int:
    """Messages just stored here: apply the proofs that were waiting for them."""
    if not len(pending):
        return 0
    return sum(len(apply(store, p, now_ms, pending)) for p in pending.take(m.hash for m in msgs))
