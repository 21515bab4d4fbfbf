"""Bounds on the node's client-facing HTTP connections (issue 11, item 2).

A public node must survive clients that open connections and never finish a request
(slowloris), and many connections from one address.  aiohttp alone keeps such
connections open for its keep-alive timeout and has no per-address cap, so:

- :class:`ConnectionGuard` wraps each connection's protocol.  A connection beyond the
  total cap or its address's cap is closed at once, before aiohttp sees it.  Every
  admitted connection must deliver a request's headers within ``header_deadline``
  seconds of connecting (and, when idle between requests, of its previous answer),
  or it is closed.
- :func:`guard_middleware` marks the request as started (stops that clock) and reads
  the whole body within ``body_deadline`` seconds (408 otherwise); handlers then read
  the cached body.
- :class:`GuardedSite` serves an aiohttp runner through the guard, optionally with the lean
  ``/onion_req/v2`` intake of :mod:`~session_core.node.onion_http` in front of aiohttp (same
  caps and deadlines, 408 for a late body).
- :func:`rate_limited_exception_handler` keeps the event loop's own error reports (for
  example ``accept()`` failing with EMFILE under a flood) to a few lines a minute.
- :func:`raise_file_limit` lifts the soft open-file limit to the hard one at start-up,
  and the total cap stays below it, so sockets, the database and ZMQ keep working.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from session_core.node.onion_http import Handle, OnionConnection

log = logging.getLogger("session_core.node.http")

# File descriptors kept for everything that is not a client connection: the database,
# ZMQ sockets to peers, the chain client, exits.
_RESERVED_FDS = 512


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Defaults and their reasons: docs/security.md."""

    max_connections: int = 8192
    max_per_ip: int = 256
    header_deadline: float = 10.0
    body_deadline: float = 20.0

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.max_per_ip < 1 or self.header_deadline <= 0 or self.body_deadline <= 0:
            raise ValueError("connection limits must be positive")


def raise_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft)


class ConnectionGuard:
    def __init__(self, limits: ConnectionLimits, *, file_limit: int | None = None) -> None:
        self.limits = limits
        room = (file_limit if file_limit is not None else raise_file_limit()) - _RESERVED_FDS
        self.max_connections = max(1, min(limits.max_connections, room))
        self.per_ip: dict[str, int] = {}
        self.total = 0
        self.refused = 0
        self.timed_out = 0
        self.onion_intake = 0  # requests answered by the lean onion intake (node/onion_http.py)
        self.handed_over = 0  # connections the intake gave to aiohttp
        self._by_transport: dict[asyncio.BaseTransport, _GuardedProtocol] = {}

    def wrap(self, factory: Callable[[], asyncio.Protocol], onion: Handle | None = None) -> Callable[[], asyncio.Protocol]:
        """Guarded connections served by *factory*'s protocol; with *onion*, each starts in
        the lean ``/onion_req/v2`` intake of :mod:`~session_core.node.onion_http`."""
        return lambda: _GuardedProtocol(self, factory, onion)

    def _admit(self, ip: str) -> bool:
        if self.total >= self.max_connections or self.per_ip.get(ip, 0) >= self.limits.max_per_ip:
            self.refused += 1
            return False
        self.total += 1
        self.per_ip[ip] = self.per_ip.get(ip, 0) + 1
        return True

    def _release(self, ip: str) -> None:
        self.total -= 1
        left = self.per_ip[ip] - 1
        if left:
            self.per_ip[ip] = left
        else:
            del self.per_ip[ip]

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        proto = self._by_transport.get(transport) if transport is not None else None
        if proto is not None:
            proto.disarm()

    def request_done(self, transport: asyncio.BaseTransport | None) -> None:
        proto = self._by_transport.get(transport) if transport is not None else None
        if proto is not None:
            proto.arm(self.limits.header_deadline)

    def stats(self) -> dict[str, int]:
        return {"open": self.total, "addresses": len(self.per_ip), "refused": self.refused, "timed_out": self.timed_out,
                "onion_intake": self.onion_intake, "handed_over": self.handed_over}


