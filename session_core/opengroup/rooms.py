"""Rooms and who may do what in them.

A room is open (blacklist: everyone may read and post unless banned) or a whitelist (only the
users an admin allowed, and moderators).  Moderators and admins (of the room, or global) can
always read and post, and moderate; a ban overrides everything but a moderator grant."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from session_core.opengroup.http import Refused
from session_core.opengroup.permissions import Permissions
from session_core.rooms.url import check_token

__all__ = ["Access", "Room", "access", "all_rooms", "create", "get", "set_allowed"]


@dataclass(frozen=True, slots=True)
class Room:
    id: int
    token: str
    name: str
    description: str
    created: float
    whitelist: bool
    message_sequence: int
    info_updates: int


@dataclass(frozen=True, slots=True)
class Access:
    read: bool
    write: bool
    upload: bool
    moderator: bool
    admin: bool
    banned: bool


_COLUMNS = "id, token, name, description, created, whitelist, message_sequence, info_updates"


def _room(row: Any) -> Room:
    return Room(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7])


def create(db: sqlite3.Connection, token: str, name: str, now: float, *, description: str = "",
           whitelist: bool = False) -> Room:
    """Create a room, or bring an existing one to this name, description and kind (each start
    of the server does this).  ``info_updates`` moves only if one of them changed: pollers
    then fetch the details again, which a restart alone must not make them do."""
    check_token(token)
    db.execute("INSERT INTO rooms (token, name, description, created, whitelist) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (token) DO UPDATE SET name = excluded.name, description = excluded.description, "
               "whitelist = excluded.whitelist, info_updates = info_updates + (name IS NOT excluded.name OR "
               "description IS NOT excluded.description OR whitelist IS NOT excluded.whitelist)",
               (token, name, description, now, int(whitelist)))
    return get(db, token)


def get(db: sqlite3.Connection, token: str) -> Room:
    row = db.execute(f"SELECT {_COLUMNS} FROM rooms WHERE token = ?", (token,)).fetchone()
    if row is None:
        raise Refused(404, f"no room {token[:64]!r}")
    return _room(row)


def all_rooms(db: sqlite3.Connection) -> list[Room]:
    return [_room(r) for r in db.execute(f"SELECT {_COLUMNS} FROM rooms ORDER BY token")]


def access(perms: Permissions, room: Room, user: int | None, now: float) -> Access:
    mod, admin = perms.mod_level(user, room.id)
    if mod:
        return Access(True, True, True, True, admin, False)
    if user is None:
        return Access(False, False, False, False, False, False)
    banned = perms.is_banned(user, room.id, now)
    member = not room.whitelist or perms.allowed(room.id, user)
    ok = member and not banned
    return Access(ok, ok, ok, False, False, banned)


def set_allowed(db: sqlite3.Connection, room: Room, user: int, allow: bool) -> None:
    if allow:
        db.execute("INSERT OR IGNORE INTO allowed (room, user) VALUES (?, ?)", (room.id, user))
    else:
        db.execute("DELETE FROM allowed WHERE room = ? AND user = ?", (room.id, user))
