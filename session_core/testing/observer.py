"""What a node could learn, written down (a test aid): an observer wrapped around a node's
onion router and HTTP handlers, for the metadata test of docs/client.md.

It appends one JSON line per thing the node's Python code handles:

- ``{"event": "in", "source": "client:<ip>:<port>" | "node", "req": N, ...}`` for each onion
  request (``client`` when it arrived over HTTP, i.e. straight from whoever built the onion;
  ``node`` when a peer relayed it over ZMQ) and for each direct ``/storage_rpc/v1`` post;
- ``{"event": "forward", "req": N, "to": <ed25519>, ...}``: the blob this node peeled out and
  sends on (what it could read of that request);
- ``{"event": "storage", "req": N, "pubkey": ..., ...}``: the plaintext storage RPC payload
  the node handled (as an onion's destination or posted straight to it), with the ``pubKey``
  it names.

Every line carries ``node`` (this node's Ed25519 key), ``sha256`` and ``body_b64`` (the exact
bytes).  ``req`` ties the lines caused by one incoming request together: it travels in a
context variable, so anything the request's task (or tasks it spawned) records shares it.

An observed node keeps its C relay engine: layers the engine relays from node to node without
handing them to Python (a middle hop with a live route to the next one) are not logged, only
counted by the engine (``relay_engine.relayed`` of ``/status``).  Everything a client hands a
node over HTTP, and everything a node decrypts as an onion's destination, reaches Python and
is logged.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from session_core.errors import PeerRequestError
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.onion_relay import (
    Done,
    ExitPost,
    Forward,
    ForwardNowait,
    OnionHandler,
    OnionRouter,
    RouterFactory,
    Storage,
)
from session_core.node.storage_rpc import Reply

__all__ = ["Observer", "read_observations"]

#: (source, request number) of the incoming request being handled, for the observation log.
_current: contextvars.ContextVar[tuple[str, int]] = contextvars.ContextVar("observed_request", default=("node", 0))

#: The client-facing endpoints whose requests are observed.
_OBSERVED_PATHS = ("/onion_req/v2", "/storage_rpc/v1")


class _Observed:
    """One observed incoming request: a new ``req`` in the current context for the ``with``
    block (logging its bodies as ``in``); what is recorded after the block is not tied to it."""

    def __init__(self, observer: Observer, source: str, bodies: Iterable[bytes]) -> None:
        self._observer, self._source, self._bodies = observer, source, bodies
        self._token: contextvars.Token[tuple[str, int]] | None = None

    def __enter__(self) -> None:
        self._token = _current.set((self._source, self._observer._new_request()))
        for body in self._bodies:
            self._observer._write("in", body)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)


class Observer:
    """The observation log of node *me* in *path*; wrap a node with :attr:`middleware` and
    :meth:`router` (see :func:`session_core.testing.node_wrappers`), then :meth:`close`."""

    def __init__(self, me: str, path: Path, router: RouterFactory = OnionRouter) -> None:
        self.me = me
        self._inner_router = router
        self._out: IO[str] | None = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()  # HTTP and ZMQ handlers may share the file
        self._next = 0

    # -- what the wrappers record -------------------------------------------------------------

    def incoming(self, source: str, bodies: Iterable[bytes]) -> _Observed:
        """``with``-block of one incoming request (or of the relayed layers one ZMQ wakeup
        brought for one hop: peeled together, so they share one ``req``)."""
        return _Observed(self, source, bodies)

    def forwarded(self, to_ed25519: str, body: bytes) -> None:
        self._write("forward", body, to=to_ed25519)

    def storage(self, payload: bytes) -> None:
        self._write("storage", payload, pubkey=_pubkey_of(payload))

    def _new_request(self) -> int:
        self._next += 1
        return self._next

    def _write(self, event: str, body: bytes, **extra: Any) -> None:
        source, req = _current.get()
        line = {
            "t": int(time.time() * 1000), "node": self.me, "event": event, "source": source, "req": req,
            "sha256": hashlib.sha256(body).hexdigest(), "body_b64": base64.b64encode(body).decode("ascii"), **extra,
        }
        with self._lock:
            if self._out is None:
                return  # closed: the node is shutting down
            self._out.write(json.dumps(line) + "\n")
            self._out.flush()  # the test reads the file while the node still runs

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None

    # -- the wrappers -------------------------------------------------------------------------

    @property
    def middleware(self) -> Middleware:
        """An aiohttp middleware: a request posted straight to the node opens an observed
        request whose source is the poster's address (a direct storage RPC is also logged
        as ``storage``)."""

        @web.middleware
        async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.method != "POST" or request.path not in _OBSERVED_PATHS:
                return await handler(request)
            body = await request.read()  # aiohttp keeps it: the handler reads it again
            peer = request.transport.get_extra_info("peername") if request.transport else None
            port = peer[1] if isinstance(peer, tuple) and len(peer) >= 2 else None
            with self.incoming(f"client:{request.remote}:{port}", (body,)):
                if request.path == "/storage_rpc/v1":
                    self.storage(body)
                return await handler(request)

        return observe

    def router(
        self,
        x25519_secret: bytes,
        view: Callable[[], NetworkView | None],
        forward: Forward,
        storage: Storage,
        exit_post: ExitPost,
        forward_nowait: ForwardNowait | None = None,
    ) -> OnionHandler:
        """A :data:`~session_core.node.onion_relay.RouterFactory`: the node's router, built
        with transport that logs what it sends on, inside one that logs what comes in."""

        async def logged_forward(node: SnodeInfo, body: bytes, hop: int) -> tuple[int, bytes]:
            self.forwarded(node.ed25519, body)
            return await forward(node, body, hop)

        async def logged_storage(payload: bytes) -> Reply:
            self.storage(payload)
            return await storage(payload)

        logged_nowait: ForwardNowait | None = None
        if forward_nowait is not None:
            inner_nowait = forward_nowait

            def logged_nowait(
                node: SnodeInfo, body: bytes, hop: int, done: Callable[[list[bytes] | PeerRequestError], None]
            ) -> None:
                self.forwarded(node.ed25519, body)
                inner_nowait(node, body, hop, done)

        inner = self._inner_router(x25519_secret, view, logged_forward, logged_storage, exit_post, logged_nowait)
        return _ObservedRouter(self, inner)


class _ObservedRouter:
    """Opens an observed request around each relayed batch; HTTP requests were opened by the
    middleware already."""

    def __init__(self, observer: Observer, inner: OnionHandler) -> None:
        self._observer = observer
        self._inner = inner

    async def handle(self, body: bytes, hop: int = 0) -> tuple[int, bytes]:
        return await self._inner.handle(body, hop)

    def handle_batch(self, bodies: Sequence[bytes], hop: int, done: Sequence[Done]) -> None:
        with self._observer.incoming("node", bodies):
            self._inner.handle_batch(bodies, hop, done)

    def handle_peeled(self, results: Sequence[object], bodies: Sequence[bytes], hop: int, done: Sequence[Done]) -> None:
        with self._observer.incoming("node", bodies):
            self._inner.handle_peeled(results, bodies, hop, done)


def _pubkey_of(payload: bytes) -> str | None:
    try:
        params = json.loads(payload).get("params")
        key = params.get("pubKey") if isinstance(params, dict) else None
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return key if isinstance(key, str) else None


def read_observations(path: Path) -> list[dict[str, Any]]:
    """The lines of an observation log (a half-written last line is skipped)."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(dict(json.loads(line)))
        except ValueError:
            continue
    return out
