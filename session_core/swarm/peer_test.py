"""Who tests whom: the storage-test pair of a swarm for a block (docs/interop.md §4.5).

Every member computes the same pair from the block hash, so tests need no
coordination.  The seed is the first 8 **ASCII characters** of the block hash's
lowercase hex string read little-endian (the storage server memcpy's the string),
not the binary hash oxend uses for swarm assignment; easy to get wrong, so the
hash is only accepted as that string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from session_core.errors import InvalidBlockHashError, SwarmTooSmallError
from session_core.swarm.nodes import NodeKey, check_unique_nodes
from session_core.swarm.rng import MT19937_64, uniform_distribution_portable

_BLOCK_HASH_HEX = re.compile(r"[0-9a-f]{64}")


def storage_test_seed(block_hash_hex: str) -> int:
    """The mt19937_64 seed of a storage test: first 8 ASCII hex chars, little-endian."""
    if not isinstance(block_hash_hex, str):
        raise InvalidBlockHashError(
            "the storage-test seed is read from the block hash as a hex *string* "
            f"(got {type(block_hash_hex).__name__})"
        )
    if _BLOCK_HASH_HEX.fullmatch(block_hash_hex) is None:
        raise InvalidBlockHashError("block hash must be 64 lowercase hex chars, as oxend prints it")
    return int.from_bytes(block_hash_hex[:8].encode("ascii"), "little")


def storage_test_pair(members: Iterable[NodeKey], block_hash_hex: str) -> tuple[NodeKey, NodeKey]:
    """``(tester, testee)`` of a swarm for the block with hash *block_hash_hex*.

    *members* are the swarm's node keys (32 raw bytes or 64 lowercase hex, in any
    order; they are sorted by key as the storage server does).  The tester is
    ``members[uniform(n)]``; the testee is drawn again until it differs.
    A swarm of fewer than two nodes has no test: :class:`SwarmTooSmallError`.
    """
    seed = storage_test_seed(block_hash_hex)
    nodes, _ = check_unique_nodes(members, "members", None)
    if len(nodes) < 2:
        raise SwarmTooSmallError(f"a storage test needs at least 2 swarm members, got {len(nodes)}")
    # Lowercase hex sorts like the raw bytes, so one sort covers both key kinds.
    nodes.sort()
    rng = MT19937_64(seed)
    n = len(nodes)
    tester = uniform_distribution_portable(rng, n)
    testee = uniform_distribution_portable(rng, n)
    while testee == tester:
        testee = uniform_distribution_portable(rng, n)
    return nodes[tester], nodes[testee]
