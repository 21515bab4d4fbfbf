"""oxend's swarm assignment, one block at a time (docs/interop.md §2.4, whitepaper §4.4).

Theory of operation.  On every block that changes the set of active service
nodes, oxend rebuilds ``swarm id -> [node keys]`` from the active nodes sorted by
key (new nodes under the unassigned id) and runs ``calc_swarm_changes`` with an
``mt19937_64`` seeded from the first 8 bytes of the block hash (little-endian):

1. new nodes go, one by one, to a random swarm among the smallest quarter
   (25th percentile of sizes, ties widened to every swarm of that size);
   after each one, surplus nodes may form a new swarm (below);
2. "Robin Hood": each swarm under 5 nodes, smallest first, takes random nodes
   from the swarms above the 75th-percentile size, until it has 5 or the rich
   can no longer cover its deficit;
3. new swarms from surplus: while Σ max(0, size-5) >= 7 + 2·swarms, seven
   random nodes of swarms larger than 5 form a swarm at the middle of the
   largest id gap;
4. every swarm still under 5 nodes is dissolved (lowest id first) and its nodes
   go to the smallest swarms.

Every random choice is ``uniform_distribution_portable`` over a list whose
order oxend defines, so this reproduces oxend draw for draw, with one declared
difference: oxend orders swarms by size with ``std::sort`` (not stable), we use
a stable sort, i.e. equal sizes stay in ascending id order.  libstdc++'s
``std::sort`` is an insertion sort (hence stable) up to 16 elements, so the
results are identical whenever there are at most 16 swarms; above that, equal
sized swarms may be visited in another order than a given oxend build does.

The bookkeeping (sizes bucketed by value, running surplus) only makes each step
cheap; the observable order of every list is oxend's.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Generic, NamedTuple

import numpy as np

from session_core.errors import InvalidBlockHashError, SwarmMembershipError
from session_core.swarm.events import MembershipEvent, membership_events
from session_core.swarm.ids import UNASSIGNED_SWARM_ID, check_swarm_id, new_swarm_id_sorted
from session_core.swarm.nodes import NodeKey, check_node_key, check_unique_nodes, short
from session_core.swarm.rng import MT19937_64, uniform_distribution_portable

MIN_SWARM_SIZE = 5
IDEAL_SWARM_MARGIN = 2
IDEAL_SWARM_SIZE = 7
EXCESS_BASE = MIN_SWARM_SIZE
NEW_SWARM_SIZE = IDEAL_SWARM_SIZE
FILL_SWARM_LOWER_PERCENTILE = 25
DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE = 0
STEALING_SWARM_UPPER_PERCENTILE = 75
_SIZE_MAX = (1 << 64) - 1


class SwarmChanges(NamedTuple, Generic[NodeKey]):
    """Result of :func:`assign_swarms`: the new layout and what storage nodes must do.

    ``swarms`` maps swarm id (ascending) to its members in oxend's vector order.
    """

    swarms: dict[int, list[NodeKey]]
    events: list[MembershipEvent[NodeKey]]


def block_seed(block_hash: bytes | str) -> int:
    """oxend's seed: the first 8 bytes of the binary block hash, little-endian."""
    if isinstance(block_hash, str):
        try:
            raw = bytes.fromhex(block_hash)
        except ValueError:
            raise InvalidBlockHashError("block hash is not hexadecimal") from None
    elif isinstance(block_hash, (bytes, bytearray)):
        raw = bytes(block_hash)
    else:
        raise InvalidBlockHashError(f"block hash must be bytes or hex str, got {type(block_hash).__name__}")
    if len(raw) != 32:
        raise InvalidBlockHashError(f"block hash must be 32 bytes (64 hex chars), got {len(raw)} bytes")
    return int.from_bytes(raw[:8], "little")


