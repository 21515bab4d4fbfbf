"""The node's onion relay fast path: the C engine of ``csrc/relay.c`` on the node's sockets.

Theory of operation
-------------------
The engine reads the node's ROUTER socket in place of :class:`~session_core.node.peer.PeerServer`'s
reader.  An ``onion`` request whose layer peels to a relay towards a node we have a *route*
to (a live connection, below) is forwarded by the engine itself; every other message comes
back to the Python code exactly as the plain reader would have produced it (with the peel
result when the engine already peeled it, so no layer is decrypted twice).  Replies to the
engine's requests are read from the route's DEALER by the engine and returned to the asker;
replies to Python's own requests on that socket are passed through.

Routes are learnt, never guessed: requests towards a node go the Python way (which opens
the connection and waits for the handshake) until that connection has answered one; then
:meth:`FastRelay.learn` hands it to the engine.  A route is dropped when the
connection closes (``PeerClient.on_forget``) or the node leaves the network or changes
address (:meth:`FastRelay.on_view`).  Requests in flight on a dropped route are answered
504 at their deadline, as a lost reply would be.  A sweep answers 504 on the engine's
deadlines and drops connections that answered nothing since (as ``PeerClient`` does).

Each decision the engine takes is the one the Python path takes (same status codes and
texts); ``tests/test_fast_relay.py`` runs both on the same traffic.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from dataclasses import dataclass
from typing import Any

import zmq

from session_core._backend import NO_EXTENSIONS
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.peer import READ_BATCH, PeerClient, PeerConnection, PeerKey, PeerServer, Reader

log = logging.getLogger("session_core.node.relay")

SWEEP_INTERVAL = 0.25  # seconds between deadline checks (as PeerClient's own sweep)

_load_error: str | None = None


def _engine_module() -> Any:
    global _load_error
    if NO_EXTENSIONS:
        _load_error = "SESSION_CORE_NO_EXTENSIONS is set"
        return None
    try:
        return importlib.import_module("session_core.node._relay_c"), importlib.import_module("session_core.onion._onion_c")
    except ImportError as exc:
        _load_error = str(exc)
        return None


def backend_info() -> dict[str, Any]:
    """Whether nodes relay onion requests in C, and on which libzmq."""
    mods = _engine_module()
    if mods is None:
        return {"implementation": "python", "reason": _load_error}
    return {"implementation": "c", "libzmq": mods[0].LIBZMQ_PATH, "libsodium_path": mods[1].default.path}


def _peer_key(node: SnodeInfo) -> PeerKey:
    """How :class:`PeerClient` names the connection to *node*."""
    return (node.x25519, node.ip, node.zmq_port)


@dataclass(frozen=True)
class _Route:
    ed25519: str
    conn: PeerConnection


class FastRelay:
    """The engine wired to one node's :class:`PeerServer` and :class:`PeerClient`."""

    def __init__(self, engine: Any, server: PeerServer, client: PeerClient) -> None:
        self.engine = engine
        self._server = server
        self._client = client
        self._slots: dict[str, int] = {}  # next node's Ed25519 (hex) -> route slot
        self._routes: dict[int, _Route] = {}  # slot -> what the engine sends on
        self._by_conn: dict[PeerConnection, int] = {}  # connection -> its slot
        self._sweeper: asyncio.Task[None] | None = None
        client.on_forget = self._forgotten

    @classmethod
    def create(cls, x25519_secret: bytes, server: PeerServer, client: PeerClient, timeout: float) -> FastRelay | None:
        """The engine for a node, or None (logged) where it cannot run: the node relays in Python."""
        mods = _engine_module()
        if mods is None:
            log.info("onion relay in Python: %s", _load_error)
            return None
        relay_c, onion_c = mods
        engine = relay_c.RelayEngine(onion_c.default.path, x25519_secret, server.socket, timeout, READ_BATCH)
        return cls(engine, server, client)

    def start(self) -> None:
        """Serve the node's ROUTER through the engine (instead of ``server.start()``)."""
        self._server.start(self._read_router)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for slot in list(self._routes):
            self._drop(slot)

    # -- reading ------------------------------------------------------------------------------

    def _read_router(self, sock: zmq.Socket[Any], limit: int) -> tuple[list[Any], bool]:
        left, touched, more = self.engine.read_router(limit)
        for slot in touched:
            self._routes[slot].conn.kick()
        for ident in self.engine.last_batching:  # (Python answers them: batches if they read them)
            self._server.learn_batching(ident)
        return left, more

    def _dealer_reader(self, conn: PeerConnection, slot: int) -> Reader:
        engine, server = self.engine, self._server

        def read(sock: zmq.Socket[Any], limit: int) -> tuple[list[Any], bool]:
            frames, consumed, queued, router_touched, more = engine.read_dealer(slot, limit)
            conn.count_replies(consumed)
            for ident, frame in queued:
                server.queue_reply(ident, frame)
            if router_touched:
                server.kick()
            return frames, more

        return read

    # -- routes -------------------------------------------------------------------------------

    def has_route(self, ed25519: str) -> bool:
        return ed25519 in self._slots

    def learn(self, node: SnodeInfo) -> None:
        """Give the engine the connection to *node* if it has proven itself (answered)."""
        if node.ed25519 in self._slots:
            return
        conn = self._client.connection(*_peer_key(node))
        if conn is None or not conn.answered:
            return
        slot = self.engine.add_route(bytes.fromhex(node.ed25519), conn.socket, conn.batches)
        if slot < 0:
            return  # the table is full: this next hop stays on the Python path
        self._slots[node.ed25519] = slot
        self._routes[slot] = _Route(node.ed25519, conn)
        self._by_conn[conn] = slot
        conn.take_over_reading(self._dealer_reader(conn, slot))

    def on_view(self, view: NetworkView) -> None:
        """Drop the routes to nodes that left the network or moved."""
        for slot, route in list(self._routes.items()):
            node = view.node(route.ed25519)
            if node is None or _peer_key(node) != route.conn.key:
                self._drop(slot)

    def _forgotten(self, conn: PeerConnection) -> None:
        slot = self._by_conn.get(conn)
        if slot is not None:
            self._drop(slot)

    def _drop(self, slot: int) -> None:
        route = self._routes.pop(slot)
        del self._slots[route.ed25519]
        del self._by_conn[route.conn]
        self.engine.remove_route(slot)
        route.conn.release_reading()

    # -- deadlines ----------------------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            queued, silent, router_touched = self.engine.expire()
            for ident, frame in queued:
                self._server.queue_reply(ident, frame)
            if router_touched:
                self._server.kick()
            for slot in silent:
                if slot in self._routes:
                    self._client.forget(*self._routes[slot].conn.key)  # nothing came back at all: start afresh

    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = self.engine.stats()
        return stats


__all__ = ["FastRelay", "backend_info"]
