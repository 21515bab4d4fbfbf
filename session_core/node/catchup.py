"""Catch-up between swarm members, served a page at a time (issue 11: a 23-byte ``catchup``
once made a node send everything it held, 300 MB, to any registered node).

Theory of operation
-------------------
A node that (re)starts asks each member of its swarm for what they hold: ``catchup [cursor]``.
The answer is ``OK, next_cursor, batch...``: the records for the asker's swarm among the next
rows of the store (row ids above *cursor*), up to :data:`PAGE_BYTES` of data and
:data:`SCAN_ROWS` rows looked at; ``next_cursor`` is empty once the store is exhausted.  The
asker asks for the next page itself, so a server never builds more than one page per request.

Only a current member of our swarm is served (another node has no business with our
records); anyone else gets ``421``.  Each member may take :data:`PAGES_PER_SECOND` pages a
second (burst :data:`PAGE_BURST`); past that it gets ``429`` and waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from session_core.node import replication
from session_core.node.network import NetworkView
from session_core.node.store import MessageStore

__all__ = ["PAGE_BYTES", "SCAN_ROWS", "PAGES_PER_SECOND", "PAGE_BURST", "PageLimiter", "serve_page", "parse_cursor"]

#: Data per page: a few ZMQ frames of the 500 kB replication batches; small enough that one
#: answer is cheap to build and to hold, large enough that a full catch-up is few round trips.
PAGE_BYTES = 2 * 1024 * 1024
#: Rows looked at per page, matching or not (a store that holds mostly other swarms' records
#: still answers quickly, with a short or empty page and a cursor further on).
SCAN_ROWS = 20_000
_READ_ROWS = 1_000
#: Per asking member: 8 pages (16 MiB) a second, 16 at once.  A real catch-up of 300 MB takes
#: ~20 s; a member that asks in a loop costs us at most that rate.
PAGES_PER_SECOND = 8.0
PAGE_BURST = 16.0
_MAX_CURSOR_DIGITS = 19  # a row id fits in a signed 64-bit integer
_MAX_TRACKED = 256  # limiter entries kept (askers are swarm members: a handful)


def parse_cursor(args: list[bytes]) -> int | None:
    """The row id a ``catchup`` asks to start after (0: from the start); None if malformed."""
    if not args or args[0] == b"":
        return 0 if len(args) <= 1 else None
    if len(args) != 1 or len(args[0]) > _MAX_CURSOR_DIGITS or not args[0].isdigit():
        return None
    return int(args[0])


def serve_page(store: MessageStore, view: NetworkView, swarm_id: int, after: int, now_ms: int,
               page_bytes: int = PAGE_BYTES, scan_rows: int = SCAN_ROWS) -> list[bytes]:
    """``[b"OK", next_cursor, *batches]`` for the rows after *after* owned by *swarm_id*."""
    chosen = []
    size = scanned = 0
    cursor = after
    exhausted = False
    while size < page_bytes and scanned < scan_rows:
        rows = store.messages_after(cursor, min(_READ_ROWS, scan_rows - scanned), now_ms)
        if not rows:
            exhausted = True
            break
        for row_id, msg in rows:
            cursor = row_id
            scanned += 1
            if view.swarm_for_pubkey(msg.pubkey) == swarm_id:
                chosen.append(msg)
                size += len(msg.data)
                if size >= page_bytes:
                    break
    next_cursor = b"" if exhausted else str(cursor).encode()
    return [b"OK", next_cursor, *replication.serialize_batches(chosen)]


@dataclass
class _Bucket:
    tokens: float
    at: float


class PageLimiter:
    """A token bucket per asking node (its x25519 key)."""

    def __init__(self, rate: float = PAGES_PER_SECOND, burst: float = PAGE_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, who: str) -> bool:
        now = self._clock()
        b = self._buckets.get(who)
        if b is None:
            if len(self._buckets) >= _MAX_TRACKED:
                # Forget the askers whose buckets are full again: they lose nothing by it.
                full = [k for k, v in self._buckets.items() if v.tokens + (now - v.at) * self.rate >= self.burst]
                for k in full:
                    del self._buckets[k]
            b = self._buckets[who] = _Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
        b.at = now
        if b.tokens < 1.0:
            return False
        b.tokens -= 1.0
        return True
