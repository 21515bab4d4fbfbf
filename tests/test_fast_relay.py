"""The C relay engine (csrc/relay.c via session_core/node/fast_relay.py) against the Python
relay path it replaces on the hot path.

Differential: the same requests go to a relay with the engine and to one without, and the
answers must be identical (status codes, texts, reply bytes), for well-formed relays,
unusual replies from the next hop (non-canonical status, wrong shapes, error frames,
silence), and malformed or unusual requests (which the engine must hand to Python
untouched).  Plus: the engine really carries the traffic once a route is learnt, dropping
a route mid-flight loses nothing silently (504 at the deadline, like a lost reply), and its
frame parser accepts exactly what ``wire.decode`` accepts.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
import struct
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

import session_core.node.service as service
from session_core import onion
from session_core.errors import PeerFrameError, PeerRequestError
from session_core.node import fast_relay, wire
from session_core.node.peer import pump as peer_pump
from session_core.node.peer import Incoming
from session_core.node.service import ServiceNode
from tests.test_node_cluster import Cluster, start_cluster, stop_cluster

if os.environ.get("SESSION_CORE_NO_EXTENSIONS"):
    pytest.skip("the relay engine exists only in the C build", allow_module_level=True)
relay_c = importlib.import_module("session_core.node._relay_c")  # a C build without it fails loudly

pytestmark = pytest.mark.slow

TIMEOUT = 1.5  # the relays' onion timeout in these tests (seconds)


@pytest.fixture
async def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    # Nodes: 0 relay with the engine, 1 relay without, 2 destination, 3 sender.
    monkeypatch.setattr(service, "ONION_TIMEOUT", TIMEOUT)
    c = await start_cluster(tmp_path, 4, python_relay={1})
    assert c.nodes[0].fast_relay is not None and c.nodes[1].fast_relay is None
    yield c
    await stop_cluster(c)


def as_onion(n: ServiceNode) -> onion.Node:
    return onion.Node(n.keys.x25519_public.hex(), n.me)


Raw = list[bytes] | PeerRequestError


async def ask(sender: ServiceNode, relay: ServiceNode, bodies: list[bytes], hop: bytes = b"0") -> list[list[Raw]]:
    """Send each body as an ``onion`` request to *relay*; every answer per body, raw parts."""
    got: list[list[Raw]] = [[] for _ in bodies]
    for i, body in enumerate(bodies):
        sender.peers.request_nowait(relay.keys.x25519_public.hex(), "127.0.0.1", relay.zmq_port, b"onion",
                                    [body, hop], 10.0, functools.partial(lambda i, r: got[i].append(r), i))
    deadline = time.monotonic() + 10
    while not all(got) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # a duplicate answer would show up now
    return got


Behaviour = Callable[[Incoming, bytes], None]


def destination(dest: ServiceNode, behave: Behaviour) -> None:
    """Make *dest* answer onion requests with ``behave(inc, payload)`` (payload decrypted)."""
    secret = dest.keys.x25519_secret

    def handle(items: list[Incoming]) -> None:
        for inc, step in zip(items, onion.peel_many([i.args[0] for i in items], secret, threads=1, hop=1)):
            assert isinstance(step, onion.Final), step
            behave(inc, step.payload)

    dest.peer_server.set_batch_handler(b"onion", handle)


def scripted(inc: Incoming, payload: bytes) -> None:
    """The next hop's answers under test, chosen by the request's payload."""
    kind = payload.split(b":")[0]
    if kind == b"echo":
        inc.reply([b"200", payload])
    elif kind == b"zeros":
        inc.reply([b"000201", payload])
    elif kind == b"zero":
        inc.reply([b"0", b""])
    elif kind == b"long18":
        inc.reply([b"0" * 15 + b"200", b""])
    elif kind == b"long19":
        inc.reply([b"0" * 16 + b"200", b""])
    elif kind == b"three":
        inc.reply([b"200", b"a", b"b"])
    elif kind == b"word":
        inc.reply([b"OK", payload])
    elif kind == b"empty":
        inc.reply([b"", payload])
    elif kind == b"error":
        inc.replied = True
        inc.server.queue_reply(inc.ident, wire.encode(wire.ERROR, inc.req_id, [b"cannot read it"]))
    elif kind == b"garbage":
        inc.replied = True
        inc.server.queue_reply(inc.ident, wire.encode(wire.REPLY, inc.req_id, [b"200", b"x"])[:-1])
    elif kind == b"silent":
        inc.replied = True  # never answered


def holding(dest: ServiceNode) -> list[Incoming]:
    """Make *dest* keep (unanswered) the requests whose payload starts with ``hold``; the list."""
    held: list[Incoming] = []
    destination(dest, lambda inc, payload: held.append(inc) if payload.startswith(b"hold") else scripted(inc, payload))
    return held


async def learn_routes(c: Cluster) -> None:
    """One request through each relay, so the engine holds a route to the destination."""
    relay, plain, dest, sender = c.nodes
    for r in (relay, plain):
        body, _ = onion.build(b"echo:warm", [as_onion(r)], as_onion(dest))
        assert (await ask(sender, r, [body]))[0] == [[b"200", b"echo:warm"]]
    assert relay.fast_relay is not None and relay.fast_relay.stats()["routes"] == 1


async def test_relays_carry_traffic_through_the_engine_with_the_python_answers(cluster: Cluster) -> None:
    relay, plain, dest, sender = cluster.nodes
    assert relay.fast_relay is not None
    destination(dest, scripted)
    await learn_routes(cluster)
    kinds = [b"echo", b"zeros", b"zero", b"long18", b"long19", b"three", b"word", b"empty", b"error", b"garbage"]
    payloads = [b"%s:%d" % (k, i) for i in range(5) for k in kinds]
    before = relay.fast_relay.stats()
    answers = {}
    for r in (relay, plain):
        bodies = [onion.build(p, [as_onion(r)], as_onion(dest))[0] for p in payloads]
        answers[r.me] = await ask(sender, r, bodies)
    after = relay.fast_relay.stats()
    assert answers[relay.me] == answers[plain.me]
    invalid = [[b"500", b"Invalid response from snode"]]
    for p, got in zip(payloads, answers[relay.me]):
        kind = p.split(b":")[0]
        expected = {b"echo": [[b"200", p]], b"zeros": [[b"201", p]], b"zero": [[b"0", b""]],
                    b"long18": [[b"200", b""]]}.get(kind, invalid)
        assert got == expected, (p, got)
    # Every one of them went through the engine, none through Python's relay code.
    assert after["relayed"] - before["relayed"] == len(payloads)
    assert after["answered"] - before["answered"] == 4 * 5
    assert after["pending"] == 0


async def test_a_silent_next_hop_gets_504_at_the_deadline_and_its_connection_is_dropped(cluster: Cluster) -> None:
    relay, plain, dest, sender = cluster.nodes
    assert relay.fast_relay is not None
    destination(dest, scripted)
    await learn_routes(cluster)
    t0 = time.monotonic()
    answers = {}
    for r in (relay, plain):
        bodies = [onion.build(b"silent:%d" % i, [as_onion(r)], as_onion(dest))[0] for i in range(3)]
        answers[r.me] = await ask(sender, r, bodies)
    assert answers[relay.me] == answers[plain.me] == [[[b"504", b"Request time out"]]] * 3
    assert time.monotonic() - t0 >= TIMEOUT
    stats = relay.fast_relay.stats()
    assert stats["timed_out"] == 3 and stats["pending"] == 0
    # Nothing came back on that connection since: both relays start afresh next time.
    key = (dest.keys.x25519_public.hex(), "127.0.0.1", dest.zmq_port)
    assert relay.peers.connection(*key) is None and plain.peers.connection(*key) is None
    assert stats["routes"] == 0
    # ... and relaying to it works again, the engine learning the new connection.
    await learn_routes(cluster)


async def test_a_route_dropped_in_flight_answers_504_once_and_later_requests_still_pass(cluster: Cluster) -> None:
    relay, _plain, dest, sender = cluster.nodes
    assert relay.fast_relay is not None
    held = holding(dest)
    await learn_routes(cluster)
    bodies = [onion.build(b"hold:%d" % i, [as_onion(relay)], as_onion(dest))[0] for i in range(4)]
    task = asyncio.ensure_future(ask(sender, relay, bodies))
    while len(held) < 4:
        await asyncio.sleep(0.01)
    relay.peers.forget(dest.keys.x25519_public.hex(), "127.0.0.1", dest.zmq_port)  # e.g. the peer moved
    assert relay.fast_relay.stats()["routes"] == 0
    for inc in held:
        inc.reply([b"200", b"too late"])  # on the old connection: nobody reads it any more
    assert await task == [[[b"504", b"Request time out"]]] * 4
    await learn_routes(cluster)


async def test_a_next_hop_cannot_answer_a_request_the_relay_sent_to_another(cluster: Cluster) -> None:
    relay, other, dest, sender = cluster.nodes
    assert relay.fast_relay is not None
    held = holding(dest)

    def forger(inc: Incoming, payload: bytes) -> None:
        if payload.startswith(b"forge"):  # answer the request held at dest (its id), then our own
            inc.server.queue_reply(inc.ident, wire.encode(wire.REPLY, held[0].req_id, [b"200", b"forged"]))
            inc.reply([b"200", payload])
        else:
            scripted(inc, payload)

    destination(other, forger)
    for target in (dest, other):
        body = onion.build(b"echo:warm", [as_onion(relay)], as_onion(target))[0]
        assert (await ask(sender, relay, [body]))[0] == [[b"200", b"echo:warm"]]
    assert relay.fast_relay.stats()["routes"] == 2
    victim = asyncio.ensure_future(ask(sender, relay, [onion.build(b"hold:1", [as_onion(relay)], as_onion(dest))[0]]))
    while not held:
        await asyncio.sleep(0.01)
    assert held[0].req_id >> 63 == 1  # sent by the engine
    forging = [onion.build(b"forge:1", [as_onion(relay)], as_onion(other))[0]]
    assert await ask(sender, relay, forging) == [[[b"200", b"forge:1"]]]
    held[0].reply([b"200", b"genuine"])
    assert await victim == [[[b"200", b"genuine"]]]


def test_misusing_the_engine_raises_instead_of_crashing() -> None:
    from session_core.onion import _onion_c

    path, secret = _onion_c.default.path, os.urandom(32)
    with pytest.raises(RuntimeError, match="not initialised"):
        relay_c.RelayEngine.__new__(relay_c.RelayEngine).stats()

    class NoSocket:
        @property
        def underlying(self) -> int:
            raise OSError("closed")

    with pytest.raises(OSError):
        relay_c.RelayEngine(path, secret, NoSocket(), 1.0)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    try:
        for timeout in (0.0, -1.0, float("nan"), float("inf"), 1e7):
            with pytest.raises(ValueError, match="timeout"):
                relay_c.RelayEngine(path, secret, sock, timeout)
        with pytest.raises(ValueError, match="secret"):
            relay_c.RelayEngine(path, secret[:31], sock, 1.0)
        engine = relay_c.RelayEngine(path, secret, sock, 1.0, 8)
        with pytest.raises(RuntimeError, match="already"):
            engine.__init__(path, secret, sock, 1.0)
        for bad in (0, -1):
            with pytest.raises(ValueError, match="limit"):
                engine.read_router(bad)
        with pytest.raises(zmq.ZMQError):
            engine.read_dealer(3, 8)  # no such route
        assert engine.read_router(1000) == ([], [], False)  # nothing waiting
        assert engine.add_route(b"k" * 32, sock) == 0 and engine.add_route(b"k" * 32, sock) == -1
        with pytest.raises(ValueError, match="limit"):
            engine.read_dealer(0, -1)
        engine.remove_route(0)
        assert engine.stats()["routes"] == 0
        assert engine.expire() == ([], [], False)
    finally:
        sock.close(0)
        ctx.term()


class RawPeer:
    """A registered node's CURVE DEALER sending hand-made frames."""

    def __init__(self, ctx: zmq.asyncio.Context, me: ServiceNode, to: ServiceNode, batches: bool = False) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        if batches:  # say in the handshake that we read batches, as nodes do
            self.sock.setsockopt(zmq.METADATA, b"X-SC-Batch:1")
        self.sock.curve_secretkey = zmq.utils.z85.encode(me.keys.x25519_secret)
        self.sock.curve_publickey = zmq.utils.z85.encode(me.keys.x25519_public)
        self.sock.curve_serverkey = zmq.utils.z85.encode(to.keys.x25519_public)
        self.sock.linger = 0
        self.sock.connect(f"tcp://127.0.0.1:{to.zmq_port}")

    async def ask(self, *frames: bytes) -> tuple[int, int, list[bytes]] | str:
        await self.sock.send_multipart(list(frames))
        reply = await asyncio.wait_for(self.sock.recv(), 5)
        try:
            return wire.decode(reply)
        except PeerFrameError as exc:
            return f"undecodable: {exc}"


