"""Proof-of-work difficulty: the policy a swarm follows and the history window.

Theory of operation
-------------------
The whitepaper (§6.1.1) says D "rises as the number of messages stored by swarms
over a certain time period increases"; the 2020 network actually set D centrally
(a DNS TXT record read every 10 minutes, docs/interop.md §1.5).  We keep upstream's
shape -- a history of ``(epoch_start_ms, D)`` entries, one per 10-minute epoch --
but compute each entry locally from load:

    D(epoch k) = difficulty_for_load(stores seen during epoch k-1)
               = min(maximum, base * (1 + stores // messages_per_step))

Every member of a swarm stores the same messages (replication runs every
~350 ms), so the members see nearly the same count and derive the same D.  They
may disagree right at an epoch boundary; that is what the ±15 minute window of
:func:`valid_difficulty` absorbs when peers re-verify replicated messages, and a
client that meets a member with a higher D just gets a 432 carrying the new D.

Only client ``store`` requests are checked against the *current* D; messages
replicated from peers are checked against :func:`valid_difficulty` of their
own timestamp, exactly as the 2020 storage server did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

EPOCH_MS = 10 * 60 * 1000  # upstream POW_DIFFICULTY_UPDATE_INTERVAL
TIMESTAMP_VARIANCE_MS = 15 * 60 * 1000  # upstream TIMESTAMP_VARIANCE (docs/interop.md §1.5)
_INT_MAX = 2**31 - 1  # upstream's "no entry" default
HISTORY_LENGTH = 12  # two hours of epochs: far more than the ±15 min window needs


@dataclass(frozen=True, slots=True)
class DifficultyPolicy:
    """How the load of one epoch turns into the next epoch's difficulty."""

    base: int = 1
    messages_per_step: int = 5000
    maximum: int = 100_000

    def __post_init__(self) -> None:
        if self.base < 1 or self.messages_per_step < 1 or self.maximum < self.base:
            raise ValueError("difficulty policy needs base >= 1, messages_per_step >= 1, maximum >= base")

    def for_load(self, stores_last_epoch: int) -> int:
        """Difficulty for the epoch after one in which *stores_last_epoch* messages arrived."""
        if stores_last_epoch < 0:
            raise ValueError("a store count cannot be negative")
        return min(self.maximum, self.base * (1 + stores_last_epoch // self.messages_per_step))


def epoch_start(ts_ms: int) -> int:
    return ts_ms - ts_ms % EPOCH_MS


def valid_difficulty(msg_ts: int, history: Sequence[tuple[int, int]]) -> int:
    """The difficulty a replicated message with timestamp *msg_ts* must meet (docs/interop.md §1.5).

    ``min(most_recent, window_min)`` where ``most_recent`` is the D of the latest
    entry strictly before *msg_ts* (a later entry in the list wins a tie) and
    ``window_min`` the smallest D within ±15 minutes; each defaults to INT_MAX.
    """
    most_recent = _INT_MAX
    most_recent_ts = -1
    window_min = _INT_MAX
    for ts, d in history:
        if ts < msg_ts and ts >= most_recent_ts:
            most_recent_ts, most_recent = ts, d
        if msg_ts - TIMESTAMP_VARIANCE_MS <= ts <= msg_ts + TIMESTAMP_VARIANCE_MS:
            window_min = min(window_min, d)
    return min(most_recent, window_min)


@dataclass
class DifficultyTracker:
    """Counts stores per epoch and keeps the (epoch_start, D) history.  No clock of its own."""

    policy: DifficultyPolicy = field(default_factory=DifficultyPolicy)
    history: list[tuple[int, int]] = field(default_factory=list)
    _epoch: int = -1
    _count: int = 0

    def __post_init__(self) -> None:
        # Like upstream's start-up default {timestamp 0: low D}: messages older than
        # anything we measured (caught up or salvaged from peers) meet the base D.
        if not self.history:
            self.history.append((0, self.policy.base))

    def _roll(self, now_ms: int) -> None:
        start = epoch_start(now_ms)
        if start == self._epoch:
            return
        # Only the epoch just before counts; after a gap with no traffic the load was 0.
        previous = self._count if start - self._epoch == EPOCH_MS else 0
        self._epoch, self._count = start, 0
        self.history.append((start, self.policy.for_load(previous)))
        if len(self.history) > HISTORY_LENGTH:
            del self.history[1 : len(self.history) - HISTORY_LENGTH + 1]

    def current(self, now_ms: int) -> int:
        self._roll(now_ms)
        return self.history[-1][1]

    def record_store(self, now_ms: int, count: int = 1) -> None:
        self._roll(now_ms)
        self._count += count

    def for_replicated(self, msg_ts: int, now_ms: int) -> int:
        self._roll(now_ms)
        return valid_difficulty(msg_ts, self.history)
