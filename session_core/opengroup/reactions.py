"""Reactions to room messages (pysogs' ``/room/T/reaction/ID/EMOJI``).

A reaction is 1-12 Unicode code points (an emoji may take several).  Adding or removing one
gives the message the room's next seqno (``seqno_data`` stays: the message itself did not
change), so pollers asking ``messages/since/N?t=r`` learn of it as a reaction-only update.
Messages carry ``reactions: {emoji: {index, count, reactors, you}}``: ``index`` is the order of
each emoji's first use, ``reactors`` the first few users (``?reactors=``, 0-20, default 4).
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterable
from typing import Any

from session_core.opengroup.http import Refused

__all__ = ["MAX_LENGTH", "add", "check", "of_messages", "remove", "remove_all_of_message"]

MAX_LENGTH = 12


def check(raw: str) -> str:
    """The reaction named by a path segment (percent-encoded or raw UTF-8), checked."""
    try:
        reaction = urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise Refused(400, "a reaction is UTF-8 text") from None
    if not 1 <= len(reaction) <= MAX_LENGTH:
        raise Refused(400, f"a reaction is 1 to {MAX_LENGTH} characters (got {len(reaction)})")
    if any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 for c in reaction):
        raise Refused(400, "a reaction has no control characters")
    return reaction


def _live_message(db: sqlite3.Connection, room: int, msg_id: int) -> None:
    # ordinary messages only, as pysogs: a whisper is "no such message" here even to those who see it
    if db.execute("SELECT 1 FROM messages WHERE id = ? AND room = ? AND data IS NOT NULL AND whisper_to IS NULL "
                  "AND whisper_mods = 0", (msg_id, room)).fetchone() is None:
        raise Refused(404, "no such message (reactions are for messages of this room, not whispers)")


def _change(db: sqlite3.Connection, room: int, msg_id: int, sql: str, args: tuple[Any, ...]) -> tuple[bool, int]:
    """Run *sql*; if it changed a row, give the message the room's next seqno.  (changed, seqno)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        changed = db.execute(sql, args).rowcount > 0
        if changed:
            seqno = int(db.execute("UPDATE rooms SET message_sequence = message_sequence + 1 WHERE id = ? "
                                   "RETURNING message_sequence", (room,)).fetchone()[0])
            db.execute("UPDATE messages SET seqno = ? WHERE id = ?", (seqno, msg_id))
        else:
            seqno = int(db.execute("SELECT seqno FROM messages WHERE id = ?", (msg_id,)).fetchone()[0])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return changed, seqno


def add(db: sqlite3.Connection, room: int, msg_id: int, user: int, reaction: str, now: float) -> tuple[bool, int]:
    _live_message(db, room, msg_id)
    return _change(db, room, msg_id, "INSERT OR IGNORE INTO reactions (message, reaction, user, at) VALUES (?, ?, ?, ?)",
                   (msg_id, reaction, user, now))


def remove(db: sqlite3.Connection, room: int, msg_id: int, user: int, reaction: str) -> tuple[bool, int]:
    _live_message(db, room, msg_id)
    return _change(db, room, msg_id, "DELETE FROM reactions WHERE message = ? AND reaction = ? AND user = ?",
                   (msg_id, reaction, user))


def remove_all_of_message(db: sqlite3.Connection, msg_id: int) -> None:
    """Drop a deleted message's reactions (inside the caller's transaction)."""
    db.execute("DELETE FROM reactions WHERE message = ?", (msg_id,))


def of_messages(db: sqlite3.Connection, ids: Iterable[int], user: int | None,
                reactors: int) -> dict[int, dict[str, dict[str, Any]]]:
    """message id -> its reactions (only messages that have any)."""
    ids = list(ids)
    if not ids:
        return {}
    rows = db.execute(
        "SELECT r.message, r.reaction, r.user, u.session_id, r.at FROM reactions r JOIN users u ON u.id = r.user "
        f"WHERE r.message IN ({','.join('?' * len(ids))}) ORDER BY r.message, r.at, r.user", ids).fetchall()
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for msg, reaction, uid, sid, _at in rows:  # ordered by time: dict order is first-use order
        per = out.setdefault(msg, {})
        info = per.get(reaction)
        if info is None:
            info = per[reaction] = {"index": len(per), "count": 0}
            if reactors:
                info["reactors"] = []
        info["count"] += 1
        if reactors and len(info["reactors"]) < reactors:
            info["reactors"].append(sid)
        if uid == user:
            info["you"] = True
    return out
