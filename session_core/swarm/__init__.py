"""Swarms: which swarm stores a Session ID, and how swarms change block by block.

Inside: ``lookup`` (:class:`SwarmMap`, pubkey -> swarm, C-backed), ``assign`` (oxend's
per-block swarm assignment), ``events`` (membership changes and the pushes they need),
``ids``/``nodes``/``rng`` (swarm ids, node keys, the MT19937-64 generator) and
``peer_test`` (storage-test pairs), with ``_swarm_c`` (the C binding) and ``_swarm_py``
(the numpy/pure-Python reference).
"""

from session_core.swarm.assign import SwarmChanges, assign_swarms
from session_core.swarm.events import (
    MembershipEvent,
    NodeJoined,
    PushPlan,
    SwarmCreated,
    SwarmDissolved,
    SwarmEvents,
    derive_swarm_events,
    plan_pushes,
)
from session_core.swarm.ids import MAX_ID, UNASSIGNED_SWARM_ID, new_swarm_id
from session_core.swarm.lookup import SwarmMap, backend_info, spaces_of_keys, swarm_space
from session_core.swarm.peer_test import storage_test_pair

__all__ = [
    "MAX_ID",
    "UNASSIGNED_SWARM_ID",
    "MembershipEvent",
    "NodeJoined",
    "PushPlan",
    "SwarmChanges",
    "SwarmCreated",
    "SwarmDissolved",
    "SwarmEvents",
    "SwarmMap",
    "assign_swarms",
    "backend_info",
    "derive_swarm_events",
    "new_swarm_id",
    "plan_pushes",
    "storage_test_pair",
    "spaces_of_keys",
    "swarm_space",
]
