"""Room server polling throughput: signed ``/batch`` polls per second and their latency,
directly and through 3-hop onion paths, each beside a trivial aiohttp endpoint measured the
same way in the same run.

    python benches/bench_opengroup.py [--rooms 100] [--users 1000] [--seconds 5] [--concurrency 16]

The room server (``session-core opengroup run``) and the trivial server run as their own
processes; for the onion runs a loopback devnet of --nodes nodes carries the requests (guard ->
relay -> exit -> server).  History: --rooms rooms x --users users, one post each per room
(synthetic rows written before the server starts).  A poll is one /batch asking 3 rooms for
what changed since a recent seqno (one message each), signed with a fresh nonce by one of 100
blinded users.  Requests (and onions) are built before the clock starts, so the load generator
spends its time sending; it still shares the machine's cores with everything else.

Targets (issue 16): >= 1000 polls/s direct, >= 300/s through onions, p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from session_core import blinding, onion  # noqa: E402
from session_core.client.paths import PathPool  # noqa: E402
from session_core.client.snode import Snode  # noqa: E402
from session_core.devnet.launcher import Devnet, DevnetOptions  # noqa: E402
from session_core.onion import v4  # noqa: E402
from session_core.opengroup import db as schema  # noqa: E402
from session_core.opengroup.server import KEY_FILE  # noqa: E402
from session_core.rooms.auth import sign_request  # noqa: E402
from session_core.server_keys import ServerKeys  # noqa: E402

TRIVIAL = r'''
import sys
from aiohttp import web
from session_core.onion.server import open_v4
from session_core.server_keys import ServerKeys
from pathlib import Path
keys = ServerKeys.load_or_create(Path(sys.argv[1]), "trivial")
async def batch(request):
    await request.read()
    return web.json_response([])
async def lsrpc(request):
    req = open_v4(await request.read(), keys.x25519_secret)
    return web.Response(body=req.seal(200, b"[]", "application/json"))
app = web.Application()
app.router.add_post("/batch", batch)
app.router.add_post("/oxen/v4/lsrpc", lsrpc)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=None, access_log=None)
'''


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_history(data_dir: Path, rooms: int, users: int) -> list[tuple[str, int]]:
    """Rooms r0..r{n-1}, each with one post by each synthetic user; returns (token, seqno)."""
    db = schema.connect(data_dir / "opengroup.db")
    now = time.time()
    rng = random.Random(7)
    db.execute("BEGIN")
    db.executemany("INSERT INTO users (id, session_id, created, last_active) VALUES (?, ?, ?, ?)",
                   [(u + 1, "15" + rng.randbytes(32).hex(), now, now) for u in range(users)])
    out = []
    for r in range(rooms):
        db.execute("INSERT INTO rooms (id, token, name, created, message_sequence) VALUES (?, ?, ?, ?, ?)",
                   (r + 1, f"r{r}", f"Room {r}", now, users))
        db.executemany("INSERT INTO messages (room, user, seqno, seqno_data, posted, data, signature) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(r + 1, u + 1, u + 1, u + 1, now - users + u, rng.randbytes(100), rng.randbytes(64))
                        for u in range(users)])
        db.executemany("INSERT INTO room_users (room, user, last_active) VALUES (?, ?, ?)",
                       [(r + 1, u + 1, now) for u in range(users)])
        out.append((f"r{r}", users))
    db.execute("COMMIT")
    db.close()
    return out


def start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True, env=env)


def wait_ready(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return dict(json.loads(path.read_text()))
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode}")
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {path}")


async def wait_http(url: str) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(200):
            try:
                async with s.post(url, data=b"[]") as r:
                    await r.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise SystemExit(f"{url} never answered")


def polls(server_pk: bytes, rooms: list[tuple[str, int]], count: int) -> list[tuple[bytes, dict[str, str]]]:
    """*count* signed /batch polls (3 rooms each, one new message per room) from 100 users."""
    rng = random.Random(11)
    keys = [blinding.blind15_key_pair(os.urandom(32), server_pk) for _ in range(100)]
    out = []
    ts = int(time.time())
    for i in range(count):
        subs = [{"method": "GET", "path": f"/room/{t}/messages/since/{s - 1}"} for t, s in rng.sample(rooms, 3)]
        body = json.dumps(subs).encode()
        headers = sign_request(keys[i % len(keys)], server_pk, "POST", "/batch", body, timestamp=ts)
        headers["Content-Type"] = "application/json"
        out.append((body, headers))
    return out


class Result:
    def __init__(self, label: str) -> None:
        self.label = label
        self.lat: list[float] = []
        self.errors = 0
        self.elapsed = 0.0

    @property
    def rate(self) -> float:
        return len(self.lat) / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        s = sorted(self.lat)
        return s[min(len(s) - 1, int(p * len(s)))] * 1000 if s else float("nan")

    def line(self) -> str:
        return (f"{self.label:34} {self.rate:8.0f}/s  p50 {self.pct(0.5):6.1f} ms  p99 {self.pct(0.99):6.1f} ms"
                f"  ({len(self.lat)} ok, {self.errors} errors)")


def report(kind: str, results: list[Result], note: str) -> None:
    for r in results:
        print(r.line())
    og = max(r.rate for r in results if "room server" in r.label)
    tr = max(r.rate for r in results if "trivial" in r.label)
    print(f"{kind}: best room server {og:.0f}/s, best trivial {tr:.0f}/s, ratio {og / tr * 100:.0f} %  {note}")


async def drive(label: str, send: Any, items: list[Any], concurrency: int, seconds: float) -> Result:
    """Send prepared items with *concurrency* in flight until *seconds* pass or items run out."""
    res = Result(label)
    it = iter(items)
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        for item in it:
            if time.perf_counter() > stop_at:
                return
            t0 = time.perf_counter()
            try:
                ok = await send(item)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            if ok:
                res.lat.append(time.perf_counter() - t0)
            else:
                res.errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    res.elapsed = time.perf_counter() - t0
    return res


async def main(a: argparse.Namespace) -> None:
    d = Path(tempfile.mkdtemp(prefix="bench-og-"))
    procs: list[subprocess.Popen[bytes]] = []
    net: Devnet | None = None
    try:
        og_dir = d / "og"
        og_dir.mkdir()
        keys = ServerKeys.load_or_create(og_dir, KEY_FILE)
        t0 = time.perf_counter()
        rooms = write_history(og_dir, a.rooms, a.users)
        print(f"history: {a.rooms} rooms x {a.users} users, {a.rooms * a.users} posts, written in "
              f"{time.perf_counter() - t0:.1f} s")
        cli = [sys.executable, "-m", "session_core.cli"]
        procs.append(start([*cli, "opengroup", "run", "--data-dir", str(og_dir), "--ready-file", str(d / "og.ready"),
                            "--log-level", "WARNING", *(["--no-answer-cache"] if a.miss else [])], d / "og.log"))
        info = wait_ready(d / "og.ready", procs[-1])
        tport = free_port()
        procs.append(start([sys.executable, "-c", TRIVIAL, str(d), str(tport)], d / "trivial.log"))
        trivial_url = f"http://127.0.0.1:{tport}"
        await wait_http(trivial_url + "/batch")
        trivial_keys = ServerKeys.load_or_create(d, "trivial")
        server_pk = keys.x25519_public
        n = int(a.seconds * 5000 * a.rounds)
        prepared = polls(server_pk, rooms, n)
        prepared_trivial = polls(server_pk, rooms, n)
        print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; concurrency {a.concurrency}, "
              f"{a.seconds:g} s per run")

        conn = aiohttp.TCPConnector(limit=a.concurrency)
        async with aiohttp.ClientSession(connector=conn) as http:
            async def direct_to(url: str) -> Any:
                async def send(item: tuple[bytes, dict[str, str]]) -> bool:
                    async with http.post(url, data=item[0], headers=item[1]) as r:
                        body = await r.read()
                        return r.status == 200 and body.startswith(b"[")
                return send

            check = prepared.pop()
            async with http.post(info["url"] + "/batch", data=check[0], headers=check[1]) as r:
                sample = await r.json()
            assert [s["code"] for s in sample] == [200, 200, 200] and all(s["body"] for s in sample), sample

            results = []
            for rnd in range(a.rounds):  # interleaved so drift hits both alike
                results.append(await drive(f"direct: room server /batch (r{rnd + 1})", await direct_to(info["url"] + "/batch"),
                                           prepared[rnd::a.rounds], a.concurrency, a.seconds))
                results.append(await drive(f"direct: trivial aiohttp (r{rnd + 1})", await direct_to(trivial_url + "/batch"),
                                           prepared_trivial[rnd::a.rounds], a.concurrency, a.seconds))
            report("direct", results, "[target >= 1000/s, p99 < 100 ms]")

            if a.nodes:
                net = Devnet(d / "devnet")
                await asyncio.to_thread(net.up, DevnetOptions(d / "devnet", nodes=a.nodes, difficulty=1, block_interval=1.0))
                pool = PathPool(random.Random(3))
                pool.set_nodes(Snode(x["ed25519"], x["x25519"], x["ip"], x["http_port"]) for x in net.nodes)
                paths = [pool.pick() for _ in range(8)]

                def onions(target: onion.ServerTarget, items: list[tuple[bytes, dict[str, str]]]) -> list[Any]:
                    out = []
                    for i, (body, headers) in enumerate(items):
                        path = paths[i % len(paths)]
                        blob, ctx = onion.build(v4.encode_request("POST", "/batch", body, headers),
                                                [h.onion_node for h in path.hops], target)
                        out.append((path.guard.url + "/onion_req/v2", blob, ctx))
                    return out

                og_target = onion.ServerTarget("127.0.0.1", info["x25519"], target="/oxen/v4/lsrpc",
                                               port=int(info["url"].rsplit(":", 1)[1]), protocol="http")
                tr_target = onion.ServerTarget("127.0.0.1", trivial_keys.x25519_public.hex(), target="/oxen/v4/lsrpc",
                                               port=tport, protocol="http")
                m = int(a.seconds * 1500)
                fresh = polls(server_pk, rooms, 2 * m * a.rounds)
                t0 = time.perf_counter()
                og_onions = onions(og_target, fresh[: m * a.rounds])
                tr_onions = onions(tr_target, fresh[m * a.rounds:])
                print(f"built {2 * m * a.rounds} onions in {time.perf_counter() - t0:.1f} s (before the clock)")

                async def via_onion(item: tuple[str, bytes, Any]) -> bool:
                    url, blob, ctx = item
                    async with http.post(url, data=blob) as r:
                        if r.status != 200:
                            return False
                        code, _, body = v4.decode_response(ctx.decrypt_reply(await r.read()))
                        return code == 200 and body.startswith(b"[")

                results = []
                for rnd in range(a.rounds):
                    results.append(await drive(f"3-hop onion: room server (r{rnd + 1})", via_onion,
                                               og_onions[rnd * m:(rnd + 1) * m], a.concurrency, a.seconds))
                    results.append(await drive(f"3-hop onion: trivial v4 (r{rnd + 1})", via_onion,
                                               tr_onions[rnd * m:(rnd + 1) * m], a.concurrency, a.seconds))
                report("onion", results, f"[target >= 300/s, p99 < 100 ms]  ({a.nodes} node processes on this machine)")
    finally:
        if net is not None:
            net.down()
        for p in procs:
            p.terminate()
            p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--nodes", type=int, default=4, help="devnet nodes for the onion runs (0: skip them)")
    ap.add_argument("--miss", action="store_true", help="run the room server without its poll answer cache")
    asyncio.run(main(ap.parse_args()))
