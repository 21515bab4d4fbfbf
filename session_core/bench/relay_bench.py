"""The ``relay``, ``guard`` and ``final`` rows of the node bench: one node's CPU per onion
hop at full load, as a middle relay, as a guard, and as the destination of a storage call.

What is measured
----------------
Relay b (a devnet node process) is loaded by ``loaders`` separate processes (default 2).
Each loader is a registered node (only nodes may talk ZMQ to nodes) that keeps ``window``
two-layer onion requests in flight straight to b over ZMQ: b peels its layer (as hop 1,
a middle relay) and forwards the rest to the *loader itself*, which is the destination.
So b does exactly a middle relay's work per request (receive, peel, forward, receive the
reply, return it), while the guard's and the destination's work lands in the loaders,
whose destination is cheap: it answers ``[200, payload]`` with what the layer's real peel
gave (each distinct layer is peeled once; no storage RPC, no reply encryption; b cannot
tell, it returns replies unchanged).  The loaders work on their node's sockets directly
(``zmq_load.py``: a loader costs a fraction of b's CPU per request, so b has a queue
whenever it runs), and they are nodes of this version: b and they exchange batches.  With
two loaders and 1024 requests each in flight, b works on full read passes.

Once every loader ran for ``warmup`` s, the parent samples b's CPU time (``/proc``, all
threads, libzmq's I/O thread included) and b's ``onion_requests`` counter (``GET /status``)
around ``samples`` windows in which it runs ``onion.peel`` of a middle layer itself: hops per
CPU-second of b vs peels per CPU-second of this process in the same window (median over the
windows), and vs peels measured again after the load.  Each loader checks that every request got
exactly one reply and that it carries its own payload (a pool of distinct payloads, more
than in flight, so a mismatch shows).

The other roles are measured the same way (same windows, same counters, the raw peel of the
layer that node peels):

- ``guard``: the loaders POST one-layer requests to b's ``/onion_req/v2`` over keep-alive HTTP
  connections (64 per loader, under the node's 256-per-address cap); b peels the guard layer
  and forwards over ZMQ to the loader, which answers as above.  This is the HTTP in, ZMQ out
  hop every client request starts with (the Python path: the node's lean ``/onion_req/v2``
  intake, ``node/onion_http.py``, then ``OnionRouter.handle_batch`` and ``PeerClient``; the C
  engine only serves ZMQ).
- ``final``: the loaders send b, over ZMQ, layers that peel to b itself carrying a storage
  ``retrieve`` for a recipient of b's swarm with no messages; b runs the storage RPC and
  encrypts the reply.  A loader counts a reply as its own only if it opens with that
  request's reply key and says 200.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from session_core import onion

POOL = 4096  # distinct requests per loader (> window: a reply to the wrong request shows)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _onion_count(http: str) -> int:
    with urllib.request.urlopen(http + "/status", timeout=10) as r:
        return int(json.loads(r.read())["onion_requests"])


#: What the measured node does per request, by row (see the module doc).
MODES = ("relay", "guard", "final")


def _storage_call(pubkey: str | None = None) -> bytes:
    """The final row's storage request: a retrieve for a recipient with no messages."""
    return json.dumps({"jsonrpc": "2.0", "id": "0", "method": "retrieve",
                       "params": {"pubKey": pubkey or "05" + os.urandom(32).hex(), "lastHash": ""}}).encode()


def _owned_pubkeys(node: dict[str, Any], count: int) -> list[str]:
    """Fresh recipients whose swarm holds *node* (as it sees it now): with the loaders
    registered the devnet may have split into swarms, and a 421 is a different answer."""
    found: list[str] = []
    while len(found) < count:
        pk = "05" + os.urandom(32).hex()
        ask = json.dumps({"jsonrpc": "2.0", "id": "0", "method": "get_snodes_for_pubkey", "params": {"pubKey": pk}})
        with urllib.request.urlopen(node["http"] + "/storage_rpc/v1", ask.encode(), timeout=10) as r:
            if node["ed25519"] in {x["pubkey_ed25519"] for x in json.loads(r.read())["snodes"]}:
                found.append(pk)
    return found


