"""Client bounds against hostile nodes and local readers (issue 11 items 10, 15): an answer
read with a size cap, and secrets-bearing files created 0600."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from session_core.client.client import Client, ClientConfig
from session_core.client.db import ClientDB
from session_core.client.transport import MAX_ANSWER_BYTES, HttpTransport
from session_core.errors import AnswerTooLargeError
from session_core.identity import Identity

FLOOD = MAX_ANSWER_BYTES * 2  # what the hostile guard offers
_CHUNK = b"\0" * (1 << 20)


class FloodingGuard:
    """An HTTP server that answers every POST with FLOOD bytes, counting what it got to send."""

    def __init__(self, declare_length: bool) -> None:
        self.declare_length = declare_length
        self.sent = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse()
        if self.declare_length:
            resp.content_length = FLOOD
        await resp.prepare(request)
        try:
            while self.sent < FLOOD:
                await resp.write(_CHUNK)
                self.sent += len(_CHUNK)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what we wanted
        return resp


async def serve(guard: FloodingGuard) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/onion_req/v2", guard.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}/onion_req/v2"


@pytest.fixture(params=[False, True], ids=["chunked", "content-length"])
async def flooding(request: pytest.FixtureRequest) -> AsyncIterator[tuple[FloodingGuard, str]]:
    guard = FloodingGuard(declare_length=request.param)
    runner, url = await serve(guard)
    yield guard, url
    await runner.cleanup()


async def test_a_guards_endless_answer_is_cut_at_the_cap(flooding: tuple[FloodingGuard, str]) -> None:
    guard, url = flooding
    transport = HttpTransport()
    try:
        with pytest.raises(AnswerTooLargeError, match="cap"):
            await transport.post(url, b"onion", 30.0)
    finally:
        await transport.close()
    # The client hung up instead of taking the whole answer.
    assert guard.sent < FLOOD


async def test_an_answer_under_the_cap_is_read_whole() -> None:
    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 300_000)

    app = web.Application()
    app.router.add_post("/onion_req/v2", small)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    transport = HttpTransport(max_answer_bytes=300_000)
    try:
        res = await transport.post(f"http://127.0.0.1:{sock.getsockname()[1]}/onion_req/v2", b"", 5.0)
        assert res.status == 200 and res.body == b"x" * 300_000
    finally:
        await transport.close()
        await runner.cleanup()


# -- file modes ---------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_client_db_and_its_side_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        db = ClientDB(tmp_path / "client.db", Identity.generate())
        db.put("x", 1)
        for name in ("client.db", "client.db-wal", "client.db-shm"):
            assert mode(tmp_path / name) == 0o600, name
        db.close()
    finally:
        os.umask(old)


def test_a_client_db_created_world_readable_is_tightened_on_open(tmp_path: Path) -> None:
    ident = Identity.generate()
    db = ClientDB(tmp_path / "client.db", ident)
    db.put("x", 1)
    db.close()
    for name in ("client.db", "client.db-wal", "client.db-shm"):
        if (tmp_path / name).exists():
            os.chmod(tmp_path / name, 0o644)  # what an older version left
    db = ClientDB(tmp_path / "client.db", ident)
    for name in ("client.db", "client.db-wal", "client.db-shm"):
        if (tmp_path / name).exists():
            assert mode(tmp_path / name) == 0o600, name
    db.close()


def test_client_profile_directory_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        home = tmp_path / "profile"
        c = Client(Identity.generate(), "a", ClientConfig(["http://127.0.0.1:9/json_rpc"], home))
        c.db.close()
        assert mode(home) == 0o700
        assert mode(home / "client.db") == 0o600
    finally:
        os.umask(old)
