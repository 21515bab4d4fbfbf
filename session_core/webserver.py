"""What every HTTP service of the package shares (file server, room server): bind, serve an
aiohttp application, announce itself in a ready file, run a periodic chore, stop cleanly."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from session_core.errors import OnionError
from session_core.onion.server import V4Request, open_v4

__all__ = ["Service", "run_service", "serve_v4"]

#: Onion bodies up to this size are opened and sealed on the event loop (a thread hop costs more
#: than the X25519 and the decryption of a small request); larger ones in a worker thread.
INLINE_ONION = 64 * 1024


V4Answer = tuple[int, bytes, str]


async def serve_v4(request: web.Request, x25519_secret: bytes,
                   dispatch: Callable[[V4Request], V4Answer | Awaitable[V4Answer]]) -> web.Response:
    """Answer ``POST /oxen/v4/lsrpc``: open the layer, run *dispatch* (on the event loop: the
    services' state is not thread-safe; a coroutine may hand its blocking work to a thread),
    seal its answer.  A layer that does not open is refused in clear; a malformed v4 request
    inside one is answered, encrypted, with a 400."""
    body = await request.read()
    inline = len(body) <= INLINE_ONION
    try:
        req = open_v4(body, x25519_secret) if inline else await asyncio.to_thread(open_v4, body, x25519_secret)
    except OnionError as exc:
        return web.Response(status=exc.status, text=exc.body)
    del body
    if req.error is not None:
        code, answer, ctype = 400, req.error.encode(), "text/plain"
    else:
        result = dispatch(req)
        code, answer, ctype = await result if inspect.isawaitable(result) else result
    if inline and len(answer) <= INLINE_ONION:
        return web.Response(body=req.seal(code, answer, ctype))
    return web.Response(body=await asyncio.to_thread(req.seal, code, answer, ctype))


class Service(abc.ABC):
    """Subclasses give :meth:`web_app`, :meth:`ready_info`, and :meth:`tick` (every
    ``tick_interval`` seconds) and :meth:`close` (after the HTTP side stopped)."""

    tick_interval = 60.0

    def __init__(self, ip: str, port: int, ready_file: Path | None, log: logging.Logger) -> None:
        self.ip = ip
        self.wanted_port = port
        self.ready_file = ready_file
        self.log = log
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @abc.abstractmethod
    def web_app(self) -> web.Application:
        """The service's routes."""

    def ready_info(self) -> dict[str, Any]:
        return {}

    async def tick(self) -> None:
        """The periodic chore (purging expired data, flushing batched writes)."""

    def close(self) -> None:
        """Release what the service holds (databases)."""

    async def start(self) -> None:
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.ip, self.wanted_port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())
        if self.ready_file is not None:
            info = {"url": self.url, **self.ready_info(), "pid": os.getpid()}
            tmp = self.ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(info))
            tmp.replace(self.ready_file)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._runner is not None:
            await self._runner.cleanup()
        self.close()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                await self.tick()
            except Exception:  # a failed chore must not stop the next ones
                self.log.exception("periodic task failed")


async def run_service(service: Service, stop: asyncio.Event) -> None:
    """Serve until *stop* is set (the ``run`` commands)."""
    await service.start()
    try:
        await stop.wait()
    finally:
        await service.stop()
