"""Adapter between the node and :mod:`session_core.swarm` (pubkey -> responsible swarm)."""

from __future__ import annotations

from collections.abc import Sequence


def _space(pubkey_hex: str) -> int:
    # TEMPORARY until session_core.swarm lands (INTEROP §2.1).
    raw = bytes.fromhex(pubkey_hex[2:] if len(pubkey_hex) == 66 else pubkey_hex)
    v = 0
    for i in range(0, 32, 8):
        v ^= int.from_bytes(raw[i : i + 8], "big")
    return v


def _closest(space: int, ids: Sequence[int]) -> int:
    # TEMPORARY until session_core.swarm lands (INTEROP §2.3 (b)).
    if len(ids) == 1:
        return ids[0]
    import bisect

    i = bisect.bisect_left(ids, space)
    right = ids[i % len(ids)]
    left = ids[(i - 1) % len(ids)]
    dright = (right - space) % 2**64
    dleft = (space - left) % 2**64
    return right if dright < dleft else left


def swarm_for_pubkey(pubkey_hex: str, sorted_swarm_ids: Sequence[int]) -> int:
    """The id of the swarm (from an ascending list) responsible for *pubkey_hex*."""
    return _closest(_space(pubkey_hex), sorted_swarm_ids)
