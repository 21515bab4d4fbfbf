"""The room server over HTTP (aiohttp): every endpoint directly, and through onion requests at
``POST /oxen/v4/lsrpc`` (the last layer is opened with the server's X25519 key; the v4 request
inside runs through the same :class:`~session_core.opengroup.app.RoomServerApp`)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

from session_core import onion
from session_core.opengroup.app import RoomServerApp
from session_core.opengroup.config import OpenGroupConfig
from session_core.onion.server import V4Request
from session_core.server_keys import ServerKeys
from session_core.webserver import Service, run_service, serve_v4

__all__ = ["KEY_FILE", "RoomServer", "run"]

log = logging.getLogger("session_core.opengroup")
KEY_FILE = "opengroup_ed25519"


class RoomServer(Service):
    tick_interval = 1.0  # batched writes (nonces, activity) reach the disk within a second

    def __init__(self, cfg: OpenGroupConfig) -> None:
        super().__init__(cfg.ip, cfg.port, cfg.ready_file, log)
        self.cfg = cfg
        self.keys = ServerKeys.load_or_create(cfg.data_dir, KEY_FILE)
        self.app = RoomServerApp(cfg, self.keys.x25519_public)
        self._last_purge = 0.0

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

    def ready_info(self) -> dict[str, Any]:
        return {"x25519": self.public_key, "ed25519": self.keys.ed25519.hex(),
                "rooms": {r.token: self.room_url(r.token) for r in self.cfg.rooms}}

    async def start(self) -> None:
        await super().start()
        log.info("room server %s serving %s", self.public_key[:12], self.url)

    async def tick(self) -> None:
        self.app.flush()
        now = time.monotonic()
        if now - self._last_purge >= self.cfg.purge_interval:
            self._last_purge = now
            gone = self.app.purge()
            if any(gone.values()):
                log.info("purged %s", gone)

    def close(self) -> None:
        self.app.close()

    async def _direct(self, request: web.Request) -> web.Response:
        body = await request.read() if request.body_exists else None
        res = self.app.handle(request.method, request.raw_path, request.headers, body)
        return web.Response(status=res.code, body=res.body, content_type=res.content_type)

    async def _onion(self, request: web.Request) -> web.Response:
        return await serve_v4(request, self.keys.x25519_secret, self._dispatch_v4)

    def _dispatch_v4(self, req: V4Request) -> tuple[int, bytes, str]:
        res = self.app.handle(req.method, req.endpoint, req.headers, req.body)
        return res.code, res.body, res.content_type


async def run(cfg: OpenGroupConfig, stop: asyncio.Event) -> None:
    """Serve until *stop* is set (``session-core opengroup run``)."""
    await run_service(RoomServer(cfg), stop)
