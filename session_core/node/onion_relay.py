"""Onion request handling on a node (INTEROP §3.3-3.5): peel one layer, then relay,
answer as the final destination, or exit to a server.

The crypto and framing are :mod:`session_core.onion`; this module only decides
what to do with a peeled layer and maps failures to the §3.4 status codes and
texts.  Transport is injected (``forward`` over ZMQ, ``exit_post`` over HTTP),
so the decisions can be tested without sockets.  A relaying node never logs
where a request came from next to where it goes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from session_core import onion
from session_core.errors import OnionError, PeerRequestError, PeerTimeoutError
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.storage_rpc import Reply

log = logging.getLogger("session_core.node.onion")

Forward = Callable[[SnodeInfo, bytes, int], Awaitable[tuple[int, bytes]]]
ExitPost = Callable[[onion.Exit], Awaitable[tuple[int, bytes]]]


class OnionRouter:
    def __init__(
        self,
        x25519_secret: bytes,
        view: Callable[[], NetworkView | None],
        forward: Forward,
        storage: Callable[[bytes], Awaitable[Reply]],
        exit_post: ExitPost,
    ) -> None:
        self._secret = x25519_secret
        self._view = view
        self._forward = forward
        self._storage = storage
        self._exit_post = exit_post

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
            try:
                return await self._forward(nxt, step.body, step.hop)
            except PeerTimeoutError:
                return 504, b"Request time out"
            except PeerRequestError:
                return 500, b"Invalid response from snode"
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
