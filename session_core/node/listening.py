"""Listening-node mailboxes for synchronous routing (whitepaper §4.6.2), plus the two small
client helpers a node answers besides the 2020 storage RPC: ``info`` (the node's clock, for
clients estimating their offset after a 406) and ``oxend_request``/``get_service_nodes`` (the
node's current service-node list, for clients refreshing theirs by consensus, §4.5).

Theory of operation
-------------------
An online client picks a node of its swarm as its *listening node*, draws a random 32-byte
``key`` and tells its contacts (inside an encrypted message) the node and
``mailbox = sha256(key)``.  Senders ``listen_put`` envelopes into the mailbox through an onion,
without proof of work; the owner ``listen_get``s them with the ``key`` (so knowing the mailbox
id lets you deposit but not read).  The node neither stores these on disk nor replicates them:
a mailbox lives in RAM within the bounds of :mod:`session_core.node.mailboxes` (envelopes and
bytes per mailbox and in all, expiry on a timer), and a deposit into a mailbox whose owner has
not polled lately (404) or that is full (429) is refused, so the sender falls back to the swarm
at once instead of waiting for an ack that cannot come.

Everything is sans-IO: :class:`ListeningMethods` gives the storage RPC's dispatcher
(:class:`~session_core.node.storage_rpc.StorageRPC`) one handler per method, which takes the
already parsed ``params`` and returns a :class:`Reply`; the request body is parsed once, there.
These methods are reached only as an onion's final destination or through
``/storage_rpc/v1``, exactly like ``store``.

A ``listen_get`` with ``wait`` (ms) that finds the mailbox empty is held
(:class:`~session_core.node.storage_rpc.Held`) until a ``listen_put`` into it succeeds (which
notifies the node's :class:`~session_core.node.waiters.Waiters`) or the wait ends, so a
deposit reaches a waiting owner at once instead of at its next poll.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from session_core.errors import RpcRejectedError
from session_core.node.mailboxes import MailboxLimits, Mailboxes
from session_core.node.network import NetworkView
from session_core.node.storage_rpc import _HEX, MAX_MESSAGE_BODY, Held, Reply, wait_param
from session_core.node.waiters import Waiters, mailbox_key
from session_core.chain.service_nodes import service_nodes_result
from session_core.protocol.mailbox import mailbox_id

__all__ = ["ListeningMethods", "Mailboxes", "mailbox_id", "METHODS"]

METHODS = frozenset({"listen_put", "listen_get", "info", "oxend_request"})


def _bad(text: str) -> Reply:
    return Reply(400, text + "\n", "text/plain")


def _service_nodes(view: NetworkView | None) -> Reply:
    if view is None:
        return Reply(503, "Service node is initializing\n", "text/plain")
    return Reply.json(200, service_nodes_result(view.height, view.block_hash, (n.to_chain_json() for n in view.nodes)))


class ListeningMethods:
    """:data:`METHODS` of one node, for the storage RPC's dispatcher (``StorageRPC(methods=...)``).

    *view* returns the node's current network view; *clock* returns milliseconds (the same
    clock the storage RPC uses).  Each method takes the request's ``params`` object, already
    parsed and known to be a dict, and returns the reply.
    """

    def __init__(self, view: Callable[[], NetworkView | None], clock: Callable[[], int],
                 limits: MailboxLimits | None = None, waiters: Waiters | None = None) -> None:
        self._view = view
        self._clock = clock
        self.mailboxes = Mailboxes(clock, limits)
        self.waiters = waiters if waiters is not None else Waiters()

    def table(self) -> dict[str, Callable[[dict[str, Any]], Reply | Held]]:
        """Method name -> handler, one entry per name in :data:`METHODS`."""
        return {
            "listen_put": self.listen_put,
            "listen_get": self.listen_get,
            "info": self.info,
            "oxend_request": self.oxend_request,
        }

    def info(self, params: dict[str, Any]) -> Reply:
        return Reply.json(200, {"t": self._clock()})

    def oxend_request(self, params: dict[str, Any]) -> Reply:
        if params.get("endpoint") != "get_service_nodes":
            return _bad("oxend_request: only get_service_nodes is supported")
        return _service_nodes(self._view())

    def listen_put(self, params: dict[str, Any]) -> Reply:
        mailbox, data = params.get("mailbox"), params.get("data")
        if not isinstance(mailbox, str) or len(mailbox) != 64 or not _HEX.issuperset(mailbox):
            return _bad("listen_put: `mailbox` must be 64 lowercase hex")
        if not isinstance(data, str) or not data or len(data) > MAX_MESSAGE_BODY:
            return _bad(f"listen_put: `data` must be a non-empty string of at most {MAX_MESSAGE_BODY} characters")
        reply = self.mailboxes.put(mailbox, data)
        if reply.status == 200:
            self.waiters.notify(mailbox_key(mailbox))  # the owner's held listen_get answers now
        return reply

    def listen_get(self, params: dict[str, Any]) -> Reply | Held:
        key_b64 = params.get("key")
        try:
            key = base64.b64decode(key_b64 if isinstance(key_b64, str) else "", validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            return _bad("listen_get: `key` must be 32 bytes, base64")
        try:
            wait = wait_param(params, "listen_get")
        except RpcRejectedError as exc:
            return Reply(exc.status, exc.body, exc.content_type)
        mid = mailbox_id(key)
        had = self.mailboxes.pending(mid)
        reply = self.mailboxes.get(key)
        if had or not wait or reply.status != 200:
            return reply

        def again(final: bool) -> Reply | None:
            return self.mailboxes.get(key) if final or self.mailboxes.pending(mid) else None

        return Held(reply, mailbox_key(mid), wait, self.waiters, again)
