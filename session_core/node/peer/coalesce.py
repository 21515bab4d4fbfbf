"""Frames for one peer sent in one pass of the event loop go as one message (a wire batch).

Why: libzmq and CURVE cost a fixed amount per message, a third of a relayed hop (see
``wire.py``'s "Batches").  A busy node answers many requests of one asker, or sends many
requests to one next hop, in one pass of the loop.

How: the first frame for a destination in a pass goes at once (a lone request or reply waits
for nothing, and a send that fails, with no live pipe yet, fails to its caller as before);
the ones after it are held until the end of the pass, then sent as batches of at most
:data:`~session_core.node.wire.MAX_BATCH` frames and :data:`BATCH_BYTES` bytes.  A frame
that is itself a batch, or large (zero-copy), is sent on its own.

Only to peers that read batches: every node socket advertises it in its ZMTP handshake
(the ``X-SC-Batch`` metadata property, :func:`advertise`), and a peer gets batches only once
a message from it carried the property (:func:`advertised`).  Nodes of a version before
batches neither advertise nor get any, so a network can be upgraded one node at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import zmq

from session_core.node import wire
from session_core.node.peer.pump import ZERO_COPY_BYTES

__all__ = ["BATCH_BYTES", "BATCH_PROPERTY", "SendCoalescer", "advertise", "advertised", "pack"]

#: Most bytes of frames in one batch (a batch is copied once more than a lone frame).
BATCH_BYTES = 1 << 20
#: How soon a batch that met a full queue is tried again (as PeerServer's outbox retry).
RETRY_DELAY = 0.002

#: The ZMTP metadata property by which a node says it reads batches.
BATCH_PROPERTY = "X-SC-Batch"

K = TypeVar("K", bound=Hashable)


def advertise(sock: zmq.Socket[Any]) -> None:
    """Say in *sock*'s handshakes that we read batches (set before it binds or connects)."""
    try:
        sock.setsockopt(zmq.METADATA, f"{BATCH_PROPERTY}:1".encode())
    except (AttributeError, zmq.ZMQError):  # libzmq < 4.3: peers will not batch to us
        pass


def advertised(frame: zmq.Frame) -> bool:
    """True if the peer that sent *frame* (received with ``copy=False``) reads batches."""
    try:
        return str(frame.get(BATCH_PROPERTY)) == "1"
    except zmq.ZMQError:  # the property is absent
        return False


def pack(frames: list[bytes]) -> list[bytes]:
    """The messages that carry *frames*, in order: batches, and lone frames where a batch
    would not help (one frame, a large one, or one that is a batch already)."""
    out: list[bytes] = []
    run: list[bytes] = []
    size = 0

    def close_run() -> None:
        nonlocal size
        if run:
            out.append(run[0] if len(run) == 1 else wire.encode_batch(run))
            run.clear()
            size = 0

    for f in frames:
        if len(f) >= ZERO_COPY_BYTES or wire.is_batch(f):
            close_run()
            out.append(f)
            continue
        if len(run) == wire.MAX_BATCH or (run and size + len(f) > BATCH_BYTES):
            close_run()
        run.append(f)
        size += len(f)
    close_run()
    return out


class SendCoalescer(Generic[K]):
    """Holds frames per destination key until the end of the loop pass (see the module doc);
    *can_batch(key)* says whether that destination gets them as batches or one by one.

    *send(key, frame)* puts one message on the wire; it may raise ``zmq.Again`` (a full
    queue: the held messages are tried again shortly, in order) or another ``zmq.ZMQError``
    (the socket is gone: what is held for that key is dropped, as a lone send's would be).
    """

    def __init__(self, send: Callable[[K, bytes], None], can_batch: Callable[[K], bool]) -> None:
        self._send = send
        self._can_batch = can_batch  # does the destination read batches?
        self._held: dict[K, list[bytes]] | None = None  # None: no pass open

    def send(self, key: K, frame: bytes) -> None:
        held = self._held
        if held is None:
            self._held = held = {}
            asyncio.get_running_loop().call_soon(self._flush)
        frames = held.get(key)
        if frames is None:
            self._send(key, frame)  # raises to the caller: nothing is held for a dead pipe
            held[key] = []
        else:
            frames.append(frame)

    def _flush(self) -> None:
        held, self._held = self._held, None
        for key, frames in (held or {}).items():
            if frames:
                self._send_in_order(key, pack(frames) if self._can_batch(key) else frames)

    def _send_in_order(self, key: K, messages: list[bytes]) -> None:
        for i, m in enumerate(messages):
            try:
                self._send(key, m)
            except zmq.Again:
                rest = messages[i:]
                asyncio.get_running_loop().call_later(RETRY_DELAY, self._send_in_order, key, rest)
                return
            except zmq.ZMQError:
                return
