"""Many nodes in one event loop on loopback (real HTTP, ZMQ, SQLite), with the chain
in-process so the test decides when blocks happen: swarm dissolution and storage-test
failures end to end, without the cost of one process per node."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from session_core.devnet.chain import Chain
from session_core.devnet.rpc import ChainRPC, make_app
from session_core.bench.loadgen import random_pubkey, rpc_bytes, store_params
from session_core.node.service import NodeConfig, NodeWrappers, ServiceNode
from session_core.swarm import SwarmMap
from session_core.testing import node_wrappers

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    chain: Chain
    rpc: ChainRPC
    nodes: list[ServiceNode]
    http: aiohttp.ClientSession

    def by_key(self, ed: str) -> ServiceNode:
        return next(n for n in self.nodes if n.me == ed)

    async def block(self) -> None:
        """Produce a block and wait until every running node has seen it."""
        self.rpc.produce_block()
        h = self.chain.height
        deadline = time.monotonic() + 10
        while any(n.view is None or n.view.height < h for n in self.nodes):
            assert time.monotonic() < deadline, "nodes did not follow the chain"
            await asyncio.sleep(0.02)

    async def store(self, node: ServiceNode, pk: str, data: bytes) -> int:
        p = store_params(pk, data, 120_000, int(time.time() * 1000), 1)
        async with self.http.post(f"http://127.0.0.1:{node.http_port}/storage_rpc/v1", data=rpc_bytes("store", p)) as r:
            return r.status


async def start_cluster(
    tmp: Path, n: int, faulty: int = -1, python_relay: Collection[int] = (), **chain_kw: int
) -> Cluster:
    """*n* nodes on an in-process chain; node *faulty* drops stores, the nodes in
    *python_relay* relay onion requests without the C engine."""
    chain = Chain(tmp / "chain.db", "cluster", **chain_kw)
    rpc = ChainRPC(chain)
    runner = web.AppRunner(make_app(rpc))
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/json_rpc"
    nodes = []
    for i in range(n):
        cfg = NodeConfig(data_dir=tmp / f"n{i}", chain_url=url, poll_interval=0.05, test_retry_period=0.3,
                         relay_engine=i not in python_relay)
        node = ServiceNode(cfg, node_wrappers(drop_stores=True) if i == faulty else NodeWrappers())
        await node.start()
        nodes.append(node)
    cluster = Cluster(chain, rpc, nodes, aiohttp.ClientSession())
    cluster._runner = runner  # type: ignore[attr-defined]
    await cluster.block()
    return cluster


async def stop_cluster(c: Cluster) -> None:
    await c.http.close()
    await asyncio.gather(*(n.stop() for n in c.nodes))
    await c._runner.cleanup()  # type: ignore[attr-defined]
    c.chain.close()


@pytest.fixture
async def dissolving(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = await start_cluster(tmp_path, 14, decommission_after=1)
    yield c
    await stop_cluster(c)


async def wait_until(pred: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return bool(pred())  # type: ignore[operator]


async def test_dissolved_swarm_salvages_its_records(dissolving: Cluster) -> None:
    c = dissolving
    swarms = c.chain.swarms()
    assert len(swarms) == 2  # 14 nodes: two swarms of 7 (docs/interop.md §2.4)
    doomed_id, other_id = sorted(swarms)
    doomed = [c.by_key(k) for k in swarms[doomed_id]]
    keys = []
    while len(keys) < 6:
        pk = random_pubkey()
        if SwarmMap(sorted(swarms)).lookup(pk) == doomed_id:
            keys.append(pk)
    for i, pk in enumerate(keys):
        assert await c.store(doomed[i % len(doomed)], pk, os.urandom(24)) == 200
    assert await wait_until(lambda: all(n.store.count(int(time.time() * 1000)) == 6 for n in doomed))
    # Five of the seven fail storage tests: the swarm is too small to keep and nobody can
    # spare nodes for it, so it is dissolved and its two survivors join the other swarm.
    for victim in doomed[:5]:
        c.chain.report(doomed[5].me, victim.me, c.chain.height, False)
        c.chain.report(doomed[6].me, victim.me, c.chain.height, False)
    await c.block()
    after = c.chain.swarms()
    assert list(after) == [other_id]
    originals = [c.by_key(k) for k in swarms[other_id]]

    def salvaged() -> bool:
        now = int(time.time() * 1000)
        return all(len(n.store.retrieve(pk, "", 10, now)) == 1 for n in originals for pk in keys)

    assert await wait_until(salvaged)


@pytest.fixture
async def with_faulty(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = await start_cluster(tmp_path, 5, faulty=4, decommission_after=2, deregister_after_blocks=2)
    yield c
    await stop_cluster(c)


async def test_node_that_drops_records_fails_tests_and_is_deregistered(with_faulty: Cluster) -> None:
    c = with_faulty
    bad = c.nodes[4]
    pk = random_pubkey()
    for i in range(4):
        assert await c.store(c.nodes[i], pk, os.urandom(16)) == 200
    assert await c.store(bad, pk, os.urandom(16)) == 200  # it acknowledges, then keeps nothing
    honest = c.nodes[:4]
    assert await wait_until(lambda: all(n.store.count(int(time.time() * 1000)) == 5 for n in honest))
    assert bad.store.count(int(time.time() * 1000)) == 0
    for _ in range(80):
        await c.block()
        state = c.chain.node(bad.me)
        assert state is not None
        if state.state == "deregistered":
            break
        await asyncio.sleep(0.05)  # let this block's test run
    state = c.chain.node(bad.me)
    assert state is not None and state.state == "deregistered"
    # The honest nodes were tested too, and none of them was decommissioned.
    assert all(c.chain.node(n.me).state == "active" for n in honest)  # type: ignore[union-attr]
    assert sum(n.stats.tests_passed for n in honest) > 0


async def test_joining_node_and_new_swarm_get_their_records(tmp_path: Path) -> None:
    c = await start_cluster(tmp_path, 13)
    try:
        assert len(c.chain.swarms()) == 1  # 13 nodes: still one swarm
        keys = [random_pubkey() for _ in range(12)]
        for i, pk in enumerate(keys):
            assert await c.store(c.nodes[i], pk, os.urandom(20)) == 200
        assert await wait_until(lambda: all(n.store.count(int(time.time() * 1000)) == 12 for n in c.nodes))
        # The 14th node splits the network into two swarms (docs/interop.md §2.4).
        cfg = NodeConfig(data_dir=tmp_path / "n13", chain_url=c.nodes[0].cfg.chain_url, poll_interval=0.05)
        newcomer = ServiceNode(cfg)
        await newcomer.start()
        c.nodes.append(newcomer)
        await c.block()
        swarms = c.chain.swarms()
        assert len(swarms) == 2
        smap = SwarmMap(sorted(swarms))

        def placed() -> bool:
            now = int(time.time() * 1000)
            for sid, members in swarms.items():
                mine = [pk for pk in keys if smap.lookup(pk) == sid]
                for ed in members:
                    held = c.by_key(ed).store
                    if any(len(held.retrieve(pk, "", 10, now)) != 1 for pk in mine):
                        return False
            return True

        assert await wait_until(placed)
        assert newcomer.store.count(int(time.time() * 1000)) > 0
    finally:
        await stop_cluster(c)


async def test_nodes_of_another_swarm_can_neither_push_nor_pull_records(tmp_path: Path) -> None:
    """Issue 11 items 4 and 7 over real ZMQ: a registered node of swarm X sends ``data`` for
    swarm Y's users to a node of Y, and asks it for a ``catchup``: both refused."""
    from session_core.node import replication
    from session_core.node.powcheck import message_hash
    from session_core.node.message import Message

    c = await start_cluster(tmp_path, 14)
    try:
        swarms = c.chain.swarms()
        assert len(swarms) == 2
        (_, x_members), (y_id, y_members) = sorted(swarms.items())
        attacker, victim = c.by_key(x_members[0]), c.by_key(y_members[0])
        smap = SwarmMap(sorted(swarms))
        pk = next(k for k in iter(random_pubkey, None) if smap.lookup(k) == y_id)
        ts = int(time.time() * 1000)
        p = store_params(pk, os.urandom(40), 120_000, ts, 1)
        h = message_hash(p["nonce"], ts, 120_000, p["pubKey"], p["data"])
        assert h is not None
        msg = Message(pubkey=pk, hash=h, data=p["data"], ttl=120_000, timestamp=ts, nonce=p["nonce"])
        [blob] = replication.serialize_batches([msg])
        v = victim.view
        assert v is not None
        target = v.node(victim.me)
        assert target is not None
        parts = await attacker.peers.request(target.x25519, target.ip, target.zmq_port, b"data", [blob], 5.0)
        assert parts[0] == b"421"
        assert victim.store.get(h, int(time.time() * 1000)) is None
        assert await c.store(victim, pk, os.urandom(24)) == 200
        parts = await attacker.peers.request(target.x25519, target.ip, target.zmq_port, b"catchup", [b""], 5.0)
        assert parts[0] == b"421" and len(parts) == 2
        # A member of the victim's swarm is served, one page with a cursor.
        mate = c.by_key(y_members[1])
        parts = await mate.peers.request(target.x25519, target.ip, target.zmq_port, b"catchup", [b""], 5.0)
        assert parts[0] == b"OK" and parts[1] == b"" and len(parts) == 3
    finally:
        await stop_cluster(c)
