"""Room messages: post, edit, delete, and the polling views (``since`` a seqno, ``recent``,
``before`` an id).

Every change takes the room's next ``message_sequence`` as the message's ``seqno``, so a poller
asking for changes since the last seqno it saw gets new posts, edits and deletions in the order
they happened (reactions move ``seqno`` too, not ``seqno_data``: :mod:`reactions`).  A post may
name files its author uploaded to the room in the last hour (``files``): they are then kept as
long as posts' files are, instead of the hour an unattached upload lasts.  A post's ``data``
is signed by its author's blinded key; the server checks the signature so that it can neither
accept a forged post nor be blamed for one.

Every read takes the viewer (user row and whether a moderator of the room) and shows only what
:func:`whispers.visible_clause` lets them see; a message they may not see is "no such message"
(404) to every path, so its existence does not leak either.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Sequence
from typing import Any

from session_core.blinding import verify_blinded
from session_core.opengroup import pins, reactions, whispers
from session_core.opengroup.http import Refused

__all__ = ["Viewer", "add", "before", "delete", "delete_all_of", "edit", "recent", "since", "single", "whispers_after",
           "with_reactions"]

#: Who reads: (user row or None, moderator of the room).
Viewer = tuple[int | None, bool]
_COLUMNS = "m.id, u.session_id, m.posted, m.edited, m.seqno, m.data, m.signature, w.session_id, m.whisper_mods"
_FROM = "FROM messages m JOIN users u ON u.id = m.user LEFT JOIN users w ON w.id = m.whisper_to"
_SELECT = f"SELECT {_COLUMNS} {_FROM}"
#: How recent an upload must be to be attached to a post (pysogs: an hour).
ATTACH_WITHIN = 3600.0


def _message(row: Any) -> dict[str, Any]:
    msg_id, sid, posted, edited, seqno, data, sig, whisper_to, whisper_mods = row
    out: dict[str, Any] = {"id": msg_id, "session_id": sid, "posted": posted, "seqno": seqno}
    if edited is not None:
        out["edited"] = edited
    if data is None:
        out["data"] = None
        out["deleted"] = True
    else:
        out["data"] = base64.b64encode(data).decode()
        out["signature"] = base64.b64encode(sig).decode()
    return whispers.decorate(out, whisper_to, bool(whisper_mods))


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
        files: Sequence[int] = (), keep_files: float = 0.0, *, whisper_to: tuple[int, str] | None = None,
        whisper_mods: bool = False) -> dict[str, Any]:
    """Store a post; *whisper_to* is the (user row, ID) a whisper is for (the caller checked
    that the author may whisper)."""
    _check_signature(author, data, sig)
    db.execute("BEGIN IMMEDIATE")
    try:
        seqno = _next_seqno(db, room)
        cur = db.execute("INSERT INTO messages (room, user, seqno, seqno_data, posted, data, signature, whisper_to, "
                         "whisper_mods) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (room, user, seqno, seqno, now, data, sig, whisper_to[0] if whisper_to else None,
                          int(whisper_mods)))
        _attach(db, room, user, int(cur.lastrowid or 0), files, now, keep_files)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return whispers.decorate({"id": cur.lastrowid, "session_id": author, "posted": now, "seqno": seqno,
                              "data": base64.b64encode(data).decode(), "signature": base64.b64encode(sig).decode()},
                             whisper_to[1] if whisper_to else None, whisper_mods)


def _visible_row(db: sqlite3.Connection, room: int, msg_id: int, viewer: Viewer, columns: str) -> Any:
    """*columns* of a live message of *room* that *viewer* may see, or None."""
    clause, args = whispers.visible_clause(*viewer)
    return db.execute(f"SELECT {columns} FROM messages m WHERE m.id = ? AND m.room = ? AND m.data IS NOT NULL "
                      f"AND {clause}", (msg_id, room, *args)).fetchone()


def edit(db: sqlite3.Connection, room: int, user: int, author: str, msg_id: int, data: bytes, sig: bytes,
         now: float, files: Sequence[int] = (), keep_files: float = 0.0, *, moderator: bool = False,
         whisper: tuple[int | None, bool] | None = None) -> None:
    """Replace a message's content; its whisper recipients stay.  *whisper*, when the edit
    restated them, must be the message's own (an edit cannot change who a message is for)."""
    row = _visible_row(db, room, msg_id, (user, moderator), "m.user, m.whisper_to, m.whisper_mods")
    if row is None:
        raise Refused(404, "no such message")
    if row[0] != user:
        raise Refused(403, "only the author may edit a message")
    if whisper is not None and whisper != (row[1], bool(row[2])):
        raise Refused(400, "an edit cannot change whisper_to or whisper_mods")
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


