"""Blinded direct messages between room members (pysogs' ``/inbox``): opaque bodies the
sender encrypted for the recipient; the server sees only both blinded IDs."""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

__all__ = ["fetch", "purge", "send", "shares_a_room"]


def shares_a_room(db: sqlite3.Connection, a: int, b: int, now: float) -> bool:
    """Whether *a* and *b* both took part in a room in which *a* is not banned (nor globally)."""
    row = db.execute(
        "SELECT 1 FROM room_users x JOIN room_users y ON x.room = y.room AND y.user = ? WHERE x.user = ? "
        "AND NOT EXISTS (SELECT 1 FROM bans WHERE user = ? AND room IN (0, x.room) AND (until IS NULL OR until > ?)) "
        "LIMIT 1", (b, a, a, now)).fetchone()
    return row is not None


def send(db: sqlite3.Connection, sender: int, recipient: int, body: bytes, now: float, ttl: float) -> dict[str, Any]:
    cur = db.execute("INSERT INTO inbox (sender, recipient, posted, expires, body) VALUES (?, ?, ?, ?, ?)",
                     (sender, recipient, now, now + ttl, body))
    return {"id": cur.lastrowid, "posted_at": now, "expires_at": now + ttl}


def fetch(db: sqlite3.Connection, user: int, since_id: int, limit: int, now: float, *, outbox: bool = False) -> list[dict[str, Any]]:
    mine = "i.sender" if outbox else "i.recipient"
    rows = db.execute(
        "SELECT i.id, i.posted, i.expires, i.body, s.session_id, r.session_id FROM inbox i "
        "JOIN users s ON s.id = i.sender JOIN users r ON r.id = i.recipient "
        f"WHERE {mine} = ? AND i.id > ? AND i.expires > ? ORDER BY i.id LIMIT ?", (user, since_id, now, limit))
    return [{"id": i, "posted_at": posted, "expires_at": exp, "message": base64.b64encode(body).decode(),
             "sender": s, "recipient": r} for i, posted, exp, body, s, r in rows]


def purge(db: sqlite3.Connection, now: float) -> int:
    return db.execute("DELETE FROM inbox WHERE expires <= ?", (now,)).rowcount
