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

Everything is sans-IO apart from the node object it is attached to: :func:`handle` takes the
raw request body and returns a :class:`Reply`, or None for methods it does not own (the
storage RPC answers those).  It is reached only as an onion's final destination or through
``/storage_rpc/v1``, exactly like ``store``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from session_core.node.mailboxes import Mailboxes
from session_core.node.network import NetworkView
from session_core.node.storage_rpc import _HEX, MAX_MESSAGE_BODY, Reply
from session_core.protocol.mailbox import mailbox_id

__all__ = ["Mailboxes", "handle", "mailbox_id", "METHODS", "sweep"]

METHODS = frozenset({"listen_put", "listen_get", "info", "oxend_request"})
_METHOD_BYTES = tuple(m.encode() for m in METHODS)


class _NodeLike(Protocol):
    @property
    def view(self) -> NetworkView | None: ...


_boxes: weakref.WeakKeyDictionary[Any, Mailboxes] = weakref.WeakKeyDictionary()


def _now_ms() -> int:
    return int(time.time() * 1000)


def sweep(node: Any) -> int:
    """Expire the mailboxes of *node* (its purge loop calls this); envelopes dropped."""
    boxes = _boxes.get(node)
    return boxes.sweep() if boxes is not None else 0


def _bad(text: str) -> Reply:
    return Reply(400, text + "\n", "text/plain")


def _service_nodes(view: NetworkView | None) -> Reply:
    if view is None:
        return Reply(503, "Service node is initializing\n", "text/plain")
    states = [
        {"pubkey_ed25519": n.ed25519, "pubkey_x25519": n.x25519, "public_ip": n.ip,
         "storage_port": n.http_port, "storage_lmq_port": n.zmq_port, "swarm_id": n.swarm_id}
        for n in view.nodes
    ]
    return Reply.json(200, {"height": view.height, "block_hash": view.block_hash, "service_node_states": states})


def handle(node: _NodeLike, payload: bytes, clock: Callable[[], int] = _now_ms) -> Reply | None:
    """Answer ``payload`` if it is one of :data:`METHODS`, else None (not ours)."""
    # Cheap pre-filter: most requests are store/retrieve and need no second JSON parse.
    if not any(m in payload for m in _METHOD_BYTES):
        return None
    try:
        req = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(req, dict) or req.get("method") not in METHODS:
        return None
    params = req.get("params")
    if not isinstance(params, dict):
        return _bad("invalid json: `params` must be an object")
    method = req["method"]
    if method == "info":
        return Reply.json(200, {"t": clock()})
    if method == "oxend_request":
        if params.get("endpoint") != "get_service_nodes":
            return _bad("oxend_request: only get_service_nodes is supported")
        return _service_nodes(node.view)
    boxes = _boxes.get(node)
    if boxes is None:
        boxes = _boxes[node] = Mailboxes(clock)
    if method == "listen_put":
        mailbox, data = params.get("mailbox"), params.get("data")
        if not isinstance(mailbox, str) or len(mailbox) != 64 or not _HEX.issuperset(mailbox):
            return _bad("listen_put: `mailbox` must be 64 lowercase hex")
        if not isinstance(data, str) or not data or len(data) > MAX_MESSAGE_BODY:
            return _bad(f"listen_put: `data` must be a non-empty string of at most {MAX_MESSAGE_BODY} characters")
        return boxes.put(mailbox, data)
    key_b64 = params.get("key")
    try:
        key = base64.b64decode(key_b64 if isinstance(key_b64, str) else "", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        return _bad("listen_get: `key` must be 32 bytes, base64")
    return boxes.get(key)
