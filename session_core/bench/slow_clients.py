"""A node under a slowloris flood: can a third client still store, and how fast does
``/status`` answer?  (issue 11, item 2; the bounds are node/http_guard.py.)

Starts a 1-node devnet, opens *connections* half-sent requests split between two source
addresses (127.0.0.1 and 127.0.0.2; Linux routes all of 127/8 to loopback), holds them,
and from a third address (127.0.0.3) times ``/status`` and a proof-of-work ``store``
while they are held, against the same calls on the idle node in the same run.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import multiprocessing.connection

import aiohttp

from session_core.bench.loadgen import random_pubkey, rpc_bytes, store_params
from session_core.devnet.launcher import Devnet, DevnetOptions

SOURCES = ("127.0.0.1", "127.0.0.2")
OBSERVER = "127.0.0.3"


async def _hold(host: str, port: int, source: str) -> asyncio.StreamWriter | None:
    try:
        _, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        writer.write(b"POST /storage_rpc/v1 HTTP/1.1\r\nHost: node\r\n")
        await writer.drain()
        return writer
    except OSError:
        return None


def _flood(host: str, port: int, connections: int, pipe: multiprocessing.connection.Connection) -> None:
    """In its own process (so the prober's timings are not the flood's CPU): open the
    connections, report how many are open every 500, hold them until told to stop."""

    async def run() -> None:
        writers: list[asyncio.StreamWriter | None] = []
        for start in range(0, connections, 500):
            batch = range(start, min(start + 500, connections))
            writers += await asyncio.gather(*(_hold(host, port, SOURCES[i % 2]) for i in batch))
            pipe.send(len(writers))
        pipe.send(-1)
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        for w in writers:
            if w is not None:
                w.close()

    asyncio.run(run())


async def _timed(http: aiohttp.ClientSession, method: str, url: str, body: bytes | None = None) -> tuple[int, float]:
    t0 = time.perf_counter()
    async with http.request(method, url, data=body, timeout=aiohttp.ClientTimeout(total=30)) as resp:
        await resp.read()
        return resp.status, time.perf_counter() - t0


async def _probe(base: str, rounds: int) -> tuple[list[float], list[float], list[int]]:
    status_s: list[float] = []
    store_s: list[float] = []
    codes: list[int] = []
    connector = aiohttp.TCPConnector(local_addr=(OBSERVER, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(rounds):
            code, dt = await _timed(http, "GET", base + "/status")
            codes.append(code)
            status_s.append(dt)
            body = rpc_bytes("store", store_params(random_pubkey(), os.urandom(100), 3_600_000, int(time.time() * 1000), 1))
            code, dt = await _timed(http, "POST", base + "/storage_rpc/v1", body)
            codes.append(code)
            store_s.append(dt)
    return status_s, store_s, codes


async def _run(net: Devnet, connections: int, rounds: int) -> list[str]:
    node = net.nodes[0]
    base = node["http"]
    host, port = node["ip"], int(node["http_port"])
    idle_status, idle_store, idle_codes = await _probe(base, rounds)
    t0 = time.perf_counter()
    ours, theirs = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=_flood, args=(host, port, connections, theirs), daemon=True)
    proc.start()
    loop = asyncio.get_running_loop()
    while (opened_n := await loop.run_in_executor(None, ours.recv)) != -1 and opened_n < connections // 2:
        pass
    # Half the flood is in and the rest is arriving: probe now.
    busy_status, busy_store, busy_codes = await _probe(base, rounds)
    while opened_n != -1:
        opened_n = await loop.run_in_executor(None, ours.recv)
    opened = time.perf_counter() - t0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(OBSERVER, 0))) as http:
        async with http.get(base + "/status") as resp:
            guard = (await resp.json()).get("connections", {})
    ours.send("stop")
    proc.join(30)

    def ms(xs: list[float]) -> str:
        return f"p50 {statistics.median(xs) * 1000:.1f} ms, max {max(xs) * 1000:.1f} ms"

    ok = all(c == 200 for c in idle_codes + busy_codes)
    return [
        f"{connections} half-sent requests from {len(SOURCES)} addresses opened in {opened:.1f} s; node: {guard}",
        f"/status from a third address: idle {ms(idle_status)}; under the flood {ms(busy_status)} "
        f"(ratio of p50s {statistics.median(busy_status) / statistics.median(idle_status):.2f})",
        f"store from a third address: idle {ms(idle_store)}; under the flood {ms(busy_store)} "
        f"(ratio of p50s {statistics.median(busy_store) / statistics.median(idle_store):.2f})",
        f"every probe answered 200: {ok} (probes ran from the moment half the flood was in)",
    ]


def main(connections: int = 10_000, rounds: int = 20) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = connections + 512
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need:
            raise SystemExit(f"need {need} open files for {connections} connections; the hard limit is {hard}")
    with tempfile.TemporaryDirectory() as d:
        net = Devnet(Path(d))
        try:
            net.up(DevnetOptions(Path(d), nodes=1, block_interval=1.0))
            lines = asyncio.run(_run(net, connections, rounds))
        finally:
            net.down()
    print(f"slow clients bench: 1-node devnet on loopback, {rounds} probes per row")
    for line in lines:
        print(line)


__all__ = ["main"]
