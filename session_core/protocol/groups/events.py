"""What the sans-IO :class:`~session_core.protocol.groups.state.Group` emits."""

from __future__ import annotations

from dataclasses import dataclass

from session_core.protocol.events import Event

__all__ = ["GroupLeaveRequested", "GroupMembersChanged", "GroupMessageReceived", "GroupOutgoing", "GroupRemoved"]


@dataclass(frozen=True)
class GroupOutgoing(Event):
    """A record for the driver to store, once, in the group's swarm (``group_id``)."""

    group_id: str
    data: bytes
    ttl_ms: int
    kind: str  # "keys", "roster" or "message"
    timestamp_ms: int


@dataclass(frozen=True)
class GroupMessageReceived(Event):
    group_id: str
    sender: str  # Session ID
    text: str
    sent_ms: int
    generation: int


@dataclass(frozen=True)
class GroupMembersChanged(Event):
    """A new generation is in force: these came, these went (Session IDs)."""

    group_id: str
    generation: int
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class GroupLeaveRequested(Event):
    """``member`` asked to leave; the admin answers with a rekey without them."""

    group_id: str
    member: str


@dataclass(frozen=True)
class GroupRemoved(Event):
    """We are not in ``generation``: kicked (or our leave was done). We read nothing after it."""

    group_id: str
    generation: int
