"""``session-core node bench``: a node's client API against a trivial aiohttp endpoint.

Everything is measured in the same run on the same machine, and reported as ratios:

- baseline: a separate process serving ``POST /json`` (parse JSON, answer JSON);
- a devnet (chain + 2 node processes by default, ``--nodes 12`` for the issue's
  latency setting) on loopback; all nodes of a devnet under 14 nodes share one swarm;
- this process is the load generator (aiohttp client, fixed concurrency).

Measured: ``store`` (PoW check, SQLite commit, replication queued; nonces are
computed before timing) and ``retrieve`` throughput vs the baseline; onion
layers relayed per second (3-layer requests through both nodes) vs the raw
``onion.peel`` rate of one core in this process; the CPU cost of a relay hop at
full load (``relay_bench``: two loader processes load node b), and the same for b as a guard
(HTTP in, ZMQ out) and as the destination of a storage call; p50/p99 latencies; and the
time until a message sent through a 3-hop onion can be retrieved from the
swarm (from the member that stored it, and from the other member, which waits
for the ~350 ms replication round).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from session_core import onion
from session_core.devnet.launcher import Devnet, DevnetOptions
from session_core.bench.relay_bench import relay_row
from session_core.bench.loadgen import random_pubkey, rpc, rpc_bytes, store_params

_BASELINE = r"""
import socket, sys
from aiohttp import web
async def handler(request):
    body = await request.json()
    return web.json_response({"ok": True, "method": body.get("method")})
