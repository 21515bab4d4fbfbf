"""A Merkle tree over the live names of a block, and inclusion proofs against its root.

Theory of operation
-------------------
The tree is RFC 9162's (Certificate Transparency): leaves are hashed as ``H(0x00 || leaf)``,
inner nodes as ``H(0x01 || left || right)`` (so a leaf can never pass for an inner node), and
a tree of n leaves splits at the largest power of two below n.  H is BLAKE2b-256.  An audit
path therefore has at most ceil(log2 n) hashes, and a proof on the wire is
``height (u64) || index (u32) || size (u32) || path`` -- 16 + 32*ceil(log2 n) bytes.

The chain orders the leaves by name hash, so the tree of a block is a function of the set of
live records alone (every honest party computes the same root).  Verification is RFC 9162
section 2.1.3.2: it needs only the leaf, the proof and the root from a block header.  The
root authenticates the leaf; the index and size in a proof only steer the walk (a wrong size
that gives the same path shape proves the same, true, inclusion).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from session_core.errors import NameProofError

__all__ = ["EMPTY_ROOT", "InclusionProof", "leaf_hash", "merkle_root", "MerkleTree", "parse_proof_b64", "verify_inclusion"]

_HEADER = struct.Struct(">QII")
MAX_PATH = 32  # 2^32 leaves; anything longer is garbage


def _h(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def leaf_hash(leaf: bytes) -> bytes:
    return _h(b"\x00" + leaf)


def _node(left: bytes, right: bytes) -> bytes:
    return _h(b"\x01" + left + right)


EMPTY_ROOT = _h(b"")


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


@dataclass(frozen=True, slots=True)
class InclusionProof:
    height: int  # the block whose header carries the root
    index: int
    size: int
    path: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        return _HEADER.pack(self.height, self.index, self.size) + b"".join(self.path)

    @classmethod
    def from_bytes(cls, raw: bytes) -> InclusionProof:
        if len(raw) < _HEADER.size or (len(raw) - _HEADER.size) % 32:
            raise NameProofError(f"a proof is 16 + 32k bytes, got {len(raw)}")
        height, index, size = _HEADER.unpack_from(raw)
        k = (len(raw) - _HEADER.size) // 32
        if k > MAX_PATH:
            raise NameProofError(f"a proof path of {k} hashes is longer than any tree")
        path = tuple(raw[_HEADER.size + 32 * i: _HEADER.size + 32 * (i + 1)] for i in range(k))
        return cls(height, index, size, path)


def parse_proof_b64(value: object) -> InclusionProof:
    """An :class:`InclusionProof` from its base64 text (as answers carry it)."""
    if not isinstance(value, str):
        raise NameProofError("the answer carries no `proof`")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NameProofError("`proof` is not valid base64") from None
    return InclusionProof.from_bytes(raw)


class MerkleTree:
    """The tree of one ordered list of leaves; subtree hashes are kept, so each proof costs
    O(log n) after the O(n) build."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.size = len(leaves)
        self._memo: dict[tuple[int, int], bytes] = {}
        self._leaves = [leaf_hash(x) for x in leaves]
        self.root = EMPTY_ROOT if not leaves else self._hash(0, self.size)

    def _hash(self, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return self._leaves[lo]
        got = self._memo.get((lo, hi))
        if got is None:
            k = _split(hi - lo)
            got = self._memo[(lo, hi)] = _node(self._hash(lo, lo + k), self._hash(lo + k, hi))
        return got

    def proof(self, index: int, height: int) -> InclusionProof:
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} of a tree of {self.size}")
        path: list[bytes] = []
        lo, hi = 0, self.size
        while hi - lo > 1:  # walk down, collecting the sibling of each step (root side first)
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._hash(lo, lo + k))
                lo = lo + k
        return InclusionProof(height, index, self.size, tuple(reversed(path)))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    return MerkleTree(leaves).root


def verify_inclusion(leaf: bytes, proof: InclusionProof, root: bytes) -> None:
    """Raise :class:`NameProofError` unless *leaf* is at ``proof.index`` of the tree with *root*."""
    if not 0 <= proof.index < proof.size:
        raise NameProofError(f"proof index {proof.index} is outside a tree of {proof.size} leaves")
    fn, sn = proof.index, proof.size - 1
    r = leaf_hash(leaf)
    for p in proof.path:
        if sn == 0:
            raise NameProofError("the proof path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise NameProofError("the proof path is shorter than the tree is deep")
    if r != root:
        raise NameProofError("the record is not in the tree of that block (root mismatch)")
