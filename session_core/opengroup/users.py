"""Users (known by blinded ID only) and moderators/admins, per room or global (room 0)."""

from __future__ import annotations

import sqlite3

from session_core.blinding import blind15_ids, parse_blinded_id
from session_core.errors import BlindingError, RoomInputError

__all__ = ["GLOBAL", "get_or_create", "lookup", "mod_level", "remove_moderator", "resolve_ids", "set_moderator",
           "visible_mods"]

GLOBAL = 0


def get_or_create(db: sqlite3.Connection, session_id: str, now: float) -> int:
    row = db.execute("SELECT id FROM users WHERE session_id = ?", (session_id,)).fetchone()
    if row is not None:
        return int(row[0])
    cur = db.execute("INSERT INTO users (session_id, created, last_active) VALUES (?, ?, ?)", (session_id, now, now))
    return int(cur.lastrowid or 0)


def lookup(db: sqlite3.Connection, session_id: str) -> int | None:
    row = db.execute("SELECT id FROM users WHERE session_id = ?", (session_id,)).fetchone()
    return None if row is None else int(row[0])


def resolve_ids(given: str, server_pk: bytes) -> list[str]:
    """The blinded IDs a moderator's target may have: a "15…" ID as given; a Session ID ("05…")
    maps to both of its possible blinded IDs on this server (the sign is not in a Session ID)."""
    if not isinstance(given, str):
        raise RoomInputError("a user is named by a blinded (15…) or Session (05…) ID")
    given = given.lower()
    try:
        if given.startswith("05"):
            return list(blind15_ids(given, server_pk))
        parse_blinded_id(given)
    except BlindingError as exc:
        raise RoomInputError(f"not a usable user ID: {exc}") from None
    return [given]


def mod_level(db: sqlite3.Connection, user: int | None, room: int) -> tuple[bool, bool]:
    """(moderator, admin) of *user* in *room*, counting global grants."""
    if user is None:
        return False, False
    rows = db.execute("SELECT admin FROM moderators WHERE user = ? AND room IN (0, ?)", (user, room)).fetchall()
    return bool(rows), any(r[0] for r in rows)


def _grant(db: sqlite3.Connection, user: int, room: int) -> tuple[int, int] | None:
    row = db.execute("SELECT admin, visible FROM moderators WHERE room = ? AND user = ?", (room, user)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def _changed_mods(db: sqlite3.Connection, room: int, before: tuple[int, int] | None,
                  after: tuple[int, int] | None) -> None:
    """Move ``info_updates`` of the rooms whose details (moderator and admin lists, seen in
    ``pollInfo``) a grant change alters: that room, or every room for a global grant, as
    pysogs' triggers do.  Ours also counts a visibility change of a room grant (it moves a
    moderator in or out of the public list); an unchanged grant moves nothing."""
    if before == after:
        return
    if room == GLOBAL:
        db.execute("UPDATE rooms SET info_updates = info_updates + 1")
    else:
        db.execute("UPDATE rooms SET info_updates = info_updates + 1 WHERE id = ?", (room,))


def set_moderator(db: sqlite3.Connection, user: int, room: int, *, admin: bool, visible: bool) -> None:
    before = _grant(db, user, room)
    db.execute("INSERT INTO moderators (room, user, admin, visible) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (room, user) DO UPDATE SET admin = excluded.admin, visible = excluded.visible",
               (room, user, int(admin), int(visible)))
    _changed_mods(db, room, before, (int(admin), int(visible)))


def remove_moderator(db: sqlite3.Connection, user: int, room: int, *, admin_only: bool = False) -> None:
    before = _grant(db, user, room)
    if admin_only:
        db.execute("UPDATE moderators SET admin = 0 WHERE room = ? AND user = ?", (room, user))
    else:
        db.execute("DELETE FROM moderators WHERE room = ? AND user = ?", (room, user))
    _changed_mods(db, room, before, _grant(db, user, room))


def visible_mods(db: sqlite3.Connection, room: int, *, include_hidden: bool) -> tuple[list[str], list[str]]:
    """(moderators, admins) of a room as IDs: its own and the global ones, hidden ones only for
    moderators asking."""
    level: dict[str, tuple[bool, bool]] = {}
    for sid, admin, visible in db.execute(
            "SELECT u.session_id, m.admin, m.visible FROM moderators m JOIN users u ON u.id = m.user "
            "WHERE m.room IN (0, ?)", (room,)):
        was_admin, was_visible = level.get(sid, (False, False))
        level[sid] = (was_admin or bool(admin), was_visible or bool(visible))
    shown = {sid: admin for sid, (admin, visible) in level.items() if visible or include_hidden}
    return sorted(s for s, a in shown.items() if not a), sorted(s for s, a in shown.items() if a)
