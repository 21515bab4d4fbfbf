"""Onion request handling on a node (docs/interop.md §3.3-3.5): peel one layer, then relay,
answer as the final destination, or exit to a server.

The crypto and framing are :mod:`session_core.onion`; this module only decides
what to do with a peeled layer and maps failures to the §3.4 status codes and
texts.  Transport is injected (``forward`` over ZMQ, ``exit_post`` over HTTP),
so the decisions can be tested without sockets.  A relaying node never logs
where a request came from next to where it goes.

Two entry points with the same decisions: :meth:`OnionRouter.handle` (one
request, awaited; the HTTP guard) and :meth:`OnionRouter.handle_batch` (every
layer one ZMQ wakeup brought, peeled in one ``onion.peel_many`` call, relays
forwarded with a callback instead of a task each; the node-to-node hot path).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from session_core import onion
from session_core.errors import OnionError, PeerRequestError, PeerTimeoutError
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.storage_rpc import Reply

log = logging.getLogger("session_core.node.onion")

#: Longest status a next hop may answer (as digits): within int()'s limits, and the relay
#: engine's (csrc/relay.h SC_RELAY_STATUS_DIGITS) for the same answer either way.
STATUS_DIGITS = 18

Forward = Callable[[SnodeInfo, bytes, int], Awaitable[tuple[int, bytes]]]
ExitPost = Callable[[onion.Exit], Awaitable[tuple[int, bytes]]]
Done = Callable[[int, bytes], None]
#: Forward without awaiting: call back with the next node's raw reply parts (``[status, body]``
#: when it behaves) or the transport error; the router checks the shape.
ForwardNowait = Callable[[SnodeInfo, bytes, int, Callable[["list[bytes] | PeerRequestError"], None]], None]
Storage = Callable[[bytes], Awaitable[Reply]]


class OnionHandler(Protocol):
    """What a node asks of its onion router (:class:`OnionRouter`, or a wrapper around one)."""

    async def handle(self, body: bytes, hop: int = 0) -> tuple[int, bytes]: ...

    def handle_batch(self, bodies: Sequence[bytes], hop: int, done: Sequence[Done]) -> None: ...

    def handle_peeled(self, results: Sequence[object], bodies: Sequence[bytes], hop: int, done: Sequence[Done]) -> None: ...


#: Builds a node's router from its secret, its view and the transport it is given
#: (:class:`OnionRouter` itself, or a wrapper such as the test aids' observer).
RouterFactory = Callable[
    [bytes, Callable[[], "NetworkView | None"], Forward, Storage, ExitPost, "ForwardNowait | None"], OnionHandler
]


class OnionRouter:
    def __init__(
        self,
        x25519_secret: bytes,
        view: Callable[[], NetworkView | None],
        forward: Forward,
        storage: Storage,
        exit_post: ExitPost,
        forward_nowait: ForwardNowait | None = None,
    ) -> None:
        self._secret = x25519_secret
        self._view = view
        self._forward = forward
        self._storage = storage
        self._exit_post = exit_post
        self._forward_nowait = forward_nowait
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, body: bytes, hop: int = 0) -> tuple[int, bytes]:
        """Answer one onion request; returns (HTTP status, body) as sent back down the path."""
        try:
            step = onion.peel(body, self._secret, hop=hop)
        except OnionError as exc:
            return self._error(exc)
        if isinstance(step, onion.Relay):
            view = self._view()
            if view is None:
                return 503, b"Snode not ready"
            nxt = view.node(step.next_ed25519)
            if nxt is None:
                return 502, f"Next node not found: {step.next_ed25519}".encode()
            if self._forward_nowait is not None:
                return await self._forward_awaitable(nxt, step)
            try:
                return await self._forward(nxt, step.body, step.hop)
            except PeerRequestError as exc:
                return self._transport_error(exc)
        return await self._answer(step)

    def _forward_awaitable(self, nxt: SnodeInfo, step: onion.Relay) -> asyncio.Future[tuple[int, bytes]]:
        """The relay of :meth:`handle` (the HTTP guard's hop) on the callback transport: one
        Future per request, where the awaited transport costs a task (``wait_for``), a
        coroutine and a timer.  Same answers: the callback path's shape checks and errors."""
        assert self._forward_nowait is not None
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()

        def done(status: int, body: bytes) -> None:
            if not fut.done():  # (the HTTP handler may have been cancelled meanwhile)
                fut.set_result((status, body))

        self._forward_nowait(nxt, step.body, step.hop, self._relayed(done))
        return fut

    def handle_batch(self, bodies: Sequence[bytes], hop: int, done: Sequence[Done]) -> None:
        """Answer many layers received at the same *hop*; ``done[i](status, body)`` is called
        exactly once for ``bodies[i]``, with what :meth:`handle` would return."""
        self.handle_steps(onion.peel_many(bodies, self._secret, threads=1, hop=hop), done)

    def handle_peeled(self, results: Sequence[object], bodies: Sequence[bytes], hop: int, done: Sequence[Done]) -> None:
        """As :meth:`handle_batch`, for layers the relay engine peeled already: ``results[i]``
        is the engine's peel result for ``bodies[i]`` (see ``onion.finish_peeled``)."""
        steps = [onion.finish_peeled(r, body, self._secret, hop) for r, body in zip(results, bodies)]
        self.handle_steps(steps, done)

    def handle_steps(self, steps: Sequence[onion.PeelResult], done: Sequence[Done]) -> None:
        """Act on peeled layers: ``done[i](status, body)`` is called exactly once for ``steps[i]``."""
        view = self._view()
        for step, cb in zip(steps, done):
            if isinstance(step, OnionError):
                cb(*self._error(step))
            elif isinstance(step, onion.Relay):
                if view is None:
                    cb(503, b"Snode not ready")
                    continue
                nxt = view.node(step.next_ed25519)
                if nxt is None:
                    cb(502, f"Next node not found: {step.next_ed25519}".encode())
                elif self._forward_nowait is not None:
                    self._forward_nowait(nxt, step.body, step.hop, self._relayed(cb))
                else:
                    self._spawn(self._forward_then(nxt, step, cb))
            else:
                self._spawn(self._answer_then(step, cb))

    def _relayed(self, cb: Done) -> Callable[[list[bytes] | PeerRequestError], None]:
        def got(result: list[bytes] | PeerRequestError) -> None:
            if isinstance(result, PeerRequestError):
                cb(*self._transport_error(result))
            elif len(result) != 2 or not result[0].isdigit() or len(result[0]) > STATUS_DIGITS:
                cb(*self._transport_error(PeerRequestError("Invalid response from snode")))
            else:
                cb(int(result[0]), result[1])

        return got

    async def _forward_then(self, nxt: SnodeInfo, step: onion.Relay, cb: Done) -> None:
        try:
            result = await self._forward(nxt, step.body, step.hop)
        except PeerRequestError as exc:
            result = self._transport_error(exc)
        cb(*result)

    async def _answer_then(self, step: onion.Final | onion.Exit, cb: Done) -> None:
        try:
            result = await self._answer(step)
        except Exception as exc:  # e.g. the store failed: answer 500 rather than nothing
            log.exception("onion request failed")
            result = 500, f"internal error: {type(exc).__name__}".encode()
        cb(*result)

    def _spawn(self, coro: Awaitable[None]) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    @staticmethod
    def _transport_error(exc: PeerRequestError) -> tuple[int, bytes]:
        if isinstance(exc, PeerTimeoutError):
            return 504, b"Request time out"
        return 500, b"Invalid response from snode"

    async def _answer(self, step: onion.Final | onion.Exit) -> tuple[int, bytes]:
        if isinstance(step, onion.Final):
            reply = await self._storage(step.payload)
            wrapped = json.dumps({"status": reply.status, "body": reply.body}).encode()
            return 200, step.reply.encrypt_b64(wrapped)
        return await self._exit_post(step)

    @staticmethod
    def _error(exc: OnionError) -> tuple[int, bytes]:
        if exc.encrypted and isinstance(exc.reply, onion.Reply):
            # Errors found after our layer decrypted go back encrypted, like a final answer.
            return 200, exc.reply.encrypt_b64(json.dumps({"status": exc.status, "body": exc.body}).encode())
        return exc.status, exc.body.encode()
