"""The file server over HTTP (aiohttp): session-file-server's subset, direct and through onions.

Direct (for operators and the same-run baseline of the benchmarks)::

    POST /file            raw body -> {"id": "<id>"}   (413 over the limit)
    GET  /file/<id>       raw octets (404 unknown/expired, 400 malformed id)
    GET  /file/<id>/info  {"size", "uploaded", "expires"}

Through onion requests: ``POST /oxen/v4/lsrpc`` with what a node's exit posts; the server
opens the last layer with its X25519 key (``onion.open_request``), reads the v4 request
(:mod:`session_core.onion.v4`), runs the same three endpoints and answers encrypted for the
client.  Direct uploads stream to disk (:class:`~session_core.fileserver.store.Ingest`);
downloads stream from it.  An onion request is at most ``onion.MAX_BODY_SIZE`` (16 MiB), so a
large file comes as 4 MiB chunks (:mod:`session_core.attachments.chunks`), each its own blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from session_core import onion
from session_core.attachments.pointer import check_file_id
from session_core.errors import AttachmentInputError, AttachmentTooLargeError, InvalidFileIdError, OnionError
from session_core.fileserver import keys as server_keys
from session_core.fileserver.store import DEFAULT_MAX_SIZE, DEFAULT_TTL, BlobStore
from session_core.onion.server import open_v4

__all__ = ["FileServerConfig", "FileServer", "run"]

log = logging.getLogger("session_core.fileserver")
_PIECE = 256 * 1024


@dataclass
class FileServerConfig:
    data_dir: Path
    ip: str = "127.0.0.1"
    port: int = 0
    max_size: int = DEFAULT_MAX_SIZE
    ttl: float = DEFAULT_TTL
    purge_interval: float = 60.0
    ready_file: Path | None = None


class FileServer:
    def __init__(self, cfg: FileServerConfig) -> None:
        self.cfg = cfg
        self.keys = server_keys.load_or_create(cfg.data_dir)
        self.store = BlobStore(cfg.data_dir, max_size=cfg.max_size, ttl=cfg.ttl)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._purger: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.cfg.ip}:{self.port}"

    def app(self) -> web.Application:
        # Only the onion endpoint reads whole bodies; its cap is the largest onion request.
        app = web.Application(client_max_size=onion.MAX_BODY_SIZE + 4096)
        app.router.add_post("/file", self._post_file)
        app.router.add_get("/file/{file_id}", self._get_file)
        app.router.add_get("/file/{file_id}/info", self._get_info)
        app.router.add_post("/oxen/v4/lsrpc", self._onion)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.cfg.ip, self.cfg.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._purger = asyncio.get_running_loop().create_task(self._purge_forever())
        if self.cfg.ready_file is not None:
            info = {"url": self.url, "ed25519": self.keys.ed25519.hex(), "x25519": self.keys.x25519_public.hex(),
                    "pid": os.getpid()}
            tmp = self.cfg.ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(info))
            tmp.replace(self.cfg.ready_file)
        log.info("file server %s serving %s", self.keys.ed25519.hex()[:12], self.url)

    async def stop(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        if self._runner is not None:
            await self._runner.cleanup()
        self.store.close()

    async def _purge_forever(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.purge_interval)
            n = self.store.purge()
            if n:
                log.info("purged %d expired files", n)

    # -- direct HTTP --------------------------------------------------------------------------

    async def _post_file(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > self.store.max_size:
            return _error(413, f"file too large (limit {self.store.max_size} bytes)")
        up = self.store.ingest()
        try:
            async for piece in request.content.iter_chunked(_PIECE):
                up.write(piece)
            file_id = up.finish()
        except AttachmentTooLargeError:
            return _error(413, f"file too large (limit {self.store.max_size} bytes)")
        except AttachmentInputError as exc:
            up.abort()
            return _error(400, str(exc))
        except BaseException:
            up.abort()
            raise
        return web.json_response({"id": file_id})

    async def _get_file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        try:
            check_file_id(file_id)
        except InvalidFileIdError:
            return _error(400, "malformed file id")
        if self.store.info(file_id) is None:
            return _error(404, "no such file")
        return web.FileResponse(self.store.path_of(file_id), headers={"Content-Type": "application/octet-stream"})

    async def _get_info(self, request: web.Request) -> web.Response:
        code, body, ctype = self._info(request.match_info["file_id"])
        return web.Response(status=code, body=body, content_type=ctype)

    def _info(self, file_id: str) -> tuple[int, bytes, str]:
        try:
            check_file_id(file_id)
        except InvalidFileIdError:
            return 400, b"malformed file id", "text/plain"
        info = self.store.info(file_id)
        if info is None:
            return 404, b"no such file", "text/plain"
        doc = {"size": info.size, "uploaded": info.uploaded, "expires": info.expires}
        return 200, json.dumps(doc).encode(), "application/json"

    # -- through onion requests ---------------------------------------------------------------

    async def _onion(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            req = await asyncio.to_thread(open_v4, body, self.keys.x25519_secret)
        except OnionError as exc:
            return web.Response(status=exc.status, text=exc.body)
        del body
        if req.error is not None:
            code, answer, ctype = 400, req.error.encode(), "text/plain"
        else:
            code, answer, ctype = self._dispatch(req.method, req.endpoint, req.body)
        return web.Response(body=await asyncio.to_thread(req.seal, code, answer, ctype))

    def _dispatch(self, method: str, endpoint: str, payload: bytes | None) -> tuple[int, bytes, str]:
        parts = endpoint.split("/")
        if method == "POST" and endpoint == "/file":
            try:
                file_id = self.store.put(payload or b"")
            except AttachmentTooLargeError:
                return 413, f"file too large (limit {self.store.max_size} bytes)".encode(), "text/plain"
            except AttachmentInputError as exc:
                return 400, str(exc).encode(), "text/plain"
            return 200, json.dumps({"id": file_id}).encode(), "application/json"
        if method == "GET" and len(parts) == 3 and parts[1] == "file":
            try:
                check_file_id(parts[2])
            except InvalidFileIdError:
                return 400, b"malformed file id", "text/plain"
            data = self.store.read(parts[2])
            if data is None:
                return 404, b"no such file", "text/plain"
            return 200, data, "application/octet-stream"
        if method == "GET" and len(parts) == 4 and parts[1] == "file" and parts[3] == "info":
            return self._info(parts[2])
        return 404, b"no such endpoint", "text/plain"


def _error(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


async def run(cfg: FileServerConfig, stop: asyncio.Event) -> None:
    """Serve until *stop* is set (``session-core fileserver run``)."""
    server = FileServer(cfg)
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()
