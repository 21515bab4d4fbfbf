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
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from session_core import onion
from session_core.attachments.pointer import check_file_id
from session_core.errors import AttachmentInputError, AttachmentTooLargeError, InvalidFileIdError
from session_core.fileserver.keys import FileServerKeys
from session_core.fileserver.store import DEFAULT_MAX_SIZE, DEFAULT_TTL, BlobStore
from session_core.webserver import INLINE_ONION, Service, run_service, serve_v4

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


class FileServer(Service):
    def __init__(self, cfg: FileServerConfig) -> None:
        super().__init__(cfg.ip, cfg.port, cfg.ready_file, log)
        self.cfg = cfg
        self.tick_interval = cfg.purge_interval
        self.keys = FileServerKeys.load_or_create(cfg.data_dir)
        self.store = BlobStore(cfg.data_dir, max_size=cfg.max_size, ttl=cfg.ttl)

    def web_app(self) -> web.Application:
        # Only the onion endpoint reads whole bodies; its cap is the largest onion request.
        app = web.Application(client_max_size=onion.MAX_BODY_SIZE + 4096)
        app.router.add_post("/file", self._post_file)
        app.router.add_get("/file/{file_id}", self._get_file)
        app.router.add_get("/file/{file_id}/info", self._get_info)
        app.router.add_post("/oxen/v4/lsrpc", self._onion)
        return app

    def ready_info(self) -> dict[str, Any]:
        return {"ed25519": self.keys.ed25519.hex(), "x25519": self.keys.x25519_public.hex()}

    async def start(self) -> None:
        await super().start()
        log.info("file server %s serving %s", self.keys.ed25519.hex()[:12], self.url)

    async def tick(self) -> None:
        n = self.store.purge()
        if n:
            log.info("purged %d expired files", n)

    def close(self) -> None:
        self.store.close()

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
        return await serve_v4(request, self.keys.x25519_secret,
                              lambda req: self._dispatch(req.method, req.endpoint, req.body_view))

    async def _dispatch(self, method: str, endpoint: str, payload: memoryview | None) -> tuple[int, bytes, str]:
        # Hashing and writing an upload, and reading a download, run in a worker thread when
        # large (a 4 MiB chunk would hold the loop for milliseconds); SQLite stays on the loop.
        parts = endpoint.split("/")
        if method == "POST" and endpoint == "/file":
            data = b"" if payload is None else payload
            try:
                up = self.store.spool(data) if len(data) <= INLINE_ONION else await asyncio.to_thread(self.store.spool, data)
                file_id = up.finish()
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
            info = self.store.info(parts[2])
            blob: bytes | None = None
            if info is not None:
                read = self.store.read_file
                blob = read(parts[2]) if info.size <= INLINE_ONION else await asyncio.to_thread(read, parts[2])
            if blob is None:
                return 404, b"no such file", "text/plain"
            return 200, blob, "application/octet-stream"
        if method == "GET" and len(parts) == 4 and parts[1] == "file" and parts[3] == "info":
            return self._info(parts[2])
        return 404, b"no such endpoint", "text/plain"


def _error(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


async def run(cfg: FileServerConfig, stop: asyncio.Event) -> None:
    """Serve until *stop* is set (``session-core fileserver run``)."""
    await run_service(FileServer(cfg), stop)
