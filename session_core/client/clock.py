"""The client's idea of network time. Nodes refuse stores stamped more than 10 s ahead of their
clock (406, docs/interop.md §1.6); a client whose clock is minutes off asks a few nodes for theirs
(``info`` through onions), takes the median of the offsets, and stamps messages with the
corrected time from then on."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Sequence

from session_core.client.onion_client import OnionClient
from session_core.client.snode import Snode
from session_core.errors import ClientError

__all__ = ["NetworkClock"]


def _system_ms() -> int:
    return int(time.time() * 1000)


class NetworkClock:
    def __init__(self, local: Callable[[], int] = _system_ms) -> None:
        self.local = local  # injectable: tests give the client a skewed clock
        self.offset_ms = 0
        self._last = 0

    def now_ms(self) -> int:
        """Corrected time, strictly increasing (message timestamps double as message ids)."""
        t = max(self.local() + self.offset_ms, self._last + 1)
        self._last = t
        return t

    async def sync(self, oc: OnionClient, nodes: Sequence[Snode]) -> int | None:
        """Estimate the offset from up to 3 nodes; returns it (ms), or None if nobody answered."""

        async def sample(n: Snode) -> int | None:
            t0 = self.local()
            try:
                r = await oc.request(n, "info", {}, attempts=1)
                t = int(r.json()["t"]) if r.status == 200 else None
            except (ClientError, ValueError, KeyError, TypeError):
                return None
            t1 = self.local()
            return None if t is None else t - (t0 + t1) // 2

        got = [s for s in await asyncio.gather(*(sample(n) for n in nodes[:3])) if s is not None]
        if not got:
            return None
        self.offset_ms = int(statistics.median(got))
        self._last = 0  # a clock that was ahead must be allowed to go back
        return self.offset_ms