async def test_unusual_requests_get_the_same_answers_with_and_without_the_engine(cluster: Cluster) -> None:
    relay, plain, dest, sender = cluster.nodes
    destination(dest, scripted)
    await learn_routes(cluster)
    ctx = zmq.asyncio.Context.instance()
    stranger = onion.Node(os.urandom(32).hex(), os.urandom(32).hex())  # not in the network

    def cases(r: ServiceNode) -> list[tuple[bytes, ...]]:
        good = onion.build(b"echo:x", [as_onion(r)], as_onion(dest))[0]
        to_stranger = onion.build(b"echo:x", [as_onion(r), stranger], as_onion(dest))[0]
        req = functools.partial(wire.encode, wire.REQUEST, 77)
        return [
            (req([b"onion", good, b"0"]) + b"!",),  # trailing byte
            (req([b"onion", good, b"0"])[:20],),  # truncated
            (req([b"onion", good, b"0"]), b"second part"),  # multipart
            (req([b"onion", good]),),  # no hop
            (req([b"onion", good, b"x"]),),  # hop not digits
            (req([b"onion", good, b"16"]),),  # hop past the limit
            (req([b"onion", good, b"15"]),),  # relaying would pass the limit
            (req([b"onion", good, b"007"]),),  # odd but valid digits
            (req([b"onion", b"garbage", b"0"]),),
            (req([b"onion", good[:-1] + bytes([good[-1] ^ 1]), b"0"]),),  # tampered JSON
            (req([b"onion", good[:40] + bytes([good[40] ^ 1]) + good[41:], b"0"]),),  # tampered ciphertext
            (req([b"onion", to_stranger, b"0"]),),  # next node unknown
            (wire.encode(wire.REPLY, 77, [b"onion", good, b"0"]),),  # not a request
            (req([b"ping"]),),
            (struct.pack("<BBQH", 9, 0, 77, 0),),  # unknown version
        ]

    answers = {}
    for r in (relay, plain):
        peer = RawPeer(ctx, sender, r)
        try:
            answers[r.me] = [await peer.ask(*frames) for frames in cases(r)]
        finally:
            peer.sock.close(0)
    assert answers[relay.me] == answers[plain.me]
    by_case = answers[relay.me]
    assert by_case[7] == (wire.REPLY, 77, [b"200", b"echo:x"])  # "007" is hop 7
    assert by_case[11][2][0] == b"502" and b"Next node not found" in by_case[11][2][1]
    assert all(isinstance(a, tuple) for a in by_case), by_case