app = web.Application()
app.router.add_post("/json", handler)
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); print(sock.getsockname()[1], flush=True)
web.run_app(app, sock=sock, print=None, access_log=None)
"""


def node(x: dict[str, str]) -> onion.Node:
    return onion.Node(x["x25519"], x["ed25519"])


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


async def _load(
    session: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int
) -> tuple[float, list[float], list[int]]:
    """POST every body with *concurrency* in flight; returns (req/s, latencies s, statuses)."""
    lat: list[float] = []
    statuses: list[int] = []
    it = iter(bodies)

    async def worker() -> None:
        for body in it:
            t = time.perf_counter()
            async with session.post(url, data=body) as r:
                await r.read()
                statuses.append(r.status)
            lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(bodies) / (time.perf_counter() - t0), lat, statuses


def _peel_rate(node: dict[str, str], seconds: float = 1.0) -> float:
    """Raw single-core peel rate of one onion layer (no I/O), as a node does it."""
    from nacl.public import PrivateKey

    k = PrivateKey.generate()
    dest = onion.Node(bytes(k.public_key).hex(), node["ed25519"])
    body, _ = onion.build(b"x" * 200, [], dest)
    secret = bytes(k)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(200):
            onion.peel(body, secret)
        n += 200
    return n / (time.perf_counter() - t0)


async def _same_swarm(
    s: aiohttp.ClientSession, net: Devnet
) -> tuple[dict[str, Any], dict[str, Any], Callable[[], Awaitable[str]]]:
    """Two devnet nodes of one swarm, and a maker of user pubkeys that swarm is responsible
    for, as the first node sees it now (with several swarms a random pubkey gets 421)."""
    a = net.nodes[0]
    names = {n["ed25519"]: n for n in net.nodes}

    async def members(pk: str) -> set[str]:
        async with s.post(a["http"] + "/storage_rpc/v1", data=rpc_bytes("get_snodes_for_pubkey", {"pubKey": pk})) as r:
            return {x["pubkey_ed25519"] for x in json.loads(await r.read())["snodes"]}

    for _ in range(1000):
        swarm = await members(random_pubkey())
        others = [names[e] for e in swarm if e in names and e != a["ed25519"]]
        if a["ed25519"] in swarm and others:
            b = others[0]
            break
    else:
        raise RuntimeError("no swarm holds node-00 and another devnet node")

    async def pubkey() -> str:
        while True:
            pk = random_pubkey()
            if {a["ed25519"], b["ed25519"]} <= await members(pk):
                return pk

    return a, b, pubkey


async def _bench(net: Devnet, base_url: str, n: int, concurrency: int, relay_concurrency: int = 1024) -> list[str]:
    out: list[str] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        a, b, pubkey = await _same_swarm(s, net)
        now = int(time.time() * 1000)
        pks = [await pubkey() for _ in range(50)]
        stores = [rpc_bytes("store", store_params(pks[i % 50], os.urandom(100), 3_600_000, now, 1)) for i in range(n)]
        retrieves = [rpc_bytes("retrieve", {"pubKey": pks[i % 50], "lastHash": ""}) for i in range(n)]
        warm = [rpc_bytes("ping", {})] * 200
        await _load(s, base_url, warm, concurrency)
        results: dict[str, tuple[float, list[float], list[int]]] = {}
        results["baseline"] = await _load(s, base_url, stores, concurrency)
        results["store"] = await _load(s, a["http"] + "/storage_rpc/v1", stores, concurrency)
        results["retrieve"] = await _load(s, a["http"] + "/storage_rpc/v1", retrieves, concurrency)
        for name, (rps, lat, st) in results.items():
            bad = sum(1 for x in st if x != 200)
            ratio = rps / results["baseline"][0]
            out.append(
                f"{name:9} {rps:9.0f} req/s  ratio {ratio:5.2f}  p50 {_pct(lat, 50) * 1e3:6.2f} ms"
                f"  p99 {_pct(lat, 99) * 1e3:6.2f} ms  non-200: {bad}"
            )

        # Onion relaying: 3 layers per request (guard a -> b -> destination a).
        onions = [onion.build(retrieves[i], [node(a), node(b)], node(a))[0] for i in range(n // 2)]
        rps, lat, st = await _load(s, a["http"] + "/onion_req/v2", onions, concurrency)
        peel = _peel_rate(a)
        out.append(
            f"onion     {rps * 3:9.0f} layers/s over 2 node processes ({rps:.0f} req/s)  raw peel {peel:.0f}/s/core"
            f"  ratio per core {rps * 3 / 2 / peel:5.2f}  p50 {_pct(lat, 50) * 1e3:.2f} ms  non-200: {sum(1 for x in st if x != 200)}"
        )

        # One relay node at full load: see session_core/bench/relay_bench.py.
        relay, relay_pid = b, net.procs[b["name"]].pid
        out.append(await asyncio.to_thread(relay_row, net.chain_url, relay, relay_pid, 2, relay_concurrency))
        after_relay = len(out)  # the guard and final rows are printed here (measured last, below)

        # Time to retrievability through a 3-hop onion (PoW excluded).  The loaders of the relay
        # row registered as nodes, which may have split the swarms: pick the pair again.
        await asyncio.sleep(2.0)  # let every node see the chain's latest assignment
        a, b, pubkey = await _same_swarm(s, net)
        here: list[float] = []
        there: list[float] = []
        # Three distinct relays when the devnet has them; the destination stores, b is another member.
        nodes = net.nodes
        path = [node(x) for x in nodes[2:5]] if len(nodes) >= 5 else [node(a), node(b), node(a)]
        guard = nodes[2] if len(nodes) >= 5 else a
        for _ in range(30):
            pk = await pubkey()
            p = store_params(pk, os.urandom(64), 60_000, int(time.time() * 1000), 1)
            body, ctx = onion.build(json.dumps(rpc("store", p)).encode(), path, node(a))
            q = rpc_bytes("retrieve", {"pubKey": pk, "lastHash": ""})
            t0 = time.perf_counter()
            async with s.post(guard["http"] + "/onion_req/v2", data=body) as r:
                raw = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"onion store failed: {r.status} {raw[:100]!r}")
                json.loads(ctx.decrypt_reply(raw))

            async def seen(x: dict[str, str]) -> float:
                while True:
                    async with s.post(x["http"] + "/storage_rpc/v1", data=q) as r:
                        raw = await r.read()
                        if r.status != 200:
                            raise RuntimeError(f"retrieve from {x['name']} failed: {r.status} {raw[:200]!r}")
                        if json.loads(raw)["messages"]:
                            return time.perf_counter() - t0
                    await asyncio.sleep(0.002)

            here.append(await seen(a))
            there.append(await seen(b))
        out.append(
            f"3-hop send -> retrievable: from the storing member p50 {_pct(here, 50) * 1e3:.1f} ms "
            f"p99 {_pct(here, 99) * 1e3:.1f} ms; from another member p50 {_pct(there, 50) * 1e3:.1f} ms "
            f"(replication every 350 ms)"
        )

        # The relay row's node as a guard (HTTP in; 64 connections per loader, under the
        # per-address cap) and as the destination of a storage call, measured the same way.
        # Last: their loaders stay registered after they stop, and a swarm with dead members
        # replicates slowly (the row above measured 3.3 s instead of ~0.35 s after them).
        for i, (mode, window) in enumerate((("guard", 64), ("final", relay_concurrency))):
            row = await asyncio.to_thread(relay_row, net.chain_url, relay, relay_pid, 2, window, mode=mode)
            out.insert(after_relay + i, row)
    return out


def main(n: int = 2000, concurrency: int = 16, nodes: int = 2) -> None:
    base = subprocess.Popen([sys.executable, "-c", _BASELINE], stdout=subprocess.PIPE)
    assert base.stdout is not None
    port = int(base.stdout.readline())
    with tempfile.TemporaryDirectory() as d:
        net = Devnet(Path(d))
        try:
            net.up(DevnetOptions(Path(d), nodes=max(2, nodes), block_interval=1.0))
            lines = asyncio.run(_bench(net, f"http://127.0.0.1:{port}/json", n, concurrency))
        finally:
            net.down()
            base.terminate()
            base.wait()
    print(f"node bench: {n} requests per row, concurrency {concurrency}, loopback, {max(2, nodes)}-node devnet")
    for line in lines:
        print(line)


__all__ = ["main"]
