"""Property tests for the swarm space (hypothesis): lookups vs brute force, new ids, assignment."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from session_core import _backend, swarm
from session_core.swarm.assign import MIN_SWARM_SIZE
from session_core.swarm.ids import MAX_ID

U64 = (1 << 64) - 1
BACKENDS = ["c", "python"]


def brute(ids: list[int], space: int) -> int:
    """Scan every swarm: smallest circle distance, an exact tie goes to the id below the space."""
    best: tuple[int, int] | None = None
    answer = -1
    for sid in ids:
        down = (space - sid) % (1 << 64)
        up = (sid - space) % (1 << 64)
        key = (down, 0) if down <= up else (up, 1)
        if best is None or key < best:
            best, answer = key, sid
    return answer


# Ids anywhere, near 0, near the top (wrap) and in tight clusters.
id_values = st.one_of(
    st.integers(0, MAX_ID),
    st.integers(0, 64),
    st.integers(MAX_ID - 64, MAX_ID),
    st.integers((1 << 63) - 8, (1 << 63) + 8),
)
id_sets = st.lists(id_values, min_size=1, max_size=40, unique=True)


@st.composite
def ids_and_spaces(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    ids = sorted(draw(id_sets))
    spaces = draw(st.lists(st.integers(0, U64), max_size=20))
    # Exact midpoints (duplicate distances) and neighbours of every gap, also the wrap gap.
    for i, a in enumerate(ids):
        b = ids[(i + 1) % len(ids)]
        gap = (b - a) % (1 << 64)
        for delta in (gap // 2, (gap + 1) // 2, 0, 1, U64):
            spaces.append((a + delta) % (1 << 64))
    spaces += [0, U64]
    return ids, spaces


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=ids_and_spaces())
def test_lookup_equals_brute_force(backend: str, data: tuple[list[int], list[int]]) -> None:
    ids, spaces = data
    smap = swarm.SwarmMap(ids, backend=backend)
    expected = [brute(ids, s) for s in spaces]
    assert smap.lookup_many(np.array(spaces, dtype=np.uint64)).tolist() == expected
    assert [smap.lookup(s) for s in spaces] == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=id_sets, keys=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=20))
def test_lookup_of_raw_keys_matches_swarm_space(backend: str, ids: list[int], keys: list[bytes]) -> None:
    smap = swarm.SwarmMap(ids, backend=backend)
    array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 32)
    assert smap.lookup_many(array).tolist() == [brute(sorted(ids), swarm.swarm_space(k)) for k in keys]
    assert [smap.lookup(b"\x05" + k) for k in keys] == smap.lookup_many(array).tolist()


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(id_values, max_size=30, unique=True))
def test_new_swarm_id_splits_a_largest_gap(ids: list[int]) -> None:
    new = swarm.new_swarm_id(ids)
    assert 0 <= new <= MAX_ID and new not in ids
    if not ids:
        assert new == 0
        return
    ordered = sorted(ids)
    # Gaps on the circle of MAX_ID+1 points (oxend: MAX_ID and 0 are one apart).
    ring = MAX_ID + 1
    gaps = [((ordered[(i + 1) % len(ordered)] - a) % ring or ring) for i, a in enumerate(ordered)]
    largest = max(gaps)
    i = gaps.index(largest)
    assert new == (ordered[i] + largest // 2) % ring


node_keys = st.integers(0, 10_000).map(lambda i: hashlib.sha256(i.to_bytes(4, "big")).digest())


@st.composite
def churn(draw: st.DrawFn) -> list[tuple[int, int, bytes]]:
    """Blocks of (joins, leaves, block hash); leaves are chosen later among active nodes."""
    blocks = draw(st.integers(1, 6))
    return [
        (draw(st.integers(0, 40)), draw(st.integers(0, 12)), draw(st.binary(min_size=32, max_size=32)))
        for _ in range(blocks)
    ]


@settings(max_examples=60, deadline=None)
@given(plan=churn(), start=st.integers(0, 80), picks=st.randoms(use_true_random=False))
def test_assignment_keeps_invariants_under_churn(plan: list[tuple[int, int, bytes]], start: int, picks) -> None:  # type: ignore[no-untyped-def]
    counter = iter(range(10**9))

    def fresh(n: int) -> list[bytes]:
        return [hashlib.sha256(b"node%d" % next(counter)).digest() for _ in range(n)]

    layout = swarm.assign_swarms({}, fresh(start), [], b"\x01" * 32).swarms
    for joins, leaves, block_hash in plan:
        active = sorted(n for m in layout.values() for n in m)
        gone = picks.sample(active, min(leaves, len(active)))
        new = fresh(joins)
        assume(active or new)
        changes = swarm.assign_swarms(layout, new, gone, block_hash)
        after = [n for m in changes.swarms.values() for n in m]
        # every node in exactly one swarm, and exactly the expected nodes
        assert len(after) == len(set(after))
        assert set(after) == (set(active) - set(gone)) | set(new)
        # no starving swarm unless it is the only one
        sizes = [len(m) for m in changes.swarms.values()]
        if len(sizes) > 1:
            assert min(sizes) >= MIN_SWARM_SIZE
        # ids valid and every key maps to an existing swarm
        smap = swarm.SwarmMap(changes.swarms)
        probes = np.array([0, U64, 1 << 63, *smap.ids], dtype=np.uint64) if smap.ids else None
        if probes is not None:
            assert set(smap.lookup_many(probes).tolist()) <= set(changes.swarms)
        # events agree with the layouts
        created = {e.swarm_id for e in changes.events if isinstance(e, swarm.SwarmCreated)}
        dissolved = {e.swarm_id for e in changes.events if isinstance(e, swarm.SwarmDissolved)}
        assert created == set(changes.swarms) - set(layout)
        assert dissolved == set(layout) - set(changes.swarms)
        layout = changes.swarms