@pytest.fixture
async def small_queues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    monkeypatch.setattr(peer_pump, "HWM", 2)  # messages per pipe, for every socket of the nodes
    c = await start_cluster(tmp_path, 4, python_relay={1})
    yield c
    await stop_cluster(c)


async def test_replies_to_an_asker_whose_queue_is_full_wait_and_all_arrive(small_queues: Cluster) -> None:
    relay, _plain, dest, sender = small_queues.nodes
    assert relay.fast_relay is not None
    destination(dest, scripted)
    await learn_routes(small_queues)
    # An asker that does not read: once the kernel's buffers and the 2-message pipe are full,
    # the ROUTER refuses the replies for a while.
    peer = RawPeer(zmq.asyncio.Context.instance(), sender, relay)
    peer.sock.setsockopt(zmq.RCVHWM, 2)
    n, size = 48, 400_000
    payloads = [b"echo:%d:" % i + os.urandom(size) for i in range(n)]
    try:
        for i, p in enumerate(payloads):
            body = onion.build(p, [as_onion(relay)], as_onion(dest))[0]
            await peer.sock.send(wire.encode(wire.REQUEST, 1000 + i, [b"onion", body, b"0"]))
        deadline = time.monotonic() + 10
        while relay.fast_relay.stats()["queued"] == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert relay.fast_relay.stats()["queued"] > 0  # the engine met a full queue ...
        got = {}
        while len(got) < n:  # replies to one asker in one pass come as a batch
            m = await asyncio.wait_for(peer.sock.recv(), 10)
            for frame in wire.frames(m):
                kind, rid, parts = wire.decode(frame)
                assert rid not in got
                got[rid] = (kind, parts)
    finally:
        peer.sock.close(0)
    # ... and every reply still arrived once, intact.
    assert got == {1000 + i: (wire.REPLY, [b"200", p]) for i, p in enumerate(payloads)}


