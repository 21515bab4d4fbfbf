"""The two receiving loops every poller of the client shares (its own swarm, its listening
mailbox, each closed group's swarm): a fixed-interval round, and a long-poll.

Both outlive anything one round throws (logged, then the next round): a receiving loop that
died on one bad answer would make the client look online while it reads nothing.

A long-poll asks again as soon as an answer comes back, so a node that always answers at once
("there is something", or an error) could make it spin.  Two brakes, with different jobs:

- a request that was *not held* (it failed, or came back empty well before its wait) is
  followed by the loop's ``interval``: the node does not hold requests, so we poll;
- answers that do bring something are paced by :class:`Pacer`, a token bucket: up to
  :data:`LONG_POLL_BURST` requests back to back, then at most :data:`LONG_POLL_MAX_RATE` a
  second, each waiting only until its token is due (at most ``1 / LONG_POLL_MAX_RATE`` s).
  An honest conversation (a message every few tens of ms) never empties the bucket, so each
  answer is followed at once by the next held request and the next message is not kept
  waiting in the node; the old brake (a full ``interval`` once 20 answers came within a
  second) did keep it waiting, up to ``listen_interval`` plus half a round trip (issue 19).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["LONG_POLL_BURST", "LONG_POLL_MAX_RATE", "Pacer", "every", "long_poll"]

log = logging.getLogger("session_core.client")

#: Most requests a long-poll loop sends in a second, sustained, while answers keep coming.
LONG_POLL_MAX_RATE = 20
#: Requests it may send back to back before that rate applies (a burst of messages).
LONG_POLL_BURST = 20


class Pacer:
    """A token bucket (sans-IO: times in seconds are passed in): :meth:`delay` says how long to
    wait before the next request; :meth:`take` spends a token when it goes out."""

    def __init__(self, rate: float = LONG_POLL_MAX_RATE, burst: int = LONG_POLL_BURST, now: float = 0.0) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a pacer needs a positive rate and burst")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
            self._at = now

    def delay(self, now: float) -> float:
        """Seconds until a token is available (0: send now)."""
        self._refill(now)
        return 0.0 if self._tokens >= 1.0 - 1e-9 else (1.0 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1.0


async def every(interval: float, fn: Callable[[], Awaitable[Any]], running: Callable[[], bool]) -> None:
    """Call *fn*, then sleep *interval*, while *running()*."""
    while running():
        try:
            await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a loop must survive anything one round throws
            log.info("%s failed: %s", getattr(fn, "__name__", fn), exc)
        await asyncio.sleep(interval)


async def long_poll(wait_ms: int, interval: float, fetch: Callable[[int], Awaitable[int]],
                    running: Callable[[], bool], *, clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
    """Call ``fetch(wait_ms)`` (a request the node may hold up to *wait_ms*; it returns how many
    items came) again as soon as it answers, while *running()*.  Back off *interval* when the
    request was not held (it failed, or came back empty well before its wait); pace answers
    that keep bringing items with a :class:`Pacer` (see the module's docstring)."""
    pacer = Pacer(now=clock())
    while running():
        wait = pacer.delay(clock())
        if wait > 0:
            await sleep(wait)  # then the token is due (no second look: rounding must not spin)
            if not running():
                break
        t0 = clock()
        pacer.take(t0)
        got = 0
        try:
            got = await fetch(wait_ms)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a loop must survive anything one round throws
            log.info("long-poll failed: %s", exc)
        if not got and clock() - t0 < wait_ms / 2000:
            await sleep(interval)