def _delete_rows(db: sqlite3.Connection, room: int, ids: list[int], keep_files: float) -> int:
    db.execute("BEGIN IMMEDIATE")
    try:
        for msg_id in ids:
            seqno = _next_seqno(db, room)
            db.execute("UPDATE messages SET data = NULL, signature = NULL, seqno = ?, seqno_data = ? WHERE id = ?",
                       (seqno, seqno, msg_id))
            reactions.remove_all_of_message(db, msg_id)
        pins.drop_deleted(db, room, ids, keep_files)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(ids)


def delete(db: sqlite3.Connection, room: int, msg_id: int, user: int, *, moderator: bool,
           keep_files: float = 0.0) -> None:
    row = _visible_row(db, room, msg_id, (user, moderator), "m.user")
    if row is None:
        raise Refused(404, "no such message")
    if row[0] != user and not moderator:
        raise Refused(403, "only the author or a moderator may delete a message")
    _delete_rows(db, room, [msg_id], keep_files)


def delete_all_of(db: sqlite3.Connection, room: int, user: int, keep_files: float = 0.0) -> int:
    ids = [r[0] for r in db.execute("SELECT id FROM messages WHERE room = ? AND user = ? AND data IS NOT NULL "
                                    "ORDER BY id", (room, user))]
    return _delete_rows(db, room, ids, keep_files) if ids else 0


_SINCE = f"SELECT {_COLUMNS}, m.seqno_data {_FROM} WHERE m.room = ? AND m.seqno > ?"


def since(db: sqlite3.Connection, room: int, seqno: int, limit: int, viewer: Viewer, *,
          reaction_updates: bool = False) -> list[dict[str, Any]]:
    """Changes after *seqno* in order, as *viewer* may see them.  With *reaction_updates*, a
    message whose reactions alone changed comes as ``{id, seqno}`` (add :func:`with_reactions`);
    without, it is left out."""
    clause, who = whispers.visible_clause(*viewer)
    sql = f"{_SINCE} AND {clause}"
    args: tuple[Any, ...] = (room, seqno, *who)
    if not reaction_updates:
        sql += " AND (m.seqno_data IS NULL OR m.seqno_data > ?)"
        args += (seqno,)
    out = []
    for row in db.execute(sql + " ORDER BY m.seqno LIMIT ?", (*args, limit)):
        data_seqno = row[9]
        if reaction_updates and data_seqno is not None and data_seqno <= seqno:
            out.append({"id": row[0], "seqno": row[4]})
        else:
            out.append(_message(row[:9]))
    return out


def whispers_after(db: sqlite3.Connection, room: int, seqno: int, upto: int | None = None) -> bool:
    """Whether a change in *room* after *seqno* (and up to *upto*) touched a whisper: then what
    a poll returns depends on who asks, and the answer may not be shared.  A full answer needs
    checking only up to its last seqno: with no whisper before that, everyone's answer ends there."""
    bound = "" if upto is None else " AND m.seqno <= ?"
    return db.execute(f"SELECT 1 FROM messages m WHERE m.room = ? AND m.seqno > ?{bound} AND NOT {whispers.PUBLIC} "
                      "LIMIT 1", (room, seqno) if upto is None else (room, seqno, upto)).fetchone() is not None


def with_reactions(db: sqlite3.Connection, msgs: list[dict[str, Any]], user: int | None,
                   reactors: int) -> list[dict[str, Any]]:
    """*msgs* with their ``reactions`` (``{}`` when none; deleted messages have none)."""
    found = reactions.of_messages(db, [m["id"] for m in msgs if not m.get("deleted")], user, reactors)
    for m in msgs:
        if not m.get("deleted"):
            m["reactions"] = found.get(m["id"], {})
    return msgs


def recent(db: sqlite3.Connection, room: int, limit: int, viewer: Viewer) -> list[dict[str, Any]]:
    """The newest *limit* live messages *viewer* may see, newest first."""
    return before(db, room, None, limit, viewer)


def before(db: sqlite3.Connection, room: int, msg_id: int | None, limit: int, viewer: Viewer) -> list[dict[str, Any]]:
    """Live messages with an id below *msg_id* (all when None) that *viewer* may see, newest
    first: a client walks back through history from a ``recent`` answer, page by page.  Like
    ``recent`` (and pysogs) it leaves deletions out: the reader never had those messages."""
    clause, who = whispers.visible_clause(*viewer)
    bound: str = ""
    args: tuple[int, ...] = ()
    if msg_id is not None:
        bound, args = " AND m.id < ?", (msg_id,)
    return [_message(r) for r in db.execute(
        f"{_SELECT} WHERE m.room = ?{bound} AND m.data IS NOT NULL AND {clause} ORDER BY m.id DESC LIMIT ?",
        (room, *args, *who, limit))]


def single(db: sqlite3.Connection, room: int, msg_id: int, viewer: Viewer) -> dict[str, Any]:
    clause, who = whispers.visible_clause(*viewer)
    row = db.execute(f"{_SELECT} WHERE m.room = ? AND m.id = ? AND m.data IS NOT NULL AND {clause}",
                     (room, msg_id, *who)).fetchone()
    if row is None:
        raise Refused(404, "no such message")
    return _message(row)