async def test_observing_nodes_and_switched_off_nodes_relay_in_python(tmp_path: Path) -> None:
    info = fast_relay.backend_info()
    assert info["implementation"] == "c", info
    c = await start_cluster(tmp_path, 2, python_relay={1})
    try:
        assert c.nodes[0].fast_relay is not None and c.nodes[1].fast_relay is None
    finally:
        await stop_cluster(c)


def _frames() -> st.SearchStrategy[bytes]:
    good = [wire.encode(k, 5, p) for k in (wire.REQUEST, wire.REPLY) for p in ([b"onion", b"x" * 40, b"1"], [b"a", b"b"])]
    good.append(wire.encode(wire.ERROR, 9, [b"why"]))

    def mutate(draw: Any) -> bytes:
        f = bytearray(draw(st.sampled_from(good)))
        for _ in range(draw(st.integers(0, 3))):
            op = draw(st.sampled_from(["flip", "cut", "add"]))
            if op == "flip" and f:
                i = draw(st.integers(0, len(f) - 1))
                f[i] = draw(st.integers(0, 255))
            elif op == "cut" and f:
                del f[draw(st.integers(0, len(f) - 1)):]
            else:
                f += draw(st.binary(max_size=8))
        return bytes(f)

    return st.composite(mutate)() | st.binary(max_size=40)