class _Layout(Generic[NodeKey]):
    """The mutable swarm map of one ``calc_swarm_changes`` run."""

    def __init__(self, members: dict[int, list[NodeKey]], rng: MT19937_64) -> None:
        self.members: dict[int, list[NodeKey]] = members
        self.rng = rng
        self.ids: list[int] = sorted(members)
        self.by_size: dict[int, list[int]] = {}
        self.excess = 0
        self.starving = 0
        for sid in self.ids:
            self._enter(sid, len(members[sid]))

    # -- bookkeeping ------------------------------------------------------------------
    def _enter(self, sid: int, size: int) -> None:
        bisect.insort(self.by_size.setdefault(size, []), sid)
        self.excess += max(0, size - EXCESS_BASE)
        self.starving += size < MIN_SWARM_SIZE

    def _leave(self, sid: int, size: int) -> None:
        bucket = self.by_size[size]
        del bucket[bisect.bisect_left(bucket, sid)]
        if not bucket:
            del self.by_size[size]
        self.excess -= max(0, size - EXCESS_BASE)
        self.starving -= size < MIN_SWARM_SIZE

    def add_node(self, sid: int, node: NodeKey) -> None:
        swarm = self.members[sid]
        self._leave(sid, len(swarm))
        swarm.append(node)
        self._enter(sid, len(swarm))

    def remove_node(self, sid: int, node: NodeKey) -> None:
        swarm = self.members[sid]
        self._leave(sid, len(swarm))
        swarm.remove(node)  # keys are unique: erase-remove == remove the one occurrence
        self._enter(sid, len(swarm))

    def add_swarm(self, sid: int, nodes: list[NodeKey]) -> None:
        self.members[sid] = nodes
        bisect.insort(self.ids, sid)
        self._enter(sid, len(nodes))

    def remove_swarm(self, sid: int) -> list[NodeKey]:
        nodes: list[NodeKey] = self.members.pop(sid)
        del self.ids[bisect.bisect_left(self.ids, sid)]
        self._leave(sid, len(nodes))
        return nodes

    # -- oxend's views --------------------------------------------------------------------
    def sorted_at(self, k: int) -> tuple[int, int]:
        """(id, size) at index k of the swarms sorted by size (stable: then by id)."""
        for size in sorted(self.by_size):
            bucket = self.by_size[size]
            if k < len(bucket):
                return bucket[k], size
            k -= len(bucket)
        raise IndexError(k)

    def sorted_sizes(self) -> list[tuple[int, int]]:
        return [(sid, size) for size in sorted(self.by_size) for sid in self.by_size[size]]

    def count_le(self, size: int) -> int:
        return sum(len(b) for s, b in self.by_size.items() if s <= size)

    def pool(self, threshold: int) -> tuple[int, int]:
        """(pool length, excess) of ``get_excess_pool``: swarms with size > threshold."""
        length = excess = 0
        for size, bucket in self.by_size.items():
            if size > threshold:
                length += size * len(bucket)
                excess += (size - MIN_SWARM_SIZE) * len(bucket)
        return length, excess

    def pool_item(self, threshold: int, index: int) -> tuple[int, NodeKey]:
        """The pool element at *index*: members of the qualifying swarms, ascending id."""
        members = self.members
        for sid in self.ids:
            swarm = members[sid]
            size = len(swarm)
            if size > threshold:
                if index < size:
                    return sid, swarm[index]
                index -= size
        raise IndexError(index)

    def uniform(self, n: int) -> int:
        return uniform_distribution_portable(self.rng, n)

    # -- the algorithm ---------------------------------------------------------------------
    def create_new_swarms_from_excess(self) -> None:
        if self.starving:
            return
        while self.excess >= NEW_SWARM_SIZE + IDEAL_SWARM_MARGIN * len(self.ids):
            chosen: list[NodeKey] = []
            while len(chosen) < NEW_SWARM_SIZE:
                length, _ = self.pool(EXCESS_BASE)
                if length == 0:  # unreachable while excess >= 7; oxend logs and gives up
                    return
                sid, node = self.pool_item(EXCESS_BASE, self.uniform(length))
                chosen.append(node)
                self.remove_node(sid, node)
            new_id = new_swarm_id_sorted(np.array(self.ids, dtype=np.uint64))
            if new_id in self.members:  # cannot happen with < 2^63 swarms
                raise AssertionError(f"new swarm id {new_id} already exists")
            self.add_swarm(new_id, chosen)

    def assign(self, nodes: Sequence[NodeKey], percentile: int) -> None:
        for node in nodes:
            count = len(self.ids)
            pidx = percentile * (count - 1) // 100
            _, pval = self.sorted_at(pidx)
            upper = self.count_le(pval) - 1
            sid, _ = self.sorted_at(self.uniform(upper + 1))
            self.add_node(sid, node)
            self.create_new_swarms_from_excess()

    def robin_hood(self) -> None:
        snapshot = self.sorted_sizes()  # computed once, as oxend does
        pidx = STEALING_SWARM_UPPER_PERCENTILE * (len(snapshot) - 1) // 100
        # size_t arithmetic: a 0-sized percentile swarm makes this wrap to SIZE_MAX.
        pval = max(MIN_SWARM_SIZE, (snapshot[pidx][1] - 1) & _SIZE_MAX)
        for sid, stale_size in snapshot:
            if stale_size >= MIN_SWARM_SIZE:
                return
            poor = self.members[sid]
            while True:
                length, excess = self.pool(pval)
                if excess < MIN_SWARM_SIZE - len(poor):
                    return  # the next (larger) starving swarms cannot be saved either
                from_sid, node = self.pool_item(pval, self.uniform(length))
                self.remove_node(from_sid, node)
                self.add_node(sid, node)
                if len(poor) >= MIN_SWARM_SIZE:
                    break

    def dissolve_starving(self) -> None:
        if len(self.ids) <= 1:
            return
        while True:
            victim = next((s for s in self.ids if len(self.members[s]) < MIN_SWARM_SIZE), None)
            if victim is None:
                return
            if len(self.ids) == 1:
                # oxend would dissolve the last swarm and then index an empty vector
                # (std::out_of_range); we keep it instead.  Needs < 5 nodes in total.
                return
            self.assign(self.remove_swarm(victim), DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE)


