"""Pure-Python / numpy reference for the swarm-space kernels (the test oracle).

Same interface as the compiled ``session_core.swarm._swarm_c``: an :class:`Index`
built once from sorted swarm ids, answering nearest-swarm queries for single
spaces, arrays of spaces and arrays of raw 32-byte keys.  Inputs are trusted
(validated by ``session_core.swarm``).

Nearest swarm = docs/interop.md §2.3 algorithm (b): ``right`` is the first id >= the
space (wrapping to the first id), ``left`` the id before it (cyclically), and
the right one wins only when strictly closer, so exact ties go to the left /
lower side, also across the wrap.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

IMPLEMENTATION = "python"
_MASK64 = (1 << 64) - 1


def space_from_raw32(key: bytes) -> int:
    """XOR of the four big-endian 64-bit words of a raw 32-byte key (docs/interop.md §2.1)."""
    return (
        int.from_bytes(key[0:8], "big")
        ^ int.from_bytes(key[8:16], "big")
        ^ int.from_bytes(key[16:24], "big")
        ^ int.from_bytes(key[24:32], "big")
    )


def spaces_from_keys(keys: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Swarm-space values of an (n, 32) uint8 array of raw keys."""
    words = np.ascontiguousarray(keys).view(">u8").reshape(-1, 4)
    spaces: npt.NDArray[np.uint64] = np.bitwise_xor.reduce(words, axis=1).astype(np.uint64)
    return spaces


def nearest(ids: Sequence[int], space: int) -> int:
    """Index in sorted *ids* (non-empty) of the swarm responsible for *space*."""
    n = len(ids)
    if n == 1:
        return 0
    right = bisect.bisect_left(ids, space)
    if right == n:
        right = 0
    left = right - 1 if right else n - 1
    d_right = (ids[right] - space) & _MASK64
    d_left = (space - ids[left]) & _MASK64
    return right if d_right < d_left else left


def legacy_nearest_2020(ids: Sequence[int], space: int) -> int:
    """The storage server's 2020 linear scan (docs/interop.md §2.3 (a)), kept as a baseline.

    Off by one or two at the wrap (it measures the wrap distance against
    ``MAX_ID = 2^64-2``): do not use it to route.  Returns the chosen swarm id.
    """
    max_id = _MASK64 - 1
    best = _MASK64
    cur_min = _MASK64
    leftmost = _MASK64
    rightmost = 0
    for sid in ids:
        dist = sid - space if sid > space else space - sid
        if dist < cur_min:
            best, cur_min = sid, dist
        leftmost = min(leftmost, sid)
        rightmost = max(rightmost, sid)
    if space > rightmost:
        if ((max_id - space) + leftmost) & _MASK64 < cur_min:
            best = leftmost
    elif space < leftmost:
        if (space + (max_id - rightmost)) & _MASK64 < cur_min:
            best = rightmost
    return best


class Index:
    """Nearest-swarm queries over a sorted, non-empty uint64 array of swarm ids."""

    def __init__(self, ids: npt.NDArray[np.uint64]) -> None:
        self._ids = np.ascontiguousarray(ids, dtype=np.uint64)
        self._list: list[int] = [int(v) for v in self._ids]

    def lookup_one(self, space: int) -> int:
        return self._list[nearest(self._list, space)]

    def lookup_spaces(self, spaces: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        ids = self._ids
        n = ids.size
        if n == 1:
            return np.full(spaces.shape, ids[0], dtype=np.uint64)
        right = np.searchsorted(ids, spaces, side="left")
        right[right == n] = 0
        left = right - 1
        left[left < 0] = n - 1
        # uint64 arithmetic wraps modulo 2^64, which is exactly the circle distance.
        d_right = ids[right] - spaces
        d_left = spaces - ids[left]
        out: npt.NDArray[np.uint64] = np.where(d_right < d_left, ids[right], ids[left])
        return out

    def lookup_keys(self, keys: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
        return self.lookup_spaces(spaces_from_keys(keys))