@settings(max_examples=400, deadline=None)
@given(_frames())
def test_the_engine_parses_frames_exactly_as_wire_decode(frame: bytes) -> None:
    try:
        kind, req_id, parts = wire.decode(frame)
        expected: tuple[int, int, int] | None = (kind, req_id, len(parts))
    except PeerFrameError:
        expected = None
    assert relay_c.wire_parse(frame) == expected


async def _answers(peer: RawPeer, message: bytes | list[bytes], expected: int,
                   messages: list[bytes] | None = None) -> dict[int, tuple[int, list[bytes]]]:
    """Send one message (or several); every answer by request id (batches opened) until
    *expected* came (the messages they came in are appended to *messages*)."""
    for m in [message] if isinstance(message, bytes) else message:
        await peer.sock.send(m)
    got: dict[int, tuple[int, list[bytes]]] = {}
    while len(got) < expected:
        m = await asyncio.wait_for(peer.sock.recv(), 5)
        if messages is not None:
            messages.append(m)
        for frame in wire.frames(m):
            kind, rid, parts = wire.decode(frame)
            assert rid not in got, "answered twice"
            got[rid] = (kind, parts)
    return got


async def test_a_batch_gets_the_answers_its_frames_would_get_alone(cluster: Cluster) -> None:
    """A batch of requests (onion relays, a command, a malformed frame) through the engine
    and through Python: each frame answered once, as if it had come alone, the same way."""
    relay, plain, dest, sender = cluster.nodes
    destination(dest, scripted)
    await learn_routes(cluster)
    ctx = zmq.asyncio.Context.instance()
    results = {}
    for r in (relay, plain):
        frames = [wire.encode(wire.REQUEST, 10 + i, [b"onion", onion.build(b"echo:%d" % i, [as_onion(r)],
                                                                            as_onion(dest))[0], b"0"])
                  for i in range(20)]
        frames.append(wire.encode(wire.REQUEST, 40, [b"ping"]))
        frames.append(wire.encode(wire.REQUEST, 41, [b"onion", b"not an onion layer", b"0"]))
        frames.append(b"\x01\x07" + struct.pack("<QH", 42, 0))  # unknown kind: an error under its id
        peer = RawPeer(ctx, sender, r)
        try:
            results[r.me] = await _answers(peer, wire.encode_batch(frames), len(frames))
        finally:
            peer.sock.close(0)
    engine, python = results[relay.me], results[plain.me]
    assert engine == python
    assert all(engine[10 + i] == (wire.REPLY, [b"200", b"echo:%d" % i]) for i in range(20))
    assert engine[42][0] == wire.ERROR and engine[40][0] == engine[41][0] == wire.REPLY
    assert relay.fast_relay is not None and relay.fast_relay.stats()["relayed"] >= 20  # carried by the engine