class _GuardedProtocol(asyncio.Protocol):
    """Admission and the header deadline around aiohttp's own protocol (created when the
    connection is admitted, or when the onion intake hands the connection over)."""

    def __init__(self, guard: ConnectionGuard, factory: Callable[[], asyncio.Protocol], onion: Handle | None = None) -> None:
        self._guard = guard
        self._factory = factory
        self._onion = onion
        self._inner: asyncio.Protocol | None = None
        self._fast: OnionConnection | None = None
        self._write_paused = False
        self._transport: asyncio.BaseTransport | None = None
        self._ip = ""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._ip = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._guard._admit(self._ip):
            assert isinstance(transport, asyncio.Transport)
            transport.abort()  # before aiohttp allocates anything for it
            return
        self._transport = transport
        self._guard._by_transport[transport] = self
        if self._onion is not None and isinstance(transport, asyncio.Transport):
            limits = self._guard.limits
            self._fast = OnionConnection(
                transport, self._onion, self._hand_over, self.disarm, self._answered, self._body_timed_out,
                limits.body_deadline,
            )
        else:
            self._start_inner()
        self.arm(self._guard.limits.header_deadline)

    def _start_inner(self) -> None:
        assert self._transport is not None
        self._inner = self._factory()
        self._inner.connection_made(self._transport)
        if self._write_paused:
            self._inner.pause_writing()

    def _hand_over(self, data: bytes) -> None:
        """From the onion intake to aiohttp, for good, with the bytes not answered yet."""
        self._fast = None
        self._guard.handed_over += 1
        self._start_inner()
        if data:
            assert self._inner is not None
            self._inner.data_received(data)

    def _answered(self) -> None:
        """The onion intake answered a request: idle again, the header clock restarts."""
        self._guard.onion_intake += 1
        self.arm(self._guard.limits.header_deadline)

    def _body_timed_out(self) -> None:
        self._guard.timed_out += 1

    def arm(self, seconds: float) -> None:
        self.disarm()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if isinstance(self._transport, asyncio.Transport):
            self._guard.timed_out += 1
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)
        elif self._fast is not None:
            self._fast.data_received(data)

    def eof_received(self) -> bool | None:
        if self._fast is not None:
            keep = self._fast.eof_received()
            if self._inner is None:
                return keep
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._inner is not None:
            self._inner.pause_writing()
        elif self._fast is not None:
            self._fast.pause_writing()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._inner is not None:
            self._inner.resume_writing()
        elif self._fast is not None:
            self._fast.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return  # refused at admission
        self.disarm()
        self._guard._by_transport.pop(self._transport, None)
        self._guard._release(self._ip)
        self._transport = None
        if self._fast is not None:
            self._fast.connection_lost()
        if self._inner is not None:
            self._inner.connection_lost(exc)


def guard_middleware(guard: ConnectionGuard) -> Any:
    """Stop the header clock, read the body within its deadline, re-arm after answering."""

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        guard.request_started(request.transport)
        try:
            if request.can_read_body:
                if request.content.is_eof():
                    # The whole body is here already (the common case: a small POST in one
                    # read): read() cannot wait, so no deadline task and timer are needed.
                    await request.read()
                else:
                    try:
                        await asyncio.wait_for(request.read(), guard.limits.body_deadline)
                    except asyncio.TimeoutError:
                        guard.timed_out += 1
                        return web.Response(status=408, text="Request body not received in time\n")
            return await handler(request)
        finally:
            guard.request_done(request.transport)

    return middleware


class GuardedSite(web.SockSite):
    """``web.SockSite`` whose connections go through a :class:`ConnectionGuard`; with
    *onion*, plain ``POST /onion_req/v2`` requests are answered by it without aiohttp
    (:mod:`~session_core.node.onion_http`)."""

    def __init__(self, runner: web.BaseRunner, sock: Any, guard: ConnectionGuard, *, backlog: int = 1024,
                 onion: Handle | None = None) -> None:
        super().__init__(runner, sock, backlog=backlog)
        self._guard = guard
        self._onion = onion

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.wrap(server, self._onion), sock=self._sock, backlog=self._backlog
        )


def rate_limited_exception_handler(per_minute: int = 10) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """An event-loop exception handler that reports at most *per_minute* errors a minute
    (one line each, no traceback) and then how many it held back."""
    window_start = time.monotonic()
    shown = 0
    held = 0

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        nonlocal window_start, shown, held
        now = time.monotonic()
        if now - window_start >= 60:
            if held:
                log.warning("event loop: %d more errors in the last minute were not shown", held)
            window_start, shown, held = now, 0, 0
        if shown >= per_minute:
            held += 1
            return
        shown += 1
        exc = context.get("exception")
        log.warning("event loop: %s%s", context.get("message", "error"), f" ({type(exc).__name__}: {exc})" if exc else "")

    return handler
