"""The serving side of node-to-node transport: one CURVE ROUTER, admission by ZAP, handlers.

Theory of operation
-------------------
Every node binds one ROUTER socket as a CURVE server with its X25519 key pair
(the same key clients encrypt onion layers to).  A ZAP handler admits a peer
only if its CURVE public key belongs to a node in the current service-node
list, so strangers cannot even open a session.  ZAP tags each message with the
peer's key (``User-Id``, hex here), which is how a handler knows who asks.

Every message is one frame in the format of :mod:`session_core.node.wire`: a
request carries its request id, command and parts; the reply echoes the
request id.  A malformed frame changes nothing: the server answers an ``error``
message naming the problem (under the request id when it could be read) and
runs no handler.

A command registered as a *batch handler* (``onion``) gets every request of a
read pass in one call and answers through :meth:`Incoming.reply`, with no
asyncio Future or Task per message (most of what a relayed hop used to cost);
other commands run one task each.  The relay engine may read the ROUTER in
place of :meth:`PeerServer.recv_request` (``start(reader)``); it returns
what it does not handle in the same shape.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio
import zmq.utils.z85
from zmq.auth.asyncio import AsyncioAuthenticator

from session_core.errors import PeerFrameError
from session_core.node import wire
from session_core.node.peer.coalesce import SendCoalescer, advertise, advertised
from session_core.node.peer.pump import (
    NOBLOCK,
    NOBLOCK_MORE,
    FramePump,
    Reader,
    drain_rest,
    raw_recv,
    raw_send,
    send_frame,
    set_queue_bounds,
)

__all__ = ["BatchHandler", "Handler", "Incoming", "PeerServer"]

log = logging.getLogger("session_core.node.peer")

#: ``handler(command, parts, asker's X25519 key hex) -> reply parts``
Handler = Callable[[bytes, list[bytes], str], Awaitable[list[bytes]]]
_PEER_CACHE = 4096  # ROUTER routing ids whose CURVE key we remember
_encode, _decode = wire.encode, wire.decode  # (module globals: the relay's hot path)


class _HexAuthenticator(AsyncioAuthenticator):
    def curve_user_id(self, client_public_key: bytes) -> str:
        return client_public_key.hex()


class _KeyCheck:
    """ZAP credentials provider: ``allowed`` is consulted on every new connection."""

    def __init__(self, allowed: Callable[[str], bool]) -> None:
        self._allowed = allowed

    def callback(self, domain: str, key: bytes) -> bool:
        return self._allowed(zmq.utils.z85.decode(key).hex())


class Incoming:
    """One request received by a :class:`PeerServer`; answer it exactly once with :meth:`reply`."""

    __slots__ = ("_server", "ident", "req_id", "args", "peer", "replied", "peeled")

    def __init__(
        self, server: PeerServer, ident: bytes, req_id: int, args: list[bytes], peer: str, peeled: Any = None
    ) -> None:
        self._server = server
        self.ident = ident
        self.req_id = req_id
        self.args = args
        self.peer = peer  # the asker's X25519 key (hex), as ZAP admitted it
        self.replied = False
        # An ``onion`` request the relay engine already peeled: its peel_batch-style result.
        self.peeled = peeled

    @property
    def server(self) -> PeerServer:
        """The server the request came in on (to queue a raw frame back, say)."""
        return self._server

    def answer(self, status: int, body: bytes) -> None:
        """``reply([status, body])``, the shape of every ``onion`` answer."""
        self.reply([str(status).encode(), body])

    def reply(self, parts: list[bytes]) -> None:
        if self.replied:  # a second answer (e.g. after a handler failure) is dropped, never sent
            return
        self.replied = True
        try:
            frame = _encode(wire.REPLY, self.req_id, parts)
        except PeerFrameError as exc:  # e.g. a reply over the frame limit: say so instead
            log.warning("cannot send a reply: %s", exc)
            frame = _encode(wire.ERROR, self.req_id, [str(exc).encode()])
        self._server._replies.send(self.ident, frame)


#: Answers every request of one command read in one pass (see :meth:`PeerServer.set_batch_handler`).
BatchHandler = Callable[[list[Incoming]], None]


Received = tuple[bytes, "bytes | None", "str | None", Any]


def _unbatched(msgs: list[Received], refuse: Callable[[bytes, PeerFrameError], None],
               learn: Callable[[bytes], None]) -> list[Received]:
    """*msgs* with each batch replaced by its frames (same asker, who evidently reads batches:
    *learn* is told); a malformed batch is refused whole."""
    if not any(f is not None and wire.is_batch(f) for _, f, _, _ in msgs):
        return msgs  # the common case: nothing to do
    out: list[Received] = []
    for ident, frame, peer, peeled in msgs:
        if frame is None or not wire.is_batch(frame):
            out.append((ident, frame, peer, peeled))
            continue
        try:
            frames = wire.unbatch(frame)
        except PeerFrameError as exc:
            if peer is not None:
                refuse(ident, exc)
            continue
        learn(ident)
        out.extend((ident, f, peer, None) for f in frames)
    return out


class PeerServer:
    """A node's ROUTER: admits registered nodes (``allowed``), answers their requests."""

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        x25519_secret: bytes,
        x25519_public: bytes,
        handler: Handler,
        allowed: Callable[[str], bool],
        batch_handlers: dict[bytes, BatchHandler] | None = None,
    ) -> None:
        self._ctx = ctx
        self._auth = _HexAuthenticator(ctx)
        self._auth.start()
        self._auth.configure_curve_callback("*", credentials_provider=_KeyCheck(allowed))
        self._sock: zmq.Socket[Any] = zmq.Context.shadow(ctx.underlying).socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.CURVE_SERVER, 1)
        self._sock.setsockopt(zmq.CURVE_SECRETKEY, zmq.utils.z85.encode(x25519_secret))
        self._sock.setsockopt(zmq.CURVE_PUBLICKEY, zmq.utils.z85.encode(x25519_public))
        self._sock.setsockopt(zmq.LINGER, 0)
        # Mandatory routing: a full queue says EAGAIN (we keep the reply and retry)
        # instead of dropping it silently; an unknown peer says EHOSTUNREACH.
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        set_queue_bounds(self._sock)
        advertise(self._sock)
        self._handler = handler
        self._batch_handlers = dict(batch_handlers or {})
        self._pump: FramePump | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._peers: dict[bytes, str] = {}
        self._outbox: collections.deque[tuple[bytes, bytes]] = collections.deque()
        self.malformed = 0  # messages refused as malformed (for tests and /status)
        self._retry: asyncio.TimerHandle | None = None
        # Replies to one asker in one loop pass go as one message (coalesce.py), to askers
        # that said they read batches (routing ids, bounded like _peers).
        self._batching: set[bytes] = set()
        self._replies: SendCoalescer[bytes] = SendCoalescer(self._send, self._batching.__contains__)

    def bind(self, ip: str, port: int = 0) -> int:
        self._sock.bind(f"tcp://{ip}:{port or '*'}")
        endpoint = self._sock.getsockopt(zmq.LAST_ENDPOINT)
        assert isinstance(endpoint, bytes)
        return int(endpoint.decode().rsplit(":", 1)[1])

    @property
    def socket(self) -> zmq.Socket[Any]:
        return self._sock

    def start(self, reader: Reader | None = None) -> None:
        """Serve; *reader* replaces the default one (the relay engine's, see fast_relay.py).

        A reader returns ``(routing id, frame or None, peer key or None, peel result or None)``
        per message, as :meth:`recv_request` does."""
        self._pump = FramePump(self._sock, self._on_batch, reader or self._read_requests)

    def use_reader(self, reader: Reader) -> None:
        """Read with *reader* from now on (a bench loader that answers its own traffic; what
        it returns is handled here as usual)."""
        if self._pump is None:
            raise RuntimeError("the server is not started")
        self._pump.use_reader(reader)

    def kick(self) -> None:
        """Read again soon (call after sending on the socket from outside this class)."""
        if self._pump is not None:
            self._pump.kick()

    def learn_batching(self, ident: bytes) -> None:
        """The asker behind routing id *ident* reads batches (its handshake said so)."""
        if len(self._batching) >= _PEER_CACHE:
            self._batching.clear()
        self._batching.add(ident)

    def queue_reply(self, ident: bytes, frame: bytes) -> None:
        """Send a reply frame (or a batch of them), with the other replies to that asker in
        this loop pass, queued behind any waiting ones if the peer's queue is full."""
        self._replies.send(ident, frame)

    def set_batch_handler(self, cmd: bytes, handler: BatchHandler) -> None:
        """Answer *cmd* with *handler* from now on (e.g. a bench's cheap onion destination)."""
        self._batch_handlers[cmd] = handler

    def _read_requests(self, sock: zmq.Socket[Any], limit: int) -> tuple[list[Received], bool]:
        """Messages until *limit* frames (a batch counts its frames, so one pass of the loop
        does no more work with batches than without) or until none waits."""
        msgs: list[Received] = []
        frames = 0
        try:
            while frames < limit:
                msg = self.recv_request(sock)
                msgs.append(msg)
                f = msg[1]
                frames += int.from_bytes(f[10:12], "little") if f is not None and wire.is_batch(f) else 1
        except zmq.Again:
            return msgs, False
        return msgs, True

    def recv_request(self, sock: zmq.Socket[Any]) -> tuple[bytes, bytes | None, str | None, None]:
        """One message from the ROUTER (``zmq.Again`` if none waits): ``(routing id, frame or
        None if not exactly one frame followed it, peer key, None)`` (the last field is the
        relay engine's peel result, which this path never has)."""
        # A ROUTER always delivers the routing id followed by at least one part.
        ident: bytes = raw_recv(sock, NOBLOCK)
        f = raw_recv(sock, NOBLOCK, copy=False)
        peer = self._peers.get(ident)
        if peer is None:
            # First message on this connection: ZAP put the peer's CURVE key in the
            # frame's metadata.  Routing ids are per connection and never reused.
            try:
                peer = str(f.get("User-Id"))
            except zmq.ZMQError:
                peer = None
            else:
                if len(self._peers) >= _PEER_CACHE:
                    self._peers.clear()
                self._peers[ident] = peer
                if advertised(f):
                    self.learn_batching(ident)
        if f.more:
            drain_rest(sock)
            return ident, None, peer, None
        frame: bytes = f.bytes
        return ident, frame, peer, None

    def _on_batch(self, msgs: list[tuple[bytes, bytes | None, str | None, Any]]) -> None:
        groups: dict[bytes, list[Incoming]] = {}
        loop = asyncio.get_running_loop()
        batch_handlers = self._batch_handlers
        for ident, frame, peer, peeled in _unbatched(msgs, self._refuse, self.learn_batching):
            if peer is None:
                continue  # no authenticated key (cannot happen behind ZAP); nothing to trust
            if frame is None:
                self._refuse(ident, PeerFrameError("expected exactly one frame per message"))
                continue
            try:
                kind, req_id, parts = _decode(frame)
            except PeerFrameError as exc:
                self._refuse(ident, exc)
                continue
            if kind != wire.REQUEST:
                self._refuse(ident, PeerFrameError(f"expected a request, got message kind {kind}", req_id))
                continue
            cmd = parts[0]
            inc = Incoming(self, ident, req_id, parts[1:], peer, peeled)
            if cmd in batch_handlers:
                groups.setdefault(cmd, []).append(inc)
            else:
                t = loop.create_task(self._one(cmd, inc))
                self._inflight.add(t)
                t.add_done_callback(self._inflight.discard)
        for cmd, items in groups.items():
            try:
                batch_handlers[cmd](items)
            except Exception as exc:  # a bug must not kill the server; answer what is still open
                log.exception("peer batch command %r failed", cmd)
                for inc in items:
                    inc.reply([b"500", f"internal error: {type(exc).__name__}".encode()])

    def _refuse(self, ident: bytes, exc: PeerFrameError) -> None:
        """Tell a peer we could not read its message; no handler runs, nothing else changes."""
        self.malformed += 1
        log.warning("malformed message from a peer: %s", exc)
        self._send(ident, _encode(wire.ERROR, exc.req_id or 0, [str(exc).encode()]))

    async def _one(self, cmd: bytes, inc: Incoming) -> None:
        try:
            reply = await self._handler(cmd, inc.args, inc.peer)
        except Exception as exc:  # a bug in one handler must not kill the server loop
            log.exception("peer command %r failed", cmd)
            reply = [b"500", f"internal error: {type(exc).__name__}".encode()]
        inc.reply(reply)

    def _send(self, ident: bytes, frame: bytes) -> None:
        if self._outbox:
            self._outbox.append((ident, frame))  # keep the order behind replies already waiting
            return
        self._send_now((ident, frame))

    def _send_now(self, msg: tuple[bytes, bytes]) -> bool:
        """Send one reply; False if the peer's queue is full (the caller keeps it)."""
        try:
            # ROUTER_MANDATORY reports a full queue on the routing id, before any part is queued.
            raw_send(self._sock, msg[0], NOBLOCK_MORE)
            send_frame(self._sock, msg[1], NOBLOCK)
        except zmq.Again:
            if not self._outbox or self._outbox[0] is not msg:
                self._outbox.append(msg)
            self._schedule_retry()
            return False
        except zmq.ZMQError:
            pass  # the peer went away (EHOSTUNREACH) or we are closing
        if self._pump is not None:
            self._pump.kick()
        return True

    def _schedule_retry(self) -> None:
        if self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(0.002, self._flush)

    def _flush(self) -> None:
        self._retry = None
        while self._outbox:
            if not self._send_now(self._outbox[0]):
                return
            self._outbox.popleft()

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        for t in list(self._inflight):
            t.cancel()
        if self._pump is not None:
            self._pump.close()
        else:
            self._sock.close(0)
        self._auth.stop()
