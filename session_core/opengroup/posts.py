"""Room messages: post, edit, delete, and the polling views (``since`` a seqno, ``recent``).

Every change takes the room's next ``message_sequence`` as the message's ``seqno``, so a poller
asking for changes since the last seqno it saw gets new posts, edits and deletions in the order
they happened.  A post's ``data`` is signed by its author's blinded key; the server checks the
signature so that it can neither accept a forged post nor be blamed for one.
"""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

from session_core.blinding import verify_blinded
from session_core.opengroup.http import Refused

__all__ = ["add", "delete", "delete_all_of", "edit", "recent", "since", "single"]

_SELECT = ("SELECT m.id, u.session_id, m.posted, m.edited, m.seqno, m.data, m.signature FROM messages m "
           "JOIN users u ON u.id = m.user")


def _message(row: Any) -> dict[str, Any]:
    msg_id, sid, posted, edited, seqno, data, sig = row
    out: dict[str, Any] = {"id": msg_id, "session_id": sid, "posted": posted, "seqno": seqno}
    if edited is not None:
        out["edited"] = edited
    if data is None:
        out["data"] = None
        out["deleted"] = True
    else:
        out["data"] = base64.b64encode(data).decode()
        out["signature"] = base64.b64encode(sig).decode()
    return out


def _next_seqno(db: sqlite3.Connection, room: int) -> int:
    return int(db.execute("UPDATE rooms SET message_sequence = message_sequence + 1 WHERE id = ? "
                          "RETURNING message_sequence", (room,)).fetchone()[0])


def _check_signature(author: str, data: bytes, sig: bytes) -> None:
    if not verify_blinded(author, data, sig):
        raise Refused(400, "the post's signature does not verify with the poster's key")


def add(db: sqlite3.Connection, room: int, user: int, author: str, data: bytes, sig: bytes, now: float) -> dict[str, Any]:
    _check_signature(author, data, sig)
    db.execute("BEGIN IMMEDIATE")
    try:
        seqno = _next_seqno(db, room)
        cur = db.execute("INSERT INTO messages (room, user, seqno, posted, data, signature) VALUES (?, ?, ?, ?, ?, ?)",
                         (room, user, seqno, now, data, sig))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return {"id": cur.lastrowid, "session_id": author, "posted": now, "seqno": seqno,
            "data": base64.b64encode(data).decode(), "signature": base64.b64encode(sig).decode()}


def edit(db: sqlite3.Connection, room: int, user: int, author: str, msg_id: int, data: bytes, sig: bytes,
         now: float) -> None:
    row = db.execute("SELECT user, data FROM messages WHERE id = ? AND room = ?", (msg_id, room)).fetchone()
    if row is None or row[1] is None:
        raise Refused(404, "no such message")
    if row[0] != user:
        raise Refused(403, "only the author may edit a message")
    _check_signature(author, data, sig)
    db.execute("BEGIN IMMEDIATE")
    try:
        seqno = _next_seqno(db, room)
        db.execute("UPDATE messages SET data = ?, signature = ?, edited = ?, seqno = ? WHERE id = ?",
                   (data, sig, now, seqno, msg_id))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _delete_rows(db: sqlite3.Connection, room: int, ids: list[int]) -> int:
    db.execute("BEGIN IMMEDIATE")
    try:
        for msg_id in ids:
            db.execute("UPDATE messages SET data = NULL, signature = NULL, seqno = ? WHERE id = ?",
                       (_next_seqno(db, room), msg_id))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(ids)


def delete(db: sqlite3.Connection, room: int, msg_id: int, user: int, *, moderator: bool) -> None:
    row = db.execute("SELECT user FROM messages WHERE id = ? AND room = ? AND data IS NOT NULL",
                     (msg_id, room)).fetchone()
    if row is None:
        raise Refused(404, "no such message")
    if row[0] != user and not moderator:
        raise Refused(403, "only the author or a moderator may delete a message")
    _delete_rows(db, room, [msg_id])


def delete_all_of(db: sqlite3.Connection, room: int, user: int) -> int:
    ids = [r[0] for r in db.execute("SELECT id FROM messages WHERE room = ? AND user = ? AND data IS NOT NULL "
                                    "ORDER BY id", (room, user))]
    return _delete_rows(db, room, ids) if ids else 0


def since(db: sqlite3.Connection, room: int, seqno: int, limit: int) -> list[dict[str, Any]]:
    return [_message(r) for r in db.execute(f"{_SELECT} WHERE m.room = ? AND m.seqno > ? ORDER BY m.seqno LIMIT ?",
                                            (room, seqno, limit))]


def recent(db: sqlite3.Connection, room: int, limit: int) -> list[dict[str, Any]]:
    return [_message(r) for r in db.execute(
        f"{_SELECT} WHERE m.room = ? AND m.data IS NOT NULL ORDER BY m.id DESC LIMIT ?", (room, limit))]


def single(db: sqlite3.Connection, room: int, msg_id: int) -> dict[str, Any]:
    row = db.execute(f"{_SELECT} WHERE m.room = ? AND m.id = ? AND m.data IS NOT NULL", (room, msg_id)).fetchone()
    if row is None:
        raise Refused(404, "no such message")
    return _message(row)
