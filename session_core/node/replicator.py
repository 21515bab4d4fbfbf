"""Moving records between nodes: replication to the swarm, pushes, accepting peers' batches.

Theory of operation
-------------------
Every message a client stored here is queued (:meth:`Replicator.on_stored`); every
``REPLICATE_INTERVAL`` the queue goes to each other member of our swarm, one batch per peer.
A peer that did not take its batch keeps it as a backlog (at most ``MAX_BACKLOG`` messages)
for the next round; a peer that left our swarm loses its backlog, since the membership pushes
(:mod:`session_core.node.membership`) cover its records.  :meth:`Replicator.push` is the one
way records go to another node; :meth:`Replicator.accept` the one way records from another
node are checked and stored.

The queue and the backlogs live in RAM, so the store also keeps a durable *outbox* of client
stores (written in the transaction that saved them, before the client's ack): a message
leaves it once no backlog holds it any more, and :meth:`Replicator.restore` queues what is
left when the node starts.  Without it, a node killed between an ack and the next round kept
the message on its own disk only (the soak test found hundreds of such messages).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from session_core.errors import PeerRequestError
from session_core.node import replication
from session_core.node.clock import now_ms
from session_core.node.difficulty import DifficultyTracker
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.peer import PeerClient, describe, ok
from session_core.node.stats import NodeStats
from session_core.node.store import MessageStore

log = logging.getLogger("session_core.node")

REPLICATE_INTERVAL = 0.35  # upstream RELAY_INTERVAL
PUSH_TIMEOUT = 10.0
REPLICATE_TIMEOUT = 3.0  # a peer that cannot take a batch in this time gets it next round
MAX_BACKLOG = 100_000  # messages kept per unreachable peer


class Outbox(Protocol):
    """Client stores not yet taken by every peer, kept across restarts (SqliteStore has one)."""

    def outbox_messages(self, now_ms: int) -> list[Message]: ...
    def outbox_remove(self, hashes: Iterable[str]) -> None: ...


class Replicator:
    def __init__(
        self,
        me: str,
        store: MessageStore,
        difficulty: DifficultyTracker,
        peers: PeerClient,
        view: Callable[[], NetworkView | None],
        stats: NodeStats,
        max_ttl_ms: int,
        outbox: Outbox | None = None,
    ) -> None:
        self.me = me
        self.store = store
        self.difficulty = difficulty
        self.peers = peers
        self._view = view
        self.stats = stats
        self.max_ttl_ms = max_ttl_ms
        self._fresh: list[Message] = []
        self._backlog: dict[str, list[Message]] = {}
        self._outbox = outbox
        self._unsent: set[str] = set()  # outbox entries queued or backlogged in this process

    def swarm_peers(self, view: NetworkView, swarm_id: int) -> list[SnodeInfo]:
        """The members of a swarm other than this node."""
        return [n for n in view.members(swarm_id) if n.ed25519 != self.me]

    # -- replication to our swarm -------------------------------------------------------------

    def on_stored(self, msg: Message) -> None:
        self.stats.stored += 1
        self._fresh.append(msg)
        if self._outbox is not None:
            self._unsent.add(msg.hash)

    def restore(self) -> int:
        """Queue the outbox a previous run of this node left (acked, maybe never replicated)."""
        if self._outbox is None:
            return 0
        msgs = [m for m in self._outbox.outbox_messages(now_ms()) if m.hash not in self._unsent]
        self._fresh[:0] = msgs
        self._unsent.update(m.hash for m in msgs)
        if msgs:
            log.info("re-queued %d stored messages not yet replicated before the restart", len(msgs))
        return len(msgs)

    async def run_forever(self) -> None:
        self.restore()
        while True:
            await asyncio.sleep(REPLICATE_INTERVAL)
            await self.replicate_once()

    async def replicate_once(self) -> None:
        fresh, self._fresh = self._fresh, []
        view = self._view()
        me = view.node(self.me) if view else None
        if view is None or me is None:
            self._fresh = fresh + self._fresh
            return
        peers = self.swarm_peers(view, me.swarm_id)
        members = {p.ed25519 for p in peers}
        for gone in [k for k in self._backlog if k not in members]:
            del self._backlog[gone]  # it left our swarm; membership pushes cover its records
        jobs = []
        for p in peers:
            todo = self._backlog.pop(p.ed25519, []) + fresh
            if todo:
                jobs.append(self._replicate_to(p, todo))
        await asyncio.gather(*jobs)
        self._settle_outbox()

    def _settle_outbox(self) -> None:
        """Drop from the outbox what every current peer took (no backlog holds it, not queued)."""
        if self._outbox is None or not self._unsent:
            return
        waiting = {m.hash for m in self._fresh}
        for msgs in self._backlog.values():
            waiting.update(m.hash for m in msgs)
        done = self._unsent - waiting
        if done:
            self._outbox.outbox_remove(done)
            self._unsent -= done

    async def _replicate_to(self, peer: SnodeInfo, msgs: list[Message]) -> None:
        if not await self.push(peer, msgs, REPLICATE_TIMEOUT):
            self._backlog[peer.ed25519] = (self._backlog.get(peer.ed25519, []) + msgs)[-MAX_BACKLOG:]

    # -- records between nodes ----------------------------------------------------------------

    async def push(self, node: SnodeInfo, msgs: list[Message], timeout: float = PUSH_TIMEOUT) -> bool:
        """Send *msgs* to *node* (``data`` batches); False if any batch was not taken."""
        for blob in replication.serialize_batches(msgs):
            try:
                parts = await self.peers.request(node.x25519, node.ip, node.zmq_port, b"data", [blob], timeout)
            except PeerRequestError as exc:
                log.info("push to a peer failed: %s", exc)
                return False
            if not ok(parts):
                log.info("peer refused a batch: %s", describe(parts))
                return False
        return True

    def accept(self, blobs: Iterable[bytes]) -> int:
        """Verify and store messages from a peer; returns how many were new."""
        now = now_ms()
        good = []
        for blob in blobs:
            for m in replication.parse_batch(blob):
                # Quotas apply to copies too; replicated messages are not client load
                # (they never raise the difficulty clients must meet).
                if replication.verify(m, now, self.difficulty, self.max_ttl_ms) and self.store.refusal(m, now) is None:
                    good.append(m)
        n = self.store.save_many(good)
        if n:
            self.stats.replicated_in += n
        return n

    def catchup_reply(self, peer_x25519: str) -> list[bytes]:
        """Answer a ``catchup``: every record of the asking node's swarm that we hold."""
        view = self._view()
        peer = view.node_by_x25519(peer_x25519) if view else None
        if view is None or peer is None:
            return [b"503", b"not ready"]
        msgs = [m for m in self.store.messages(now_ms()) if view.swarm_for_pubkey(m.pubkey) == peer.swarm_id]
        return [b"OK", *replication.serialize_batches(msgs)]
