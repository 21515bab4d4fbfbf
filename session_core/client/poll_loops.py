"""The two receiving loops every poller of the client shares (its own swarm, its listening
mailbox, each closed group's swarm): a fixed-interval round, and a long-poll.

Both outlive anything one round throws (logged, then the next round): a receiving loop that
died on one bad answer would make the client look online while it reads nothing.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["LONG_POLL_MAX_RATE", "every", "long_poll"]

log = logging.getLogger("session_core.client")

#: Most requests a long-poll loop sends in a second before it backs off (see :func:`long_poll`).
LONG_POLL_MAX_RATE = 20


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
                    running: Callable[[], bool]) -> None:
    """Call ``fetch(wait_ms)`` (a request the node may hold up to *wait_ms*; it returns how many
    items came) again as soon as it answers, while *running()*.  Back off *interval* when the
    request was not held (it failed, or came back empty well before its wait), and when answers
    come faster than :data:`LONG_POLL_MAX_RATE` a second (a node that never stops "having"
    messages must not make us spin; an honest burst is drained in batches anyway)."""
    recent: collections.deque[float] = collections.deque(maxlen=LONG_POLL_MAX_RATE)
    while running():
        t0 = time.monotonic()
        recent.append(t0)
        got = 0
        try:
            got = await fetch(wait_ms)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a loop must survive anything one round throws
            log.info("long-poll failed: %s", exc)
        if not got and time.monotonic() - t0 < wait_ms / 2000:
            await asyncio.sleep(interval)
        elif len(recent) == recent.maxlen and time.monotonic() - recent[0] < 1.0:
            await asyncio.sleep(interval)
