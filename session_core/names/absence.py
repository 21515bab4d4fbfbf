"""Proof that a name is NOT registered (sans-IO): its two neighbours in the block's tree.

The leaves of a block's names tree are the live records sorted by name hash
(``devnet/names_state.py``), so a name hash that is not there falls between two adjacent
leaves, or before the first, or after the last, or the tree is empty.  An absence proof gives
the records on either side with their inclusion proofs against the same block:

    {"height": h, "before": neighbour?, "after": neighbour?}
    neighbour = {"name_hash", "owner", "encrypted_value", "nonce"?, "expiration_height", "proof"}

and :func:`verify_absence` checks that both neighbours are in the tree of the client's synced
header at ``h`` (RFC 9162 inclusion proofs bind the index and the tree size as well as the leaf),
that they sit at adjacent indices (``after`` at index 0 when there is no ``before``, ``before`` at
the last index when there is no ``after``, an empty tree's root when there is neither) and that
the asked hash lies strictly between their name hashes.  So one honest answer is no longer
needed to expose colluding nodes that hide a name: a node that says "not registered" must prove
it, and cannot for a registered name.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from session_core.errors import NameProofError
from session_core.names.merkle import EMPTY_ROOT, InclusionProof, MerkleTree, parse_proof_b64, verify_inclusion
from session_core.names.records import BlockHeader, NameRecord, hex_field

__all__ = ["absence_proof", "verify_absence"]


def absence_proof(tree: MerkleTree, records: list[NameRecord], nh: bytes, height: int) -> dict[str, Any]:
    """The absence proof of ``nh`` in ``tree`` (built from ``records``, sorted by name hash, at
    ``height``); ``nh`` must not be among them."""
    at = _first_above(records, nh)
    out: dict[str, Any] = {"height": height}
    if at > 0:
        out["before"] = _neighbour(records[at - 1], tree.proof(at - 1, height))
    if at < len(records):
        out["after"] = _neighbour(records[at], tree.proof(at, height))
    return out


def verify_absence(nh: bytes, absence: Any, header_at: Callable[[int], BlockHeader], min_height: int) -> int:
    """The block at which ``nh`` is proven absent; :class:`NameProofError` if the proof fails."""
    if not isinstance(absence, Mapping):
        raise NameProofError("a \"not registered\" answer must carry its `absence` proof")
    height = absence.get("height")
    if not isinstance(height, int) or isinstance(height, bool) or height < 0:
        raise NameProofError("`absence.height` must be a non-negative integer")
    if height < min_height:
        raise NameProofError(f"stale answer: absence proven at block {height}, the chain is at {min_height}")
    root = header_at(height).names_root
    before = _checked(absence.get("before"), height, root)
    after = _checked(absence.get("after"), height, root)
    if before is None and after is None:
        if root != EMPTY_ROOT:
            raise NameProofError("absence claimed with no neighbours, but the block's tree is not empty")
        return height
    if before is not None and after is not None:
        if before[1].size != after[1].size or before[1].index + 1 != after[1].index:
            raise NameProofError("the absence proof's neighbours are not adjacent leaves")
    elif after is not None and after[1].index != 0:
        raise NameProofError("absence before the first leaf must show leaf 0")
    elif before is not None and before[1].index != before[1].size - 1:
        raise NameProofError("absence after the last leaf must show the last leaf")
    if (before is not None and not before[0] < nh) or (after is not None and not nh < after[0]):
        raise NameProofError("the name hash does not fall between the absence proof's neighbours")
    return height


def _first_above(records: list[NameRecord], nh: bytes) -> int:
    lo, hi = 0, len(records)
    while lo < hi:
        mid = (lo + hi) // 2
        if records[mid].name_hash < nh:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _neighbour(record: NameRecord, proof: InclusionProof) -> dict[str, Any]:
    return {"name_hash": record.name_hash.hex(), **record.answer_fields(),
            "proof": base64.b64encode(proof.to_bytes()).decode("ascii")}


def _checked(obj: Any, height: int, root: bytes) -> tuple[bytes, InclusionProof] | None:
    """A neighbour's name hash and proof, its leaf checked against ``root``; None if absent."""
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise NameProofError("an absence neighbour is not an object")
    proof = parse_proof_b64(obj.get("proof"))
    if proof.height != height:
        raise NameProofError("an absence neighbour is proven against another block")
    expiration = obj.get("expiration_height")
    if not isinstance(expiration, int) or isinstance(expiration, bool) or expiration < 0:
        raise NameProofError("`expiration_height` must be a non-negative integer")
    nonce = hex_field(obj, "nonce", 24) if "nonce" in obj else b""
    record = NameRecord(hex_field(obj, "name_hash", 32), hex_field(obj, "owner", 32), expiration,
                        hex_field(obj, "encrypted_value", None), nonce)
    verify_inclusion(record.leaf(), proof, root)
    return record.name_hash, proof
