"""The one-frame node-to-node format: round trips, and malformed frames (truncated, oversized,
garbage) refused with a clear error, both by the codec and by live peers on loopback, where
they must run no handler and leave the connection usable."""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any

import pytest
import zmq
import zmq.asyncio
from nacl.public import PrivateKey

from session_core.errors import PeerFrameError, PeerRequestError
from session_core.node import wire
from session_core.node.peer import READ_BATCH, Incoming, PeerClient, PeerServer


@pytest.mark.parametrize("parts", [[b"ping"], [b"OK", b"a", b"", b"c", os.urandom(9)], [b"onion", os.urandom(700), b"1"], [b"data", b"", b"x" * 70_000]])
def test_round_trip(parts: list[bytes]) -> None:
    rid = int.from_bytes(os.urandom(8), "little")
    assert wire.decode(wire.encode(wire.REQUEST, rid, parts)) == (wire.REQUEST, rid, parts)
    assert wire.decode(wire.encode(wire.REPLY, 7, parts[1:])) == (wire.REPLY, 7, parts[1:])


def _good() -> bytes:
    return wire.encode(wire.REQUEST, 42, [b"onion", b"layer", b"1"])


@pytest.mark.parametrize(
    ("frame", "needle", "req_id"),
    [
        (b"", "truncated frame: 0 bytes", None),
        (_good()[:11], "truncated frame: 11 bytes", None),
        (_good()[:-1], "truncated frame", 42),
        (_good() + b"!", "trailing bytes", 42),
        (_good()[:12], "cannot hold the lengths", 42),
        (b"\x02" + _good()[1:], "unknown frame version 2", None),
        (_good()[:1] + b"\x09" + _good()[2:], "unknown message kind 9", 42),
        (struct.pack("<BBQH", 1, 0, 42, wire.MAX_PARTS + 1), "too many parts", 42),
        (struct.pack("<BBQHI", 1, 0, 42, 1, 0xFFFFFFFF) + b"x", "truncated frame", 42),
        (struct.pack("<BBQH", 1, 0, 42, 0), "request without a command", 42),
        (wire.encode(wire.ERROR, 42, [b"a", b"b"]), "error message with 2 parts", 42),
    ],
)
def test_malformed_frames_are_refused_clearly(frame: bytes, needle: str, req_id: int | None) -> None:
    with pytest.raises(PeerFrameError, match=needle) as info:
        wire.decode(frame)
    assert info.value.req_id == req_id
    assert isinstance(info.value, ValueError)


def test_oversized_frames_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "MAX_FRAME", 1000)
    with pytest.raises(PeerFrameError, match="exceeds the frame limit"):
        wire.encode(wire.REPLY, 1, [b"x" * 1000])
    big = struct.pack("<BBQHI", 1, 1, 5, 1, 1000) + b"x" * 1000
    with pytest.raises(PeerFrameError, match=f"oversized frame: {len(big)} bytes") as info:
        wire.decode(big)
    assert info.value.req_id == 5


def test_random_garbage_never_decodes_into_something_else() -> None:
    for n in range(300):
        junk = os.urandom(n % 40)
        try:
            kind, _, parts = wire.decode(junk)
        except PeerFrameError:
            continue
        # The rare accepted one must re-encode to exactly itself (no lenient parsing).
        assert wire.encode(kind, _, parts) == junk


def _keypair() -> tuple[bytes, bytes]:
    k = PrivateKey.generate()
    return bytes(k), bytes(k.public_key)


def _curve_dealer(ctx: zmq.Context[Any], sk: bytes, pk: bytes, server_pk: bytes, port: int) -> zmq.Socket[Any]:
    s = ctx.socket(zmq.DEALER)
    s.curve_secretkey = zmq.utils.z85.encode(sk)
    s.curve_publickey = zmq.utils.z85.encode(pk)
    s.curve_serverkey = zmq.utils.z85.encode(server_pk)
    s.linger = 0
    s.connect(f"tcp://127.0.0.1:{port}")
    return s


async def _recv(sock: zmq.Socket[Any], timeout: float = 5.0) -> list[bytes]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            assert asyncio.get_running_loop().time() < deadline, "no answer"
            await asyncio.sleep(0.01)


