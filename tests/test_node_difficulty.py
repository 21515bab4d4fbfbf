"""Difficulty policy and the ±15 min history window (docs/interop.md §1.5)."""

from __future__ import annotations

import pytest

from session_core.node.difficulty import (
    EPOCH_MS,
    HISTORY_MS,
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
    assert tr.current(t0 + EPOCH_MS) == 3  # 25 stores -> 1 + 25 // 10
    assert tr.current(t0 + 2 * EPOCH_MS - 1) == 3  # quiet epoch: keeps the D its start set
    assert tr.current(t0 + 3 * EPOCH_MS) == 1  # quiet epochs bring it back down
    # A message from before anything we measured meets the highest D we measured.
    assert tr.for_replicated(5, t0 + 3 * EPOCH_MS) == 3
    # Inside the window of the D=3 epoch, the lower neighbour still counts.
    assert tr.for_replicated(t0 + EPOCH_MS + 1, t0 + 3 * EPOCH_MS) == 1


def test_policy_rises_with_bytes_too() -> None:
    p = DifficultyPolicy(base=1, messages_per_step=1000, bytes_per_step=1000)
    assert p.for_load(1, 999) == 1
    assert p.for_load(1, 5000) == 6  # few messages, many bytes
    assert p.for_load(3000, 5000) == 6
    assert p.for_load(7000, 5000) == 8
    with pytest.raises(ValueError):
        p.for_load(0, -1)
    with pytest.raises(ValueError):
        DifficultyPolicy(bytes_per_step=0)


def test_difficulty_reacts_within_the_epoch() -> None:
    """A burst does not ride the quiet previous epoch's D until the next epoch."""
    tr = DifficultyTracker(DifficultyPolicy(base=1, messages_per_step=10, bytes_per_step=100_000))
    t0 = 100 * EPOCH_MS
    assert tr.current(t0) == 1
    tr.record_store(t0 + 1, count=9)
    assert tr.current(t0 + 2) == 1
    tr.record_store(t0 + 3, count=1)
    assert tr.current(t0 + 4) == 2  # 10 stores in this epoch already
    tr.record_store(t0 + 5, count=1, nbytes=350_000)
    assert tr.current(t0 + 6) == 4  # bytes: 1 + 350 000 // 100 000
    # Peers still verify at the D recorded at the epoch's start (never stricter than clients).
    assert tr.for_replicated(t0 + 5, t0 + 6) == 1


def test_history_covers_the_longest_ttl_and_is_bounded() -> None:
    tr = DifficultyTracker(DifficultyPolicy(base=1, messages_per_step=1))
    t0 = 1000 * EPOCH_MS
    epochs = HISTORY_MS // EPOCH_MS + 50
    for k in range(epochs):
        tr.record_store(t0 + k * EPOCH_MS, count=k % 3)
    now = t0 + (epochs - 1) * EPOCH_MS
    assert len(tr.history) <= HISTORY_MS // EPOCH_MS + 2
    assert tr.history[0][0] <= now - HISTORY_MS  # the oldest live timestamp has an entry
    # A message stored 95 h ago is checked against its own epoch, not the oldest one.
    ts = now - 95 * 3600 * 1000
    assert tr.for_replicated(ts, now) == valid_difficulty(ts, tr.history)


def test_backdated_message_meets_the_highest_recorded_difficulty() -> None:
    tr = DifficultyTracker(DifficultyPolicy(base=1, messages_per_step=10))
    t0 = 100 * EPOCH_MS
    tr.record_store(t0, count=50)
    assert tr.current(t0 + EPOCH_MS) == 6
    assert tr.current(t0 + 5 * EPOCH_MS) == 1
    assert tr.for_replicated(t0 - 4 * 3600 * 1000, t0 + 5 * EPOCH_MS) == 6


def test_history_survives_a_restart() -> None:
    tr = DifficultyTracker(DifficultyPolicy(base=1, messages_per_step=10))
    t0 = 100 * EPOCH_MS
    tr.record_store(t0, count=50)
    tr.current(t0 + EPOCH_MS)
    saved = list(tr.history)
    again = DifficultyTracker(DifficultyPolicy(base=1, messages_per_step=10), history=saved)
    assert again.history == saved
    assert again.for_replicated(t0 + EPOCH_MS + 1, t0 + EPOCH_MS + 2) == tr.for_replicated(t0 + EPOCH_MS + 1, t0 + EPOCH_MS + 2)
    fresh = DifficultyTracker(DifficultyPolicy(base=1, messages_per_step=10))
    fresh.current(t0 + 2 * EPOCH_MS)
    fresh.restore(saved)
    assert fresh.history == sorted(saved + [(t0 + 2 * EPOCH_MS, 1)])