async def _loader(chain_url: str, relay: dict[str, Any], window: int, mode: str = "relay") -> dict[str, int]:
    from session_core.bench.zmq_load import RequestStream, destination_reader
    from session_core.errors import PeerRequestError
    from session_core.node.service import NodeConfig, ServiceNode

    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory() as d:
        me = ServiceNode(NodeConfig(data_dir=Path(d), chain_url=chain_url, poll_interval=0.2))
        await me.start()
        # The cheap destination of the layers b forwards to us (see zmq_load.py).
        me.peer_server.use_reader(destination_reader(me.peer_server, me.keys.x25519_secret))
        key, port = relay["x25519"], int(relay["zmq_port"])
        while True:  # until b admits us (it saw our registration block)
            try:
                await me.peers.request(key, "127.0.0.1", port, b"ping", [], 1.0)
                break
            except PeerRequestError:
                await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # let membership pushes to the new node settle
        mine = onion.Node(me.keys.x25519_public.hex(), me.me)
        target = onion.Node(relay["x25519"], relay["ed25519"])
        if mode == "final":  # b is the destination: it answers a storage call, encrypted
            owned = await asyncio.to_thread(_owned_pubkeys, relay, 16)
            payloads = [_storage_call(owned[i % len(owned)]) for i in range(POOL)]
            built = [onion.build(p, [], target) for p in payloads]
        else:  # b relays to us
            payloads = [b"request %d of %d" % (i, os.getpid()) for i in range(POOL)]
            built = [onion.build(p, [target], mine) for p in payloads]
        bodies = [b for b, _ in built]
        contexts = [c for _, c in built]
        counts = {"sent": 0, "ok": 0, "bad_status": 0, "mismatched": 0, "errors": 0, "duplicates": 0}

        def answer_ok(i: int, status: bytes, body: bytes) -> str:
            """Which count a reply goes to: its own answer, or what is wrong with it."""
            if status != b"200":
                return "bad_status"
            if mode != "final":
                return "ok" if body == payloads[i % POOL] else "mismatched"
            try:  # only this request's reply key opens it: a reply to another request fails here
                inner = json.loads(contexts[i % POOL].decrypt_reply(body))
            except Exception:
                return "mismatched"
            return "ok" if inner.get("status") == 200 else "bad_status"

        if mode == "guard":
            await _http_load(relay["http"] + "/onion_req/v2", bodies, window, counts, answer_ok)
        else:
            conn = me.peers.connection(key, "127.0.0.1", port)
            assert conn is not None  # the ping above opened it
            stream = RequestStream(conn, bodies, answer_ok, counts)
            print("ready", flush=True)
            await loop.run_in_executor(None, sys.stdin.readline)  # "go"
            stream.start(window)
            await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
            await stream.stop(60)
            await asyncio.sleep(0.3)  # a duplicate reply would arrive now
        await me.stop()
    return counts


