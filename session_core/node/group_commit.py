"""Group commit: the client stores accepted in one event-loop iteration share one SQLite
transaction, and each request is answered only once that transaction committed."""

from __future__ import annotations

import asyncio

from session_core.node.message import Message
from session_core.node.store import MessageStore


class GroupCommit:
    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self._queue: list[tuple[Message, asyncio.Future[bool]]] = []

    def __call__(self, msg: Message) -> asyncio.Future[bool]:
        """Save *msg* with the others of this loop iteration; the future says whether it was new."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._queue.append((msg, fut))
        if len(self._queue) == 1:
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        try:
            flags = self.store.save_each([m for m, _ in batch])
        except Exception as exc:  # e.g. disk full: every waiting request fails, none is acknowledged
            for _, f in batch:
                if not f.done():
                    f.set_exception(exc)
            return
        for (_, f), new in zip(batch, flags):
            if not f.done():
                f.set_result(new)
