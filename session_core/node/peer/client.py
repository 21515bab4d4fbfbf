"""The asking side of node-to-node transport: requests to other nodes, with deadlines.

Theory of operation
-------------------
To talk to a peer, a node opens (and keeps) one :class:`~session_core.node.peer.connection.PeerConnection`
per peer: a DEALER socket as a CURVE client pinned to that peer's X25519 key.  A request id
lets many requests share one socket.  A wrong server key makes CURVE fail *silently* (no
error, no reply), so every request has a timeout.

libzmq does not retry a CURVE handshake that the peer's ZAP refused (the peer may simply
not have seen our registration block yet), and a DEALER without a live pipe cannot take a
message.  So a socket monitor drops a connection as soon as its handshake fails, and a
request transparently retries on a fresh socket until its own deadline.  A connection on
which a request timed out without a single reply coming back is dropped too (start afresh).

Two ways to ask: :meth:`PeerClient.request` (a coroutine) and
:meth:`PeerClient.request_nowait` (a callback, no asyncio Future or Task per request: the
relay's hot path); a periodic sweep times the latter out.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

import zmq
import zmq.asyncio
import zmq.utils.z85

from session_core.errors import PeerRequestError, PeerTimeoutError
from session_core.node import wire
from session_core.node.peer.coalesce import advertise
from session_core.node.peer.connection import CallbackRequest, PeerConnection, PeerKey, ReplyCallback
from session_core.node.peer.pump import set_queue_bounds

__all__ = ["DEFAULT_TIMEOUT", "PeerClient", "describe", "ok"]

log = logging.getLogger("session_core.node.peer")

DEFAULT_TIMEOUT = 10.0
_SWEEP_INTERVAL = 0.25  # how often callback requests are checked against their deadlines
_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)
_encode = wire.encode
_monotonic = time.monotonic  # what asyncio's loop.time() reads, without the lookups


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


class PeerClient:
    """Requests to other nodes; one CURVE DEALER per peer, opened on first use."""

    def __init__(self, ctx: zmq.asyncio.Context, x25519_secret: bytes, x25519_public: bytes) -> None:
        self._ctx: zmq.Context[zmq.Socket[Any]] = zmq.Context.shadow(ctx.underlying)
        self._secret = zmq.utils.z85.encode(x25519_secret)
        self._public = zmq.utils.z85.encode(x25519_public)
        self._conns: dict[PeerKey, PeerConnection] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        #: Called with a connection about to close (the relay engine drops its route).
        self.on_forget: Callable[[PeerConnection], None] | None = None

    def connection(self, x25519_hex: str, ip: str, port: int) -> PeerConnection | None:
        """The open connection to a peer, if there is one."""
        return self._conns.get((x25519_hex, ip, port))

    def _open(self, key: PeerKey) -> PeerConnection:
        """The connection to *key*, opened now if there is none."""
        c = self._conns.get(key)
        if c is None:
            x25519_hex, ip, port = key
            s: zmq.Socket[Any] = self._ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.CURVE_SECRETKEY, self._secret)
            s.setsockopt(zmq.CURVE_PUBLICKEY, self._public)
            s.setsockopt(zmq.CURVE_SERVERKEY, zmq.utils.z85.encode(bytes.fromhex(x25519_hex)))
            s.setsockopt(zmq.LINGER, 0)
            set_queue_bounds(s)
            advertise(s)
            monitor = s.get_monitor_socket(_HANDSHAKE_FAILED)
            s.connect(f"tcp://{ip}:{port}")
            c = self._conns[key] = PeerConnection(key, s, monitor, self._on_handshake_failed)
            if self._sweeper is None:
                self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        return c

    def _on_handshake_failed(self, c: PeerConnection) -> None:
        # Only handshake failures are subscribed, so any event means this one.
        log.debug("handshake with %s:%d failed; dropping the connection", c.key[1], c.key[2])
        if self._conns.get(c.key) is c:
            self.forget(*c.key)

    async def request(
        self, x25519_hex: str, ip: str, port: int, cmd: bytes, parts: list[bytes], timeout: float = DEFAULT_TIMEOUT
    ) -> list[bytes]:
        """Send one request and wait for its reply; :class:`PeerTimeoutError` after *timeout* s."""
        loop = asyncio.get_running_loop()
        return await self._request_until((x25519_hex, ip, port), cmd, parts, loop.time() + timeout, timeout)

    async def _request_until(
        self, key: PeerKey, cmd: bytes, parts: list[bytes], deadline: float, timeout: float
    ) -> list[bytes]:
        loop = asyncio.get_running_loop()
        _, ip, port = key
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PeerTimeoutError(f"no reply to {cmd.decode()!r} from {ip}:{port} within {timeout} s")
            c = self._open(key)
            req_id = next(self._ids)
            frame = _encode(wire.REQUEST, req_id, [cmd, *parts])
            fut: asyncio.Future[list[bytes]] = loop.create_future()
            c.pending[req_id] = fut
            received_before = c.received

            async def exchange(
                c: PeerConnection = c, frame: bytes = frame, fut: asyncio.Future[list[bytes]] = fut
            ) -> list[bytes]:
                # Never leave a send pending on a socket that may be closed under it: try
                # without blocking and poll while the socket has no live pipe.
                while True:
                    if c.closed:
                        raise asyncio.CancelledError
                    try:
                        c.send(frame)
                        break
                    except zmq.Again:
                        await asyncio.sleep(0.02)
                return await fut

            try:
                return await asyncio.wait_for(exchange(), remaining)
            except asyncio.TimeoutError:
                if c.received == received_before and self._conns.get(key) is c:
                    self.forget(*key)  # nothing came back at all: start afresh next time
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
        p = CallbackRequest(done, key, cmd, parts, _monotonic() + timeout)
        c = self._conns.get(key) or self._open(key)
        req_id = next(self._ids)
        frame = _encode(wire.REQUEST, req_id, [cmd, *parts])
        p.received_before = c.received
        c.pending[req_id] = p
        try:
            c.send(frame)
        except zmq.ZMQError:
            del c.pending[req_id]
            self._fall_back(p)

    def _fall_back(self, p: CallbackRequest) -> None:
        async def slow() -> None:
            try:
                result: list[bytes] | PeerRequestError = await self._request_until(
                    p.key, p.cmd, p.parts, p.deadline, p.deadline - asyncio.get_running_loop().time()
                )
            except PeerRequestError as exc:
                result = exc
            p.finish(result)

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
                    (rid, p) for rid, p in c.pending.items() if type(p) is CallbackRequest and p.deadline <= now
                ]
                silent = False
                for rid, p in expired:
                    del c.pending[rid]
                    silent = silent or c.received == p.received_before
                if silent and self._conns.get(key) is c:
                    self.forget(*key)  # nothing came back at all: start afresh next time
                for _, p in expired:
                    p.finish(PeerTimeoutError(f"no reply to {p.cmd.decode()!r} from {key[1]}:{key[2]} in time"))

    def forget(self, x25519_hex: str, ip: str, port: int) -> None:
        """Drop the connection to a peer (it left the network, changed address or refused us)."""
        c = self._conns.pop((x25519_hex, ip, port), None)
        if c is None:
            return
        if self.on_forget is not None:
            self.on_forget(c)
        for p in c.close().values():
            if type(p) is CallbackRequest:
                self._fall_back(p)  # retried on a fresh connection until its deadline
            elif isinstance(p, asyncio.Future):
                p.cancel()

    def known(self) -> list[PeerKey]:
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
    """True for a reply that starts with ``OK``."""
    return bool(parts) and parts[0] == b"OK"


def describe(parts: list[bytes]) -> str:
    """A short printable account of reply parts, for logs and errors."""
    return b" ".join(p[:60] for p in parts).decode(errors="replace")
