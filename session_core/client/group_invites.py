"""Group invitations received through 1:1 conversations, kept until the user accepts or
declines them (one per group: a newer invitation to the same group replaces the older)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from session_core.client.db import ClientDB
from session_core.protocol.events import GroupInviteReceived

__all__ = ["PendingInvite", "forget", "pending", "remember"]

_KEY = "group_invites"
#: Invitations kept at most (the oldest go first): a contact cannot fill the database with them.
MAX_PENDING = 256


@dataclass(frozen=True)
class PendingInvite:
    group_id: str
    sender: str
    name: str
    timestamp_ms: int


def _load(db: ClientDB) -> dict[str, dict[str, Any]]:
    saved = db.get(_KEY)
    return saved if isinstance(saved, dict) else {}


def remember(db: ClientDB, ev: GroupInviteReceived) -> None:
    invites = _load(db)
    old = invites.get(ev.group_id)
    if old is not None and int(old["ts"]) >= ev.timestamp_ms:
        return
    invites[ev.group_id] = {"from": ev.sender, "name": ev.name, "ts": ev.timestamp_ms}
    while len(invites) > MAX_PENDING:
        del invites[min(invites, key=lambda gid: int(invites[gid]["ts"]))]
    db.put(_KEY, invites)


def pending(db: ClientDB) -> list[PendingInvite]:
    """The invitations not answered yet, oldest first."""
    items = [PendingInvite(gid, d["from"], d["name"], int(d["ts"])) for gid, d in _load(db).items()]
    return sorted(items, key=lambda p: p.timestamp_ms)


def forget(db: ClientDB, group_id: str) -> PendingInvite | None:
    """Drop the invitation to ``group_id``; returns it (None if there was none)."""
    invites = _load(db)
    d = invites.pop(group_id.lower(), None)
    if d is None:
        return None
    db.put(_KEY, invites)
    return PendingInvite(group_id.lower(), d["from"], d["name"], int(d["ts"]))
