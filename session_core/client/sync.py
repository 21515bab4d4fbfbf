"""Synchronous routing (whitepaper §4.6.2), the client side.

An online client listens on one node of its own swarm: it draws a mailbox read key, asks
``listen_get`` there through onions (a long-poll: with ``wait`` the node holds the request until
a deposit arrives or the wait ends, so a message is handed over as soon as it lands), and tells its contacts ``<node ed25519>/<mailbox id>``
inside the encrypted ``LokiAddressMessage`` (the node port goes in ``p2pPort``). A contact
that knows a fresh route sends envelopes with ``listen_put`` (no proof of work) and waits for
the receiver's delivery receipt, the ack; if it does not come in time, the same envelope is
stored in the swarm and the route is forgotten until the peer advertises again.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass

from session_core.client.onion_client import OnionClient, RpcResult
from session_core.client.snode import Snode
from session_core.errors import OnionRequestFailedError
from session_core.protocol.mailbox import mailbox_id

__all__ = ["Listener", "PeerRoute", "parse_route"]

_ROUTE = re.compile(r"^([0-9a-f]{64})/([0-9a-f]{64})$")


@dataclass(frozen=True)
class PeerRoute:
    node_ed25519: str
    mailbox: str


def parse_route(address: str) -> PeerRoute | None:
    m = _ROUTE.match(address)
    return PeerRoute(m.group(1), m.group(2)) if m else None


class Listener:
    """Our own listening mailbox on ``node``."""

    def __init__(self, node: Snode, key: bytes | None = None) -> None:
        self.node = node
        self.key = key or os.urandom(32)
        self.mailbox = mailbox_id(self.key)

    @property
    def address(self) -> str:
        return f"{self.node.ed25519}/{self.mailbox}"

    async def fetch(self, oc: OnionClient, wait_ms: int = 0) -> list[bytes]:
        """What waits in our mailbox; with *wait_ms*, the node may hold the request that long
        for a deposit (the request's timeout grows by as much)."""
        params: dict[str, object] = {"key": base64.b64encode(self.key).decode()}
        if wait_ms:
            params["wait"] = wait_ms
        r = await oc.request(self.node, "listen_get", params, attempts=1, timeout=oc.timeout + wait_ms / 1000)
        if r.status != 200:
            raise OnionRequestFailedError(f"listening node answered {r.status}")
        out = []
        for item in json.loads(r.body).get("messages", []):
            try:
                out.append(base64.b64decode(item, validate=True))
            except (ValueError, TypeError):
                continue  # a node inventing garbage: the ratchet would reject it anyway
        return out


async def deliver(oc: OnionClient, node: Snode, route: PeerRoute, data: bytes) -> RpcResult:
    """Drop an envelope in a peer's mailbox; the caller waits for the ack separately."""
    return await oc.request(node, "listen_put", {"mailbox": route.mailbox, "data": base64.b64encode(data).decode()},
                            attempts=2)
