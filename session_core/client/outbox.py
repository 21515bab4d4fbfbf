"""The outbox: stores the client owes the network, kept until a swarm has taken them.

Theory of operation
-------------------
Some stores follow something the user already saw succeed: the copy of a sent message for the
account's other devices (the message itself went out), a config push (the edit is already
applied here).  If such a store fails -- the own swarm is full, unreachable, refuses -- dropping
it would lose what was acknowledged.  So these go into the outbox *first*, a table of the
client's encrypted database, and leave it only once a store returned 200 (or the data would
have expired from the swarm anyway: it is then dropped, with a warning).

:meth:`Outbox.flush` (the poll loop calls it) tries what is due, oldest first.  A failure puts
the item back with an exponential backoff (``base * 2**(attempts-1)``, capped, with jitter so
devices do not retry in step) and postpones the other items for the same swarm to the same
time: they would fail the same way, and each attempt costs a proof of work.  An item may take a
*slot*: queuing another item in the same slot replaces it (a config push carries the whole
state of its domain, so a newer one supersedes an unsent older one).  The table survives a
restart; the next client to open the profile continues.

A retried store keeps its expiry: the TTL sent is what is left of the original one.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from session_core.client.db import ClientDB
from session_core.errors import ClientError

__all__ = ["Outbox", "OutboxItem"]

log = logging.getLogger("session_core.client.outbox")

#: ``store(recipient, data, ttl_ms)``: raises :class:`ClientError` when no swarm member took it.
StoreFn = Callable[[str, bytes, int], Awaitable[Any]]


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str  # what it is, for the caller: "sync_copy", "config"
    recipient: str  # whose swarm
    data: bytes
    expires_ms: int  # when the stored message expires (creation + TTL): retries keep it
    attempts: int
    due_ms: int


class Outbox:
    def __init__(self, db: ClientDB, *, base_ms: int = 1000, max_ms: int = 300_000,
                 rng: random.Random | None = None) -> None:
        if not 0 < base_ms <= max_ms:
            raise ValueError("outbox backoff: need 0 < base <= max")
        self.db = db
        self.base_ms = base_ms
        self.max_ms = max_ms
        self.rng = rng or random.Random()
        self._flushing = asyncio.Lock()  # one flush at a time: no item stored twice by us

    def add(self, kind: str, recipient: str, data: bytes, ttl_ms: int, now_ms: int, *, slot: str = "") -> int:
        """Queue a store, due at once; durable when this returns."""
        record = {"kind": kind, "to": recipient, "data": base64.b64encode(data).decode(), "exp": now_ms + ttl_ms}
        return self.db.outbox_add(record, now_ms, slot)

    def items(self, due_by_ms: int | None = None) -> list[OutboxItem]:
        return [_item(i, d, a, r) for i, d, a, r in self.db.outbox_rows(due_by_ms)]

    def __len__(self) -> int:
        return len(self.db.outbox_rows())

    def has(self, kind: str) -> bool:
        return any(item.kind == kind for item in self.items())

    def backoff_ms(self, attempts: int) -> int:
        """Delay before attempt ``attempts + 1``: doubling from ``base``, capped, jittered down."""
        full = min(self.max_ms, self.base_ms * 2 ** min(attempts - 1, 40))
        return max(1, int(full * self.rng.uniform(0.5, 1.0)))

    async def flush(self, store: StoreFn, now_ms: int) -> list[OutboxItem]:
        """Try every due item; returns those stored (removed from the outbox)."""
        async with self._flushing:
            return await self._flush(store, now_ms)

    async def _flush(self, store: StoreFn, now_ms: int) -> list[OutboxItem]:
        stored: list[OutboxItem] = []
        held: dict[str, int] = {}  # recipient -> when its swarm is tried again (failed this round)
        for item in self.items(now_ms):
            if item.expires_ms <= now_ms:
                log.warning("outbox: a %s for %s… expired before any store succeeded (%d attempts); dropped",
                            item.kind, item.recipient[:12], item.attempts)
                self.db.outbox_remove(item.id)
                continue
            if item.recipient in held:
                self.db.outbox_reschedule(item.id, held[item.recipient], item.attempts)
                continue
            try:
                await store(item.recipient, item.data, item.expires_ms - now_ms)
            except ClientError as exc:
                attempts = item.attempts + 1
                held[item.recipient] = now_ms + self.backoff_ms(attempts)
                self.db.outbox_reschedule(item.id, held[item.recipient], attempts)
                log.info("outbox: a %s for %s… not stored (attempt %d, next in %d ms): %s", item.kind,
                         item.recipient[:12], attempts, held[item.recipient] - now_ms, exc)
                continue
            self.db.outbox_remove(item.id)
            stored.append(item)
        return stored


def _item(row_id: int, due_ms: int, attempts: int, record: dict[str, Any]) -> OutboxItem:
    return OutboxItem(row_id, str(record["kind"]), str(record["to"]), base64.b64decode(record["data"]),
                      int(record["exp"]), attempts, due_ms)