async def _http_load(url: str, bodies: list[bytes], window: int, counts: dict[str, int],
                     judge: Callable[[int, bytes, bytes], str]) -> None:
    """The guard row's client side: *window* keep-alive HTTP connections, each posting the
    next request as soon as its last one is answered, from "go" to "stop" on stdin."""
    import aiohttp

    loop = asyncio.get_running_loop()
    stopping = False

    async def worker(i: int) -> None:
        while not stopping:
            counts["sent"] += 1
            try:
                async with session.post(url, data=bodies[i % POOL]) as r:
                    raw = await r.read()
                    counts[judge(i, str(r.status).encode(), raw)] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                counts["errors"] += 1
            i += window

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=window),
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        print("ready", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # "go"
        workers = [loop.create_task(worker(i)) for i in range(window)]
        await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
        stopping = True
        await asyncio.wait_for(asyncio.gather(*workers), 60)


def loader_main() -> None:
    """Entry point of a loader process: ``argv = [chain_url, relay json, window, mode]``."""
    chain_url, relay, window, mode = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    print(json.dumps(asyncio.run(_loader(chain_url, relay, window, mode))), flush=True)


def measured_layer(mode: str) -> tuple[bytes, bytes, int]:
    """``(body, x25519 secret, hop)`` of the layer the measured node peels in *mode*: a 3-node
    request's first layer (guard), second (middle relay) or last (destination, a storage call)."""
    from nacl.public import PrivateKey

    keys = [PrivateKey.generate() for _ in range(3)]
    nodes = [onion.Node(bytes(k.public_key).hex(), os.urandom(32).hex()) for k in keys]
    payload = _storage_call() if mode == "final" else b"x" * 200
    body, hop = onion.build(payload, nodes[:2], nodes[2])[0], 0
    before = {"guard": 0, "relay": 1, "final": 2}[mode]  # layers peeled before the measured node's
    for k in keys[:before]:
        step = onion.peel(body, bytes(k), hop=hop)
        assert isinstance(step, onion.Relay)
        body, hop = step.body, step.hop
    return body, bytes(keys[before]), hop


def _peel_rate(seconds: float = 1.0, mode: str = "relay") -> float:
    """Raw ``onion.peel`` rate of the layer the measured node peels per CPU-second of this
    process (CPU time, not wall clock: the machine is shared and wall clock is polluted)."""
    body, secret, hop = measured_layer(mode)
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        for _ in range(200):
            onion.peel(body, secret, hop=hop)
        n += 200
    return n / (time.process_time() - t0)


_ROLE = {"relay": "middle relay, ZMQ in and out", "guard": "guard, HTTP in, ZMQ out",
         "final": "destination, ZMQ in, storage RPC"}


def relay_row(chain_url: str, relay: dict[str, Any], relay_pid: int, loaders: int = 2, window: int = 1024,
              warmup: float = 1.0, seconds: float = 2.0, samples: int = 5, mode: str = "relay") -> str:
    """Run the measurement against a running devnet node (see the module doc); one report line.
    *mode* is the node's role in the requests (:data:`MODES`)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    code = "from session_core.bench.relay_bench import loader_main; loader_main()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, chain_url, json.dumps(relay), str(window), mode],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(loaders)
    ]
    try:
        for p in procs:
            assert p.stdin is not None and p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a relay loader failed to start")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        time.sleep(warmup)
        marks = [(cpu_seconds(relay_pid), _onion_count(relay["http"]), time.perf_counter())]
        during = []
        for _ in range(samples):
            # The window's raw peel rate, under the same machine load as the relay's hops.
            during.append(_peel_rate(seconds / 2, mode))
            marks.append((cpu_seconds(relay_pid), _onion_count(relay["http"]), time.perf_counter()))
        results = []
        for p in procs:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write("stop\n")
            p.stdin.flush()
        for p in procs:
            assert p.stdout is not None
            results.append(json.loads(p.stdout.readline()))
            p.wait(30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    # The machine is shared and its load moves both figures, so the peel rate is taken twice:
    # in each window, next to the relay's hops (same conditions; ratio per window, median),
    # and after the load on a quieter machine (faster, so a lower, conservative ratio).
    after = sorted(_peel_rate(seconds / 2, mode) for _ in range(samples))
    rates = [(h1 - h0) / (c1 - c0) for (c0, h0, _), (c1, h1, _) in zip(marks, marks[1:])]
    paired = sorted(r / p for r, p in zip(rates, during))
    cpu, hops, wall = (marks[-1][i] - marks[0][i] for i in range(3))
    per_core = sorted(rates)[len(rates) // 2]
    peel, peel_after = sorted(during)[len(during) // 2], after[len(after) // 2]
    total = {k: sum(r[k] for r in results) for k in results[0]}
    lost = total["sent"] - total["ok"] - total["bad_status"] - total["mismatched"] - total["errors"]
    return (
        f"{mode:9} {per_core:9.0f} hops/s per core of the node ({_ROLE[mode]}; median of {samples} windows: "
        f"{1e6 / per_core:.0f} us CPU/hop; {hops:.0f} hops, node busy {cpu / wall:.0%} of a core; {loaders} "
        f"loaders x {window} in flight)\n"
        f"          raw peel in the same windows {peel:.0f}/s per core: ratio {paired[len(paired) // 2]:5.2f} "
        f"(windows {paired[0]:.2f}-{paired[-1]:.2f}); raw peel after the load {peel_after:.0f}/s per core: "
        f"ratio {per_core / peel_after:5.2f}\n"
        f"          {total['sent']} requests: {total['ok']} answered with their own reply, "
        f"{total['bad_status']} non-200, {total['mismatched']} mismatched, {total['errors']} errors, "
        f"{total['duplicates']} duplicates, {lost} unanswered"
    )


__all__ = ["MODES", "cpu_seconds", "loader_main", "measured_layer", "relay_row"]
