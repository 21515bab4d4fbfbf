"""Swarm membership events and the record pushes they call for (docs/interop.md §2.5).

When a block changes the swarms, storage nodes must move records so that
nothing acknowledged is lost (whitepaper §4.4; users' wish list item 6):

- a node **joined** an existing swarm → the members that were already there
  push all their records to it (storage server ``bootstrap_peers``);
- a **new swarm** appeared → every node re-maps its records and pushes the ones
  that now belong to the new swarm to its members (``bootstrap_swarms``);
- a swarm was **dissolved** → its former members push every record they hold to
  the swarm now responsible for it (``salvage_data``).

Records are never deleted on a membership change; expiry does that.

Two views are offered: :func:`membership_events` lists the events of a block for
the whole network (what a simulator or a devnet chain reports), and
:func:`derive_swarm_events` gives one node's view exactly as the 2020 storage
server computed it (``Swarm::update_swarms``), with :func:`plan_pushes` turning
it into concrete pushes of that node's records.  All of it is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Union

import numpy as np
import numpy.typing as npt

from session_core.errors import InvalidSwarmKeyError
from session_core.swarm.nodes import NodeKey

if TYPE_CHECKING:
    from session_core.swarm import SwarmMap


@dataclass(frozen=True)
class NodeJoined(Generic[NodeKey]):
    """*node* is new in the existing swarm *swarm_id*; *peers* (members that were
    already there) push all their records to it."""

    swarm_id: int
    node: NodeKey
    peers: tuple[NodeKey, ...]


@dataclass(frozen=True)
class SwarmCreated(Generic[NodeKey]):
    """Swarm *swarm_id* is new: records whose key now maps to it are pushed to *members*."""

    swarm_id: int
    members: tuple[NodeKey, ...]


@dataclass(frozen=True)
class SwarmDissolved(Generic[NodeKey]):
    """Swarm *swarm_id* is gone: *former_members* still active salvage (push) every
    record they hold to the swarm now responsible for it."""

    swarm_id: int
    former_members: tuple[NodeKey, ...]


MembershipEvent = Union[NodeJoined[NodeKey], SwarmCreated[NodeKey], SwarmDissolved[NodeKey]]


def membership_events(
    old: Mapping[int, Sequence[NodeKey]], new: Mapping[int, Sequence[NodeKey]]
) -> list[MembershipEvent[NodeKey]]:
    """Network-wide events between two swarm layouts: dissolved swarms (ascending
    id), then created swarms (ascending id), then joins (ascending swarm id, node
    order of the new layout)."""
    active = {node for members in new.values() for node in members}
    events: list[MembershipEvent[NodeKey]] = []
    for sid in sorted(set(old) - set(new)):
        events.append(SwarmDissolved(sid, tuple(n for n in old[sid] if n in active)))
    for sid in sorted(set(new) - set(old)):
        events.append(SwarmCreated(sid, tuple(new[sid])))
    for sid in sorted(set(new) & set(old)):
        before = set(old[sid])
        members = new[sid]
        joined = [n for n in members if n not in before]
        if joined:
            peers = tuple(n for n in members if n in before)
            events.extend(NodeJoined(sid, n, peers) for n in joined)
    return events


@dataclass(frozen=True)
class SwarmEvents(Generic[NodeKey]):
    """One node's view of a swarm update (storage server ``SwarmEvents``).

    ``our_swarm_id`` is None when the node is in no swarm of the new layout
    (e.g. decommissioned); then there is nothing to do.
    """

    our_swarm_id: int | None
    dissolved: bool = False
    new_swarms: tuple[int, ...] = ()
    new_snodes: tuple[NodeKey, ...] = ()
    our_swarm_members: tuple[NodeKey, ...] = ()


def _swarm_of(node: NodeKey, swarms: Mapping[int, Sequence[NodeKey]]) -> int | None:
    for sid, members in swarms.items():
        if node in members:
            return sid
    return None


def derive_swarm_events(
    me: NodeKey,
    old_swarms: Mapping[int, Sequence[NodeKey]] | None,
    new_swarms: Mapping[int, Sequence[NodeKey]],
) -> SwarmEvents[NodeKey]:
    """What node *me* must do after the swarms went from *old_swarms* to *new_swarms*.

    Same rules as the storage server (SS-2.0.8 ``Swarm::update_swarms``): a node
    that had no swarm before (just started: *old_swarms* None or *me* absent)
    only learns its swarm; if its old swarm no longer exists it is ``dissolved``
    (salvage everything, nothing else is checked); otherwise it reports the new
    members of its swarm and the new swarm ids.
    """
    if not isinstance(me, (str, bytes)):
        raise InvalidSwarmKeyError(f"node key must be bytes or str, got {type(me).__name__}")
    ours = _swarm_of(me, new_swarms)
    if ours is None:
        return SwarmEvents(None)
    members = tuple(new_swarms[ours])
    previous = _swarm_of(me, old_swarms) if old_swarms is not None else None
    if old_swarms is None or previous is None:
        return SwarmEvents(ours, our_swarm_members=members)
    if previous != ours and previous not in new_swarms:
        return SwarmEvents(ours, dissolved=True, our_swarm_members=members)
    old_peers = set(old_swarms[previous])
    new_snodes = tuple(n for n in members if n not in old_peers and n != me)
    new_ids = tuple(sid for sid in new_swarms if sid not in old_swarms)
    return SwarmEvents(ours, False, new_ids, new_snodes, members)


@dataclass(frozen=True)
class PushPlan(Generic[NodeKey]):
    """The pushes one node makes: all its records to ``to_nodes``, and for each swarm
    id in ``by_swarm`` the records at those indices to every member of that swarm."""

    to_nodes: tuple[NodeKey, ...] = ()
    by_swarm: dict[int, npt.NDArray[np.intp]] = field(default_factory=dict)


def plan_pushes(
    events: SwarmEvents[NodeKey],
    record_spaces: npt.NDArray[np.uint64],
    new_map: SwarmMap,
) -> PushPlan[NodeKey]:
    """Turn one node's :class:`SwarmEvents` into pushes of its records.

    *record_spaces* holds the swarm-space value of each stored record's
    recipient (1-D uint64); *new_map* is the map of the new layout.  Uses the
    batch lookup, so a node with millions of records plans in milliseconds.
    """
    if events.our_swarm_id is None:
        return PushPlan()
    if events.dissolved:
        targets = new_map.lookup_many(record_spaces) if len(record_spaces) else np.empty(0, np.uint64)
        wanted = np.unique(targets)
    elif events.new_swarms and len(record_spaces):
        targets = new_map.lookup_many(record_spaces)
        wanted = np.intersect1d(targets, np.array(events.new_swarms, dtype=np.uint64))
    else:
        return PushPlan(events.new_snodes)
    by_swarm = {int(sid): np.flatnonzero(targets == sid) for sid in wanted}
    return PushPlan(events.new_snodes, by_swarm)
