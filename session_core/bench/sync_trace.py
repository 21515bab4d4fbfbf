"""Where the time of one synchronous message goes: instants along its way, from two clients.

Theory of operation
-------------------
:func:`instrument` wraps a few attributes of one :class:`~session_core.client.Client`
*instance* (never the class, never a production module): the Messenger's encrypt and decrypt,
the client's state save, the onion client's request and the transport's POST, the listening
mailbox's fetch, the database transaction and the event emitter.  Each wrapper notes
``time.perf_counter()`` under a name into the :class:`Trace` of the message being measured.
``perf_counter`` is CLOCK_MONOTONIC, and both clients run in the bench's process, so every
instant is on one clock.

The sender's ``listen_put`` reaches the node at an instant we do not see; its midpoint (half
of the POST there, half back) stands in for it.  Everything else is measured.  The phases
(:data:`PHASES`) add up to sent -> shown; :func:`breakdown` gives each one's median.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from session_core.client import Client

__all__ = ["PHASES", "TOTALS", "Trace", "Tracer", "breakdown", "instrument"]


@dataclass
class Trace:
    """Instants (perf_counter seconds) of one message, first occurrence of each name kept."""

    at: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str, t: float | None = None) -> None:
        self.at.setdefault(name, time.perf_counter() if t is None else t)


#: (phase, from instant, to instant), in the order a sync message lives them.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("sender: lock + encrypt/pad/sign", "sent", "encrypted"),
    ("sender: durable commit (fsync)", "encrypted", "saved"),
    ("sender: to the onion POST (build)", "saved", "put_post"),
    ("network: listen_put there (1/2 RT)", "put_post", "put_at_node"),
    ("network: wake + held answer back", "put_at_node", "get_answered"),
    ("receiver: open onion reply, parse", "get_answered", "fetched"),
    ("receiver: to ingest + lock", "fetched", "decrypt_start"),
    ("receiver: ratchet decrypt", "decrypt_start", "decrypted"),
    ("receiver: rows + commit", "decrypted", "committed"),
    ("receiver: to shown", "committed", "shown"),
    ("ack: receipt encrypt + commit", "shown", "ack_saved"),
    ("ack: receipt to sender's ingest", "ack_saved", "ack_fetched"),
    ("ack: sender ingests receipt", "ack_fetched", "acked"),
    ("sender: send_text returns", "acked", "done"),
)
#: Spans over several phases, to check that the phases add up.
TOTALS: tuple[tuple[str, str, str], ...] = (
    ("total: sent -> shown", "sent", "shown"),
    ("total: sent -> done (acked)", "sent", "done"),
    ("network part: listen_put POST -> held answer", "put_post", "get_answered"),
)


class Tracer:
    """The trace of the message in flight (the bench measures one at a time)."""

    def __init__(self) -> None:
        self.current: Trace | None = None
        self.done: list[Trace] = []

    def start(self) -> Trace:
        self.current = Trace()
        self.current.mark("sent")
        return self.current

    def finish(self) -> None:
        if self.current is not None:
            self.current.mark("done")
            self.done.append(self.current)
        self.current = None

    def mark(self, name: str, t: float | None = None) -> None:
        if self.current is not None:
            self.current.mark(name, t)


def _wrap_async(obj: Any, attr: str, before: Callable[..., None] | None, after: Callable[..., None] | None) -> None:
    inner = getattr(obj, attr)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before is not None:
            before(*args, **kwargs)
        out = await inner(*args, **kwargs)
        if after is not None:
            after(out, *args, **kwargs)
        return out

    setattr(obj, attr, wrapped)


def _wrap_sync(obj: Any, attr: str, before: Callable[..., None] | None, after: Callable[..., None] | None) -> None:
    inner = getattr(obj, attr)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before is not None:
            before(*args, **kwargs)
        out = inner(*args, **kwargs)
        if after is not None:
            after(out, *args, **kwargs)
        return out

    setattr(obj, attr, wrapped)


def instrument(tr: Tracer, sender: Client, receiver: Client) -> None:
    """Wrap the two clients' instances so the message in flight gets its instants."""
    state = {"sender_put": False, "receiver_put": False}

    # Sender: encrypt, durable save, the listen_put's POST (there and back).
    _wrap_sync(sender.messenger, "send_text", lambda *a, **k: tr.mark("locked"), lambda *a, **k: tr.mark("encrypted"))
    # Durable: the save itself, or (client/durable.py) the fsync awaited after it.
    if hasattr(sender, "disk"):
        _wrap_async(sender.disk, "flush", None, lambda *a, **k: tr.mark("saved"))
    else:
        _wrap_sync(sender, "_save", None, lambda *a, **k: tr.mark("saved"))

    def sender_req_before(dest: Any, method: str, *a: Any, **k: Any) -> None:
        state["sender_put"] = method == "listen_put"

    _wrap_async(sender.oc, "request", sender_req_before, None)

    def sender_post_before(*a: Any, **k: Any) -> None:
        if state["sender_put"]:
            tr.mark("put_post")
            state["sender_post_t0"] = time.perf_counter()  # type: ignore[assignment]

    def sender_post_after(*a: Any, **k: Any) -> None:
        if state["sender_put"]:
            state["sender_put"] = False
            t0 = float(state.pop("sender_post_t0", 0.0))
            t1 = time.perf_counter()
            tr.mark("put_answered", t1)
            tr.mark("put_at_node", (t0 + t1) / 2)

    _wrap_async(sender.transport, "post", sender_post_before, sender_post_after)

    # Receiver: the held listen_get comes back, the envelope is opened, decrypted, committed, shown.
    assert receiver.listener is not None
    inner_post = receiver.transport.post

    async def receiver_post(url: str, body: bytes, timeout: float) -> Any:
        out = await inner_post(url, body, timeout)
        state["receiver_post_t1"] = time.perf_counter()  # type: ignore[assignment]
        return out

    receiver.transport.post = receiver_post  # type: ignore[method-assign]

    def fetched(got: list[bytes], *a: Any, **k: Any) -> None:
        if got:
            tr.mark("get_answered", float(state.get("receiver_post_t1", time.perf_counter())))
            tr.mark("fetched")

    _wrap_async(receiver.listener, "fetch", None, fetched)
    _wrap_sync(receiver.messenger, "receive", lambda *a, **k: tr.mark("decrypt_start"),
               lambda *a, **k: tr.mark("decrypted"))
    inner_tx = receiver.db.transaction

    @contextlib.contextmanager
    def tx(*, durable: bool = False) -> Iterator[None]:
        with inner_tx(durable=durable):
            yield
        if tr.current is not None and "decrypted" in tr.current.at:
            tr.mark("committed")

    receiver.db.transaction = tx  # type: ignore[method-assign]

    def emitted(out: Any, e: Any) -> None:
        if getattr(e, "kind", "") == "message":
            tr.mark("shown")

    _wrap_sync(receiver, "_emit", None, emitted)
    _wrap_sync(receiver.messenger, "send_receipt", None, lambda *a, **k: tr.mark("ack_encrypted"))
    def ack_saved(*a: Any, **k: Any) -> None:
        if tr.current is not None and "ack_encrypted" in tr.current.at:
            tr.mark("ack_saved")

    if hasattr(receiver, "disk"):
        _wrap_async(receiver.disk, "flush", None, ack_saved)
    else:
        _wrap_sync(receiver, "_save", None, ack_saved)

    # Sender again: its mailbox brings the receipt, ingesting it sets the ack.
    assert sender.listener is not None

    def ack_fetched(got: list[bytes], *a: Any, **k: Any) -> None:
        if got and tr.current is not None and "ack_saved" in tr.current.at:
            tr.mark("ack_fetched")

    _wrap_async(sender.listener, "fetch", None, ack_fetched)

    def receipt_in(out: Any, *a: Any, **k: Any) -> None:
        if tr.current is not None and "ack_fetched" in tr.current.at:
            tr.mark("acked")

    _wrap_sync(sender.messenger, "receive", None, receipt_in)


def breakdown(traces: list[Trace]) -> list[tuple[str, float, float, int]]:
    """(phase, median ms, p90 ms, samples) for each of :data:`PHASES` the traces saw."""
    rows = []
    for name, a, b in PHASES + TOTALS:
        xs = sorted((t.at[b] - t.at[a]) * 1000 for t in traces if a in t.at and b in t.at)
        if xs:
            rows.append((name, statistics.median(xs), xs[min(len(xs) - 1, int(0.9 * (len(xs) - 1) + 0.5))], len(xs)))
    return rows
