"""The relay bench's loaders on the wire: requests out and the cheap destination, without the
node's request machinery.

Why: a loader is the measured node's counterpart (it sends the requests and is the
destination of the forwarded layers), and with the node's own ``PeerClient`` and
``PeerServer`` path (a callback object, a pending-table entry and an ``Incoming`` per
request) a loader spent ~90 us of Python per request, about 1.6x what the measured node
spends on the hop.  On two shared cores that left the node idle half the time, so the row
measured its wake-ups more than its hops.  Here each loader works on the node's sockets
directly: one wire decode, one dictionary lookup and one send per message.

Nothing is checked less than before: every reply must carry the payload of its own request
(a pool of distinct payloads, more than in flight), and a forwarded layer is answered with
what its real peel gave (each distinct layer is peeled once, the first time it arrives; the
node cannot tell, it forwards the same bytes each time).  Anything that is not the bench's
traffic (a ping, a membership push from the node) goes back to the node's own handlers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import zmq

from session_core import onion
from session_core.errors import PeerFrameError
from session_core.node import wire
from session_core.node.peer.connection import PeerConnection
from session_core.node.peer.pump import Reader, raw_recv
from session_core.node.peer.server import PeerServer

NOBLOCK = int(zmq.NOBLOCK)
#: Our request ids start here, clear of the ids PeerClient gives its own requests (1, 2, ...).
ID_BASE = 1 << 40

#: ``(request index, status, body) -> the counter it goes to`` (see relay_bench's judge).
Judge = Callable[[int, bytes, bytes], str]


def destination_reader(server: PeerServer, secret: bytes) -> Reader:
    """A ROUTER reader that answers forwarded ``onion`` layers itself, ``[200, payload]``
    (``[400, ...]`` when the layer is not a final one), and returns every other message in
    the shape :class:`PeerServer` expects."""
    payloads: dict[bytes, bytes | None] = {}  # layer -> what its real peel gave (None: not final)

    def read(sock: zmq.Socket[Any], limit: int) -> tuple[list[Any], bool]:
        others: list[Any] = []
        for _ in range(limit):
            try:  # (the server's own receive: peer key and batching learnt as usual)
                ident, message, peer, _ = server.recv_request(sock)
            except zmq.Again:
                return others, False
            if message is None:
                others.append((ident, None, peer, None))
                continue
            for frame in _frames(message):
                try:
                    kind, req_id, parts = wire.decode(frame)
                except PeerFrameError:
                    kind, parts = -1, []
                if kind != wire.REQUEST or len(parts) != 3 or parts[0] != b"onion":
                    others.append((ident, frame, peer, None))
                    continue
                layer = parts[1]
                if layer not in payloads:
                    step = onion.peel(layer, secret, hop=int(parts[2]) + 1)
                    payloads[layer] = step.payload if isinstance(step, onion.Final) else None
                payload = payloads[layer]
                reply = [b"200", payload] if payload is not None else [b"400", b"not final"]
                server.queue_reply(ident, wire.encode(wire.REPLY, req_id, reply))
        return others, True

    return read


class RequestStream:
    """Keeps *window* ``onion`` requests in flight on one connection, each sent the moment the
    one before it in its slot is answered; counts every answer with *judge*."""

    def __init__(self, conn: PeerConnection, bodies: list[bytes], judge: Judge, counts: dict[str, int]) -> None:
        self._conn = conn
        self._bodies = bodies
        self._judge = judge
        self.counts = counts
        self.open: set[int] = set()
        self._stopping = False
        self._idle: asyncio.Future[None] | None = None
        conn.take_over_reading(self._read)

    def send(self, i: int) -> None:
        self.counts["sent"] += 1
        self.open.add(i)
        frame = wire.encode(wire.REQUEST, ID_BASE + i, [b"onion", self._bodies[i % len(self._bodies)], b"1"])
        try:
            self._conn.send(frame)
        except zmq.ZMQError:
            self.open.discard(i)
            self.counts["errors"] += 1

    def start(self, window: int) -> None:
        for i in range(window):
            self.send(i)

    async def stop(self, timeout: float) -> None:
        """Send nothing more; return once every open request is answered."""
        self._stopping = True
        if self.open:
            self._idle = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(self._idle, timeout)

    def _read(self, sock: zmq.Socket[Any], limit: int) -> tuple[list[Any], bool]:
        others: list[Any] = []
        for _ in range(limit):
            try:
                message: bytes = raw_recv(sock, NOBLOCK)
            except zmq.Again:
                return others, False
            for frame in _frames(message):
                self._on_reply(frame, others)
        return others, True

    def _on_reply(self, frame: bytes, others: list[Any]) -> None:
        counts = self.counts
        try:
            kind, req_id, parts = wire.decode(frame)
        except PeerFrameError:
            others.append(frame)
            return
        i = req_id - ID_BASE
        if i < 0:
            others.append(frame)  # a reply to the node's own request (a ping)
            return
        if i not in self.open:
            counts["duplicates"] += 1
            return
        self.open.discard(i)
        if kind == wire.ERROR:
            counts["errors"] += 1  # the node could not read our request
        elif kind != wire.REPLY or len(parts) != 2:
            counts["bad_status"] += 1
        else:
            counts[self._judge(i, parts[0], parts[1])] += 1
        if not self._stopping:
            self.send(counts["sent"])
        elif not self.open and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)


def _frames(message: bytes) -> list[bytes]:
    """The frames of one message: a batch's (a malformed one is left whole: the node's
    handlers refuse it), or the message itself."""
    try:
        return wire.frames(message)
    except PeerFrameError:
        return [message]


__all__ = ["RequestStream", "destination_reader"]
