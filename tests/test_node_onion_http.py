"""The guard's lean ``/onion_req/v2`` intake (node/onion_http.py): what it takes, what it hands
to aiohttp, and that the connection guard's caps and deadlines still hold on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from session_core.node.http_guard import ConnectionGuard, ConnectionLimits, guard_middleware
from session_core.node.onion_http import FAST_MAX_BODY, MAX_HEAD, NEED_MORE, NOT_OURS, parse_onion_post
from tests.test_node_http_guard import serve_guarded

LIMITS = ConnectionLimits(max_connections=60, max_per_ip=25, header_deadline=0.6, body_deadline=0.6)
HEAD = b"POST /onion_req/v2 HTTP/1.1\r\nHost: x\r\n"


def post(body: bytes, extra: bytes = b"") -> bytes:
    return HEAD + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body


# -- the parser ---------------------------------------------------------------------------------


def test_a_plain_onion_post_is_taken() -> None:
    req = post(b"layer")
    start, length, _ = parse_onion_post(req)  # type: ignore[misc]
    assert req[start:start + length] == b"layer"
    assert isinstance(parse_onion_post(post(b"x", b"Connection: Keep-Alive\r\nX-A: b\r\n")), tuple)


@pytest.mark.parametrize("cut", [1, 10, len(HEAD) - 1, len(HEAD) + 5])
def test_a_prefix_of_one_needs_more(cut: int) -> None:
    assert parse_onion_post(post(b"layer")[:cut]) == NEED_MORE


@pytest.mark.parametrize(
    "req",
    [
        b"POST /storage_rpc/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
        b"GET /onion_req/v2 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /onion_req/v2 HTTP/1.0\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
        b"POST /onion_req/v2?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
        b"POST /onion_req/v2 HTTP/1.1\r\n\r\n",  # no headers at all
        HEAD + b"\r\n",  # no Content-Length
        post(b"x", b"Transfer-Encoding: chunked\r\n"),
        post(b"x", b"Content-Encoding: gzip\r\n"),
        post(b"x", b"Expect: 100-continue\r\n"),
        post(b"x", b"Upgrade: websocket\r\n"),
        post(b"x", b"Connection: close\r\n"),
        post(b"x", b"Content-Length: 1\r\n"),  # twice
        HEAD + b"Content-Length: +1\r\n\r\nx",
        HEAD + b"Content-Length: 0x1\r\n\r\nx",
        post(b"x", b"Bad Name: y\r\n"),
        post(b"x", b" folded\r\n"),
        post(b"x", b"NoColon\r\n"),
        post(b"x", b"A: b\nC: d\r\n"),  # bare LF
        HEAD + b"Content-Length: %d\r\n\r\n" % (FAST_MAX_BODY + 1),
        HEAD + b"X: " + b"y" * MAX_HEAD + b"\r\n",  # a head too long to take
    ],
)
def test_anything_else_is_not_ours(req: bytes) -> None:
    assert parse_onion_post(req) == NOT_OURS


# -- on a served socket -------------------------------------------------------------------------


@pytest.fixture
async def served() -> AsyncIterator[tuple[int, ConnectionGuard, list[bytes]]]:
    guard = ConnectionGuard(LIMITS, file_limit=100_000)
    seen: list[bytes] = []  # bodies the intake answered

    def onion(body: bytes, done: Callable[[int, bytes], None]) -> None:
        seen.append(body)
        if body == b"boom":
            raise RuntimeError("handler failed")
        status = 502 if body == b"bad" else 200
        if body == b"slow":  # answered later, from the loop
            asyncio.get_running_loop().call_later(0.2, done, status, b"onion:" + body)
        else:
            done(status, b"onion:" + body)

    async def via_aiohttp(request: web.Request) -> web.Response:
        return web.Response(body=b"aiohttp:" + await request.read())

    app = web.Application(middlewares=[guard_middleware(guard)])
    app.router.add_post("/onion_req/v2", via_aiohttp)
    app.router.add_post("/storage_rpc/v1", via_aiohttp)
    runner, port = await serve_guarded(app, guard, onion)
    yield port, guard, seen
    await runner.cleanup()


async def answers(reader: asyncio.StreamReader, n: int) -> list[tuple[int, bytes]]:
    """Read *n* HTTP answers: (status, body)."""
    out = []
    for _ in range(n):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        out.append((status, await asyncio.wait_for(reader.readexactly(length), 5)))
    return out


async def connect(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def test_onion_posts_are_answered_by_the_intake_in_order(served: tuple[int, ConnectionGuard, list[bytes]]) -> None:
    port, guard, seen = served
    reader, writer = await connect(port, "127.0.0.1")
    writer.write(post(b"slow") + post(b"bad") + post(b"three"))  # pipelined: answered in order
    assert await answers(reader, 3) == [(200, b"onion:slow"), (502, b"onion:bad"), (200, b"onion:three")]
    assert seen == [b"slow", b"bad", b"three"]
    writer.write(post(b"again"))  # keep-alive
    assert await answers(reader, 1) == [(200, b"onion:again")]
    assert await asyncio.wait_for(reader.read(), 5) == b""  # idle past the header deadline: closed
    assert guard.timed_out == 1 and guard.stats()["open"] == 0
    writer.close()


async def test_many_pipelined_requests_answered_at_once_do_not_nest(
    served: tuple[int, ConnectionGuard, list[bytes]]
) -> None:
    port, guard, seen = served
    reader, writer = await connect(port, "127.0.0.10")
    n = 5000  # answered synchronously, one after the other, from one read
    writer.write(post(b"bad") * n)
    got = await answers(reader, n)
    assert got == [(502, b"onion:bad")] * n and len(seen) == n
    assert guard.stats()["handed_over"] == 0
    writer.close()


async def test_a_request_it_does_not_take_goes_to_aiohttp_with_what_follows(
    served: tuple[int, ConnectionGuard, list[bytes]]
) -> None:
    port, guard, seen = served
    reader, writer = await connect(port, "127.0.0.2")
    other = b"POST /storage_rpc/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
    writer.write(post(b"first") + other + post(b"later"))
    assert await answers(reader, 3) == [(200, b"onion:first"), (200, b"aiohttp:hi"), (200, b"aiohttp:later")]
    assert seen == [b"first"]
    assert guard.stats()["onion_intake"] == 1 and guard.stats()["handed_over"] == 1
    writer.write(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")  # aiohttp's own answers stay
    assert (await answers(reader, 1))[0][0] == 404
    writer.close()


async def test_a_large_body_goes_to_aiohttp(served: tuple[int, ConnectionGuard, list[bytes]]) -> None:
    port, _, seen = served
    reader, writer = await connect(port, "127.0.0.3")
    big = b"b" * (FAST_MAX_BODY + 1)
    writer.write(post(big))
    assert await answers(reader, 1) == [(200, b"aiohttp:" + big)]
    assert seen == []
    writer.close()


async def test_a_body_in_pieces_is_waited_for(served: tuple[int, ConnectionGuard, list[bytes]]) -> None:
    port, _, seen = served
    reader, writer = await connect(port, "127.0.0.4")
    req = post(b"in pieces")
    for i in range(0, len(req), 7):
        writer.write(req[i:i + 7])
        await writer.drain()
        await asyncio.sleep(0.01)
    assert await answers(reader, 1) == [(200, b"onion:in pieces")]
    writer.close()


async def test_slow_body_gets_408(served: tuple[int, ConnectionGuard, list[bytes]]) -> None:
    port, guard, seen = served
    reader, writer = await connect(port, "127.0.0.5")
    writer.write(HEAD + b"Content-Length: 100\r\n\r\nonly-part")
    answer = await asyncio.wait_for(reader.read(4096), 5)
    assert answer.startswith(b"HTTP/1.1 408") and answer.endswith(b"Request body not received in time\n")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert guard.timed_out == 1 and seen == []
    writer.close()


async def test_unfinished_head_is_closed_at_the_deadline(served: tuple[int, ConnectionGuard, list[bytes]]) -> None:
    port, guard, _ = served
    reader, writer = await connect(port, "127.0.0.6")
    writer.write(HEAD)  # headers never finished
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert guard.timed_out == 1 and guard.stats()["open"] == 0
    writer.close()


async def test_a_failing_handler_answers_500_and_closes(served: tuple[int, ConnectionGuard, list[bytes]]) -> None:
    port, _, _ = served
    reader, writer = await connect(port, "127.0.0.7")
    writer.write(post(b"boom") + post(b"never"))
    assert (await answers(reader, 1))[0][0] == 500
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_the_per_address_cap_holds(served: tuple[int, ConnectionGuard, list[bytes]]) -> None:
    port, guard, _ = served
    conns = [await connect(port, "127.0.0.8") for _ in range(30)]
    await asyncio.sleep(0.05)
    assert guard.stats()["open"] == LIMITS.max_per_ip and guard.refused == 30 - LIMITS.max_per_ip
    for _, w in conns:
        w.close()


async def test_a_half_closed_client_still_gets_its_answer(served: tuple[int, ConnectionGuard, list[bytes]]) -> None:
    port, _, _ = served
    reader, writer = await connect(port, "127.0.0.9")
    writer.write(post(b"slow"))
    writer.write_eof()
    assert await answers(reader, 1) == [(200, b"onion:slow")]
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
