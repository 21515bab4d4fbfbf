"""Server CPU per request of trivial HTTP echo servers under the node bench's guard load.

Why: the guard hop (``POST /onion_req/v2``) was mostly HTTP framework work; this measures the
floor each way of serving it costs on this machine, in the same run: an aiohttp
``web.Application`` route, aiohttp's low-level ``web.Server``, and a bare asyncio protocol.
The load is the guard row's (``session_core.bench.relay_bench``): two loader processes, each
with 64 keep-alive connections posting 400-byte bodies.  Reported: the server process's CPU
time (``/proc``) divided by the requests it answered in a 5 s window.

Usage: python benches/bench_http_floor.py [app|lowlevel|raw ...]
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

COUNT = [0]


def _serve(kind: str) -> None:
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        COUNT[0] += 1
        return web.Response(body=await request.read())

    async def count(request: web.Request) -> web.Response:
        return web.Response(text=str(COUNT[0]))

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    if kind == "app":
        app = web.Application()
        app.router.add_post("/onion_req/v2", echo)
        app.router.add_get("/count", count)
        web.run_app(app, sock=sock, print=None, access_log=None)
        return

    class Echo(asyncio.Protocol):
        """Just enough HTTP/1.1 for the loaders: Content-Length bodies, keep-alive."""

        def connection_made(self, transport: Any) -> None:
            self.transport, self.buf = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while (end := self.buf.find(b"\r\n\r\n")) >= 0:
                head = self.buf[:end].lower()
                length = int(head.split(b"content-length:")[1].split(b"\r\n")[0]) if b"content-length:" in head else 0
                if len(self.buf) < end + 4 + length:
                    return
                body, self.buf = self.buf[end + 4:end + 4 + length], self.buf[end + 4 + length:]
                if head.startswith(b"get /count"):
                    body = str(COUNT[0]).encode()
                else:
                    COUNT[0] += 1
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    async def main() -> None:
        if kind == "raw":
            await asyncio.get_running_loop().create_server(Echo, sock=sock)
        else:
            async def handler(request: web.BaseRequest) -> web.StreamResponse:
                return await (count(request) if request.path == "/count" else echo(request))  # type: ignore[arg-type]

            runner = web.ServerRunner(web.Server(handler), access_log=None)
            await runner.setup()
            await web.SockSite(runner, sock).start()
        await asyncio.Event().wait()

    asyncio.run(main())


def _load(url: str) -> None:
    from session_core.bench.relay_bench import _http_load

    bodies = [os.urandom(400) for _ in range(1024)]
    counts = {"sent": 0, "ok": 0, "bad_status": 0, "mismatched": 0, "errors": 0, "duplicates": 0}
    asyncio.run(_http_load(url, bodies, 64, counts, lambda i, status, body: "ok" if status == b"200" else "bad_status"))
    print(json.dumps(counts), flush=True)


def measure(kind: str, seconds: float = 5.0) -> str:
    from session_core.bench.relay_bench import cpu_seconds

    server = subprocess.Popen([sys.executable, __file__, "serve", kind], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    port = int(server.stdout.readline())

    def answered() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=10) as r:
            return int(r.read())

    url = f"http://127.0.0.1:{port}/onion_req/v2"
    loaders = [subprocess.Popen([sys.executable, __file__, "load", url], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for p in loaders:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in loaders:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        time.sleep(1.0)
        c0, n0 = cpu_seconds(server.pid), answered()
        time.sleep(seconds)
        c1, n1 = cpu_seconds(server.pid), answered()
        for p in loaders:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write("stop\n")
            p.stdin.flush()
            json.loads(p.stdout.readline())
    finally:
        for p in loaders:
            p.kill()
        server.kill()
    return (f"{kind:9} {(c1 - c0) / (n1 - n0) * 1e6:6.0f} us server CPU per request "
            f"({n1 - n0} requests, server busy {(c1 - c0) / seconds:.0%} of a core)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(sys.argv[2])
    elif sys.argv[1:2] == ["load"]:
        _load(sys.argv[2])
    else:
        for kind in sys.argv[1:] or ["app", "lowlevel", "raw"]:
            print(measure(kind), flush=True)
