"""Bounded RAM mailboxes of a listening node (whitepaper §4.6.2 synchronous routing), sans-IO.

Theory of operation
-------------------
A deposit (``listen_put``) costs the sender no proof of work, so everything a mailbox may hold
must be bounded by the node, not by the sender's goodwill (issue 11: one ``listen_get`` then
256 deposits of 100 KB each per mailbox took a node from 122 MB to 1.1 GB over 40 mailboxes).
:class:`MailboxLimits` bounds, with the defaults and reasons in docs/security.md:

- how many mailboxes exist (a ``listen_get`` for a new key is refused with 503 at the cap,
  after dropping the mailboxes whose owner stopped polling);
- per mailbox: envelopes and bytes; a deposit that would pass either is refused with 429
  ("mailbox is full"), never by dropping envelopes already accepted;
- for the whole node: bytes in all mailboxes; a deposit past it is refused with 429 ("node's
  mailboxes are full").

Bytes are charged as ``len(data) + ITEM_OVERHEAD`` so that many tiny deposits cannot hide
their real cost (a Python string and a deque slot each take tens of bytes).  Every refusal
leaves the mailboxes unchanged, and the sender falls back to its peer's swarm at once.

Expiry runs on a timer: :meth:`Mailboxes.sweep` drops envelopes older than ``item_ttl_ms``
and mailboxes whose owner has not polled within ``listen_ttl_ms`` and returns their bytes to
the budget.  The node calls it from its purge loop; every put/get also sweeps when
``sweep_interval_ms`` has passed since the last sweep, so a node that is never asked to purge
stays bounded all the same.  Envelopes of one mailbox all live ``item_ttl_ms``, so each queue
is ordered by expiry and a sweep only looks at the expired heads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from session_core.errors import InvalidInputError
from session_core.node.storage_rpc import Reply
from session_core.protocol.mailbox import mailbox_id

__all__ = ["ITEM_OVERHEAD", "MailboxLimits", "Mailboxes"]

#: Bytes charged per envelope on top of its data (str object, tuple, deque slot).
ITEM_OVERHEAD = 128


@dataclass(frozen=True, slots=True)
class MailboxLimits:
    """What one node keeps in listening mailboxes (defaults and reasons: docs/security.md)."""

    #: Envelopes waiting in one mailbox; an owner polls every few seconds, so a few hundred is
    #: a burst from many contacts, not a backlog.
    max_items: int = 256
    #: Bytes waiting in one mailbox: ten maximum-size envelopes, or hundreds of text messages.
    max_box_bytes: int = 1024 * 1024
    #: Bytes waiting in all mailboxes of the node together.
    max_total_bytes: int = 64 * 1024 * 1024
    max_mailboxes: int = 4096
    #: An envelope not collected in this time is dropped (its sender fell back to the swarm).
    item_ttl_ms: int = 60_000
    #: An owner that has not polled for this long is offline: deposits are refused (404) and
    #: its mailbox is dropped at the next sweep.
    listen_ttl_ms: int = 30_000
    sweep_interval_ms: int = 1_000

    def __post_init__(self) -> None:
        if min(self.max_items, self.max_box_bytes, self.max_total_bytes, self.max_mailboxes,
               self.item_ttl_ms, self.listen_ttl_ms, self.sweep_interval_ms) < 1:
            raise InvalidInputError("mailbox limits must be positive")


def _cost(data: str) -> int:
    return len(data) + ITEM_OVERHEAD


@dataclass
class _Box:
    polled_ms: int
    nbytes: int = 0
    items: deque[tuple[int, str]] = field(default_factory=deque)  # (expiry ms, data b64)


def _refused(status: int, text: str) -> Reply:
    return Reply(status, text + "\n", "text/plain")


class Mailboxes:
    """The RAM mailboxes of one node; ``clock`` returns milliseconds."""

    def __init__(self, clock: Callable[[], int], limits: MailboxLimits | None = None) -> None:
        self._clock = clock
        self.limits = limits or MailboxLimits()
        self._boxes: dict[str, _Box] = {}
        self._total = 0
        self._last_sweep = clock()
        self.delivered = 0
        self.refused = 0

    # -- what it holds (for /status and tests) ----------------------------------------------------

    @property
    def total_bytes(self) -> int:
        """Bytes charged for every envelope waiting in any mailbox."""
        return self._total

    def __len__(self) -> int:
        return len(self._boxes)

    def pending(self, mailbox: str) -> int:
        """Envelopes waiting in *mailbox* (0 if there is no such mailbox)."""
        box = self._boxes.get(mailbox)
        return len(box.items) if box is not None else 0

    # -- requests ---------------------------------------------------------------------------------

    def put(self, mailbox: str, data: str) -> Reply:
        now = self._clock()
        self._maybe_sweep(now)
        lim = self.limits
        box = self._boxes.get(mailbox)
        if box is None or now - box.polled_ms > lim.listen_ttl_ms:
            return _refused(404, "No listener for this mailbox")
        cost = _cost(data)
        if len(box.items) >= lim.max_items or box.nbytes + cost > lim.max_box_bytes:
            self.refused += 1
            return _refused(
                429, f"mailbox is full ({len(box.items)} envelopes, {box.nbytes} of {lim.max_box_bytes} bytes):"
                     " send through the swarm",
            )
        if self._total + cost > lim.max_total_bytes:
            self.refused += 1
            return _refused(
                429, f"this node's mailboxes are full ({self._total} of {lim.max_total_bytes} bytes):"
                     " send through the swarm",
            )
        box.items.append((now + lim.item_ttl_ms, data))
        box.nbytes += cost
        self._total += cost
        return Reply.json(200, {"queued": len(box.items)})

    def get(self, key: bytes) -> Reply:
        now = self._clock()
        self._maybe_sweep(now)
        mid = mailbox_id(key)
        box = self._boxes.get(mid)
        if box is None:
            if len(self._boxes) >= self.limits.max_mailboxes:
                self.sweep(now)
            if len(self._boxes) >= self.limits.max_mailboxes:
                return _refused(503, "Too many listeners")
            box = self._boxes[mid] = _Box(now)
        box.polled_ms = now
        out = [d for exp, d in box.items if exp > now]
        self._total -= box.nbytes
        box.items.clear()
        box.nbytes = 0
        self.delivered += len(out)
        return Reply.json(200, {"messages": out})

    # -- expiry -----------------------------------------------------------------------------------

    def sweep(self, now: int | None = None) -> int:
        """Drop expired envelopes and mailboxes of owners gone offline; returns envelopes dropped."""
        now = self._clock() if now is None else now
        self._last_sweep = now
        dropped = 0
        for mid in list(self._boxes):
            box = self._boxes[mid]
            while box.items and box.items[0][0] <= now:
                _, data = box.items.popleft()
                box.nbytes -= _cost(data)
                self._total -= _cost(data)
                dropped += 1
            if now - box.polled_ms > self.limits.listen_ttl_ms:
                dropped += len(box.items)
                self._total -= box.nbytes
                del self._boxes[mid]
        return dropped

    def _maybe_sweep(self, now: int) -> None:
        if now - self._last_sweep >= self.limits.sweep_interval_ms:
            self.sweep(now)
