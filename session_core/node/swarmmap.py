"""Adapter between the node and :mod:`session_core.swarm` (pubkey -> responsible swarm)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from session_core.swarm import SwarmMap


@lru_cache(maxsize=8)
def _map(sorted_swarm_ids: tuple[int, ...]) -> SwarmMap:
    # One index per distinct layout; views of the same block share it.
    return SwarmMap(sorted_swarm_ids)


def swarm_for_pubkey(pubkey_hex: str, sorted_swarm_ids: Sequence[int]) -> int:
    """The id of the swarm (from an ascending list) responsible for *pubkey_hex*."""
    return _map(tuple(sorted_swarm_ids)).lookup(pubkey_hex)
