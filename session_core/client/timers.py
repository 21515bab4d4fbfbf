"""Disappearing-message settings per conversation, kept locally and synced across the account's
devices (docs/protections.md, docs/devices.md).

A single device keeps each conversation's setting in its database (``expire:<tag>``).  With
several devices the conversations config carries it too (``("v", sid, "expire")``, one string),
and the config wins: every device reads what the last edit on any device said, whether it came
from the user (:meth:`Client.set_disappearing`) or from the peer's timer update, which every
device of the account receives and writes alike.  The local value still answers for a
conversation no device has synced a setting for (set before the account had several devices).

After-read messages: the device where the user reads them starts their timers and shortens the
swarm's copies (:meth:`Client.mark_read`); the others learn it from the synced read mark
(:func:`follow_read_marks`) and start theirs when they learn it.
"""

from __future__ import annotations

from session_core.client.db import ClientDB
from session_core.client.devices import DeviceSync
from session_core.protocol.expiration import Expiration

__all__ = ["follow_read_marks", "put", "setting"]


def _key(db: ClientDB, peer: str) -> str:
    return "expire:" + db.tag(peer)


def setting(db: ClientDB, devices: DeviceSync | None, peer: str) -> Expiration | None:
    """The conversation's setting (None: messages stay); *peer* is a canonical Session ID."""
    if devices is not None:
        synced, value = devices.config.conversations.expiration(peer)
        if synced:
            return value
    saved = db.get(_key(db, peer))
    return Expiration.parse(saved) if isinstance(saved, str) else None


def put(db: ClientDB, devices: DeviceSync | None, peer: str, expire: Expiration | None) -> None:
    """Record the setting here and, with several devices, in the config (pushed by the caller)."""
    db.put(_key(db, peer), str(expire) if expire is not None else "off")
    if devices is not None:
        devices.config.conversations.set_expiration(peer, expire)
        devices.save()


def follow_read_marks(db: ClientDB, devices: DeviceSync, now_ms: int) -> int:
    """Start the after-read timers of received messages another device has read (the synced
    read mark of their conversation reached them); returns how many started.  The reading
    device already shortened the swarm's copies, to an earlier time than ours would be."""
    waiting = db.unread_timers()
    if not waiting:
        return 0
    conversations = devices.config.conversations
    read = {}
    for m in db.messages_by_id(sorted(waiting)):
        if m.get("dir") == "in" and isinstance(m.get("ts"), int) \
                and m["ts"] <= conversations.read_up_to(str(m.get("peer", ""))):
            read[int(m["id"])] = waiting[int(m["id"])]
    db.start_timers(read, now_ms)
    return len(read)
