"""Swarm ids: the constants oxend uses and ``get_new_swarm_id`` (docs/interop.md §2.2, §2.4).

A swarm id is a point on the 64-bit circle.  ``UINT64_MAX`` is reserved as the
"unassigned" sentinel, so real ids live in ``[0, MAX_ID]`` with
``MAX_ID = 2^64 - 2``; oxend treats ``MAX_ID`` and ``0`` as one apart when it
measures the wrap-around gap.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from session_core.errors import InvalidSwarmIdError

UINT64_MAX = (1 << 64) - 1
UNASSIGNED_SWARM_ID = UINT64_MAX
"""oxend's ``UNASSIGNED_SWARM_ID`` (= the storage server's ``INVALID_SWARM_ID``)."""
MAX_ID = UINT64_MAX - 1
"""The largest usable swarm id (oxend ``MAX_ID``)."""


def check_swarm_id(value: object) -> int:
    """Return *value* as an int if it is a usable swarm id, else raise InvalidSwarmIdError."""
    if isinstance(value, np.integer):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidSwarmIdError(f"swarm id must be an integer, got {type(value).__name__}")
    if value == UNASSIGNED_SWARM_ID:
        raise InvalidSwarmIdError("swarm id 2^64-1 is the unassigned sentinel, not a swarm")
    if not 0 <= value <= MAX_ID:
        raise InvalidSwarmIdError(f"swarm id {value} is outside [0, 2^64-2]")
    return value


def sorted_unique_ids(ids: Iterable[object]) -> npt.NDArray[np.uint64]:
    """Validate *ids* and return them as a sorted uint64 array; duplicates are an error."""
    if isinstance(ids, np.ndarray):
        if ids.dtype != np.uint64 or ids.ndim != 1:
            raise InvalidSwarmIdError(f"swarm ids array must be 1-D uint64, got {ids.dtype} {ids.shape}")
        arr = np.sort(ids)
        if arr.size and int(arr[-1]) == UNASSIGNED_SWARM_ID:
            raise InvalidSwarmIdError("swarm id 2^64-1 is the unassigned sentinel, not a swarm")
    else:
        arr = np.array(sorted(check_swarm_id(v) for v in ids), dtype=np.uint64)
    if arr.size > 1 and bool(np.any(arr[1:] == arr[:-1])):
        dup = int(arr[1:][arr[1:] == arr[:-1]][0])
        raise InvalidSwarmIdError(f"duplicate swarm id {dup}")
    return arr


def new_swarm_id_sorted(ids: npt.NDArray[np.uint64]) -> int:
    """``get_new_swarm_id`` on ids already validated and sorted ascending (no checks)."""
    n = int(ids.size)
    if n == 0:
        return 0
    best = 0
    max_gap = 0
    if n > 1:
        # uint64 differences of a sorted array cannot wrap; argmax keeps the FIRST
        # largest gap, matching oxend's strict `>` test.
        gaps = np.diff(ids)
        best = int(np.argmax(gaps))
        max_gap = int(gaps[best])
    first, last = int(ids[0]), int(ids[-1])
    # oxend counts MAX_ID and 0 as one apart; the wrap gap wins only if strictly larger.
    wrap_gap = (MAX_ID - last + first + 1) & UINT64_MAX
    if wrap_gap > max_gap:
        max_gap = wrap_gap
        best = n - 1
    diff = max_gap // 2
    base = int(ids[best])
    to_max = MAX_ID - base
    if diff > to_max:
        return diff - to_max - 1
    return base + diff


def new_swarm_id(existing_ids: Iterable[object]) -> int:
    """The id oxend gives a new swarm: the middle of the largest gap between existing ids.

    Exactly oxend's ``get_new_swarm_id`` (after the 2021-04 fix): gaps are
    measured between sorted ids, the wrap-around gap counts ``MAX_ID`` and 0 as
    one apart, ties keep the first gap.  No ids gives 0.
    """
    return new_swarm_id_sorted(sorted_unique_ids(existing_ids))
