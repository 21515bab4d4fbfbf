"""The onion exit (issue 11 item 8): no request forgery towards loopback/private
addresses, and an answer bigger than the cap is not buffered."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from session_core.node.exit_http import ExitClient, address_refusal


@pytest.mark.parametrize(
    "address, why",
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"),
        ("192.168.1.1", "private"), ("fd00::1", "private"), ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("224.0.0.1", "multicast"), ("100.64.1.1", "carrier-grade"), ("240.0.0.1", "reserved"),
        ("192.0.2.1", "reserved"), ("not-an-ip", "not an IP"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    reason = address_refusal(address, allow_loopback=False)
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(address, allow_loopback=False) is None


def test_devnet_flag_allows_loopback_only() -> None:
    assert address_refusal("127.0.0.1", allow_loopback=True) is None
    assert address_refusal("::1", allow_loopback=True) is None
    assert address_refusal("10.0.0.1", allow_loopback=True) is not None


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[bytes]]]:
    seen: list[bytes] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(body=b"from-server")

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # no Content-Length: the cap must stop the reading
        await resp.prepare(request)
        chunk = b"x" * 65536
        for _ in range(64):  # 4 MiB
            await resp.write(chunk)
        return resp

    app = web.Application()
    app.router.add_post("/loki/v3/lsrpc", echo)
    app.router.add_post("/oxen/v4/lsrpc", huge)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    yield port, seen
    await runner.cleanup()


async def test_exit_to_loopback_is_refused_without_the_flag(server: tuple[int, list[bytes]]) -> None:
    port, seen = server
    client = ExitClient()
    try:
        for host in ("127.0.0.1", "localhost", "[::1]"):
            status, body = await client.post("POST", f"http://{host}:{port}/loki/v3/lsrpc", host, b"hi")
            assert status == 403 and b"Exit refused" in body, (host, status, body)
        assert seen == []  # nothing reached the server
    finally:
        await client.close()


async def test_exit_with_the_devnet_flag_reaches_loopback(server: tuple[int, list[bytes]]) -> None:
    port, seen = server
    client = ExitClient(allow_loopback=True)
    try:
        for host in ("127.0.0.1", "localhost"):
            assert await client.post("POST", f"http://{host}:{port}/loki/v3/lsrpc", host, b"hi") == (200, b"from-server")
        assert seen == [b"hi", b"hi"]
    finally:
        await client.close()


async def test_an_answer_over_the_cap_is_cut_off(server: tuple[int, list[bytes]]) -> None:
    port, _ = server
    client = ExitClient(allow_loopback=True, max_answer_bytes=1024 * 1024)
    try:
        status, body = await client.post("POST", f"http://127.0.0.1:{port}/oxen/v4/lsrpc", "127.0.0.1", b"")
        assert (status, body) == (502, b"Server error: answer too large")
        roomy = ExitClient(allow_loopback=True, max_answer_bytes=8 * 1024 * 1024)
        status, body = await roomy.post("POST", f"http://127.0.0.1:{port}/oxen/v4/lsrpc", "127.0.0.1", b"")
        assert status == 200 and len(body) == 4 * 1024 * 1024
        await roomy.close()
    finally:
        await client.close()


async def test_unreachable_server_is_502() -> None:
    client = ExitClient(allow_loopback=True, timeout=2)
    try:
        status, body = await client.post("POST", "http://127.0.0.1:1/loki/v3/lsrpc", "127.0.0.1", b"")
        assert status == 502 and body.startswith(b"Server error")
    finally:
        await client.close()