async def test_a_malformed_batch_is_refused_whole(cluster: Cluster) -> None:
    relay, plain, dest, sender = cluster.nodes
    ok = wire.encode(wire.REQUEST, 7, [b"ping"])
    inner = wire.encode_batch([ok, ok])
    bad = [
        wire.encode_batch([ok, ok])[:-1],  # truncated
        b"\x01\x03" + struct.pack("<QHII", 5, 2, len(ok), len(ok)) + ok + ok,  # a request id
        b"\x01\x03" + struct.pack("<QHI", 0, 1, len(ok)) + ok,  # one frame
        b"\x01\x03" + struct.pack("<QHII", 0, 2, len(inner), len(ok)) + inner + ok,  # nested
    ]
    ctx = zmq.asyncio.Context.instance()
    for r in (relay, plain):
        peer = RawPeer(ctx, sender, r)
        try:
            for b in bad:
                got = await peer.ask(b)  # one answer: an error (no ping of it is answered)
                assert isinstance(got, tuple) and got[0] == wire.ERROR and b"batch" in got[2][0], got
            assert await peer.ask(ok) == (wire.REPLY, 7, [b"OK"])  # (and nothing else was waiting)
        finally:
            peer.sock.close(0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([wire.encode(wire.REQUEST, 3, [b"ping"]), wire.encode(wire.REPLY, 4, [b"a", b""]),
                                 b"\x01\x03", b"", b"\x01"]), max_size=5), st.data())
def test_the_engine_reads_batches_exactly_as_wire_unbatch(frames: list[bytes], data: st.DataObject) -> None:
    raw = b"\x01\x03" + struct.pack(f"<QH{len(frames)}I", 0, len(frames), *map(len, frames)) + b"".join(frames)
    f = bytearray(raw)
    for _ in range(data.draw(st.integers(0, 2))):
        if f and data.draw(st.booleans()):
            f[data.draw(st.integers(0, len(f) - 1))] = data.draw(st.integers(0, 255))
        else:
            del f[data.draw(st.integers(0, len(f))):]
    try:
        want = len(wire.unbatch(bytes(f)))
    except PeerFrameError:
        want = 0
    assert relay_c.wire_batch(bytes(f)) == want


async def test_batches_only_for_peers_that_say_they_read_them(cluster: Cluster) -> None:
    """A peer of a version before batches (no X-SC-Batch in its handshake, no batch sent)
    gets every answer as a message of its own; one that says it reads them gets the engine's
    answers to a batch of relays in a few batches (the forwards and the destination's replies
    were batched on the way, as both nodes read them)."""
    relay, plain, dest, sender = cluster.nodes
    destination(dest, scripted)
    await learn_routes(cluster)
    ctx = zmq.asyncio.Context.instance()
    for r, reads in ((relay, False), (relay, True), (plain, False), (plain, True)):  # engine, Python
        frames = [wire.encode(wire.REQUEST, 100 + i, [b"onion", onion.build(b"echo:%d" % i, [as_onion(r)],
                                                                             as_onion(dest))[0], b"0"])
                  for i in range(20)]
        peer = RawPeer(ctx, sender, r, batches=reads)
        messages: list[bytes] = []
        try:
            got = await _answers(peer, wire.encode_batch(frames) if reads else frames, len(frames), messages)
        finally:
            peer.sock.close(0)
        assert got == {100 + i: (wire.REPLY, [b"200", b"echo:%d" % i]) for i in range(20)}
        if reads:
            # The destination's 20 replies come in at most 2-3 messages (the first of a pass at
            # once, the rest as one batch); each gives at most 2 messages to the asker.
            assert len(messages) <= 6 and any(wire.is_batch(m) for m in messages), (r.me, len(messages))
        else:
            assert len(messages) == 20 and not any(wire.is_batch(m) for m in messages)
