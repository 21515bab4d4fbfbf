"""Proof-of-work difficulty: the policy a swarm follows and the history window.

Theory of operation
-------------------
The whitepaper (§6.1.1) says D "rises as the number of messages stored by swarms
over a certain time period increases"; the 2020 network actually set D centrally
(a DNS TXT record read every 10 minutes, docs/interop.md).  We keep upstream's
shape -- a history of ``(epoch_start_ms, D)`` entries, one per 10-minute epoch --
but compute each entry locally from the load clients put on the node:

    D(epoch k) = policy.for_load(stores and bytes seen during epoch k-1)
               = min(maximum, base * (1 + max(stores // messages_per_step,
                                              bytes // bytes_per_step)))

Within an epoch the difficulty asked of clients also rises as soon as the load of
the epoch so far calls for more (:meth:`DifficultyTracker.current`), so a burst of
stores cannot ride the low D of a quiet previous epoch for ten minutes.

Every member of a swarm sees the same client stores (clients send to several
members and replication copies the rest), so members derive nearly the same D.
They may disagree right at an epoch boundary; that is what the ±15 minute window
of :func:`valid_difficulty` absorbs when peers re-verify replicated messages, and a
client that meets a member with a higher D just gets a 432 carrying the new D.

Only client ``store`` requests are checked against the *current* D and count as
load; messages replicated from peers are checked against :func:`valid_difficulty`
of their own timestamp, as the 2020 storage server did, and do not count as load
(otherwise one peer pushing old messages could raise every client's D).  The
history covers the longest TTL, so every message that has not expired has an
entry to be checked against; a timestamp older than the whole history (a node
younger than the longest TTL) must meet the highest D the history holds.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

EPOCH_MS = 10 * 60 * 1000  # upstream POW_DIFFICULTY_UPDATE_INTERVAL
TIMESTAMP_VARIANCE_MS = 15 * 60 * 1000  # upstream TIMESTAMP_VARIANCE (docs/interop.md §1.5)
# The longest TTL (96 h) plus the clock window: every live message's timestamp is covered.
HISTORY_MS = 96 * 3600 * 1000 + TIMESTAMP_VARIANCE_MS
_INT_MAX = 2**31 - 1  # upstream's answer for an empty history


@dataclass(frozen=True, slots=True)
class DifficultyPolicy:
    """How the load of one epoch turns into the next epoch's difficulty."""

    base: int = 1
    messages_per_step: int = 5000
    # 10 MiB of message data (~100 max-size messages) per step: a flood of large
    # messages raises D as fast as a flood of small ones.
    bytes_per_step: int = 10 * 1024 * 1024
    maximum: int = 100_000

    def __post_init__(self) -> None:
        if self.base < 1 or self.messages_per_step < 1 or self.bytes_per_step < 1 or self.maximum < self.base:
            raise ValueError(
                "difficulty policy needs base >= 1, messages_per_step >= 1, bytes_per_step >= 1, maximum >= base"
            )

    def for_load(self, stores: int, stored_bytes: int = 0) -> int:
        """Difficulty for a load of *stores* messages of *stored_bytes* bytes in one epoch."""
        if stores < 0 or stored_bytes < 0:
            raise ValueError("a store count or byte count cannot be negative")
        steps = max(stores // self.messages_per_step, stored_bytes // self.bytes_per_step)
        return min(self.maximum, self.base * (1 + steps))


def epoch_start(ts_ms: int) -> int:
    return ts_ms - ts_ms % EPOCH_MS


def valid_difficulty(msg_ts: int, history: Sequence[tuple[int, int]]) -> int:
    """The difficulty a replicated message with timestamp *msg_ts* must meet.

    Upstream's rule: ``min(most_recent, window_min)``, where ``most_recent`` is the D
    of the latest entry strictly before *msg_ts* and ``window_min`` the smallest D
    within ±15 minutes of it.  *history* is sorted by time.  A timestamp with no
    entry before it is older than everything we measured: it must meet the highest
    D in the history (upstream answered INT_MAX, or its start-up entry's low D).
    """
    if not history:
        return _INT_MAX
    i = bisect.bisect_left(history, (msg_ts, -1))  # first entry with ts >= msg_ts
    if i == 0:
        return max(d for _, d in history)
    most_recent = history[i - 1][1]
    lo = bisect.bisect_left(history, (msg_ts - TIMESTAMP_VARIANCE_MS, -1))
    hi = bisect.bisect_right(history, (msg_ts + TIMESTAMP_VARIANCE_MS, 1 << 62))
    window_min = min((d for _, d in history[lo:hi]), default=most_recent)
    return min(most_recent, window_min)


@dataclass
class DifficultyTracker:
    """Counts client stores (and their bytes) per epoch and keeps the (epoch_start, D)
    history for :data:`HISTORY_MS`.  No clock of its own; no I/O (the node saves
    :attr:`history` and hands it back after a restart)."""

    policy: DifficultyPolicy = field(default_factory=DifficultyPolicy)
    history: list[tuple[int, int]] = field(default_factory=list)
    history_ms: int = HISTORY_MS
    _epoch: int = -1
    _count: int = 0
    _bytes: int = 0

    def __post_init__(self) -> None:
        self.history = sorted({int(ts): int(d) for ts, d in self.history}.items())
        if self.history:
            self._epoch = self.history[-1][0]

    def _roll(self, now_ms: int) -> None:
        start = epoch_start(now_ms)
        if start <= self._epoch:
            return
        # Only the epoch just before counts; after a gap with no traffic the load was 0.
        if start - self._epoch == EPOCH_MS:
            d = self.policy.for_load(self._count, self._bytes)
        else:
            d = self.policy.base
        self._epoch, self._count, self._bytes = start, 0, 0
        self.history.append((start, d))
        # Keep one entry older than the cutoff: it is the "most recent" D of the oldest
        # timestamps still inside the window.
        cutoff = bisect.bisect_left(self.history, (start - self.history_ms, -1))
        if cutoff > 1:
            del self.history[: cutoff - 1]

    def current(self, now_ms: int) -> int:
        """The D a client store must meet now: the epoch's D, or more if this epoch's load
        so far already calls for more."""
        self._roll(now_ms)
        return max(self.history[-1][1], self.policy.for_load(self._count, self._bytes))

    def record_store(self, now_ms: int, count: int = 1, nbytes: int = 0) -> None:
        """Count client stores (never replicated messages: see the module docstring)."""
        self._roll(now_ms)
        self._count += count
        self._bytes += nbytes

    def for_replicated(self, msg_ts: int, now_ms: int) -> int:
        self._roll(now_ms)
        return valid_difficulty(msg_ts, self.history)

    def restore(self, entries: Iterable[tuple[int, int]]) -> None:
        """Merge a saved history (after a restart) into this one."""
        merged = dict(self.history)
        for ts, d in entries:
            merged.setdefault(int(ts), int(d))
        self.history = sorted(merged.items())
        self._epoch = max(self._epoch, self.history[-1][0]) if self.history else self._epoch
