"""Bans: per room or global (room 0), permanent (``until`` NULL) or timed.

A global ban refuses every authenticated request (checked at authentication); a room ban
refuses reading, posting, uploading and DMs to anyone through that room.  A repeated ban
replaces the earlier one (so a permanent ban can become timed and back)."""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["ban", "globally_banned", "is_banned", "list_bans", "purge", "unban"]


def ban(db: sqlite3.Connection, user: int, room: int, by: int, now: float, timeout: float | None) -> None:
    until = None if timeout is None else now + timeout
    db.execute("INSERT INTO bans (user, room, banned_by, at, until) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (user, room) DO UPDATE SET banned_by = excluded.banned_by, at = excluded.at, "
               "until = excluded.until", (user, room, by, now, until))


def unban(db: sqlite3.Connection, user: int, room: int) -> bool:
    return db.execute("DELETE FROM bans WHERE user = ? AND room = ?", (user, room)).rowcount > 0


def is_banned(db: sqlite3.Connection, user: int | None, room: int, now: float) -> bool:
    if user is None:
        return False
    row = db.execute("SELECT 1 FROM bans WHERE user = ? AND room IN (0, ?) AND (until IS NULL OR until > ?) LIMIT 1",
                     (user, room, now)).fetchone()
    return row is not None


def globally_banned(db: sqlite3.Connection, user: int, now: float) -> bool:
    row = db.execute("SELECT 1 FROM bans WHERE user = ? AND room = 0 AND (until IS NULL OR until > ?)",
                     (user, now)).fetchone()
    return row is not None


def list_bans(db: sqlite3.Connection, rooms: list[int] | None, now: float) -> list[dict[str, Any]]:
    """Active bans in *rooms* (room IDs; 0 for global ones), or all of them when ``None``."""
    sql = ("SELECT u.session_id, b.room, r.token, m.session_id, b.at, b.until FROM bans b "
           "JOIN users u ON u.id = b.user JOIN users m ON m.id = b.banned_by LEFT JOIN rooms r ON r.id = b.room "
           "WHERE (b.until IS NULL OR b.until > ?)")
    args: list[Any] = [now]
    if rooms is not None:
        if not rooms:
            return []
        sql += f" AND b.room IN ({','.join('?' * len(rooms))})"
        args += rooms
    sql += " ORDER BY b.at, u.session_id"
    return [{"session_id": sid, "global": room == 0, "room": token, "banned_by": by, "at": at, "until": until}
            for sid, room, token, by, at, until in db.execute(sql, args)]


def purge(db: sqlite3.Connection, now: float) -> int:
    return db.execute("DELETE FROM bans WHERE until IS NOT NULL AND until <= ?", (now,)).rowcount