def calc_swarm_changes(
    swarms: dict[int, list[NodeKey]], new_nodes: Sequence[NodeKey], seed: int
) -> dict[int, list[NodeKey]]:
    """oxend's ``calc_swarm_changes`` on an already-normalised layout (lists in key
    order, no empty swarm, *new_nodes* in key order).  Mutates and returns *swarms*."""
    if not swarms and not new_nodes:
        return swarms
    layout = _Layout(swarms, MT19937_64(seed))
    if not layout.ids:
        layout.add_swarm(0, [])
    layout.assign(new_nodes, FILL_SWARM_LOWER_PERCENTILE)
    layout.robin_hood()
    layout.create_new_swarms_from_excess()
    layout.dissolve_starving()
    return {sid: layout.members[sid] for sid in layout.ids}


def _raw_order(node: str | bytes) -> bytes:
    return node if isinstance(node, bytes) else bytes.fromhex(node)


def assign_swarms(
    swarms: Mapping[int, Sequence[NodeKey]],
    new_nodes: Iterable[NodeKey],
    removed_nodes: Iterable[NodeKey],
    block_hash: bytes | str,
) -> SwarmChanges[NodeKey]:
    """The swarms after one block, exactly as oxend computes them, and the events.

    *swarms* is the current layout (swarm id -> member keys), *new_nodes* the
    nodes that became active in this block (registrations and recommissions:
    oxend puts a recommissioned node back as unassigned), *removed_nodes* those
    that stopped being active (deregistrations, decommissions, expiries).  Keys
    are 32 raw bytes or 64 lowercase hex chars, one kind per call.
    *block_hash* is the 32-byte block hash (or its 64 hex chars).

    Nodes listed under ``UNASSIGNED_SWARM_ID`` (2^64-1) in *swarms* are taken as new
    nodes too, which is how oxend itself hands them over.

    Pure: the inputs are not modified; the same inputs give the same result.
    Call it on the blocks where oxend updates swarms (any change to the active
    set); calling it on an unchanged layout may still rebalance starving swarms.
    Raises :class:`~session_core.errors.SwarmMembershipError` (a ``ValueError``)
    for a node listed twice, a new node already placed, or an unknown removed node.
    """
    seed = block_seed(block_hash)
    kind: type | None = None
    where: dict[NodeKey, int] = {}
    for raw_sid, members in swarms.items():
        # oxend's own input form: nodes waiting for a swarm sit under UNASSIGNED_SWARM_ID.
        sid = UNASSIGNED_SWARM_ID if raw_sid == UNASSIGNED_SWARM_ID else check_swarm_id(raw_sid)
        for node in members:
            kind = check_node_key(node, kind)
            if node in where:
                raise SwarmMembershipError(f"node {short(node)} is in two swarms or twice in one")
            where[node] = sid
    removed, kind = check_unique_nodes(removed_nodes, "removed_nodes", kind)
    added, kind = check_unique_nodes(new_nodes, "new_nodes", kind)
    gone = set(removed)
    for node in removed:
        if node not in where:
            raise SwarmMembershipError(f"removed node {short(node)} is in no swarm")
    for node in added:
        if node in where and node not in gone:
            raise SwarmMembershipError(f"new node {short(node)} is already in swarm {where[node]}")

    # Rebuild the map the way oxend does from its sorted active-node list: members in
    # key order, and a swarm whose members all left simply does not exist.
    layout: dict[int, list[NodeKey]] = {}
    waiting: list[NodeKey] = []
    for raw_sid, members in swarms.items():
        kept = [n for n in members if n not in gone]
        if int(raw_sid) == UNASSIGNED_SWARM_ID:
            waiting += kept
        elif kept:
            layout[int(raw_sid)] = sorted(kept, key=_raw_order)
    ordered_new = sorted(added + waiting, key=_raw_order)
    old = {int(sid): list(m) for sid, m in swarms.items() if int(sid) != UNASSIGNED_SWARM_ID}
    result = calc_swarm_changes(layout, ordered_new, seed)
    return SwarmChanges(result, membership_events(old, result))
