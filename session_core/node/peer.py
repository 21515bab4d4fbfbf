"""Node-to-node transport: ZMQ ROUTER/DEALER with CURVE (thin I/O driver).

Theory of operation
-------------------
Every node binds one ROUTER socket as a CURVE server with its X25519 key pair
(the same key clients encrypt onion layers to).  A ZAP handler admits a peer
only if its CURVE public key belongs to a node in the current service-node
list, so strangers cannot even open a session.  ZAP tags each message with the
peer's key (``User-Id``, hex here), which is how a handler knows who asks.

To talk to a peer, a node opens (and keeps) one DEALER socket per peer as a
CURVE client pinned to that peer's X25519 key.  Every message is one frame in
the format of :mod:`session_core.node.wire`: a request carries its request id,
command and parts; the reply echoes the request id.  A request id lets many
requests share one socket.  A wrong server key makes CURVE fail *silently* (no
error, no reply), so every request has a timeout.

A malformed frame from a peer changes nothing: the server answers an ``error``
message naming the problem (under the request id when it could be read) and
runs no handler; a client fails the request a malformed reply names with a
:class:`PeerRequestError` and drops one it cannot attribute (a client reads each frame
as one message, so the parts of a multipart reply are judged one by one).

Commands (all bytes): ``data`` (replication batch), ``onion`` (relay one
onion layer), ``storage_test``, ``catchup`` (send me what you hold for my
swarm), ``ping``.

Throughput
----------
Sockets are plain (synchronous) pyzmq sockets driven from the asyncio loop by
a :class:`_Pump`: on each wakeup it reads every waiting message without
blocking, up to a bound, and hands the whole batch over at once.  A command
registered as a *batch handler* (``onion``) gets the batch in one call and
answers through :meth:`Incoming.reply`, and a request made with
:meth:`PeerClient.request_nowait` completes through a callback; neither costs
an asyncio Future or Task per message, which is most of what a relayed hop
used to cost.  Other commands still run one task each.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio
from zmq.auth.asyncio import AsyncioAuthenticator

from session_core.errors import PeerFrameError, PeerRequestError, PeerTimeoutError
from session_core.node import wire

log = logging.getLogger("session_core.node.peer")

Handler = Callable[[bytes, list[bytes], str], Awaitable[list[bytes]]]
DEFAULT_TIMEOUT = 10.0
#: Messages read per wakeup before yielding to the loop, so one busy socket cannot starve the rest.
READ_BATCH = 256
#: Queue bounds (messages) of every socket; a DEALER at its bound makes senders wait (polled).
HWM = 10_000
_SWEEP_INTERVAL = 0.25  # how often callback requests are checked against their deadlines
_PEER_CACHE = 4096  # ROUTER routing ids whose CURVE key we remember


# pyzmq's friendly layer (send_multipart, recv_multipart, enum flags, option lookups) costs
# several times the libzmq call itself for small frames (measured: 13.5 vs 1.7 us per
# 4-frame send); on the relay hot path we call the Cython methods with int flags directly.
_NB = int(zmq.NOBLOCK)
_NB_MORE = int(zmq.NOBLOCK | zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)
_send = zmq.backend.Socket.send
_recv = zmq.backend.Socket.recv
_get = zmq.backend.Socket.get
_encode, _decode = wire.encode, wire.decode
_monotonic = time.monotonic  # what asyncio's loop.time() reads, without the lookups


def recv_frames(sock: zmq.Socket[Any]) -> list[Any]:
    """Receive one whole multipart message without blocking (``zmq.Again`` if none waits)."""
    out: list[Any] = [_recv(sock, _NB)]
    while _get(sock, _RCVMORE):
        out.append(_recv(sock, _NB))
    return out


def _drain_rest(sock: zmq.Socket[Any]) -> None:
    """Discard the remaining parts of a multipart message (not our format)."""
    while _get(sock, _RCVMORE):
        _recv(sock, _NB)


def _recv_reply(sock: zmq.Socket[Any]) -> bytes:
    """One frame of a DEALER.  Every frame is judged as a message of its own: a peer that
    sends a multipart message gets the same as for sending its parts one by one (each is a
    reply or malformed), and we save asking for ``RCVMORE`` on the hot path."""
    frame: bytes = _recv(sock, _NB)
    return frame


#: Reads up to ``limit`` messages without blocking: ``(messages, more may be waiting)``.
Reader = Callable[[zmq.Socket[Any], int], "tuple[list[Any], bool]"]


def reading(recv: Callable[[zmq.Socket[Any]], Any]) -> Reader:
    """A :data:`Reader` that calls *recv* (one message, ``zmq.Again`` if none) until EAGAIN."""

    def read(sock: zmq.Socket[Any], limit: int) -> tuple[list[Any], bool]:
        batch: list[Any] = []
        try:
            for _ in range(limit):
                batch.append(recv(sock))
        except zmq.Again:
            return batch, False
        return batch, True

    return read


class _Pump:
    """Reads a ZMQ socket from the asyncio loop in batches.

    ``ZMQ_FD`` is edge-triggered and our own sends on a socket can consume the
    edge of messages that arrived meanwhile, so every wakeup reads until
    ``EAGAIN`` and every send is followed by :meth:`kick` (one more read pass,
    deduplicated).  Missing either loses messages until the next unrelated wakeup.
    ``read`` may be swapped while the pump runs (the relay engine takes a socket over).
    """

    def __init__(self, sock: zmq.Socket[Any], on_batch: Callable[[list[Any]], None], read: Reader) -> None:
        self.sock = sock
        self._on_batch = on_batch
        self.read = read
        self._loop = asyncio.get_running_loop()
        self._scheduled = False
        self._closed = False
        self._fd = sock.FD
        self._loop.add_reader(self._fd, self.drain)
        self.kick()

    def kick(self) -> None:
        if not self._scheduled and not self._closed:
            self._scheduled = True
            self._loop.call_soon(self.drain)

    def drain(self) -> None:
        self._scheduled = False
        if self._closed:
            return
        try:
            batch, more = self.read(self.sock, READ_BATCH)
        except zmq.ZMQError:
            return  # closed under us
        if more:
            self.kick()  # there may be more; read them after others had their turn
        if batch:
            self._on_batch(batch)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._fd)
            self.sock.close(0)


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
        server = self._server
        if not server._outbox:  # the common case, inlined (the relay's hot path)
            try:
                _send(server._sock, self.ident, _NB_MORE)
                _send(server._sock, frame, _NB)
            except zmq.Again:
                server._send(self.ident, frame)  # queued and retried in order
                return
            except zmq.ZMQError:
                return  # the peer went away (EHOSTUNREACH) or we are closing
            if server._pump is not None:
                server._pump.kick()
            return
        server._send(self.ident, frame)


BatchHandler = Callable[[list[Incoming]], None]


class PeerServer:
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
        self._sock.setsockopt(zmq.SNDHWM, HWM)
        self._sock.setsockopt(zmq.RCVHWM, HWM)
        self._handler = handler
        self._batch_handlers = dict(batch_handlers or {})
        self._pump: _Pump | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._peers: dict[bytes, str] = {}
        self._outbox: collections.deque[tuple[bytes, bytes]] = collections.deque()
        self.malformed = 0  # messages refused as malformed (for tests and /status)
        self._retry: asyncio.TimerHandle | None = None

    def bind(self, ip: str, port: int = 0) -> int:
        self._sock.bind(f"tcp://{ip}:{port or '*'}")
        endpoint = self._sock.getsockopt(zmq.LAST_ENDPOINT)
        assert isinstance(endpoint, bytes)
        return int(endpoint.decode().rsplit(":", 1)[1])

    @property
    def socket(self) -> zmq.Socket[Any]:
        return self._sock

    def start(self, read: Reader | None = None) -> None:
        """Serve; *read* replaces the default reader (the relay engine's, see fast_relay.py)."""
        self._pump = _Pump(self._sock, self._on_batch, read or reading(self._recv_request))

    def kick(self) -> None:
        """Read again soon (call after sending on the socket from outside this class)."""
        if self._pump is not None:
            self._pump.kick()

    def queue_reply(self, ident: bytes, frame: bytes) -> None:
        """Send a reply frame, queued behind any waiting ones if the peer's queue is full."""
        self._send(ident, frame)

    def set_batch_handler(self, cmd: bytes, handler: BatchHandler) -> None:
        """Answer *cmd* with *handler* from now on (e.g. a bench's cheap onion destination)."""
        self._batch_handlers[cmd] = handler

    def _recv_request(self, sock: zmq.Socket[Any]) -> tuple[bytes, bytes | None, str | None, None]:
        """``(routing id, frame or None if not exactly one frame followed it, peer key, None)``
        (the last field is the relay engine's peel result, which this path never has)."""
        # A ROUTER always delivers the routing id followed by at least one part.
        ident: bytes = _recv(sock, _NB)
        f = _recv(sock, _NB, copy=False)
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
        if f.more:
            _drain_rest(sock)
            return ident, None, peer, None
        frame: bytes = f.bytes
        return ident, frame, peer, None

    def _on_batch(self, msgs: list[tuple[bytes, bytes | None, str | None, Any]]) -> None:
        groups: dict[bytes, list[Incoming]] = {}
        loop = asyncio.get_running_loop()
        batch_handlers = self._batch_handlers
        for ident, frame, peer, peeled in msgs:
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
            _send(self._sock, msg[0], _NB_MORE)
            _send(self._sock, msg[1], _NB)
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


ReplyCallback = Callable[["list[bytes] | PeerRequestError"], None]


class _Nowait:
    """A callback request in flight (see :meth:`PeerClient.request_nowait`)."""

    __slots__ = ("done", "key", "cmd", "parts", "deadline", "received_before")

    def __init__(
        self, done: ReplyCallback, key: tuple[str, str, int], cmd: bytes, parts: list[bytes], deadline: float
    ) -> None:
        self.done = done
        self.key = key
        self.cmd = cmd
        self.parts = parts
        self.deadline = deadline
        self.received_before = 0


#: The plain reader of a DEALER (every frame a reply for Python).
READ_REPLIES = reading(_recv_reply)


class _Conn:
    def __init__(self, sock: zmq.Socket[Any]) -> None:
        self.sock = sock
        self.pending: dict[int, asyncio.Future[list[bytes]] | _Nowait] = {}
        self.pump: _Pump | None = None
        self.monitor: _Pump | None = None
        self.received = 0  # replies seen, to tell a dead connection from a slow request
        self.closed = False
        self.route = -1  # the relay engine's slot for this connection, if it has one


_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


def _malformed_reply(pending: dict[int, Any], exc: PeerFrameError) -> None:
    """A reply we cannot read fails the request it names, if any (else it is dropped)."""
    log.warning("malformed reply from a peer: %s", exc)
    p = pending.pop(exc.req_id, None) if exc.req_id is not None else None
    err = PeerRequestError(f"malformed reply: {exc}")
    if type(p) is _Nowait:
        _deliver(p, err)
    elif isinstance(p, asyncio.Future) and not p.done():
        p.set_exception(err)


def _deliver(p: _Nowait, result: list[bytes] | PeerRequestError) -> None:
    try:
        p.done(result)
    except Exception:  # one faulty callback must not stop the replies behind it
        log.exception("reply callback for %r failed", p.cmd)


class PeerClient:
    """Requests to other nodes; one CURVE DEALER per peer, opened on first use.

    libzmq does not retry a CURVE handshake that the peer's ZAP refused (the peer
    may simply not have seen our registration block yet), and a DEALER without a
    live pipe cannot take a message.  So a socket monitor drops a connection as
    soon as its handshake fails, and a request transparently retries on a fresh
    socket until its own deadline.
    """

    def __init__(self, ctx: zmq.asyncio.Context, x25519_secret: bytes, x25519_public: bytes) -> None:
        self._ctx: zmq.Context[zmq.Socket[Any]] = zmq.Context.shadow(ctx.underlying)
        self._secret = zmq.utils.z85.encode(x25519_secret)
        self._public = zmq.utils.z85.encode(x25519_public)
        self._conns: dict[tuple[str, str, int], _Conn] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        #: Called with a connection about to close (the relay engine drops its route).
        self.on_forget: Callable[[_Conn], None] | None = None

    def connection(self, x25519_hex: str, ip: str, port: int) -> _Conn | None:
        """The open connection to a peer, if there is one."""
        return self._conns.get((x25519_hex, ip, port))

    def _conn(self, x25519_hex: str, ip: str, port: int) -> _Conn:
        key = (x25519_hex, ip, port)
        c = self._conns.get(key)
        if c is None:
            s: zmq.Socket[Any] = self._ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.CURVE_SECRETKEY, self._secret)
            s.setsockopt(zmq.CURVE_PUBLICKEY, self._public)
            s.setsockopt(zmq.CURVE_SERVERKEY, zmq.utils.z85.encode(bytes.fromhex(x25519_hex)))
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, HWM)
            s.setsockopt(zmq.RCVHWM, HWM)
            monitor = s.get_monitor_socket(_HANDSHAKE_FAILED)
            s.connect(f"tcp://{ip}:{port}")
            c = _Conn(s)
            c.pump = _Pump(s, functools.partial(self._on_replies, c), READ_REPLIES)
            c.monitor = _Pump(monitor, functools.partial(self._on_handshake_failed, key, c), reading(recv_frames))
            self._conns[key] = c
            if self._sweeper is None:
                self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        return c

    @staticmethod
    def _on_replies(c: _Conn, msgs: list[bytes]) -> None:
        pending = c.pending
        for frame in msgs:
            c.received += 1
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
            if type(p) is _Nowait:
                try:  # (_deliver, inlined: this is the relay's hot path)
                    p.done(result)
                except Exception:
                    log.exception("reply callback for %r failed", p.cmd)
            elif isinstance(p, asyncio.Future) and not p.done():
                if isinstance(result, PeerRequestError):
                    p.set_exception(result)
                else:
                    p.set_result(result)

    def _on_handshake_failed(self, key: tuple[str, str, int], c: _Conn, events: list[list[Any]]) -> None:
        # Only handshake failures are subscribed, so any event means this one.
        log.debug("handshake with %s:%d failed; dropping the connection", key[1], key[2])
        if self._conns.get(key) is c:
            self.forget(*key)

    async def request(
        self, x25519_hex: str, ip: str, port: int, cmd: bytes, parts: list[bytes], timeout: float = DEFAULT_TIMEOUT
    ) -> list[bytes]:
        """Send one request and wait for its reply; :class:`PeerTimeoutError` after *timeout* s."""
        loop = asyncio.get_running_loop()
        return await self._request_until(x25519_hex, ip, port, cmd, parts, loop.time() + timeout, timeout)

    async def _request_until(
        self, x25519_hex: str, ip: str, port: int, cmd: bytes, parts: list[bytes], deadline: float, timeout: float
    ) -> list[bytes]:
        loop = asyncio.get_running_loop()
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PeerTimeoutError(f"no reply to {cmd.decode()!r} from {ip}:{port} within {timeout} s")
            c = self._conn(x25519_hex, ip, port)
            req_id = next(self._ids)
            frame = _encode(wire.REQUEST, req_id, [cmd, *parts])
            fut: asyncio.Future[list[bytes]] = loop.create_future()
            c.pending[req_id] = fut
            received_before = c.received

            async def exchange(c: _Conn = c, frame: bytes = frame, fut: asyncio.Future[list[bytes]] = fut) -> list[bytes]:
                # Never leave a send pending on a socket that may be closed under it: try
                # without blocking and poll while the socket has no live pipe.
                while True:
                    if c.closed:
                        raise asyncio.CancelledError
                    try:
                        _send(c.sock, frame, _NB)
                        break
                    except zmq.Again:
                        await asyncio.sleep(0.02)
                assert c.pump is not None
                c.pump.kick()
                return await fut

            try:
                return await asyncio.wait_for(exchange(), remaining)
            except asyncio.TimeoutError:
                if c.received == received_before and self._conns.get((x25519_hex, ip, port)) is c:
                    self.forget(x25519_hex, ip, port)  # nothing came back at all: start afresh next time
                raise PeerTimeoutError(f"no reply to {cmd.decode()!r} from {ip}:{port} within {timeout} s") from None
            except asyncio.CancelledError:
                if not c.closed or _being_cancelled():
                    raise
                # The connection was dropped under us (handshake refused): retry shortly.
                await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))
            except zmq.ZMQError as exc:
                if not c.closed:
                    raise PeerRequestError(f"cannot send {cmd.decode()!r} to {ip}:{port}: {exc}") from None
                await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))
            finally:
                c.pending.pop(req_id, None)

    def request_nowait(
        self,
        x25519_hex: str,
        ip: str,
        port: int,
        cmd: bytes,
        parts: list[bytes],
        timeout: float,
        done: ReplyCallback,
    ) -> None:
        """Like :meth:`request`, but *done* is called exactly once, with the reply parts or the
        :class:`PeerRequestError` (timeout included), from the event loop.

        The common case (a live connection with room) is one non-blocking send and a dict
        entry; anything unusual (no pipe yet, full queue, refused handshake) goes to the
        retrying :meth:`request` path with what is left of the deadline.
        """
        key = (x25519_hex, ip, port)
        p = _Nowait(done, key, cmd, parts, _monotonic() + timeout)
        c = self._conns.get(key) or self._conn(*key)
        req_id = next(self._ids)
        frame = _encode(wire.REQUEST, req_id, [cmd, *parts])
        p.received_before = c.received
        c.pending[req_id] = p
        try:
            _send(c.sock, frame, _NB)
        except zmq.ZMQError:
            del c.pending[req_id]
            self._fall_back(p)
            return
        assert c.pump is not None
        c.pump.kick()

    def _fall_back(self, p: _Nowait) -> None:
        async def slow() -> None:
            try:
                result: list[bytes] | PeerRequestError = await self._request_until(
                    *p.key, p.cmd, p.parts, p.deadline, p.deadline - asyncio.get_running_loop().time()
                )
            except PeerRequestError as exc:
                result = exc
            _deliver(p, result)

        t = asyncio.get_running_loop().create_task(slow())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _sweep_forever(self) -> None:
        """Time out callback requests (one periodic scan of what is pending, no timer per request)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(_SWEEP_INTERVAL)
            now = loop.time()
            for key, c in list(self._conns.items()):
                expired = [
                    (rid, p) for rid, p in c.pending.items() if type(p) is _Nowait and p.deadline <= now
                ]
                silent = False
                for rid, p in expired:
                    del c.pending[rid]
                    silent = silent or c.received == p.received_before
                if silent and self._conns.get(key) is c:
                    self.forget(*key)  # nothing came back at all: start afresh next time
                for _, p in expired:
                    _deliver(p, PeerTimeoutError(f"no reply to {p.cmd.decode()!r} from {key[1]}:{key[2]} in time"))

    def forget(self, x25519_hex: str, ip: str, port: int) -> None:
        """Drop the connection to a peer (it left the network, changed address or refused us)."""
        c = self._conns.pop((x25519_hex, ip, port), None)
        if c is None:
            return
        if self.on_forget is not None:
            self.on_forget(c)
        c.closed = True
        pending, c.pending = c.pending, {}
        for p in pending.values():
            if type(p) is _Nowait:
                self._fall_back(p)  # retried on a fresh connection until its deadline
            elif isinstance(p, asyncio.Future):
                p.cancel()
        try:
            c.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        if c.monitor is not None:
            c.monitor.close()
        if c.pump is not None:
            c.pump.close()

    def known(self) -> list[tuple[str, str, int]]:
        return list(self._conns)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for key in list(self._conns):
            self.forget(*key)
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def ok(parts: list[bytes]) -> bool:
    return bool(parts) and parts[0] == b"OK"


def describe(parts: list[bytes]) -> str:
    return b" ".join(p[:60] for p in parts).decode(errors="replace")


__all__: list[Any] = ["Incoming", "PeerClient", "PeerServer", "Reader", "describe", "ok", "reading"]
