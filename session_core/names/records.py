"""What the chain commits to: one record per live name (a Merkle leaf), and the block header
that carries the root of those leaves.

A record is ``name_hash (32) || owner Ed25519 key (32) || expiration height (u64 BE) ||
nonce length (u8) || nonce || encrypted value``; every field a resolver relies on is inside the
leaf, so a node cannot change the value, the owner or the expiry without breaking the proof.
A header links to the previous one by hash (``prev_header_hash``, zeros at genesis), so a
client that trusts one header can check every later one it is given.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from session_core.errors import NameProofError

__all__ = ["NameRecord", "BlockHeader", "check_header_chain", "GENESIS_PREV"]

GENESIS_PREV = bytes(32)
_HEADER_DOMAIN = b"session-core devnet header v1:"


@dataclass(frozen=True, slots=True)
class NameRecord:
    name_hash: bytes
    owner: bytes  # Ed25519 public key of whoever may renew or transfer it
    expiration_height: int  # live while the chain height is below this
    encrypted_value: bytes
    nonce: bytes  # b"" for the legacy (Argon2 + secretbox) form

    def leaf(self) -> bytes:
        return (
            self.name_hash + self.owner + struct.pack(">QB", self.expiration_height, len(self.nonce))
            + self.nonce + self.encrypted_value
        )

    def live_at(self, height: int) -> bool:
        return height < self.expiration_height

    def answer_fields(self) -> dict[str, Any]:
        """The ``ons_resolve`` result fields (oxend's names, plus the owner our leaves commit)."""
        out: dict[str, Any] = {"encrypted_value": self.encrypted_value.hex()}
        if self.nonce:
            out["nonce"] = self.nonce.hex()
        out["expiration_height"] = self.expiration_height
        out["owner"] = self.owner.hex()
        return out


def hex_field(obj: Mapping[str, Any], key: str, size: int | None = None) -> bytes:
    """``obj[key]`` as bytes from hex (of *size* bytes if given); NameProofError otherwise."""
    v = obj.get(key)
    try:
        if not isinstance(v, str):
            raise ValueError(v)
        raw = bytes.fromhex(v)
    except ValueError:
        raise NameProofError(f"`{key}` must be hex") from None
    if size is not None and len(raw) != size:
        raise NameProofError(f"`{key}` must be {size} bytes, got {len(raw)}")
    return raw


def _uint(obj: Mapping[str, Any], key: str) -> int:
    v = obj.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**63:
        raise NameProofError(f"`{key}` must be a non-negative integer")
    return v


@dataclass(frozen=True, slots=True)
class BlockHeader:
    height: int
    block_hash: bytes  # the chain's block hash (swarm assignment and storage tests use it)
    prev_header_hash: bytes
    names_root: bytes

    def header_hash(self) -> bytes:
        body = struct.pack(">Q", self.height) + self.block_hash + self.prev_header_hash + self.names_root
        return hashlib.sha256(_HEADER_DOMAIN + body).digest()

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "hash": self.block_hash.hex(),
            "prev_header_hash": self.prev_header_hash.hex(),
            "names_root": self.names_root.hex(),
            "header_hash": self.header_hash().hex(),
        }

    @classmethod
    def from_json(cls, obj: Any) -> BlockHeader:
        if not isinstance(obj, Mapping):
            raise NameProofError("a block header must be an object")
        h = cls(_uint(obj, "height"), hex_field(obj, "hash", 32), hex_field(obj, "prev_header_hash", 32), hex_field(obj, "names_root", 32))
        if "header_hash" in obj and hex_field(obj, "header_hash", 32) != h.header_hash():
            raise NameProofError(f"header {h.height}: `header_hash` does not match its fields")
        return h


def check_header_chain(prev: BlockHeader | None, headers: Sequence[BlockHeader]) -> None:
    """Raise :class:`NameProofError` unless *headers* are consecutive and each links to the one
    before (the first to *prev*, or to nothing at height 0)."""
    for h in headers:
        if prev is None:
            if h.height != 0 or h.prev_header_hash != GENESIS_PREV:
                raise NameProofError(f"header {h.height} does not start the chain")
        else:
            if h.height != prev.height + 1:
                raise NameProofError(f"header {h.height} does not follow header {prev.height}")
            if h.prev_header_hash != prev.header_hash():
                raise NameProofError(f"header {h.height} does not link to header {prev.height}")
        prev = h
