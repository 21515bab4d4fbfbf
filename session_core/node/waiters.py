"""Requests a node holds until something arrives for them (long-poll), bounded. Sans-IO.

Theory of operation
-------------------
A client's ``listen_get`` (its listening mailbox) or ``retrieve`` (its swarm) may ask the node
to *wait* when there is nothing to give yet: the request is held until a deposit or a store
for its key arrives, or its deadline passes, and is answered then.  Delivery becomes
event-driven instead of bound to the client's polling interval, and a waiting client costs
the node a held connection and a timer, no work (issue 19).

:class:`Waiters` is the registry: ``hold(key, wake)`` registers a callback for a key
(``"m:<mailbox>"`` or ``"p:<pubkey>"``), ``notify(key)`` calls every callback registered for
it, ``release(ticket)`` removes one.  It decides nothing about time: the driver
(:mod:`session_core.node.long_poll`) arms the deadline and calls back.

Held requests are what an attacker would multiply, so they are bounded
(:class:`WaitLimits`, reasons in docs/performance.md):

- per node: past ``max_total`` a request is not held but answered at once with what there is
  (nothing) -- the protocol answer stays correct and honest clients fall back to polling;
- per key: past ``max_per_key`` the *oldest* held request is let go (answered at once with
  nothing), so an owner whose earlier request was lost on its path is never locked out by it,
  and one key cannot pile up requests.  A closed group's key (``03…``) is polled by every
  member, so it has its own bound, ``max_per_group`` (one request per member's device): with
  the per-account bound, members would push each other out and all fall back to polling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from session_core.errors import InvalidInputError
from session_core.protocol.groups.group_key import GROUP_ID_PREFIX

__all__ = ["MAX_WAIT_MS", "Ticket", "WaitLimits", "Waiters", "mailbox_key", "pubkey_key"]

#: Longest a node holds a request.  Below every deadline on an onion path (node-to-node
#: ONION_TIMEOUT 30 s, the C relay engine's deadline, the client's own timeout = wait plus
#: its request timeout) and below a mailbox's ``listen_ttl_ms`` (30 s), so a held owner is
#: never taken for gone.
MAX_WAIT_MS = 20_000


@dataclass(frozen=True, slots=True)
class WaitLimits:
    """How many requests one node holds (defaults and reasons: docs/performance.md)."""

    #: All held requests of the node: each is a connection and a small coroutine (a few KB).
    max_total: int = 4096
    #: Held requests of one key: a device or two per mailbox, a few devices per Session ID.
    max_per_key: int = 4
    #: Held requests of one closed group's key: a member holds one per polled swarm member,
    #: and groups have up to 1 000 members (issue 14).
    max_per_group: int = 1024

    def __post_init__(self) -> None:
        if self.max_total < 1 or self.max_per_key < 1 or self.max_per_group < 1:
            raise InvalidInputError("wait limits must be positive")


class Ticket:
    """One held request: its key, how to wake it, and whether it was let go early."""

    __slots__ = ("key", "wake", "evicted")

    def __init__(self, key: str, wake: Callable[[], None]) -> None:
        self.key = key
        self.wake = wake
        self.evicted = False


class Waiters:
    def __init__(self, limits: WaitLimits | None = None) -> None:
        self.limits = limits or WaitLimits()
        self._by_key: dict[str, list[Ticket]] = {}
        self._total = 0
        self.held = 0  # requests ever held
        self.refused = 0  # not held: the node was at max_total
        self.evicted = 0  # let go early: their key was at max_per_key
        self.woken = 0  # woken by an arrival

    def __len__(self) -> int:
        return self._total

    def waiting(self, key: str) -> int:
        return len(self._by_key.get(key, ()))

    def hold(self, key: str, wake: Callable[[], None]) -> Ticket | None:
        """Hold a request for *key*; None when the node holds its maximum already."""
        if self._total >= self.limits.max_total:
            self.refused += 1
            return None
        group = self._by_key.setdefault(key, [])
        if len(group) >= self._per_key(key):
            oldest = group.pop(0)
            self._total -= 1
            oldest.evicted = True
            self.evicted += 1
            oldest.wake()
        t = Ticket(key, wake)
        group.append(t)
        self._total += 1
        self.held += 1
        return t

    def _per_key(self, key: str) -> int:
        return self.limits.max_per_group if key.startswith(_GROUP_KEY) else self.limits.max_per_key

    def release(self, ticket: Ticket) -> None:
        """Forget a held request (answered, timed out or cancelled); idempotent."""
        group = self._by_key.get(ticket.key)
        if group is None or ticket not in group:
            return
        group.remove(ticket)
        self._total -= 1
        if not group:
            del self._by_key[ticket.key]

    def notify(self, key: str) -> int:
        """Something arrived for *key*: wake its held requests (they stay registered until
        released, so a wake that finds nothing new may wait on).  Returns how many."""
        group = self._by_key.get(key)
        if not group:
            return 0
        for t in list(group):
            t.wake()
        self.woken += len(group)
        return len(group)

    def wake_all(self) -> None:
        """Let every held request go (the node is stopping): each answers with what there is."""
        for group in list(self._by_key.values()):
            for t in list(group):
                t.evicted = True
                t.wake()

    def stats(self) -> dict[str, int]:
        return {"waiting": self._total, "keys": len(self._by_key), "held": self.held, "refused": self.refused,
                "evicted": self.evicted, "woken": self.woken}


def mailbox_key(mailbox: str) -> str:
    return "m:" + mailbox


def pubkey_key(pubkey: str) -> str:
    return "p:" + pubkey


_GROUP_KEY = pubkey_key(GROUP_ID_PREFIX)
