"""What idle waiting clients cost a node (issue 19): N listening mailboxes on one node, each with a
``listen_get`` held there (long-poll) through a 3-hop onion path, and the node's CPU measured over
a window with all N held, next to the same window with none held, in the same run.

    python benches/bench_idle_clients.py [--clients 1000] [--nodes 12] [--window 8]

The node's CPU is read from /proc (user + system time of its process).  Also printed: the node's
resident memory with and without the held requests, and the whole devnet's CPU in both windows
(the guards and relays hold connections and pending requests too).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from session_core.client.onion_client import OnionClient
from session_core.client.paths import Path as OnionPath, PathPool
from session_core.client.snode import Snode
from session_core.client.transport import HttpTransport
from session_core.devnet.launcher import Devnet, DevnetOptions, http_json
from session_core.node.http_guard import raise_file_limit

WAIT_MS = 20_000
_TICK = os.sysconf("SC_CLK_TCK")


class SpreadPool(PathPool):
    """Paths whose guards take turns: every node but the destination guards an equal share of
    the held connections (a guard admits at most 256 per address, node/http_guard.py)."""

    def __init__(self, nodes: list[Snode], dest: Snode) -> None:
        super().__init__(random.Random(1))
        self.set_nodes(nodes)
        others = [n for n in nodes if n.ed25519 != dest.ed25519]
        self._spread = [OnionPath((g, *random.Random(i).sample([n for n in others if n is not g], 2)), 10**6 + i)
                        for i, g in enumerate(others)]
        self._turn = 0

    def pick(self, avoid: object = ()) -> OnionPath:
        self._turn += 1
        return self._spread[self._turn % len(self._spread)]


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def window(pids: list[int], seconds: float) -> list[float]:
    before = [cpu_s(p) for p in pids]
    await asyncio.sleep(seconds)
    return [(cpu_s(p) - b) / seconds * 100 for p, b in zip(pids, before)]


async def run(n: int, nodes: int, seconds: float) -> None:
    raise_file_limit()  # one process holds every client's connection here
    d = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    net = Devnet(d / "devnet")
    await asyncio.to_thread(net.up, DevnetOptions(d / "devnet", nodes=nodes, difficulty=1, block_interval=1.0))
    transport = HttpTransport()
    # Many clients in one process: no client-side cap on connections (each real client has its own);
    # idle connections closed before the guards close them (header_deadline 10 s) and race a reuse.
    transport._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=5.0))
    try:
        snodes = [Snode(i["ed25519"], i["x25519"], i["ip"], i["http_port"]) for i in net.nodes]
        target_info = net.nodes[0]
        target = snodes[0]
        pid = int(target_info["pid"])
        all_pids = [int(i["pid"]) for i in net.nodes]
        oc = OnionClient(transport, SpreadPool(snodes, target), timeout=10.0)
        keys = [os.urandom(32) for _ in range(n)]

        async def register(k: bytes) -> None:
            await oc.request(target, "listen_get", {"key": base64.b64encode(k).decode()}, attempts=3)

        sem = asyncio.Semaphore(64)

        async def limited(k: bytes) -> None:
            async with sem:
                await register(k)

        await asyncio.gather(*(limited(k) for k in keys))
        await asyncio.sleep(1.0)
        rss0 = rss_mb(pid)
        idle = await window(all_pids, seconds)
        t_issue = time.monotonic()
        held = [asyncio.ensure_future(oc.request(target, "listen_get", {"key": base64.b64encode(k).decode(),
                                                                          "wait": WAIT_MS},
                                                 attempts=1, timeout=WAIT_MS / 1000 + 10)) for k in keys]
        while True:
            st = await asyncio.to_thread(http_json, target_info["http"] + "/status")
            if st["held_requests"]["waiting"] >= n or time.monotonic() - t_issue > WAIT_MS / 1000 - seconds - 1:
                break
            await asyncio.sleep(0.2)
        waiting = st["held_requests"]["waiting"]
        ready_after = time.monotonic() - t_issue
        await asyncio.sleep(0.5)  # let the last replies of the set-up settle
        loaded = await window(all_pids, seconds)
        rss1 = rss_mb(pid)
        results = await asyncio.gather(*held, return_exceptions=True)
        ok = sum(1 for r in results if not isinstance(r, BaseException) and r.status == 200)
        errors: dict[str, int] = {}
        for r in results:
            if isinstance(r, BaseException):
                errors[str(r)[-70:]] = errors.get(str(r)[-70:], 0) + 1
        for text, count in sorted(errors.items(), key=lambda kv: -kv[1])[:3]:
            print(f"  not held: {count} x {text}")
        print(f"devnet: {nodes} nodes; {n} mailboxes on node {target.short()}; long-poll wait {WAIT_MS} ms; "
              f"window {seconds:.0f} s")
        print(f"held at the node: {waiting} of {n} (all issued and held after {ready_after:.1f} s); "
              f"answered 200 at their deadline: {ok}")
        print(f"listening node CPU: {idle[0]:5.2f} % with none held, {loaded[0]:5.2f} % with {waiting} held "
              f"(+{loaded[0] - idle[0]:.2f} points)")
        print(f"listening node RSS: {rss0:.1f} MB -> {rss1:.1f} MB "
              f"({(rss1 - rss0) * 1024 / max(1, waiting):.1f} KB per held request)")
        print(f"whole devnet CPU ({nodes} nodes, guards and relays included): {sum(idle):5.2f} % idle, "
              f"{sum(loaded):5.2f} % with {waiting} held")
    finally:
        await transport.close()
        await asyncio.to_thread(net.down)
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--window", type=float, default=8.0)
    args = ap.parse_args()
    asyncio.run(run(args.clients, args.nodes, args.window))


if __name__ == "__main__":
    main()
