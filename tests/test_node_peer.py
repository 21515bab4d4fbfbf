"""Node-to-node ZMQ transport on loopback: CURVE, ZAP admission, request ids, timeouts."""

from __future__ import annotations

import asyncio

import pytest
import zmq.asyncio
from nacl.public import PrivateKey

from session_core.errors import PeerTimeoutError
from session_core.node.peer import PeerClient, PeerServer


def keypair() -> tuple[bytes, bytes]:
    k = PrivateKey.generate()
    return bytes(k), bytes(k.public_key)


async def test_request_reply_and_admission() -> None:
    ctx = zmq.asyncio.Context()
    server_sk, server_pk = keypair()
    good_sk, good_pk = keypair()
    bad_sk, bad_pk = keypair()
    seen: list[str] = []

    async def handler(cmd: bytes, parts: list[bytes], peer: str) -> list[bytes]:
        seen.append(peer)
        if cmd == b"slow":
            await asyncio.sleep(0.2)
        return [b"OK", cmd, *parts]

    server = PeerServer(ctx, server_sk, server_pk, handler, allowed=lambda k: k == good_pk.hex())
    port = server.bind("127.0.0.1")
    server.start()
    good = PeerClient(ctx, good_sk, good_pk)
    bad = PeerClient(ctx, bad_sk, bad_pk)
    try:
        # Concurrent requests on one socket come back to the right caller.
        slow = asyncio.ensure_future(good.request(server_pk.hex(), "127.0.0.1", port, b"slow", [b"1"], timeout=5))
        fast = await good.request(server_pk.hex(), "127.0.0.1", port, b"ping", [b"2"], timeout=5)
        assert fast == [b"OK", b"ping", b"2"]
        assert await slow == [b"OK", b"slow", b"1"]
        assert set(seen) == {good_pk.hex()}
        # An unregistered key is refused by ZAP: it just never gets an answer.
        with pytest.raises(PeerTimeoutError):
            await bad.request(server_pk.hex(), "127.0.0.1", port, b"ping", [], timeout=0.5)
        # A wrong server key fails silently too; the timeout turns it into an error.
        with pytest.raises(PeerTimeoutError):
            await good.request(bad_pk.hex(), "127.0.0.1", port, b"ping", [], timeout=0.5)
        assert set(seen) == {good_pk.hex()}
    finally:
        await good.close()
        await bad.close()
        await server.close()
        ctx.term()
