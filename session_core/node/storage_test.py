"""Storage tests between swarm members (whitepaper §5.5.1, docs/interop.md §4.5), sans-IO parts.

Who tests whom comes from :func:`session_core.swarm.storage_test_pair` on the
block hash of ``height - TEST_BLOCKS_BUFFER``.  The testee answers with the
record's data; if it does not have the record yet (still propagating) it retries
every 50 ms for up to ``RETRY_PERIOD`` before giving up with ``other``.
"""

from __future__ import annotations

from enum import Enum

from session_core.errors import SwarmTooSmallError
from session_core.node.network import NetworkView
from session_core.swarm import storage_test_pair

TEST_BLOCKS_BUFFER = 2  # test a block this far back, so every member has seen it (upstream: 4)
RETRY_INTERVAL = 0.05  # upstream TEST_RETRY_PERIOD
RETRY_PERIOD = 5.0  # how long a testee waits for a record still propagating (upstream: 55 s-1 min)


class Verdict(Enum):
    SUCCESS = "OK"
    WRONG_REQUEST = "wrong request"
    RETRY = "retry"
    OTHER = "other"


def pair_for(view: NetworkView, swarm_id: int, block_hash: str) -> tuple[str, str] | None:
    """(tester, testee) Ed25519 keys of *swarm_id* for a block, or None if the swarm is too small."""
    members = [n.ed25519 for n in view.members(swarm_id)]
    try:
        return storage_test_pair(members, block_hash)
    except SwarmTooSmallError:
        return None


def judge_request(
    view: NetworkView, me: str, tester: str, height: int, block_hash: str | None, have: bool
) -> Verdict:
    """What a testee answers to a test for *height* from *tester* (before the data lookup result)."""
    if height > view.height or block_hash is None:
        return Verdict.RETRY  # we have not seen that block yet
    node = view.node(me)
    if node is None:
        return Verdict.WRONG_REQUEST
    pair = pair_for(view, node.swarm_id, block_hash)
    if pair is None or pair != (tester, me):
        return Verdict.WRONG_REQUEST
    return Verdict.SUCCESS if have else Verdict.RETRY


def judge_answer(parts: list[bytes], expected_data: str) -> bool:
    """Did the testee pass?  Only the right data counts (docs/interop.md §4.5 tester side)."""
    return len(parts) == 2 and parts[0] == b"OK" and parts[1] == expected_data.encode()
