"""The asyncio messaging client: a Messenger (sans-IO protocol) driven over the network.

Theory of operation
-------------------
``start()`` loads the node list (seed, else cache), opens the encrypted database and restores
the Messenger, finds our swarm, picks a listening node in it and starts the receiving loops.
With ``long_poll_ms`` (the default) they are long-polls: one loop per swarm member we listen to
(``retrieve`` with ``wait``) and one on the listening mailbox (``listen_get`` with ``wait``);
each node holds the request until something arrives for us or the wait ends, and the loop asks
again at once, so delivery is event-driven and an idle client sends one request per member per
``long_poll_ms``.  A request the node did not hold (an error, an older node, a node holding all
it may) makes that loop wait ``poll_interval`` / ``listen_interval`` before asking again, which
is also the whole behaviour with ``long_poll_ms=0`` (plain polling). Everything received
(swarm or mailbox) goes through ``_ingest``: deduplicated by the SHA-256 of the envelope (so a
message that arrives from 3 swarm members, from the mailbox and the swarm, or replayed, is shown
once), decrypted by the Messenger, persisted, turned into :class:`ClientEvent` s.

Sending: if the peer advertised a listening route we send there (no PoW) and wait ``ack_timeout``
for their delivery receipt; without an ack the very same envelope is stored in their swarm (the
receiver's dedup keeps it from showing twice). Otherwise the message goes to the swarm, carrying
our own route so the peer can switch to synchronous routing.

Several devices of one account (``multi_device``, docs/devices.md): each poll of the own swarm
reads the config messages first (:mod:`session_core.client.devices`), applies them to the
Messenger, then reads the conversation messages, then publishes what needs publishing.  Every
sent text is followed by one copy stored in the own swarm, which all the other devices poll.
Copies and config pushes go through the durable outbox (:mod:`session_core.client.outbox`),
which the poll loop retries until the own swarm takes them.

Disappearing messages (docs/protections.md): a conversation's timer (:meth:`set_disappearing`)
rides on every text.  After send: every copy dies at the sender's timestamp + timer -- the swarm
copy is stored with that TTL and the recipient also shortens it with a signed ``expire``; after
read: the recipient's timer starts at :meth:`mark_read`, which shortens the swarm copy the same
way.  Local copies are deleted by :meth:`sweep_expired`, run at every poll.

The parts (one module each, a layer each: see :mod:`session_core.client.state`): the shared
state, the account across devices (account.py), sending (sending.py), protections
(protections.py), receiving (intake.py); this module starts and stops the receiving loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from session_core.client import poll_loops
from session_core.client.intake import Receiver
from session_core.client.state import ClientConfig, ClientEvent, SendReport
from session_core.client.sync import Listener
from session_core.errors import ClientError, ProtocolError

__all__ = ["Client", "ClientConfig", "ClientEvent", "SendReport"]

log = logging.getLogger("session_core.client")


class Client(Receiver):
    """A Session client: see the module doc."""

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, *, loops: bool = True) -> None:
        await self.nodelist.bootstrap(self.transport)
        self.pool.set_nodes(self.nodelist.nodes)
        swarm = await self.router.swarm_of(self.session_id)
        if self.cfg.sync:
            self.listener = Listener(self.rng.choice(swarm))
            with contextlib.suppress(ClientError):
                await self.listener.fetch(self.oc)  # registers the mailbox at once
        if loops:
            loop = asyncio.get_running_loop()
            if self.cfg.long_poll_ms > 0:
                for slot in range(self.cfg.poll_copies):
                    self._tasks.append(loop.create_task(self._long_poll(
                        self.cfg.poll_interval, functools.partial(self._poll_member, slot))))
                if self.listener is not None:
                    self._tasks.append(loop.create_task(self._long_poll(self.cfg.listen_interval, self._fetch_mailbox)))
                # What a poll round also does, now that no round is polled: expiry, the outbox, configs.
                self._tasks.append(loop.create_task(self._every(self.cfg.poll_interval, self._housekeeping)))
            else:
                self._tasks.append(loop.create_task(self._every(self.cfg.poll_interval, self.poll_swarm)))
                if self.listener is not None:
                    self._tasks.append(loop.create_task(self._every(self.cfg.listen_interval, self.poll_mailbox)))
            self._tasks.append(loop.create_task(self._every(self.cfg.refresh_interval, self.refresh_nodes)))

    async def stop(self) -> None:
        if self.wiped:
            return
        if self.listener is not None:
            # Tell peers we are going offline so they use the swarm at once (best effort).
            for peer, st in list(self.peers.items()):
                if st.route is not None and st.advertised:
                    with contextlib.suppress(ClientError, ProtocolError, asyncio.TimeoutError):
                        out = self.messenger.send_online_status(peer, self.listener.address, self.listener.node.port,
                                                                reachable=False, now_ms=self.clock.now_ms())
                        await asyncio.wait_for(self._deliver_sync(peer, st.route, out.data), 2.0)
        await self.stop_loops()
        if self._ingesting:  # envelopes already taken from the network: let them be stored
            await asyncio.wait(list(self._ingesting), timeout=2.0)
        for t in list(self._downloads) + list(self._ingesting):
            t.cancel()
        await asyncio.gather(*self._downloads, *self._ingesting, return_exceptions=True)
        self._save()
        await self.transport.close()
        self.db.close()

    async def _every(self, interval: float, fn: Callable[[], Any]) -> None:
        await poll_loops.every(interval, fn, lambda: not self._closing)

    async def _long_poll(self, interval: float, fetch: Callable[[int], Awaitable[int]]) -> None:
        await poll_loops.long_poll(self.cfg.long_poll_ms, interval, fetch, lambda: not self._closing)

    async def _poll_member(self, slot: int, wait_ms: int) -> int:
        """One long-poll on the *slot*-th member of our swarm; returns the messages it brought."""
        await self.router.swarm_of(self.session_id)
        members = self.router.members_to_poll(self.session_id, self.cfg.poll_copies)
        if slot >= len(members):
            return 0  # a swarm smaller than our slots: this loop idles at poll_interval
        got = await self.router.poll_member(self.session_id, members[slot], wait_ms)
        if got:
            self._in_background(self._take_from_swarm(got))
        return len(got)

    async def _fetch_mailbox(self, wait_ms: int) -> int:
        if self.listener is None:
            return 0
        got = await self.listener.fetch(self.oc, wait_ms)
        if got:
            self._ingest_later(got, "sync")
            # Let the ingest show the first envelope before we ask again: it runs until its
            # receipt's fsync (client/durable.py), and the deposit waits in the node meanwhile.
            await asyncio.sleep(0)
        return len(got)

    def _ingest_later(self, items: list[bytes], via: str) -> None:
        """Ingest envelopes from our listening mailbox in the background (see _in_background)."""
        async def run() -> None:
            for data in items:
                await self._ingest(data, via)

        self._in_background(run())

    def _in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run *work* (ingesting what a long-poll brought) in the background so the long-poll
        is asked again at once (receipts sent while ingesting cost a round trip).  The lock is
        first come, first served, so envelopes are still ingested in the order they arrived."""
        async def run() -> None:
            try:
                await work
            except Exception as exc:  # as the polling loops: one bad round must not go unseen
                log.info("ingest failed: %s", exc)

        task = asyncio.ensure_future(run())
        self._ingesting.add(task)
        task.add_done_callback(self._ingesting.discard)

    async def _housekeeping(self) -> None:
        """With long-polls: what each poll round does besides reading (expiry, outbox, configs)."""
        if self.wiped:
            return
        self.sweep_expired()
        await self.flush_outbox()
        if self.devices is not None:
            await self.push_config()
