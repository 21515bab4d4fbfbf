"""Difficulty policy and the ±15 min history window (docs/interop.md §1.5)."""

from __future__ import annotations

import pytest

from session_core.node.difficulty import (
    EPOCH_MS,
    DifficultyPolicy,
    DifficultyTracker,
    valid_difficulty,
)

T = 1554859211  # the upstream unit test's timestamp (ms)
MIN = 60_000


def test_upstream_history_vectors() -> None:
    # SS-1.0.10 unit_test/pow.cpp (docs/interop.md §1.8)
    assert valid_difficulty(T, [(T - 30 * MIN, 1000), (T - 20 * MIN, 10)]) == 10
    assert valid_difficulty(T, [(T - 30 * MIN, 1000), (T + 5 * MIN, 10)]) == 10


def test_window_edges_and_defaults() -> None:
    assert valid_difficulty(T, []) == 2**31 - 1
    assert valid_difficulty(T, [(T - 30 * MIN, 50)]) == 50  # only most_recent
    assert valid_difficulty(T, [(T - 30 * MIN, 50), (T + 15 * MIN, 3)]) == 3  # edge is inclusive
    assert valid_difficulty(T, [(T - 30 * MIN, 50), (T + 15 * MIN + 1, 3)]) == 50
    assert valid_difficulty(T, [(T, 9)]) == 9  # not "before", but inside the window
    # ties on timestamp: the later entry in the list wins most_recent
    assert valid_difficulty(T, [(T - 30 * MIN, 4), (T - 30 * MIN, 6)]) == 6


def test_policy_rises_with_load() -> None:
    p = DifficultyPolicy(base=2, messages_per_step=100, maximum=9)
    assert [p.for_load(n) for n in (0, 99, 100, 250, 10**6)] == [2, 2, 4, 6, 9]
    with pytest.raises(ValueError):
        p.for_load(-1)
    with pytest.raises(ValueError):
        DifficultyPolicy(base=0)


def test_tracker_uses_previous_epoch_load() -> None:
    tr = DifficultyTracker(DifficultyPolicy(base=1, messages_per_step=10))
    t0 = 100 * EPOCH_MS
    assert tr.current(t0) == 1
    tr.record_store(t0 + 5, count=25)
    assert tr.current(t0 + EPOCH_MS - 1) == 1  # same epoch: unchanged
    assert tr.current(t0 + EPOCH_MS) == 3  # 25 stores -> 1 + 25 // 10
    assert tr.current(t0 + 3 * EPOCH_MS) == 1  # quiet epochs bring it back down
    # A message from before anything we measured meets the base difficulty.
    assert tr.for_replicated(5, t0 + 3 * EPOCH_MS) == 1
    # Inside the window of the D=3 epoch, the lower neighbour still counts.
    assert tr.for_replicated(t0 + EPOCH_MS + 1, t0 + 3 * EPOCH_MS) == 1
