"""Batches on the node-to-node wire: the codec (wire.encode_batch / unbatch) and the sender
that groups the frames of one loop pass (node/peer/coalesce.py)."""

from __future__ import annotations

import asyncio

import pytest
import zmq

from session_core.errors import PeerFrameError
from session_core.node import wire
from session_core.node.peer import coalesce
from session_core.node.peer.coalesce import SendCoalescer, pack
from session_core.node.peer.pump import ZERO_COPY_BYTES


def frame(i: int, size: int = 10) -> bytes:
    return wire.encode(wire.REPLY, i, [b"200", bytes(size)])


def test_batch_round_trip_and_refusals() -> None:
    frames = [frame(i, i) for i in range(wire.MAX_BATCH)]
    b = wire.encode_batch(frames)
    assert wire.is_batch(b) and wire.unbatch(b) == frames
    assert not wire.is_batch(frames[0])
    with pytest.raises(PeerFrameError, match="unexpected batch"):
        wire.decode(b)  # a batch is not a message of its own
    for n in (0, 1, wire.MAX_BATCH + 1):
        with pytest.raises(PeerFrameError, match="2 to"):
            wire.encode_batch([frame(1)] * n)
    nested = wire.encode_batch([frame(1), frame(2)])
    forged = b"\x01\x03" + b"\x00" * 8 + (2).to_bytes(2, "little") + len(nested).to_bytes(4, "little") \
        + len(frame(3)).to_bytes(4, "little") + nested + frame(3)
    with pytest.raises(PeerFrameError, match="a batch inside a batch"):
        wire.unbatch(forged)
    with pytest.raises(PeerFrameError, match="malformed batch"):
        wire.unbatch(b[:-1])


def test_pack_groups_small_frames_and_leaves_the_rest_alone() -> None:
    small = [frame(i) for i in range(wire.MAX_BATCH + 3)]
    big = frame(999, ZERO_COPY_BYTES)
    batch = wire.encode_batch([frame(1), frame(2)])
    out = pack(small[:2] + [big] + small[2:] + [batch])
    assert out[0] == wire.encode_batch(small[:2]) and out[1] == big and out[-1] == batch
    assert wire.unbatch(out[2]) == small[2 : 2 + wire.MAX_BATCH]
    assert out[3] == small[-1] and len(out) == 5  # a run of one is sent as itself
    assert pack([small[0]]) == [small[0]] and pack([]) == []
    # Bytes bound: frames of 250 kB (under the zero-copy size) share a 1 MiB batch four at a time.
    mid = [frame(i, 250_000) for i in range(6)]
    assert [len(wire.unbatch(m)) for m in pack(mid)] == [4, 2]


async def test_the_first_frame_goes_at_once_the_rest_at_the_end_of_the_pass() -> None:
    sent: list[tuple[str, bytes]] = []
    c: SendCoalescer[str] = SendCoalescer(lambda k, f: sent.append((k, f)), lambda k: k != "old")
    for i in range(5):
        c.send("a", frame(i))
    c.send("b", frame(9))
    assert sent == [("a", frame(0)), ("b", frame(9))]  # nothing else before the pass ends
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sent[2:] == [("a", wire.encode_batch([frame(i) for i in range(1, 5)]))]
    c.send("a", frame(10))  # a new pass: first frame at once again
    assert sent[-1] == ("a", frame(10))
    await asyncio.sleep(0)
    del sent[:]
    for i in range(3):  # a peer that did not say it reads batches gets them one by one
        c.send("old", frame(i))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sent == [("old", frame(i)) for i in range(3)]


async def test_a_full_queue_delays_the_held_frames_in_order_and_a_dead_socket_drops_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coalesce, "RETRY_DELAY", 0.01)
    sent: list[bytes] = []
    refuse = {"again": 2, "dead": False}

    def send(_k: None, f: bytes) -> None:
        if refuse["dead"]:
            raise zmq.ZMQError(zmq.ENOTSOCK)
        if len(sent) >= 1 and refuse["again"]:
            refuse["again"] -= 1
            raise zmq.Again()
        sent.append(f)

    c: SendCoalescer[None] = SendCoalescer(send, lambda _: True)
    big = frame(7, ZERO_COPY_BYTES)
    for f in (frame(0), frame(1), frame(2), big, frame(3)):
        c.send(None, f)
    await asyncio.sleep(0.1)
    assert sent == [frame(0), wire.encode_batch([frame(1), frame(2)]), big, frame(3)]
    refuse["dead"] = True
    with pytest.raises(zmq.ZMQError):
        c.send(None, frame(4))  # the first send of a pass fails to its caller ...
    c2: SendCoalescer[None] = SendCoalescer(send, lambda _: True)
    refuse["dead"] = False
    c2.send(None, frame(5))
    refuse["dead"] = True
    c2.send(None, frame(6))  # ... later ones are dropped with their socket
    await asyncio.sleep(0.05)
    assert sent[-1] == frame(5)
