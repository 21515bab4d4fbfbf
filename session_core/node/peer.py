"""Node-to-node transport: ZMQ ROUTER/DEALER with CURVE (thin I/O driver).

Theory of operation
-------------------
Every node binds one ROUTER socket as a CURVE server with its X25519 key pair
(the same key clients encrypt onion layers to).  A ZAP handler admits a peer
only if its CURVE public key belongs to a node in the current service-node
list, so strangers cannot even open a session.  ZAP tags each message with the
peer's key (``User-Id``, hex here), which is how a handler knows who asks.

To talk to a peer, a node opens (and keeps) one DEALER socket per peer as a
CURVE client pinned to that peer's X25519 key.  A request is
``[request id, command, *parts]``; the reply is ``[request id, *parts]``.
A request id lets many requests share one socket.  A wrong server key makes
CURVE fail *silently* (no error, no reply), so every request has a timeout.

Commands (all bytes): ``data`` (replication batch), ``onion`` (relay one
onion layer), ``storage_test``, ``catchup`` (send me what you hold for my
swarm), ``ping``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio
from zmq.auth.asyncio import AsyncioAuthenticator

from session_core.errors import PeerRequestError, PeerTimeoutError

log = logging.getLogger("session_core.node.peer")

Handler = Callable[[bytes, list[bytes], str], Awaitable[list[bytes]]]
DEFAULT_TIMEOUT = 10.0


class _HexAuthenticator(AsyncioAuthenticator):
    def curve_user_id(self, client_public_key: bytes) -> str:
        return client_public_key.hex()


class _KeyCheck:
    """ZAP credentials provider: ``allowed`` is consulted on every new connection."""

    def __init__(self, allowed: Callable[[str], bool]) -> None:
        self._allowed = allowed

    def callback(self, domain: str, key: bytes) -> bool:
        return self._allowed(zmq.utils.z85.decode(key).hex())


class PeerServer:
    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        x25519_secret: bytes,
        x25519_public: bytes,
        handler: Handler,
        allowed: Callable[[str], bool],
    ) -> None:
        self._ctx = ctx
        self._auth = _HexAuthenticator(ctx)
        self._auth.start()
        self._auth.configure_curve_callback("*", credentials_provider=_KeyCheck(allowed))
        self._sock = ctx.socket(zmq.ROUTER)
        self._sock.curve_server = True
        self._sock.curve_secretkey = zmq.utils.z85.encode(x25519_secret)
        self._sock.curve_publickey = zmq.utils.z85.encode(x25519_public)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self._handler = handler
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def bind(self, ip: str, port: int = 0) -> int:
        self._sock.bind(f"tcp://{ip}:{port or '*'}")
        endpoint = self._sock.getsockopt(zmq.LAST_ENDPOINT)
        assert isinstance(endpoint, bytes)
        return int(endpoint.decode().rsplit(":", 1)[1])

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            frames = await self._sock.recv_multipart(copy=False)
            if len(frames) < 3:
                continue  # not our protocol; nothing sensible to answer
            try:
                peer = frames[1].get("User-Id")
            except zmq.ZMQError:
                continue
            parts = [f.bytes for f in frames]
            t = asyncio.get_running_loop().create_task(self._one(parts[0], parts[1], parts[2], parts[3:], str(peer)))
            self._inflight.add(t)
            t.add_done_callback(self._inflight.discard)

    async def _one(self, ident: bytes, req_id: bytes, cmd: bytes, args: list[bytes], peer: str) -> None:
        try:
            reply = await self._handler(cmd, args, peer)
        except Exception as exc:  # a bug in one handler must not kill the server loop
            log.exception("peer command %r failed", cmd)
            reply = [b"500", f"internal error: {type(exc).__name__}".encode()]
        try:
            await self._sock.send_multipart([ident, req_id, *reply])
        except zmq.ZMQError:
            pass  # the peer went away

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for t in list(self._inflight):
            t.cancel()
        self._sock.close(0)
        self._auth.stop()


class _Conn:
    def __init__(self, sock: zmq.asyncio.Socket) -> None:
        self.sock = sock
        self.pending: dict[bytes, asyncio.Future[list[bytes]]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.received = 0  # replies seen, to tell a dead connection from a slow request
        self.closed = False
        self.monitor: zmq.asyncio.Socket | None = None


_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


class PeerClient:
    """Requests to other nodes; one CURVE DEALER per peer, opened on first use.

    libzmq does not retry a CURVE handshake that the peer's ZAP refused (the peer
    may simply not have seen our registration block yet), and a DEALER without a
    live pipe blocks on send.  So a socket monitor drops a connection as soon as
    its handshake fails, and a request transparently retries on a fresh socket
    until its own deadline.
    """

    def __init__(self, ctx: zmq.asyncio.Context, x25519_secret: bytes, x25519_public: bytes) -> None:
        self._ctx = ctx
        self._secret = zmq.utils.z85.encode(x25519_secret)
        self._public = zmq.utils.z85.encode(x25519_public)
        self._conns: dict[tuple[str, str, int], _Conn] = {}
        self._ids = itertools.count(1)

    def _conn(self, x25519_hex: str, ip: str, port: int) -> _Conn:
        key = (x25519_hex, ip, port)
        c = self._conns.get(key)
        if c is None:
            s = self._ctx.socket(zmq.DEALER)
            s.curve_secretkey = self._secret
            s.curve_publickey = self._public
            s.curve_serverkey = zmq.utils.z85.encode(bytes.fromhex(x25519_hex))
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, 10_000)
            monitor = s.get_monitor_socket(_HANDSHAKE_FAILED)
            s.connect(f"tcp://{ip}:{port}")
            c = _Conn(s)
            c.monitor = monitor
            loop = asyncio.get_running_loop()
            c.tasks = [loop.create_task(self._read(c)), loop.create_task(self._watch(key, c, monitor))]
            self._conns[key] = c
        return c

    @staticmethod
    async def _read(c: _Conn) -> None:
        while True:
            frames = await c.sock.recv_multipart()
            if not frames:
                continue
            c.received += 1
            fut = c.pending.pop(frames[0], None)
            if fut is not None and not fut.done():
                fut.set_result(frames[1:])

    async def _watch(self, key: tuple[str, str, int], c: _Conn, monitor: zmq.asyncio.Socket) -> None:
        await monitor.recv_multipart()  # only handshake failures are subscribed
        log.debug("handshake with %s:%d failed; dropping the connection", key[1], key[2])
        if self._conns.get(key) is c:
            self.forget(*key)

    async def request(
        self, x25519_hex: str, ip: str, port: int, cmd: bytes, parts: list[bytes], timeout: float = DEFAULT_TIMEOUT
    ) -> list[bytes]:
        """Send one request and wait for its reply; :class:`PeerTimeoutError` after *timeout* s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PeerTimeoutError(f"no reply to {cmd.decode()!r} from {ip}:{port} within {timeout} s")
            c = self._conn(x25519_hex, ip, port)
            req_id = next(self._ids).to_bytes(8, "little")
            fut: asyncio.Future[list[bytes]] = loop.create_future()
            c.pending[req_id] = fut
            received_before = c.received

            async def exchange(c: _Conn = c, req_id: bytes = req_id, fut: asyncio.Future[list[bytes]] = fut) -> list[bytes]:
                # Never leave a send pending on a socket that may be closed under it: try
                # without blocking and poll while the socket has no live pipe.
                while True:
                    if c.closed:
                        raise asyncio.CancelledError
                    try:
                        await c.sock.send_multipart([req_id, cmd, *parts], flags=zmq.NOBLOCK)
                        break
                    except zmq.Again:
                        await asyncio.sleep(0.02)
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

    def forget(self, x25519_hex: str, ip: str, port: int) -> None:
        """Drop the connection to a peer (it left the network, changed address or refused us)."""
        c = self._conns.pop((x25519_hex, ip, port), None)
        if c is None:
            return
        c.closed = True
        for fut in c.pending.values():
            fut.cancel()
        for t in c.tasks:
            if t is not asyncio.current_task():
                t.cancel()
        try:
            c.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        if c.monitor is not None:
            c.monitor.close(0)
        c.sock.close(0)

    def known(self) -> list[tuple[str, str, int]]:
        return list(self._conns)

    async def close(self) -> None:
        for key in list(self._conns):
            self.forget(*key)


def ok(parts: list[bytes]) -> bool:
    return bool(parts) and parts[0] == b"OK"


def describe(parts: list[bytes]) -> str:
    return b" ".join(p[:60] for p in parts).decode(errors="replace")


__all__: list[Any] = ["PeerClient", "PeerServer", "describe", "ok"]
