"""Pinned messages (pysogs' ``/room/T/pin/ID``, ``/unpin/ID``, ``/unpin/all``).

A room's admins pin ordinary messages (not deleted, not whispers).  Room info lists the pins
oldest first (``pinned_messages: [{id, pinned_at, pinned_by}]``); pinning a pinned message
again moves it to the end with the new time and admin, which is how admins reorder pins.
Every pin, re-pin and unpin (also the unpin a deletion causes) adds one to the room's
``info_updates``, as pysogs' triggers do, so clients polling room info learn of it.  The files
of a pinned post do not expire; unpinned, they are kept ``file_ttl`` from their upload (pysogs:
15 days from upload).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from session_core.opengroup.http import Refused

__all__ = ["drop_deleted", "of_room", "pin", "unpin", "unpin_all"]

#: A pinned post's files never expire while it is pinned.
_FOREVER = float("inf")


def _bump(db: sqlite3.Connection, room: int, by: int) -> int:
    """Add *by* to the room's info_updates; the new value."""
    return int(db.execute("UPDATE rooms SET info_updates = info_updates + ? WHERE id = ? RETURNING info_updates",
                          (by, room)).fetchone()[0])


def _release_files(db: sqlite3.Connection, messages: Sequence[int], keep_files: float) -> None:
    if messages:
        db.execute(f"UPDATE files SET expires = uploaded + ? WHERE message IN ({','.join('?' * len(messages))})",
                   (keep_files, *messages))


def _write(db: sqlite3.Connection, work: Any) -> Any:
    db.execute("BEGIN IMMEDIATE")
    try:
        out = work()
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return out


def pin(db: sqlite3.Connection, room: int, msg_id: int, admin: int, now: float) -> int:
    """Pin (or re-pin) an ordinary message of *room*; the room's new info_updates."""
    if db.execute("SELECT 1 FROM messages WHERE id = ? AND room = ? AND data IS NOT NULL AND whisper_to IS NULL "
                  "AND whisper_mods = 0", (msg_id, room)).fetchone() is None:
        raise Refused(404, "no such message to pin (it must be a message of this room, not deleted, not a whisper)")

    def work() -> int:
        # delete + insert: the new row id is the largest, so a re-pin sorts last even at an equal time
        db.execute("DELETE FROM pinned_messages WHERE room = ? AND message = ?", (room, msg_id))
        db.execute("INSERT INTO pinned_messages (room, message, pinned_by, pinned_at) VALUES (?, ?, ?, ?)",
                   (room, msg_id, admin, now))
        db.execute("UPDATE files SET expires = ? WHERE message = ?", (_FOREVER, msg_id))
        return _bump(db, room, 1)

    return int(_write(db, work))


def _info_updates(db: sqlite3.Connection, room: int) -> int:
    return int(db.execute("SELECT info_updates FROM rooms WHERE id = ?", (room,)).fetchone()[0])


def unpin(db: sqlite3.Connection, room: int, msg_id: int, keep_files: float) -> tuple[bool, int]:
    """(whether it was pinned, the room's info_updates); unpinning what is not pinned changes nothing."""
    def work() -> tuple[bool, int]:
        gone = db.execute("DELETE FROM pinned_messages WHERE room = ? AND message = ?", (room, msg_id)).rowcount > 0
        if not gone:
            return False, _info_updates(db, room)
        _release_files(db, [msg_id], keep_files)
        return True, _bump(db, room, 1)

    done: tuple[bool, int] = _write(db, work)
    return done


def unpin_all(db: sqlite3.Connection, room: int, keep_files: float) -> tuple[int, int]:
    """(how many pins were removed, the room's info_updates)."""
    def work() -> tuple[int, int]:
        ids = [r[0] for r in db.execute("DELETE FROM pinned_messages WHERE room = ? RETURNING message", (room,))]
        if not ids:
            return 0, _info_updates(db, room)
        _release_files(db, ids, keep_files)
        return len(ids), _bump(db, room, len(ids))

    done: tuple[int, int] = _write(db, work)
    return done


def drop_deleted(db: sqlite3.Connection, room: int, messages: Sequence[int], keep_files: float) -> None:
    """Unpin messages being deleted (inside the caller's transaction)."""
    if not messages:
        return
    gone = [r[0] for r in db.execute(
        f"DELETE FROM pinned_messages WHERE room = ? AND message IN ({','.join('?' * len(messages))}) "
        "RETURNING message", (room, *messages))]
    if gone:
        _release_files(db, gone, keep_files)
        _bump(db, room, len(gone))


def of_room(db: sqlite3.Connection, room: int) -> list[dict[str, Any]]:
    """The room's pins, oldest first: ``[{id, pinned_at, pinned_by}]``."""
    return [{"id": msg, "pinned_at": at, "pinned_by": sid} for msg, at, sid in db.execute(
        "SELECT p.message, p.pinned_at, u.session_id FROM pinned_messages p JOIN users u ON u.id = p.pinned_by "
        "WHERE p.room = ? ORDER BY p.pinned_at, p.id", (room,))]
