"""Node-to-node transport: ZMQ ROUTER/DEALER with CURVE, driven from asyncio (thin I/O driver).

Inside: ``pump`` (reading and writing frames from the loop, in batches), ``server`` (a node's
CURVE ROUTER, ZAP admission, handlers), ``connection`` (one DEALER to one peer and the requests
waiting on it; the relay engine can take over its reading) and ``client`` (opening connections,
requests with deadlines and retries).  Frames are :mod:`session_core.node.wire` messages.

Commands (all bytes): ``data`` (replication batch), ``onion`` (relay one onion layer),
``storage_test``, ``catchup`` (send me what you hold for my swarm), ``ping``.
"""

from session_core.node.peer.client import DEFAULT_TIMEOUT, PeerClient, describe, ok
from session_core.node.peer.connection import CallbackRequest, PeerConnection, PeerKey, ReplyCallback
from session_core.node.peer.pump import READ_BATCH, FramePump, Reader, reading
from session_core.node.peer.server import BatchHandler, Handler, Incoming, PeerServer

__all__ = [
    "DEFAULT_TIMEOUT",
    "READ_BATCH",
    "BatchHandler",
    "CallbackRequest",
    "FramePump",
    "Handler",
    "Incoming",
    "PeerClient",
    "PeerConnection",
    "PeerKey",
    "PeerServer",
    "Reader",
    "ReplyCallback",
    "describe",
    "ok",
    "reading",
]
