"""Running a proof-of-work search: threads, cancellation, timeouts and progress.

Theory of operation.  A backend ``Search`` object (C or Python) hands out
blocks of 1024 nonces in increasing order and keeps the smallest hit, so the
answer is the first valid nonce from ``start`` whatever the thread count.
Easy puzzles are answered inline in the caller's thread (a few blocks, no
thread start-up).  Otherwise N worker threads run ``Search.work`` with the GIL
released, while the calling thread sleeps on a completion event and wakes to
report progress, enforce the deadline or notice a cancelled ``threading.Event``.
A :class:`CancelToken` cancels the search directly from whichever thread calls
it.  Workers see a cancellation at their next block (1024 trials: well under a
millisecond on any SIMD kernel).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from session_core.errors import (
    NonceSpaceExhaustedError,
    SolveCancelledError,
    SolveTimeoutError,
)

BLOCK = 1024  # nonces per claim: the cancellation granularity
INLINE_BLOCKS = 16  # blocks tried in the caller's thread before starting workers
_EVENT_POLL = 0.002  # seconds between checks of a plain threading.Event


class SearchLike(Protocol):
    kernel: str

    def work(self, max_blocks: int = 0) -> None: ...
    def cancel(self) -> None: ...
    def result(self) -> tuple[int, int | None]: ...
    @property
    def trials(self) -> int: ...
    @property
    def exhausted(self) -> bool: ...


@dataclass(frozen=True)
class SolveProgress:
    """A progress report: trials so far, seconds elapsed, trials/s, expected trials."""

    trials: int
    elapsed: float
    rate: float
    expected: float
    threads: int
    kernel: str


class CancelToken:
    """Cancels a running solve from any thread (or from an asyncio task).

    One token may be shared by several solves; once cancelled it stays cancelled.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def _subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)
            already = self._event.is_set()
        if already:
            callback()

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe


CancelLike = CancelToken | threading.Event


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS has no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def run_search(
    search: SearchLike,
    *,
    threads: int,
    expected: float,
    timeout: float | None,
    cancel: CancelLike | None,
    progress: Callable[[SolveProgress], Any] | None,
    progress_interval: float,
) -> int:
    """Drive *search* to an answer; return the nonce or raise."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout

    def stopped_early() -> None:
        if deadline is not None and time.monotonic() >= deadline:
            raise SolveTimeoutError(
                f"no valid nonce within {timeout} s ({search.trials} trials, "
                f"{expected:.0f} expected)"
            )
        raise SolveCancelledError(f"solve cancelled after {search.trials} trials")

    def answer() -> int | None:
        code, nonce = search.result()
        if code == 1:
            assert nonce is not None
            return nonce
        if code == -1:
            stopped_early()
        if search.exhausted:
            raise NonceSpaceExhaustedError(
                f"no valid nonce in the {search.trials} nonces searched"
            )
        return None

    if cancel is not None and (cancel.cancelled if isinstance(cancel, CancelToken) else cancel.is_set()):
        raise SolveCancelledError("solve cancelled before it started")
    if deadline is not None and timeout is not None and timeout <= 0:
        raise SolveTimeoutError("timeout must be positive to search at all")

    if progress is None:
        search.work(INLINE_BLOCKS)
        found = answer()
        if found is not None:
            return found

    done = threading.Event()
    remaining = [threads]
    count_lock = threading.Lock()

    def worker() -> None:
        try:
            search.work()
        finally:
            with count_lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

    unsubscribe = cancel._subscribe(search.cancel) if isinstance(cancel, CancelToken) else None
    workers = [threading.Thread(target=worker, name=f"pow-{i}", daemon=True) for i in range(threads)]
    next_report = started + progress_interval
    try:
        for thread in workers:
            thread.start()
        while not done.is_set():
            now = time.monotonic()
            wait = 0.1
            if progress is not None:
                wait = min(wait, max(0.0, next_report - now))
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
            if isinstance(cancel, threading.Event):
                wait = min(wait, _EVENT_POLL)
            if done.wait(wait):
                break
            now = time.monotonic()
            if (deadline is not None and now >= deadline) or (
                isinstance(cancel, threading.Event) and cancel.is_set()
            ):
                search.cancel()
            if progress is not None and now >= next_report:
                elapsed = now - started
                trials = search.trials
                progress(
                    SolveProgress(trials, elapsed, trials / elapsed if elapsed else 0.0,
                                  expected, threads, search.kernel)
                )
                next_report = now + progress_interval
    finally:
        if not done.is_set():
            search.cancel()  # an exception (KeyboardInterrupt, progress callback) got here
        for thread in workers:
            thread.join()
        if unsubscribe is not None:
            unsubscribe()
    found = answer()
    if found is None:  # workers stop only when answered, exhausted or cancelled
        raise AssertionError("PoW search ended without an answer")
    return found
