"""The room server over HTTP (aiohttp): every endpoint directly, and through onion requests at
``POST /oxen/v4/lsrpc`` (the last layer is opened with the server's X25519 key; the v4 request
inside runs through the same :class:`~session_core.opengroup.app.RoomServerApp`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket

from aiohttp import web

from session_core import onion
from session_core.errors import OnionError
from session_core.onion.server import open_v4
from session_core.opengroup.app import RoomServerApp
from session_core.opengroup.config import OpenGroupConfig
from session_core.server_keys import ServerKeys

__all__ = ["KEY_FILE", "RoomServer", "run"]

log = logging.getLogger("session_core.opengroup")
KEY_FILE = "opengroup_ed25519"
#: Onion bodies up to this size are opened on the event loop (a thread hop costs more than the
#: X25519 and decryption of a poll); larger ones (uploads) in a worker thread.
_INLINE_ONION = 64 * 1024


class RoomServer:
    def __init__(self, cfg: OpenGroupConfig) -> None:
        self.cfg = cfg
        self.keys = ServerKeys.load_or_create(cfg.data_dir, KEY_FILE)
        self.app = RoomServerApp(cfg, self.keys.x25519_public)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._purger: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.cfg.ip}:{self.port}"

    @property
    def public_key(self) -> str:
        """What room URLs carry (``?public_key=``): the X25519 key."""
        return self.keys.x25519_public.hex()

    def room_url(self, token: str) -> str:
        return f"{self.url}/{token}?public_key={self.public_key}"

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=max(onion.MAX_BODY_SIZE, self.cfg.max_file_bytes) + 4096)
        app.router.add_post("/oxen/v4/lsrpc", self._onion)
        app.router.add_route("*", "/{tail:.*}", self._direct)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.cfg.ip, self.cfg.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._purger = asyncio.get_running_loop().create_task(self._purge_forever())
        if self.cfg.ready_file is not None:
            info = {"url": self.url, "x25519": self.public_key, "ed25519": self.keys.ed25519.hex(),
                    "rooms": {r.token: self.room_url(r.token) for r in self.cfg.rooms}, "pid": os.getpid()}
            tmp = self.cfg.ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(info))
            tmp.replace(self.cfg.ready_file)
        log.info("room server %s serving %s", self.public_key[:12], self.url)

    async def stop(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        if self._runner is not None:
            await self._runner.cleanup()
        self.app.close()

    async def _purge_forever(self) -> None:
        last_purge = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(1.0)
            self.app.flush()
            if asyncio.get_running_loop().time() - last_purge >= self.cfg.purge_interval:
                last_purge = asyncio.get_running_loop().time()
                gone = self.app.purge()
                if any(gone.values()):
                    log.info("purged %s", gone)

    async def _direct(self, request: web.Request) -> web.Response:
        body = await request.read() if request.body_exists else None
        res = self.app.handle(request.method, request.raw_path, request.headers, body)
        return web.Response(status=res.code, body=res.body, content_type=res.content_type)

    async def _onion(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            if len(body) <= _INLINE_ONION:
                req = open_v4(body, self.keys.x25519_secret)
            else:
                req = await asyncio.to_thread(open_v4, body, self.keys.x25519_secret)
        except OnionError as exc:
            return web.Response(status=exc.status, text=exc.body)
        del body
        if req.error is not None:
            return web.Response(body=req.seal(400, req.error.encode(), "text/plain"))
        res = self.app.handle(req.method, req.endpoint, req.headers, req.body)
        return web.Response(body=req.seal(res.code, res.body, res.content_type))


async def run(cfg: OpenGroupConfig, stop: asyncio.Event) -> None:
    """Serve until *stop* is set (``session-core opengroup run``)."""
    server = RoomServer(cfg)
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()
