"""The service node process: wires the node's parts to HTTP, ZMQ, SQLite and the chain.

Theory of operation
-------------------
``ServiceNode.start()`` opens the store, binds the ZMQ ROUTER and the HTTP server (ports
chosen by the OS when 0), registers with the chain and starts three loops:

- *follow* (:mod:`~session_core.node.membership`): on each new block, the node swaps in the
  new :class:`NetworkView`, admits only listed nodes to its ZMQ port, moves records when
  swarms change (pushes, catch-up) and runs the storage test of the block if it is the tester
  (:mod:`~session_core.node.storage_test_driver`);
- *replicate* (:mod:`~session_core.node.replicator`): sends the messages stored since the
  last round to the other members of the swarm;
- *purge*: deletes expired messages.

Requests come in over HTTP (clients: ``/storage_rpc/v1``, ``/onion_req/v2``, ``/status``) and
over ZMQ (other nodes: ``data``, ``expire``, ``catchup``, ``catchup_expiries``, ``storage_test``,
``ping``, ``onion``; onion
relays mostly through the C relay engine of :mod:`~session_core.node.fast_relay`).  Client
stores are answered only after SQLite committed the message.

Whoever starts a node may wrap some of its parts (:class:`NodeWrappers`): the test aids of
:mod:`session_core.testing` do; a production node wraps nothing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import zmq
import zmq.asyncio
from aiohttp import web
from aiohttp.typedefs import Middleware

from session_core import onion
from session_core.chain.client import ChainClient
from session_core.errors import OnionError, PeerRequestError, ReplicationBatchError
from session_core.node import listening, oxend_proxy, storage_test
from session_core.node.clock import now_ms
from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
from session_core.node.fast_relay import FastRelay
from session_core.node.group_commit import GroupCommit
from session_core.node.keys import NodeKeys
from session_core.node.membership import Membership, follow_chain, register
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.onion_relay import OnionRouter, RouterFactory
from session_core.node.peer import Incoming, PeerClient, PeerServer
from session_core.node.replicator import Replicator
from session_core.node.stats import NodeStats
from session_core.node.storage_rpc import MAX_REQUEST_BYTES, MAX_TTL_MS, Reply, StorageRPC
from session_core.node.storage_test_driver import StorageTestDriver
from session_core.node.long_poll import settle
from session_core.node.waiters import Waiters, pubkey_key
from session_core.node.exit_http import ExitClient
from session_core.node.http_guard import (
    ConnectionGuard,
    ConnectionLimits,
    GuardedSite,
    guard_middleware,
    rate_limited_exception_handler,
)
from session_core.node.store import MessageStore, SqliteStore, StorageLimits

log = logging.getLogger("session_core.node")

ONION_TIMEOUT = 30.0  # upstream's SN->SN onion request timeout


@dataclass
class NodeConfig:
    data_dir: Path
    chain_url: str
    ip: str = "127.0.0.1"
    http_port: int = 0
    zmq_port: int = 0
    poll_interval: float = 0.5
    purge_interval: float = 10.0
    difficulty: int = 1
    max_ttl_ms: int = MAX_TTL_MS
    ready_file: Path | None = None
    #: How long a testee waits for a record still propagating (upstream: about a minute).
    test_retry_period: float = storage_test.RETRY_PERIOD
    #: Relay onion requests with the C engine (fast_relay.py) when it is available; False
    #: keeps every request on the Python path (for comparisons).
    relay_engine: bool = True
    #: What the node agrees to hold (per Session ID and in all): node/store.py.
    limits: StorageLimits = field(default_factory=StorageLimits)
    #: Let onion exits reach loopback servers (a devnet's file/room servers); never on a
    #: public node (server-side request forgery: node/exit_http.py).
    exit_allow_loopback: bool = False
    #: Caps and deadlines of client connections: node/http_guard.py.
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)


@dataclass(frozen=True)
class NodeWrappers:
    """Parts of a node that whoever starts it may wrap: its message store, its onion router
    (built by *router* from the node's secret, view and transport) and its HTTP handlers."""

    store: Callable[[MessageStore], MessageStore] | None = None
    router: RouterFactory = OnionRouter
    http_middlewares: tuple[Middleware, ...] = ()


class ServiceNode:
    def __init__(self, cfg: NodeConfig, wrappers: NodeWrappers = NodeWrappers()) -> None:
        self.cfg = cfg
        self.wrappers = wrappers
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.keys = NodeKeys.load_or_create(cfg.data_dir)
        self.me = self.keys.ed25519.hex()
        self.database = SqliteStore(cfg.data_dir / "messages.db", limits=cfg.limits)
        store: MessageStore = self.database
        self.store = wrappers.store(store) if wrappers.store is not None else store
        # The history survives restarts, so old messages are checked against their own epoch.
        self.difficulty = DifficultyTracker(
            DifficultyPolicy(base=cfg.difficulty), history=self.database.difficulty_history()
        )
        self.view: NetworkView | None = None
        # Held (long-poll) listen_get and retrieve requests, bounded together: node/waiters.py.
        self.waiters = Waiters()
        self.listening = listening.ListeningMethods(lambda: self.view, now_ms, waiters=self.waiters)
        self.rpc = StorageRPC(
            self.store, lambda: self.view, self.me, self.difficulty, now_ms, max_ttl_ms=cfg.max_ttl_ms,
            methods=self.listening.table(), waiters=self.waiters,
            sign=lambda m: bytes(self.keys.signing.sign(m).signature),
        )
        self.commit = GroupCommit(self.store)
        self.stats = NodeStats()
        self._allowed: set[str] = set()
        self._tasks: list[asyncio.Task[Any]] = []
        self._side: set[asyncio.Task[Any]] = set()
        self.http_port = 0
        self.zmq_port = 0
        self.fast_relay: FastRelay | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.zctx = zmq.asyncio.Context()
        sk, pk = self.keys.x25519_secret, self.keys.x25519_public
        self.peer_server = PeerServer(
            self.zctx, sk, pk, self._on_peer, lambda k: k in self._allowed, {b"onion": self._on_onion_batch}
        )
        self.zmq_port = self.peer_server.bind(self.cfg.ip, self.cfg.zmq_port)
        self.peers = PeerClient(self.zctx, sk, pk)
        if self.cfg.relay_engine:
            self.fast_relay = FastRelay.create(sk, self.peer_server, self.peers, ONION_TIMEOUT)
        if self.fast_relay is not None:
            self.fast_relay.start()
        else:
            self.peer_server.start()
        self.http = aiohttp.ClientSession()
        self.exits = ExitClient(allow_loopback=self.cfg.exit_allow_loopback, timeout=ONION_TIMEOUT)
        self.chain = ChainClient(self.cfg.chain_url, self.http)
        view = lambda: self.view  # noqa: E731
        self.replicator = Replicator(
            self.me, self.store, self.difficulty, self.peers, view, self.stats, self.cfg.max_ttl_ms,
            outbox=self.database, generations=self.rpc.generations,
        )
        self.membership = Membership(self.me, self.store, self.replicator, self._spawn)
        self.tester = StorageTestDriver(
            self.me, self.keys.signing, self.store, self.peers, self.chain, view, self.stats, self.cfg.test_retry_period
        )
        self.router = self.wrappers.router(
            sk, view, self._forward_onion, self._storage_reply, self._exit_post, self._forward_onion_nowait
        )
        await self._start_http()
        await register(self.chain, self.keys, self.cfg.ip, self.http_port, self.zmq_port)
        if self.cfg.ready_file is not None:
            _write_ready_file(self.cfg.ready_file, self.keys, self.cfg.ip, self.http_port, self.zmq_port)
        loop = asyncio.get_running_loop()
        follow = follow_chain(self.chain, self.cfg.poll_interval, view, self._on_new_view)
        for coro in (follow, self.replicator.run_forever(), self._purge_forever()):
            self._tasks.append(loop.create_task(coro))
        log.info("node %s… serving http %s:%d zmq %d", self.me[:12], self.cfg.ip, self.http_port, self.zmq_port)

    async def _start_http(self) -> None:
        self.guard = ConnectionGuard(self.cfg.connections)
        asyncio.get_running_loop().set_exception_handler(rate_limited_exception_handler())
        app = web.Application(
            client_max_size=max(onion.MAX_BODY_SIZE, MAX_REQUEST_BYTES) + 4096,
            middlewares=(guard_middleware(self.guard), *self.wrappers.http_middlewares),
        )
        app.router.add_post("/storage_rpc/v1", self._http_storage)
        app.router.add_post("/onion_req/v2", self._http_onion)
        app.router.add_get("/status", self._http_status)
        # shutdown_timeout: requests held by long-polls must not keep a stopping node up.
        self._runner = web.AppRunner(app, access_log=None, keepalive_timeout=self.cfg.connections.header_deadline,
                                     shutdown_timeout=2.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.cfg.ip, self.cfg.http_port))
        self.http_port = sock.getsockname()[1]
        # Plain onion requests skip aiohttp (node/onion_http.py), unless whoever started the
        # node wraps the HTTP handlers: then every request must pass through them.
        onion_intake = self._onion_intake if not self.wrappers.http_middlewares else None
        await GuardedSite(self._runner, sock, self.guard, onion=onion_intake).start()

    async def stop(self) -> None:
        self.waiters.wake_all()  # held requests answer now rather than hold the shutdown
        for t in self._tasks + list(self._side):
            t.cancel()
        await asyncio.gather(*self._tasks, *self._side, return_exceptions=True)
        await self._runner.cleanup()
        if self.fast_relay is not None:
            await self.fast_relay.close()
        await self.peer_server.close()
        await self.peers.close()
        await self.http.close()
        await self.exits.close()
        self.store.close()
        self.zctx.term()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        t = asyncio.ensure_future(coro)
        self._side.add(t)
        t.add_done_callback(self._side.discard)

    def _on_new_view(self, view: NetworkView) -> None:
        old = self.view
        self.view = view
        self.tester.remember(view)
        self._allowed = {n.x25519 for n in view.nodes}
        self.replicator.on_view(view)
        if self.fast_relay is not None:
            self.fast_relay.on_view(view)
        for key in self.peers.known():
            if key[0] not in self._allowed:
                self.peers.forget(*key)
        if view.node(self.me) is None:
            return
        self.membership.on_view(old, view)
        self._spawn(self.tester.maybe_test(view))

    # -- peer API -----------------------------------------------------------------------------

    async def _on_peer(self, cmd: bytes, args: list[bytes], peer_x25519: str) -> list[bytes]:
        if cmd == b"data":
            try:
                got = self.replicator.accept(args, peer_x25519)
            except ReplicationBatchError as exc:
                return [b"400", str(exc).encode()]
            for pubkey in got.pubkeys:
                self.waiters.notify(pubkey_key(pubkey))  # held retrieves of these recipients answer now
            if got.refused and not got.taken:
                return [b"421", b"this node's swarm is not responsible for these records (from you)"]
            return [b"OK", str(got.new).encode()]
        if cmd == b"expire":  # owner-signed expiry proofs from a swarm peer (node/expiry_proofs.py)
            try:
                moved = self.replicator.accept_expiries(args, peer_x25519)
            except ReplicationBatchError as exc:
                return [b"400", str(exc).encode()]
            if moved.refused and not moved.taken:
                return [b"421", b"no expiry proof this node may take from you"]
            return [b"OK", str(moved.new).encode()]
        if cmd == b"catchup_expiries":
            return self.replicator.expiry_catchup_reply(peer_x25519, args)
        if cmd == b"storage_test":
            return await self.tester.answer(args, peer_x25519)
        if cmd == b"catchup":
            return self.replicator.catchup_reply(peer_x25519, args)
        if cmd == b"ping":
            return [b"OK"]
        return [b"400", b"unknown command"]

    def _on_onion_batch(self, items: list[Incoming]) -> None:
        """``onion`` requests of one ZMQ wakeup: ``[layer, hop]`` -> ``[status, body]``, peeled together."""
        self.stats.onion_requests += len(items)
        by_hop: dict[int, list[Incoming]] = {}
        for inc in items:
            if len(inc.args) != 2:
                inc.reply([b"400", b"Incorrect number of messages"])
                continue
            try:
                hop = onion.parse_hop(inc.args[1])
            except OnionError as exc:  # answered per request: one bad field never fails the batch
                inc.answer(exc.status, exc.body.encode())
                continue
            by_hop.setdefault(hop, []).append(inc)
        for hop, group in by_hop.items():
            fresh = [inc for inc in group if inc.peeled is None]
            peeled = [inc for inc in group if inc.peeled is not None] if len(fresh) < len(group) else []
            if fresh:
                self.router.handle_batch([inc.args[0] for inc in fresh], hop, [inc.answer for inc in fresh])
            if peeled:  # the relay engine decrypted these already
                self.router.handle_peeled(
                    [inc.peeled for inc in peeled], [inc.args[0] for inc in peeled], hop, [inc.answer for inc in peeled]
                )

    # -- onion transport ----------------------------------------------------------------------

    async def _forward_onion(self, node: SnodeInfo, body: bytes, hop: int) -> tuple[int, bytes]:
        parts = await self.peers.request(node.x25519, node.ip, node.zmq_port, b"onion", [body, str(hop).encode()], ONION_TIMEOUT)
        if len(parts) != 2 or not parts[0].isdigit():
            raise PeerRequestError("Invalid response from snode")
        return int(parts[0]), parts[1]

    def _forward_onion_nowait(self, node: SnodeInfo, body: bytes, hop: int, done: Any) -> None:
        # The reply parts go to the router unchanged; it checks their shape.
        fast = self.fast_relay
        if fast is not None and not fast.has_route(node.ed25519):
            # Once this connection answers, the next layers to that node go through the engine.
            def done_then_learn(result: Any, done: Any = done, fast: FastRelay = fast) -> None:
                done(result)
                fast.learn(node)

            done = done_then_learn
        self.peers.request_nowait(
            node.x25519, node.ip, node.zmq_port, b"onion", [body, str(hop).encode()], ONION_TIMEOUT, done
        )

    async def _exit_post(self, step: onion.Exit) -> tuple[int, bytes]:
        return await self.exits.post(step.method, step.url, step.host, step.body)

    # -- storage RPC (straight from a client, or an onion's final destination) ------------------

    async def _storage_reply(self, payload: bytes) -> Reply:
        if (chain_reply := await oxend_proxy.handle(self.chain.call, payload)) is not None:  # ons_resolve
            return chain_reply
        out = self.rpc.check(payload)
        if out.stored is not None:
            out = self.rpc.committed(out, await self.commit(out.stored))
            if out.stored is not None:
                self.replicator.on_stored(out.stored)
        if out.expired is not None:  # `expire` is recursive upstream: the swarm follows
            self.replicator.on_expired(out.expired, out.expired_missing)
        return await settle(out)  # a retrieve/listen_get that asked to wait may be held here

    # -- HTTP API -----------------------------------------------------------------------------

    async def _http_storage(self, request: web.Request) -> web.Response:
        reply = await self._storage_reply(await request.read())
        return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)

    async def _http_onion(self, request: web.Request) -> web.Response:
        self.stats.onion_requests += 1
        status, body = await self.router.handle(await request.read(), 0)
        return web.Response(status=status, body=body)

    def _onion_intake(self, body: bytes, done: Callable[[int, bytes], None]) -> None:
        """A client's onion request (the guard hop) from the lean intake (node/onion_http.py)."""
        self.stats.onion_requests += 1
        self.router.handle_batch((body,), 0, (done,))

    async def _http_status(self, request: web.Request) -> web.Response:
        view = self.view
        me = view.node(self.me) if view else None
        relay = self.fast_relay.stats() if self.fast_relay is not None else None
        return web.json_response(
            {
                "ed25519": self.me,
                "x25519": self.keys.x25519_public.hex(),
                "height": view.height if view else None,
                "swarm_id": me.swarm_id if me else None,
                "messages": self.store.count(now_ms()),
                "difficulty": self.difficulty.current(now_ms()),
                "stored": self.stats.stored,
                "replicated_in": self.stats.replicated_in,
                "tests_passed": self.stats.tests_passed,
                "tests_failed": self.stats.tests_failed,
                "onion_requests": self.stats.onion_requests + (relay["relayed"] if relay else 0),
                "relay_engine": relay,
                "connections": self.guard.stats(),
                "held_requests": self.waiters.stats(),
            }
        )

    async def _purge_forever(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.purge_interval)
            now = now_ms()
            n = self.store.purge_expired(now)
            if n:
                log.info("purged %d expired messages", n)
            self.listening.mailboxes.sweep()  # listening mailboxes: expired envelopes, owners gone offline
            self.difficulty.current(now)  # roll the epoch even when no client stores
            self.database.save_difficulty_history(self.difficulty.history)


def _write_ready_file(path: Path, keys: NodeKeys, ip: str, http_port: int, zmq_port: int) -> None:
    """Tell whoever started the node (the devnet launcher) where it serves, atomically."""
    info = {
        "ed25519": keys.ed25519.hex(), "x25519": keys.x25519_public.hex(), "ip": ip,
        "http_port": http_port, "zmq_port": zmq_port, "pid": os.getpid(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(path)


def _tune_gc() -> None:
    """For a node process: the relay hot path allocates many short-lived objects and no
    cycles, so CPython's default collector (a gen-0 pass every 700 allocations, full passes
    over every live object) took ~5% of a relay's CPU (perf).  Freeze what start-up built
    (libraries, aiohttp, the store) out of the collector and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


async def run(cfg: NodeConfig, stop: asyncio.Event, wrappers: NodeWrappers = NodeWrappers()) -> None:
    """Run a node until *stop* is set."""
    node = ServiceNode(cfg, wrappers)
    await node.start()
    _tune_gc()
    try:
        await stop.wait()
    finally:
        await node.stop()
