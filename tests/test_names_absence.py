"""Absence proofs (session_core.names.absence): a name not in a block's sorted tree is shown by
its two neighbours; every way of faking one for a name that IS there fails."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from session_core.errors import NameProofError
from session_core.names import BlockHeader, MerkleTree, NameRecord, absence_proof, verify_absence
from session_core.names.absence import _neighbour

HEIGHT = 7


def records(n: int) -> list[NameRecord]:
    recs = [NameRecord(os.urandom(32), os.urandom(32), 100, os.urandom(40), os.urandom(24)) for _ in range(n)]
    return sorted(recs, key=lambda r: r.name_hash)


def header_of(tree: MerkleTree) -> Any:
    h = BlockHeader(HEIGHT, bytes(32), bytes(32), tree.root)
    return lambda height: h


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 17])
def test_every_gap_of_a_tree_proves_absence(n: int) -> None:
    recs = records(n)
    tree = MerkleTree([r.leaf() for r in recs])
    probes = [bytes(32), b"\xff" * 32] + [os.urandom(32) for _ in range(20)]
    for nh in probes:
        if any(r.name_hash == nh for r in recs):
            continue
        assert verify_absence(nh, absence_proof(tree, recs, nh, HEIGHT), header_of(tree), HEIGHT) == HEIGHT


@pytest.mark.parametrize("n", [1, 2, 3, 6, 9])
def test_a_present_name_cannot_be_proven_absent(n: int) -> None:
    recs = records(n)
    tree = MerkleTree([r.leaf() for r in recs])
    at = header_of(tree)
    rng = random.Random(n)
    i = rng.randrange(n)
    nh = recs[i].name_hash
    nb = lambda k: _neighbour(recs[k], tree.proof(k, HEIGHT))  # noqa: E731
    fakes: list[dict[str, Any]] = [
        {"height": HEIGHT},  # "the tree is empty"
        {"height": HEIGHT, "before": nb(i)},  # the record itself as a neighbour
        {"height": HEIGHT, "after": nb(i)},
    ]
    if 0 < i < n - 1:
        fakes.append({"height": HEIGHT, "before": nb(i - 1), "after": nb(i + 1)})  # skipping it
    if i > 0:
        fakes.append({"height": HEIGHT, "before": nb(i - 1)})  # "after the last leaf"
    if i < n - 1:
        fakes.append({"height": HEIGHT, "after": nb(i + 1)})  # "before the first leaf"
    for fake in fakes:
        with pytest.raises(NameProofError):
            verify_absence(nh, fake, at, HEIGHT)


def test_tampered_or_misplaced_neighbours_fail() -> None:
    recs = records(6)
    tree = MerkleTree([r.leaf() for r in recs])
    at = header_of(tree)
    # A hash right after leaf 2's (its last byte flipped up); never one of the leaves.
    taken = {r.name_hash for r in recs}
    nh = recs[2].name_hash[:31] + bytes([recs[2].name_hash[31] ^ 1])
    while nh in taken:
        nh = (int.from_bytes(nh, "big") + 1).to_bytes(32, "big")
    good = absence_proof(tree, recs, nh, HEIGHT)
    verify_absence(nh, good, at, HEIGHT)
    side = "before" if "before" in good else "after"
    for field, value in (("owner", "00" * 32), ("expiration_height", 99), ("name_hash", nh.hex())):
        bad = {**good, side: {**good[side], field: value}}
        with pytest.raises(NameProofError):
            verify_absence(nh, bad, at, HEIGHT)
    with pytest.raises(NameProofError, match="stale"):
        verify_absence(nh, good, at, HEIGHT + 1)
    with pytest.raises(NameProofError, match="another block"):
        verify_absence(nh, {**good, "height": HEIGHT - 1}, lambda h: at(h), 0)
    for junk in (None, [], {"height": -1}, {"height": True}, {"height": HEIGHT, "after": "x"}):
        with pytest.raises(NameProofError):
            verify_absence(nh, junk, at, 0)