async def test_a_server_answers_malformed_frames_with_an_error_and_runs_no_handler() -> None:
    ctx = zmq.asyncio.Context()
    sync_ctx: zmq.Context[Any] = zmq.Context.shadow(ctx.underlying)
    server_sk, server_pk = _keypair()
    peer_sk, peer_pk = _keypair()
    calls: list[bytes] = []

    async def handler(cmd: bytes, parts: list[bytes], peer: str) -> list[bytes]:
        calls.append(cmd)
        return [b"OK", *parts]

    def batch(items: list[Incoming]) -> None:
        for inc in items:
            calls.append(b"onion")
            inc.reply([b"200", inc.args[0]])

    server = PeerServer(ctx, server_sk, server_pk, handler, lambda k: k == peer_pk.hex(), {b"onion": batch})
    port = server.bind("127.0.0.1")
    server.start()
    raw = _curve_dealer(sync_ctx, peer_sk, peer_pk, server_pk, port)
    try:
        good = wire.encode(wire.REQUEST, 9, [b"ping", b"hi"])
        raw.send(good)
        assert wire.decode((await _recv(raw))[0]) == (wire.REPLY, 9, [b"OK", b"hi"])
        cases: list[tuple[list[bytes], str, int]] = [
            ([good[:-1]], "truncated frame", 9),
            ([good + b"xx"], "trailing bytes", 9),
            ([os.urandom(5)], "truncated frame: 5 bytes", 0),
            ([b"\x07" + good[1:]], "unknown frame version", 0),
            ([wire.encode(wire.REPLY, 11, [b"OK"])], "expected a request", 11),
            ([good, b"second frame"], "expected exactly one frame", 0),
            ([wire.encode(wire.REQUEST, 12, [b"onion", b"x", b"1"])[:20]], "truncated frame", 12),
        ]
        for frames, needle, rid in cases:
            raw.send_multipart(frames)
            kind, got_rid, parts = wire.decode((await _recv(raw))[0])
            assert (kind, got_rid) == (wire.ERROR, rid)
            assert needle in parts[0].decode()
        assert calls == [b"ping"] and server.malformed == len(cases)
        # The connection still works, for plain and batch commands.
        raw.send(wire.encode(wire.REQUEST, 13, [b"onion", b"layer", b"1"]))
        assert wire.decode((await _recv(raw))[0]) == (wire.REPLY, 13, [b"200", b"layer"])
    finally:
        raw.close(0)
        await server.close()
        ctx.term()


async def test_a_client_fails_the_request_a_malformed_reply_names_and_ignores_unattributable_ones() -> None:
    ctx = zmq.asyncio.Context()
    sync_ctx: zmq.Context[Any] = zmq.Context.shadow(ctx.underlying)
    server_sk, server_pk = _keypair()
    client_sk, client_pk = _keypair()
    # A misbehaving "server": a plain CURVE ROUTER we drive by hand.
    router = sync_ctx.socket(zmq.ROUTER)
    router.curve_server = True
    router.curve_secretkey = zmq.utils.z85.encode(server_sk)
    router.curve_publickey = zmq.utils.z85.encode(server_pk)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    client = PeerClient(ctx, client_sk, client_pk)
    try:
        first = asyncio.ensure_future(client.request(server_pk.hex(), "127.0.0.1", port, b"ping", [], 5.0))
        ident, frame = await _recv(router)
        _, rid, _ = wire.decode(frame)
        router.send_multipart([ident, os.urandom(7)])  # unattributable garbage: dropped
        router.send_multipart([ident, wire.encode(wire.REPLY, rid, [b"OK"])[:-1] + b"\x00\x00"])
        with pytest.raises(PeerRequestError, match="malformed reply: trailing bytes"):
            await first

        second = asyncio.ensure_future(client.request(server_pk.hex(), "127.0.0.1", port, b"ping", [], 5.0))
        ident, frame = await _recv(router)
        _, rid, _ = wire.decode(frame)
        router.send_multipart([ident, wire.encode(wire.ERROR, rid, [b"truncated frame"])])
        with pytest.raises(PeerRequestError, match="could not read our request: truncated frame"):
            await second

        third = asyncio.ensure_future(client.request(server_pk.hex(), "127.0.0.1", port, b"ping", [], 5.0))
        ident, frame = await _recv(router)
        _, rid, _ = wire.decode(frame)
        # A multipart reply is judged part by part: the good frame answers, the junk is dropped.
        router.send_multipart([ident, wire.encode(wire.REPLY, rid, [b"OK"]), os.urandom(3)])
        assert await third == [b"OK"]
        fourth = asyncio.ensure_future(client.request(server_pk.hex(), "127.0.0.1", port, b"ping", [], 5.0))
        ident, frame = await _recv(router)
        _, rid, _ = wire.decode(frame)
        router.send_multipart([ident, wire.encode(wire.REPLY, rid, [b"OK", b"4"])])
        assert await fourth == [b"OK", b"4"]
    finally:
        await client.close()
        router.close(0)
        ctx.term()


async def test_a_pass_of_the_server_reads_no_more_frames_with_batches_than_without() -> None:
    """Batches count their frames toward the per-pass limit (a peer cannot make one pass of
    the loop do 256 times more work by batching)."""
    ctx = zmq.asyncio.Context()
    sync_ctx: zmq.Context[Any] = zmq.Context.shadow(ctx.underlying)
    server_sk, server_pk = _keypair()
    peer_sk, peer_pk = _keypair()
    passes: list[int] = []

    async def handler(cmd: bytes, parts: list[bytes], peer: str) -> list[bytes]:
        return [b"OK"]

    def batch(items: list[Incoming]) -> None:
        passes.append(len(items))
        for inc in items:
            inc.reply([b"200", b""])

    server = PeerServer(ctx, server_sk, server_pk, handler, lambda k: k == peer_pk.hex(), {b"onion": batch})
    port = server.bind("127.0.0.1")
    raw = _curve_dealer(sync_ctx, peer_sk, peer_pk, server_pk, port)
    try:
        frames = [wire.encode(wire.REQUEST, i, [b"onion", b"x", b"0"]) for i in range(200)]
        for _ in range(8):  # 8 batches of 200 frames queued before the server reads
            raw.send(wire.encode_batch(frames))
        await asyncio.sleep(0.3)
        server.start()
        replies = 0
        while replies < 1600:
            m = (await _recv(raw))[0]
            replies += len(wire.frames(m))
        assert sum(passes) == 1600 and max(passes) <= READ_BATCH + 200, passes
    finally:
        raw.close(0)
        await server.close()
        ctx.term()
