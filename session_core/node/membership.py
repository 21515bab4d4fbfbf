"""A node's membership of the network: registering with the chain, following it, and moving
records when swarms change.

Theory of operation
-------------------
:func:`register` signs this node's registration and sends it until the chain takes it.
:func:`follow_chain` polls ``get_n_service_nodes`` and hands every new block's
:class:`NetworkView` to the node.  For each view that lists this node,
:meth:`Membership.on_view` derives the membership events of :mod:`session_core.swarm` and
pushes records accordingly (node joined -> all records to it; new swarm -> the records it now
owns; our swarm dissolved -> everything to its new owners), and, the first time, pulls what
its swarm holds (catch-up after downtime).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from session_core.chain.client import ChainClient
from session_core.chain.registration import Registration
from session_core.errors import ChainError, PeerRequestError, ReplicationBatchError
from session_core.node.clock import now_ms
from session_core.node.expiry_proofs import ExpiryProof
from session_core.node.keys import NodeKeys
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node import catchup
from session_core.node.peer import describe, ok
from session_core.node.replicator import Replicator
from session_core.node.store import MessageStore
from session_core.swarm import SwarmEvents, SwarmMap, derive_swarm_events, plan_pushes, swarm_space

log = logging.getLogger("session_core.node")

CATCHUP_ATTEMPTS = 5  # tries in a row per peer (it may not know we joined yet, or pace us)
PUSH_ATTEMPTS = 6  # a hand-over push refused with 421 is retried (the receiver's view lags)
MAX_CATCHUP_PAGES = 1_000_000  # a peer whose cursor never ends is not followed for ever


async def register(chain: ChainClient, keys: NodeKeys, ip: str, http_port: int, zmq_port: int) -> None:
    """Register (or re-register, with new ports) until the chain accepts; a deregistered node
    cannot come back, so that refusal is raised."""
    reg = Registration.for_key(keys.signing, ip, http_port, zmq_port)
    delay = 0.1
    while True:
        try:
            res = await chain.call("register_service_node", reg.sign(keys.signing))
            log.info("registered with the chain (state %s)", res.get("state"))
            return
        except ChainError as exc:
            if "deregistered" in str(exc):
                raise
            log.warning("registration failed, retrying: %s", exc)
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)


async def follow_chain(
    chain: ChainClient, poll_interval: float, current: Callable[[], NetworkView | None],
    on_new_view: Callable[[NetworkView], None],
) -> None:
    """Poll the chain for ever; call *on_new_view* for each block that differs from *current*."""
    while True:
        try:
            res = await chain.call("get_n_service_nodes", {"active_only": True})
            view = current()
            if view is None or res["block_hash"] != view.block_hash:
                on_new_view(NetworkView.from_chain_result(res))
        except (ChainError, KeyError, TypeError, ValueError) as exc:
            log.warning("cannot follow the chain: %s", exc)
        await asyncio.sleep(poll_interval)


class Membership:
    """Moves records when the swarms change around this node (see the module doc)."""

    def __init__(
        self, me: str, store: MessageStore, replicator: Replicator,
        spawn: Callable[[Awaitable[Any]], None],
    ) -> None:
        self.me = me
        self.store = store
        self.replicator = replicator
        self._spawn = spawn
        self._caught_up = False

    def on_view(self, old: NetworkView | None, view: NetworkView) -> None:
        me = view.node(self.me)
        if me is None:
            return
        events = derive_swarm_events(self.me, old.swarms() if old else None, view.swarms())
        if not self._caught_up:
            # (Re)joining after a start: pull what the swarm holds (catch-up after downtime).
            self._caught_up = True
            self._spawn(self.catch_up(view, me.swarm_id))
        if events.dissolved or events.new_swarms or events.new_snodes:
            self._spawn(self.push_for_events(events, view))

    async def catch_up(self, view: NetworkView, swarm_id: int) -> None:
        peers = self.replicator.peers

        async def pull(peer: SnodeInfo) -> int:
            """Page through what *peer* holds for our swarm (node/catchup.py)."""
            got, cursor, failures, pages = 0, 0, 0, 0
            while failures < CATCHUP_ATTEMPTS and pages < MAX_CATCHUP_PAGES:
                # A peer that has not seen the block with our registration yet refuses us
                # (ZAP, or 421), and one that paces us answers 429: wait and ask again.
                arg = str(cursor).encode() if cursor else b""
                try:
                    parts = await peers.request(peer.x25519, peer.ip, peer.zmq_port, b"catchup", [arg], 3.0)
                except PeerRequestError as exc:
                    parts = [b"000", str(exc).encode()]
                if parts[:1] in ([b"421"], [b"429"], [b"503"], [b"000"]):
                    failures += 1
                    log.info("catch-up from a peer: %s (attempt %d)", describe(parts), failures)
                    await asyncio.sleep(0.5)
                    continue
                if not ok(parts) or len(parts) < 2:
                    break
                failures = 0
                pages += 1
                try:
                    got += self.replicator.accept(parts[2:], peer.x25519).new
                except ReplicationBatchError as exc:
                    log.info("catch-up from a peer: bad batch: %s", exc)
                    break
                following = catchup.parse_cursor([parts[1]])
                if not parts[1] or following is None or following <= cursor:
                    break  # the end (or a cursor that does not move on: stop)
                cursor = following
            await pull_expiries(peer)
            return got

        async def pull_expiries(peer: SnodeInfo) -> None:
            """The owner-signed expiries *peer* applied while we were away (node/expiry_proofs.py)."""
            cursor, pages, failures = 0, 0, 0
            while failures < CATCHUP_ATTEMPTS and pages < MAX_CATCHUP_PAGES:
                arg = str(cursor).encode() if cursor else b""
                try:
                    parts = await peers.request(peer.x25519, peer.ip, peer.zmq_port, b"catchup_expiries", [arg], 3.0)
                except PeerRequestError as exc:
                    parts = [b"000", str(exc).encode()]
                if parts[:1] in ([b"421"], [b"429"], [b"503"], [b"000"]):  # as for the messages: wait, ask again
                    failures += 1
                    log.info("expiry catch-up from a peer: %s (attempt %d)", describe(parts), failures)
                    await asyncio.sleep(0.5)
                    continue
                if not ok(parts) or len(parts) < 2:
                    log.info("expiry catch-up from a peer: %s", describe(parts))
                    return
                failures = 0
                pages += 1
                try:
                    self.replicator.accept_expiries(parts[2:], peer.x25519)
                except ReplicationBatchError as exc:
                    log.info("expiry catch-up from a peer: bad proof: %s", exc)
                    return
                following = catchup.parse_cursor([parts[1]])
                if not parts[1] or following is None or following <= cursor:
                    return
                cursor = following

        got = await asyncio.gather(*(pull(p) for p in self.replicator.swarm_peers(view, swarm_id)))
        log.info("caught up %d messages from %d peers", sum(got), len(got))

    async def push_for_events(self, events: SwarmEvents[str], view: NetworkView) -> None:
        msgs = list(self.store.messages(now_ms()))
        if not msgs:
            return
        spaces = np.array([swarm_space(m.pubkey) for m in msgs], dtype=np.uint64)
        plan = plan_pushes(events, spaces, SwarmMap(view.swarm_ids))
        # The owners' signed expiries go with their messages (node/expiry_proofs.py), after them.
        proofs = self.replicator.kept_proofs()
        jobs = []
        for ed in plan.to_nodes:
            node = view.node(ed)
            if node is not None:
                jobs.append(self._hand_over(node, msgs, proofs))
        for sid, idx in plan.by_swarm.items():
            chosen = [msgs[int(i)] for i in idx]
            theirs = [p for p in proofs if view.swarm_for_pubkey(p.pubkey) == sid]
            jobs.extend(self._hand_over(n, chosen, theirs) for n in self.replicator.swarm_peers(view, sid))
        log.info("membership change: pushing records to %d nodes", len(jobs))
        await asyncio.gather(*jobs)

    async def _hand_over(self, node: SnodeInfo, msgs: list[Message], proofs: list[ExpiryProof]) -> bool:
        if not await self.replicator.push(node, msgs, attempts=PUSH_ATTEMPTS):
            return False
        return not proofs or await self.replicator.push_expiries(node, proofs)
