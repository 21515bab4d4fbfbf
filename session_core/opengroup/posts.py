"""Room messages: post, edit, delete, and the polling views (``since`` a seqno, ``recent``).

Every change takes the room's next ``message_sequence`` as the message's ``seqno``, so a poller
asking for changes since the last seqno it saw gets new posts, edits and deletions in the order
they happened (reactions move ``seqno`` too, not ``seqno_data``: :mod:`reactions`).  A post may
name files its author uploaded to the room in the last hour (``files``): they are then kept as
long as posts' files are, instead of the hour an unattached upload lasts.  A post's ``data`` is signed by its author's blinded key; the server checks the
signature so that it can neither accept a forged post nor be blamed for one.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Sequence
from typing import Any

from session_core.blinding import verify_blinded
from session_core.opengroup import reactions
from session_core.opengroup.http import Refused

__all__ = ["add", "delete", "delete_all_of", "edit", "recent", "since", "single", "with_reactions"]

_SELECT = ("SELECT m.id, u.session_id, m.posted, m.edited, m.seqno, m.data, m.signature FROM messages m "
           "JOIN users u ON u.id = m.user")
#: How recent an upload must be to be attached to a post (pysogs: an hour).
ATTACH_WITHIN = 3600.0


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


def _attach(db: sqlite3.Connection, room: int, user: int, msg_id: int, files: Sequence[int], now: float,
            keep: float) -> None:
    """Attach the poster's recent, unattached uploads in this room among *files* (others are ignored,
    as pysogs does) and keep them *keep* seconds from now."""
    if files:
        db.execute(f"UPDATE files SET message = ?, expires = ? WHERE id IN ({','.join('?' * len(files))}) "
                   "AND room = ? AND uploader = ? AND message IS NULL AND uploaded >= ? AND expires > ?",
                   (msg_id, now + keep, *files, room, user, now - ATTACH_WITHIN, now))


def add(db: sqlite3.Connection, room: int, user: int, author: str, data: bytes, sig: bytes, now: float,
        files: Sequence[int] = (), keep_files: float = 0.0) -> dict[str, Any]:
    _check_signature(author, data, sig)
    db.execute("BEGIN IMMEDIATE")
    try:
        seqno = _next_seqno(db, room)
        cur = db.execute("INSERT INTO messages (room, user, seqno, seqno_data, posted, data, signature) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (room, user, seqno, seqno, now, data, sig))
        _attach(db, room, user, int(cur.lastrowid or 0), files, now, keep_files)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return {"id": cur.lastrowid, "session_id": author, "posted": now, "seqno": seqno,
            "data": base64.b64encode(data).decode(), "signature": base64.b64encode(sig).decode()}


def edit(db: sqlite3.Connection, room: int, user: int, author: str, msg_id: int, data: bytes, sig: bytes,
         now: float, files: Sequence[int] = (), keep_files: float = 0.0) -> None:
    row = db.execute("SELECT user, data FROM messages WHERE id = ? AND room = ?", (msg_id, room)).fetchone()
    if row is None or row[1] is None:
        raise Refused(404, "no such message")
    if row[0] != user:
        raise Refused(403, "only the author may edit a message")
    _check_signature(author, data, sig)
    db.execute("BEGIN IMMEDIATE")
    try:
        seqno = _next_seqno(db, room)
        db.execute("UPDATE messages SET data = ?, signature = ?, edited = ?, seqno = ?, seqno_data = ? WHERE id = ?",
                   (data, sig, now, seqno, seqno, msg_id))
        _attach(db, room, user, msg_id, files, now, keep_files)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _delete_rows(db: sqlite3.Connection, room: int, ids: list[int]) -> int:
    db.execute("BEGIN IMMEDIATE")
    try:
        for msg_id in ids:
            seqno = _next_seqno(db, room)
            db.execute("UPDATE messages SET data = NULL, signature = NULL, seqno = ?, seqno_data = ? WHERE id = ?",
                       (seqno, seqno, msg_id))
            reactions.remove_all_of_message(db, msg_id)
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


_SINCE = ("SELECT m.id, u.session_id, m.posted, m.edited, m.seqno, m.data, m.signature, m.seqno_data FROM messages m "
          "JOIN users u ON u.id = m.user WHERE m.room = ? AND m.seqno > ?")


def since(db: sqlite3.Connection, room: int, seqno: int, limit: int, *,
          reaction_updates: bool = False) -> list[dict[str, Any]]:
    """Changes after *seqno* in order.  With *reaction_updates*, a message whose reactions alone
    changed comes as ``{id, seqno}`` (add :func:`with_reactions`); without, it is left out."""
    sql = _SINCE if reaction_updates else _SINCE + " AND (m.seqno_data IS NULL OR m.seqno_data > ?)"
    args = (room, seqno, limit) if reaction_updates else (room, seqno, seqno, limit)
    out = []
    for row in db.execute(sql + " ORDER BY m.seqno LIMIT ?", args):
        data_seqno = row[7]
        if reaction_updates and data_seqno is not None and data_seqno <= seqno:
            out.append({"id": row[0], "seqno": row[4]})
        else:
            out.append(_message(row[:7]))
    return out


def with_reactions(db: sqlite3.Connection, msgs: list[dict[str, Any]], user: int | None,
                   reactors: int) -> list[dict[str, Any]]:
    """*msgs* with their ``reactions`` (``{}`` when none; deleted messages have none)."""
    found = reactions.of_messages(db, [m["id"] for m in msgs if not m.get("deleted")], user, reactors)
    for m in msgs:
        if not m.get("deleted"):
            m["reactions"] = found.get(m["id"], {})
    return msgs


def recent(db: sqlite3.Connection, room: int, limit: int) -> list[dict[str, Any]]:
    return [_message(r) for r in db.execute(
        f"{_SELECT} WHERE m.room = ? AND m.data IS NOT NULL ORDER BY m.id DESC LIMIT ?", (room, limit))]


def single(db: sqlite3.Connection, room: int, msg_id: int) -> dict[str, Any]:
    row = db.execute(f"{_SELECT} WHERE m.room = ? AND m.id = ? AND m.data IS NOT NULL", (room, msg_id)).fetchone()
    if row is None:
        raise Refused(404, "no such message")
    return _message(row)
