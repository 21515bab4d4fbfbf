"""The service node process: wires the sans-IO pieces to HTTP, ZMQ, SQLite and the chain.

Theory of operation
-------------------
``ServiceNode.start()`` opens the store, binds the ZMQ ROUTER and the HTTP
server (ports chosen by the OS when 0), registers with the chain and starts
four loops:

- *follow*: polls ``get_n_service_nodes``; on a new block it swaps in the new
  :class:`NetworkView`, derives the membership events of
  :mod:`session_core.swarm` for this node and pushes records accordingly
  (node joined -> all records to it; new swarm -> the records it now owns;
  our swarm dissolved -> everything to its new owners), pulls what its swarm
  holds when it (re)appears in a swarm (catch-up after downtime), and runs
  the storage test of the block if it is the tester;
- *replicate*: every ~350 ms sends the messages stored since the last round to
  the other members, one batch per peer; a peer that did not answer keeps its
  backlog for the next round;
- *purge*: deletes expired messages;
- the servers themselves (HTTP client API, ZMQ peer API).

Client requests are answered only after SQLite committed the message.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import random
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import zmq
import zmq.asyncio
from aiohttp import web

from session_core import onion
from session_core.devnet.registration import Registration
from session_core.devnet.reports import sign_report
from session_core.errors import ChainError, PeerRequestError, ReplicationBatchError
from session_core.node import listening, replication, storage_test
from session_core.node.chain_client import ChainClient
from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
from session_core.node.keys import NodeKeys
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.fast_relay import FastRelay
from session_core.node.onion_relay import OnionRouter
from session_core.node.peer import Incoming, PeerClient, PeerServer, describe, ok
from session_core.node.storage_rpc import MAX_REQUEST_BYTES, MAX_TTL_MS, Reply, StorageRPC
from session_core.node.store import SqliteStore
from session_core.node.testing_aids import TestingAids
from session_core.swarm import SwarmMap, derive_swarm_events, plan_pushes, swarm_space

log = logging.getLogger("session_core.node")

REPLICATE_INTERVAL = 0.35  # upstream RELAY_INTERVAL
PUSH_TIMEOUT = 10.0
REPLICATE_TIMEOUT = 3.0  # a peer that cannot take a batch in this time gets it next round
CATCHUP_ATTEMPTS = 5
ONION_TIMEOUT = 30.0  # upstream's SN->SN onion request timeout
MAX_BACKLOG = 100_000  # messages kept per unreachable peer
HASH_CACHE_BLOCKS = 64  # block hashes (and tested heights) remembered


def now_ms() -> int:
    return int(time.time() * 1000)


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
    #: Fault injection for tests: acknowledge stores and pushes but keep nothing.
    drop_stores: bool = False
    #: Test aids (session_core/node/testing_aids.py), off unless set: "drop"/"tamper", a log path.
    misbehave: str | None = None
    observe: Path | None = None
    ready_file: Path | None = None
    #: How long a testee waits for a record still propagating (upstream: about a minute).
    test_retry_period: float = storage_test.RETRY_PERIOD
    #: Relay onion requests with the C engine (fast_relay.py) when it is available; False
    #: keeps every request on the Python path (for comparisons).  Observing nodes never use it.
    relay_engine: bool = True


@dataclass
class _Stats:
    stored: int = 0
    replicated_in: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    tests_answered: int = 0
    onion_requests: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class ServiceNode:
    def __init__(self, cfg: NodeConfig) -> None:
        self.cfg = cfg
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.keys = NodeKeys.load_or_create(cfg.data_dir)
        self.me = self.keys.ed25519.hex()
        self.store = SqliteStore(cfg.data_dir / "messages.db")
        self.difficulty = DifficultyTracker(DifficultyPolicy(base=cfg.difficulty))
        self.view: NetworkView | None = None
        self.rpc = StorageRPC(
            self.store, lambda: self.view, self.me, self.difficulty, now_ms, max_ttl_ms=cfg.max_ttl_ms,
            methods=listening.ListeningMethods(lambda: self.view, now_ms).table(),
        )
        self.stats = _Stats()
        self.aids = TestingAids(self.me, cfg.misbehave, cfg.observe)
        self._hashes: dict[int, str] = {}
        self._allowed: set[str] = set()
        self._relay: list[Message] = []
        self._commit_queue: list[tuple[Message, asyncio.Future[bool]]] = []
        self._backlog: dict[str, list[Message]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._side: set[asyncio.Task[Any]] = set()
        self._rng = random.Random()
        self._tested_heights: set[int] = set()
        self._caught_up = False
        self.http_port = 0
        self.zmq_port = 0
        self.fast_relay: FastRelay | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.cfg.drop_stores or self.aids.drops:
            self.store.save_if_new = lambda msg: True  # type: ignore[method-assign]
            self.store.save_many = lambda msgs: len(list(msgs))  # type: ignore[method-assign]
            self.store.save_each = lambda msgs: [True] * len(msgs)  # type: ignore[method-assign]
        self.zctx = zmq.asyncio.Context()
        sk, pk = self.keys.x25519_secret, self.keys.x25519_public
        self.peer_server = PeerServer(
            self.zctx, sk, pk, self._on_peer, lambda k: k in self._allowed, {b"onion": self._on_onion_batch}
        )
        self.zmq_port = self.peer_server.bind(self.cfg.ip, self.cfg.zmq_port)
        self.peers = PeerClient(self.zctx, sk, pk)
        # The observing test aid logs every relayed layer from Python: no engine for it.
        if self.cfg.relay_engine and not self.aids.observing:
            self.fast_relay = FastRelay.create(sk, self.peer_server, self.peers, ONION_TIMEOUT)
        if self.fast_relay is not None:
            self.fast_relay.start()
        else:
            self.peer_server.start()
        self.http = aiohttp.ClientSession()
        self.chain = ChainClient(self.cfg.chain_url, self.http)
        self.router = OnionRouter(
            sk, lambda: self.view, self._forward_onion, self._storage_reply, self._exit_post, self._forward_onion_nowait
        )
        await self._start_http()
        await self._register()
        loop = asyncio.get_running_loop()
        for coro in (self._follow(), self._replicate_forever(), self._purge_forever()):
            self._tasks.append(loop.create_task(coro))
        log.info("node %s… serving http %s:%d zmq %d", self.me[:12], self.cfg.ip, self.http_port, self.zmq_port)

    async def _start_http(self) -> None:
        app = web.Application(client_max_size=max(onion.MAX_BODY_SIZE, MAX_REQUEST_BYTES) + 4096)
        app.router.add_post("/storage_rpc/v1", self._http_storage)
        app.router.add_post("/onion_req/v2", self._http_onion)
        app.router.add_get("/status", self._http_status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.cfg.ip, self.cfg.http_port))
        self.http_port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _register(self) -> None:
        reg = Registration.for_key(self.keys.signing, self.cfg.ip, self.http_port, self.zmq_port)
        delay = 0.1
        while True:
            try:
                res = await self.chain.call("register_service_node", reg.sign(self.keys.signing))
                log.info("registered with the chain (state %s)", res.get("state"))
                break
            except ChainError as exc:
                if "deregistered" in str(exc):
                    raise
                log.warning("registration failed, retrying: %s", exc)
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
        if self.cfg.ready_file is not None:
            info = {
                "ed25519": self.me, "x25519": self.keys.x25519_public.hex(), "ip": self.cfg.ip,
                "http_port": self.http_port, "zmq_port": self.zmq_port, "pid": os.getpid(),
            }
            tmp = self.cfg.ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(info))
            tmp.replace(self.cfg.ready_file)

    async def stop(self) -> None:
        for t in self._tasks + list(self._side):
            t.cancel()
        await asyncio.gather(*self._tasks, *self._side, return_exceptions=True)
        await self._runner.cleanup()
        if self.fast_relay is not None:
            await self.fast_relay.close()
        await self.peer_server.close()
        await self.peers.close()
        await self.http.close()
        self.store.close()
        self.aids.close()
        self.zctx.term()

    def _spawn(self, coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._side.add(t)
        t.add_done_callback(self._side.discard)

    # -- following the chain ------------------------------------------------------------------

    async def _follow(self) -> None:
        while True:
            try:
                res = await self.chain.call("get_n_service_nodes", {"active_only": True})
                if self.view is None or res["block_hash"] != self.view.block_hash:
                    self._on_new_view(NetworkView.from_chain_result(res))
            except (ChainError, KeyError, TypeError, ValueError) as exc:
                log.warning("cannot follow the chain: %s", exc)
            await asyncio.sleep(self.cfg.poll_interval)

    def _on_new_view(self, view: NetworkView) -> None:
        old = self.view
        self.view = view
        self._hashes[view.height] = view.block_hash
        # Storage tests only look a few blocks back: keep the caches small on long runs.
        for h in [h for h in self._hashes if h < view.height - HASH_CACHE_BLOCKS]:
            del self._hashes[h]
        self._tested_heights = {h for h in self._tested_heights if h >= view.height - HASH_CACHE_BLOCKS}
        self._allowed = {n.x25519 for n in view.nodes}
        if self.fast_relay is not None:
            self.fast_relay.on_view(view)
        for key in self.peers.known():
            if key[0] not in self._allowed:
                self.peers.forget(*key)
        me = view.node(self.me)
        if me is None:
            return
        events = derive_swarm_events(self.me, old.swarms() if old else None, view.swarms())
        if not self._caught_up:
            # (Re)joining after a start: pull what the swarm holds (catch-up after downtime).
            self._caught_up = True
            self._spawn(self._catch_up(view, me.swarm_id))
        if events.dissolved or events.new_swarms or events.new_snodes:
            self._spawn(self._push_for_events(events, view))
        self._spawn(self._maybe_test(view))

    def _members(self, view: NetworkView, swarm_id: int) -> list[SnodeInfo]:
        return [n for n in view.members(swarm_id) if n.ed25519 != self.me]

    async def _catch_up(self, view: NetworkView, swarm_id: int) -> None:
        async def pull(peer: SnodeInfo) -> int:
            # A peer that has not seen the block with our registration yet refuses us
            # (ZAP), so try a few times while the network catches up with us.
            for attempt in range(CATCHUP_ATTEMPTS):
                try:
                    parts = await self.peers.request(peer.x25519, peer.ip, peer.zmq_port, b"catchup", [], 3.0)
                except PeerRequestError as exc:
                    log.info("catch-up from a peer failed (attempt %d): %s", attempt + 1, exc)
                    await asyncio.sleep(0.5)
                    continue
                return self._accept(parts[1:]) if ok(parts) else 0
            return 0

        got = await asyncio.gather(*(pull(p) for p in self._members(view, swarm_id)))
        log.info("caught up %d messages from %d peers", sum(got), len(got))

    async def _push_for_events(self, events: Any, view: NetworkView) -> None:
        msgs = list(self.store.messages(now_ms()))
        if not msgs:
            return
        spaces = np.array([swarm_space(m.pubkey) for m in msgs], dtype=np.uint64)
        plan = plan_pushes(events, spaces, SwarmMap(view.swarm_ids))
        jobs = []
        for ed in plan.to_nodes:
            node = view.node(ed)
            if node is not None:
                jobs.append(self._push(node, msgs))
        for sid, idx in plan.by_swarm.items():
            chosen = [msgs[int(i)] for i in idx]
            jobs.extend(self._push(n, chosen) for n in self._members(view, sid))
        log.info("membership change: pushing records to %d nodes", len(jobs))
        await asyncio.gather(*jobs)

    async def _push(self, node: SnodeInfo, msgs: list[Message], timeout: float = PUSH_TIMEOUT) -> bool:
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

    # -- replication --------------------------------------------------------------------------

    def on_stored(self, msg: Message) -> None:
        self.stats.stored += 1
        self._relay.append(msg)

    async def _replicate_forever(self) -> None:
        while True:
            await asyncio.sleep(REPLICATE_INTERVAL)
            await self.replicate_once()

    async def replicate_once(self) -> None:
        fresh, self._relay = self._relay, []
        view = self.view
        me = view.node(self.me) if view else None
        if view is None or me is None:
            self._relay = fresh + self._relay
            return
        peers = self._members(view, me.swarm_id)
        members = {p.ed25519 for p in peers}
        for gone in [k for k in self._backlog if k not in members]:
            del self._backlog[gone]  # it left our swarm; membership pushes cover its records
        jobs = []
        for p in peers:
            todo = self._backlog.pop(p.ed25519, []) + fresh
            if todo:
                jobs.append(self._replicate_to(p, todo))
        await asyncio.gather(*jobs)

    async def _replicate_to(self, peer: SnodeInfo, msgs: list[Message]) -> None:
        if not await self._push(peer, msgs, REPLICATE_TIMEOUT):
            self._backlog[peer.ed25519] = (self._backlog.get(peer.ed25519, []) + msgs)[-MAX_BACKLOG:]

    def _accept(self, blobs: Iterable[bytes]) -> int:
        """Verify and store messages from a peer; returns how many were new."""
        now = now_ms()
        good = []
        for blob in blobs:
            for m in replication.parse_batch(blob):
                if replication.verify(m, now, self.difficulty, self.cfg.max_ttl_ms):
                    good.append(m)
        n = self.store.save_many(good)
        if n:
            self.difficulty.record_store(now, n)
            self.stats.replicated_in += n
        return n

    # -- storage tests ------------------------------------------------------------------------

    async def _block_hash(self, height: int) -> str | None:
        h = self._hashes.get(height)
        if h is None:
            try:
                h = str(await self.chain.call("get_block_hash", [height]))
            except ChainError:
                return None
            self._hashes[height] = h
        return h

    async def _maybe_test(self, view: NetworkView) -> None:
        height = view.height - storage_test.TEST_BLOCKS_BUFFER
        me = view.node(self.me)
        if height < 1 or me is None or height in self._tested_heights:
            return
        self._tested_heights.add(height)
        bh = await self._block_hash(height)
        pair = storage_test.pair_for(view, me.swarm_id, bh) if bh else None
        if pair is None or pair[0] != self.me:
            return
        testee = view.node(pair[1])
        msg = self._pick_record(view, me.swarm_id)
        if testee is None or msg is None:
            return
        try:
            parts = await self.peers.request(
                testee.x25519, testee.ip, testee.zmq_port, b"storage_test",
                [str(height).encode(), msg.hash.encode()], self.cfg.test_retry_period + 3.0,
            )
        except PeerRequestError:
            parts = []
        passed = storage_test.judge_answer(parts, msg.data)
        if passed:
            self.stats.tests_passed += 1
        else:
            self.stats.tests_failed += 1
        log.info("storage test of %s… at height %d: %s", testee.ed25519[:12], height, "passed" if passed else "FAILED")
        try:
            await self.chain.call("report_storage_test", sign_report(self.keys.signing, testee.ed25519, height, passed))
        except ChainError as exc:
            log.warning("could not report a storage test: %s", exc)

    def _pick_record(self, view: NetworkView, swarm_id: int) -> Message | None:
        for _ in range(5):  # only records that belong to our swarm test anything
            msg = self.store.random_message(now_ms(), self._rng)
            if msg is None:
                return None
            if view.swarm_for_pubkey(msg.pubkey) == swarm_id:
                return msg
        return None

    async def _answer_test(self, args: list[bytes], peer_x25519: str) -> list[bytes]:
        if len(args) != 2:
            return [b"wrong request"]
        try:
            height, msg_hash = int(args[0]), args[1].decode("ascii")
        except (ValueError, UnicodeDecodeError):
            return [b"wrong request"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.test_retry_period
        self.stats.tests_answered += 1
        while True:
            view = self.view
            tester = view.node_by_x25519(peer_x25519) if view else None
            if view is None or tester is None:
                return [b"wrong request"]
            bh = await self._block_hash(height) if height <= view.height else None
            msg = self.store.get(msg_hash, now_ms())
            verdict = storage_test.judge_request(view, self.me, tester.ed25519, height, bh, msg is not None)
            if verdict is storage_test.Verdict.SUCCESS and msg is not None:
                return [b"OK", msg.data.encode()]
            if verdict is storage_test.Verdict.WRONG_REQUEST:
                return [b"wrong request"]
            if loop.time() >= deadline:
                return [b"other"]
            await asyncio.sleep(storage_test.RETRY_INTERVAL)

    # -- peer API -----------------------------------------------------------------------------

    async def _on_peer(self, cmd: bytes, args: list[bytes], peer_x25519: str) -> list[bytes]:
        if cmd == b"data":
            try:
                n = self._accept(args)
            except ReplicationBatchError as exc:
                return [b"400", str(exc).encode()]
            return [b"OK", str(n).encode()]
        if cmd == b"storage_test":
            return await self._answer_test(args, peer_x25519)
        if cmd == b"catchup":
            return self._catchup_reply(peer_x25519)
        if cmd == b"ping":
            return [b"OK"]
        return [b"400", b"unknown command"]

    def _on_onion_batch(self, items: list[Incoming]) -> None:
        """``onion`` requests of one ZMQ wakeup: ``[layer, hop]`` -> ``[status, body]``, peeled together."""
        self.stats.onion_requests += len(items)
        by_hop: dict[int, list[Incoming]] = {}
        for inc in items:
            if len(inc.args) != 2 or not inc.args[1].isdigit():
                inc.reply([b"400", b"Incorrect number of messages"])
            else:
                by_hop.setdefault(int(inc.args[1]), []).append(inc)
        with self.aids.incoming_batch(inc.args[0] for g in by_hop.values() for inc in g):
            for hop, group in by_hop.items():
                fresh = [inc for inc in group if inc.peeled is None]
                peeled = [inc for inc in group if inc.peeled is not None] if len(fresh) < len(group) else []
                if fresh:
                    self.router.handle_batch([inc.args[0] for inc in fresh], hop, [inc.answer for inc in fresh])
                if peeled:  # the relay engine decrypted these already
                    steps = [self.router.finish_peeled(inc.peeled, inc.args[0], hop) for inc in peeled]
                    self.router.handle_steps(steps, [inc.answer for inc in peeled])

    def _catchup_reply(self, peer_x25519: str) -> list[bytes]:
        view = self.view
        peer = view.node_by_x25519(peer_x25519) if view else None
        if view is None or peer is None:
            return [b"503", b"not ready"]
        msgs = [m for m in self.store.messages(now_ms()) if view.swarm_for_pubkey(m.pubkey) == peer.swarm_id]
        return [b"OK", *replication.serialize_batches(msgs)]

    async def _forward_onion(self, node: SnodeInfo, body: bytes, hop: int) -> tuple[int, bytes]:
        self.aids.forwarded(node.ed25519, body)
        parts = await self.peers.request(node.x25519, node.ip, node.zmq_port, b"onion", [body, str(hop).encode()], ONION_TIMEOUT)
        if len(parts) != 2 or not parts[0].isdigit():
            raise PeerRequestError("Invalid response from snode")
        return int(parts[0]), parts[1]

    def _forward_onion_nowait(self, node: SnodeInfo, body: bytes, hop: int, done: Any) -> None:
        # The reply parts go to the router unchanged; it checks their shape.
        self.aids.forwarded(node.ed25519, body)
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

    async def _storage_reply(self, payload: bytes) -> Reply:
        self.aids.storage(payload)
        out = self.rpc.check(payload)
        if out.stored is not None:
            out = self.rpc.committed(out, await self._commit(out.stored))
            if out.stored is not None and not self.aids.drops:
                self.on_stored(out.stored)
        return self.aids.reply(out.reply)

    def _commit(self, msg: Message) -> asyncio.Future[bool]:
        """Group commit: stores accepted in the same loop iteration share one transaction;
        each request is answered only once that transaction committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._commit_queue.append((msg, fut))
        if len(self._commit_queue) == 1:
            loop.call_soon(self._flush_commits)
        return fut

    def _flush_commits(self) -> None:
        batch, self._commit_queue = self._commit_queue, []
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

    async def _exit_post(self, step: onion.Exit) -> tuple[int, bytes]:
        try:
            async with self.http.request(
                step.method, step.url, data=step.body, timeout=aiohttp.ClientTimeout(total=ONION_TIMEOUT)
            ) as resp:
                return resp.status, await resp.read()
        except asyncio.TimeoutError:
            return 504, b"Request time out"
        except aiohttp.ClientError as exc:
            return 502, f"Server error: {type(exc).__name__}".encode()

    # -- HTTP API -----------------------------------------------------------------------------

    async def _http_storage(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self.aids.incoming_http(request, body):
            reply = await self._storage_reply(body)
        return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)

    async def _http_onion(self, request: web.Request) -> web.Response:
        self.stats.onion_requests += 1
        raw = await request.read()
        with self.aids.incoming_http(request, raw):
            status, body = await self.router.handle(raw, 0)
        return web.Response(status=status, body=body)

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
            }
        )

    async def _purge_forever(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.purge_interval)
            n = self.store.purge_expired(now_ms())
            if n:
                log.info("purged %d expired messages", n)


def _tune_gc() -> None:
    """For a node process: the relay hot path allocates many short-lived objects and no
    cycles, so CPython's default collector (a gen-0 pass every 700 allocations, full passes
    over every live object) took ~5% of a relay's CPU (perf).  Freeze what start-up built
    (libraries, aiohttp, the store) out of the collector and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


async def run(cfg: NodeConfig, stop: asyncio.Event) -> None:
    """Run a node until *stop* is set."""
    node = ServiceNode(cfg)
    await node.start()
    _tune_gc()
    try:
        await stop.wait()
    finally:
        await node.stop()
