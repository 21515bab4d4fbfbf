"""One node-to-node connection: a CURVE DEALER to one peer and the requests awaiting its replies.

Theory of operation
-------------------
A :class:`PeerConnection` is opened by :class:`~session_core.node.peer.client.PeerClient`
and read by a :class:`~session_core.node.peer.pump.FramePump`.  Each frame read is one reply
(a reader asks for no ``RCVMORE``: a peer that sends a multipart message gets the same as
for sending its parts one by one, each a reply or malformed).  A reply carries the request
id of its request; the connection pops that entry from :attr:`PeerConnection.pending` and
completes it: an asyncio Future (:meth:`PeerClient.request`) or a
:class:`CallbackRequest` (:meth:`PeerClient.request_nowait`).  A reply that names no
waiting request (it timed out) is dropped; a malformed one fails the request it names, if
it names one.

The relay engine (:mod:`session_core.node.fast_relay`) may take over reading a connection
(:meth:`PeerConnection.take_over_reading`): its reader handles the replies to the engine's
own requests and returns the others, which complete here as usual.  It tells the connection
how many replies it consumed (:meth:`PeerConnection.count_replies`), so that a connection
whose replies all go to the engine is not taken for a dead one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Union

import zmq

from session_core.errors import PeerFrameError, PeerRequestError
from session_core.node import wire
from session_core.node.peer.coalesce import SendCoalescer, advertised
from session_core.node.peer.pump import (
    NOBLOCK,
    FramePump,
    Reader,
    raw_recv,
    reading,
    recv_frames,
    send_frame,
)

__all__ = ["READ_REPLIES", "CallbackRequest", "PeerConnection", "PeerKey", "ReplyCallback"]

log = logging.getLogger("session_core.node.peer")

#: A peer as the client knows it: (X25519 key hex, IP, ZMQ port).
PeerKey = tuple[str, str, int]
ReplyCallback = Callable[["list[bytes] | PeerRequestError"], None]
_decode = wire.decode


class CallbackRequest:
    """A request in flight whose reply goes to a callback (see :meth:`PeerClient.request_nowait`)."""

    __slots__ = ("done", "key", "cmd", "parts", "deadline", "received_before")

    def __init__(self, done: ReplyCallback, key: PeerKey, cmd: bytes, parts: list[bytes], deadline: float) -> None:
        self.done = done
        self.key = key
        self.cmd = cmd
        self.parts = parts
        self.deadline = deadline
        self.received_before = 0  # the connection's reply count when sent (silence detection)

    def finish(self, result: list[bytes] | PeerRequestError) -> None:
        """Call the callback; one faulty callback must not stop the replies behind it."""
        try:
            self.done(result)
        except Exception:
            log.exception("reply callback for %r failed", self.cmd)


Pending = Union["asyncio.Future[list[bytes]]", CallbackRequest]


def _recv_reply(sock: zmq.Socket[Any]) -> bytes:
    """One frame of a DEALER, judged as a message of its own (see the module doc)."""
    frame: bytes = raw_recv(sock, NOBLOCK)
    return frame


#: The plain reader of a DEALER (every frame a reply for Python).
READ_REPLIES = reading(_recv_reply)


def _malformed_reply(pending: dict[int, Pending], exc: PeerFrameError) -> None:
    """A reply we cannot read fails the request it names, if any (else it is dropped)."""
    log.warning("malformed reply from a peer: %s", exc)
    p = pending.pop(exc.req_id, None) if exc.req_id is not None else None
    err = PeerRequestError(f"malformed reply: {exc}")
    if type(p) is CallbackRequest:
        p.finish(err)
    elif isinstance(p, asyncio.Future) and not p.done():
        p.set_exception(err)


def _unbatched(msgs: list[bytes]) -> list[bytes]:
    """*msgs* with each batch replaced by its frames (a malformed batch is dropped: no
    request it answers can be told)."""
    if not any(wire.is_batch(f) for f in msgs):
        return msgs  # the common case: nothing to do
    out: list[bytes] = []
    for f in msgs:
        try:
            out.extend(wire.frames(f))
        except PeerFrameError as exc:
            log.warning("malformed batch of replies from a peer: %s", exc)
    return out


class PeerConnection:
    """A DEALER socket to one peer, its pump, and the requests awaiting replies on it.

    *monitor* is the socket's monitor for handshake failures; *on_handshake_failed* is
    called with this connection when one is reported.
    """

    def __init__(
        self,
        key: PeerKey,
        sock: zmq.Socket[Any],
        monitor: zmq.Socket[Any],
        on_handshake_failed: Callable[[PeerConnection], None],
    ) -> None:
        self.key = key
        self.socket = sock
        #: request id -> what completes when its reply comes.
        self.pending: dict[int, Pending] = {}
        #: Replies seen (by us or by the relay engine), to tell a dead connection from a slow request.
        self.received = 0
        self.closed = False
        #: Whether the peer reads batches (its handshake, seen on its first reply, says so).
        self.batches = False
        self._told = False
        self._pump = FramePump(sock, self._on_replies, self._read_replies)
        self._requests: SendCoalescer[None] = SendCoalescer(self._send_now, lambda _: self.batches)
        self._monitor = FramePump(monitor, lambda _events: on_handshake_failed(self), reading(recv_frames))

    @property
    def answered(self) -> bool:
        """True once the peer answered anything on this open connection (its handshake passed)."""
        return self.received > 0 and not self.closed

    def send(self, frame: bytes) -> None:
        """Queue one request frame without blocking (``zmq.Again`` when there is no room or no
        live pipe yet), and make sure its reply will be read.  Requests sent in one loop pass
        after the first go together at its end (coalesce.py)."""
        self._requests.send(None, frame)

    def _send_now(self, _key: None, frame: bytes) -> None:
        send_frame(self.socket, frame, NOBLOCK)
        self._pump.kick()

    def kick(self) -> None:
        """Read again soon (call after sending on the socket from outside this class)."""
        self._pump.kick()

    # -- the relay engine's hold on the socket ------------------------------------------------

    def take_over_reading(self, reader: Reader) -> None:
        """Read this socket with *reader* from now on.  It returns the reply frames that are
        not its own, which complete their requests here; it reports the replies it kept for
        itself with :meth:`count_replies`."""
        self._pump.use_reader(reader)

    def release_reading(self) -> None:
        """Go back to reading every reply here (the relay engine dropped its route)."""
        self._pump.use_reader(self._read_replies)

    def _read_replies(self, sock: zmq.Socket[Any], limit: int) -> tuple[list[Any], bool]:
        if self._told:
            return READ_REPLIES(sock, limit)
        try:  # the first reply: with its metadata, which says whether the peer reads batches
            f = raw_recv(sock, NOBLOCK, copy=False)
        except zmq.Again:
            return [], False
        self._told = True
        self.batches = advertised(f)
        rest, more = READ_REPLIES(sock, limit - 1) if limit > 1 else ([], True)
        return [f.bytes, *rest], more

    def count_replies(self, n: int) -> None:
        """Count *n* replies that the relay engine read for itself as received here."""
        self.received += n

    # -- replies ------------------------------------------------------------------------------

    def _on_replies(self, msgs: list[bytes]) -> None:
        pending = self.pending
        for frame in _unbatched(msgs):
            self.received += 1
            try:
                kind, req_id, parts = _decode(frame)
            except PeerFrameError as exc:
                _malformed_reply(pending, exc)
                continue
            p = pending.pop(req_id, None)
            if p is None:
                continue  # late reply to a request that timed out
            result: list[bytes] | PeerRequestError = parts
            if kind != wire.REPLY:
                result = PeerRequestError(
                    f"the peer could not read our request: {parts[0].decode(errors='replace')}"
                    if kind == wire.ERROR
                    else f"malformed reply: message kind {kind}"
                )
            if type(p) is CallbackRequest:
                try:  # (CallbackRequest.finish, inlined: this is the relay's hot path)
                    p.done(result)
                except Exception:
                    log.exception("reply callback for %r failed", p.cmd)
            elif isinstance(p, asyncio.Future) and not p.done():
                if isinstance(result, PeerRequestError):
                    p.set_exception(result)
                else:
                    p.set_result(result)

    def close(self) -> dict[int, Pending]:
        """Close the socket and its monitor; return what was still pending (for the caller to
        retry or cancel).  Nothing pending is completed here."""
        self.closed = True
        pending, self.pending = self.pending, {}
        try:
            self.socket.disable_monitor()
        except zmq.ZMQError:
            pass
        self._monitor.close()
        self._pump.close()
        return pending
