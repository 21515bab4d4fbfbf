"""The room server's SQLite schema (one file, WAL).

Users are known only by their blinded ID.  ``room = 0`` in ``bans`` and ``moderators`` means
server-wide (global).  A ban's ``until`` is NULL for a permanent ban; expired bans stop counting
at once (every check compares with now) and are purged later.  ``messages.data`` and
``signature`` are NULL once deleted; the row stays so that pollers learn of the deletion
through its new ``seqno``.  ``seqno_data`` is the seqno of the last change to the message itself
(post, edit, delete); ``seqno`` also moves when its reactions change, so a poller that does not
ask for reaction updates (``?t=r``, as pysogs) can skip reaction-only ones.  A file's
``message`` is the post it is attached to (NULL until a post names it in ``files``).

A whisper is a message with ``whisper_to`` (the one user it is for) and/or ``whisper_mods``
(for the room's moderators); who sees it is :mod:`~session_core.opengroup.whispers`' rule.
``pinned_messages`` lists a room's pins; they are shown oldest first (``pinned_at``, then the
row id, which a re-pin renews), and a deleted message loses its pin.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["connect", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    last_active REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rooms (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    whitelist INTEGER NOT NULL DEFAULT 0,
    message_sequence INTEGER NOT NULL DEFAULT 0,
    info_updates INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS moderators (
    room INTEGER NOT NULL,
    user INTEGER NOT NULL REFERENCES users(id),
    admin INTEGER NOT NULL,
    visible INTEGER NOT NULL,
    PRIMARY KEY (room, user)
);
CREATE TABLE IF NOT EXISTS allowed (
    room INTEGER NOT NULL REFERENCES rooms(id),
    user INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (room, user)
);
CREATE TABLE IF NOT EXISTS bans (
    user INTEGER NOT NULL REFERENCES users(id),
    room INTEGER NOT NULL,
    banned_by INTEGER NOT NULL REFERENCES users(id),
    at REAL NOT NULL,
    until REAL,
    PRIMARY KEY (user, room)
);
CREATE TABLE IF NOT EXISTS room_users (
    room INTEGER NOT NULL REFERENCES rooms(id),
    user INTEGER NOT NULL REFERENCES users(id),
    last_active REAL NOT NULL,
    PRIMARY KEY (room, user)
);
CREATE INDEX IF NOT EXISTS room_users_user ON room_users(user);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    room INTEGER NOT NULL REFERENCES rooms(id),
    user INTEGER NOT NULL REFERENCES users(id),
    seqno INTEGER NOT NULL,
    posted REAL NOT NULL,
    edited REAL,
    data BLOB,
    signature BLOB,
    seqno_data INTEGER,
    whisper_to INTEGER REFERENCES users(id),
    whisper_mods INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_room_seqno ON messages(room, seqno);
CREATE INDEX IF NOT EXISTS messages_room_user ON messages(room, user);
CREATE TABLE IF NOT EXISTS pinned_messages (
    id INTEGER PRIMARY KEY,
    room INTEGER NOT NULL REFERENCES rooms(id),
    message INTEGER NOT NULL REFERENCES messages(id),
    pinned_by INTEGER NOT NULL REFERENCES users(id),
    pinned_at REAL NOT NULL,
    UNIQUE (room, message)
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    room INTEGER NOT NULL REFERENCES rooms(id),
    uploader INTEGER NOT NULL REFERENCES users(id),
    uploaded REAL NOT NULL,
    expires REAL NOT NULL,
    data BLOB NOT NULL,
    message INTEGER REFERENCES messages(id)
);
CREATE TABLE IF NOT EXISTS reactions (
    message INTEGER NOT NULL REFERENCES messages(id),
    reaction TEXT NOT NULL,
    user INTEGER NOT NULL REFERENCES users(id),
    at REAL NOT NULL,
    PRIMARY KEY (message, reaction, user)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY,
    sender INTEGER NOT NULL REFERENCES users(id),
    recipient INTEGER NOT NULL REFERENCES users(id),
    posted REAL NOT NULL,
    expires REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_recipient ON inbox(recipient, id);
CREATE INDEX IF NOT EXISTS inbox_sender ON inbox(sender, id);
CREATE TABLE IF NOT EXISTS nonces (
    user INTEGER NOT NULL,
    nonce BLOB NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (user, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_expires ON nonces(expires);
"""


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) the database; autocommit, explicit transactions where needed."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    _add_columns(db)
    db.executescript(SCHEMA)
    return db


#: Columns added after the first release: (table, column, definition).
_ADDED = [("messages", "seqno_data", "INTEGER"), ("files", "message", "INTEGER REFERENCES messages(id)"),
          ("messages", "whisper_to", "INTEGER REFERENCES users(id)"),
          ("messages", "whisper_mods", "INTEGER NOT NULL DEFAULT 0")]


def _add_columns(db: sqlite3.Connection) -> None:
    """Bring a database made by an earlier version up to :data:`SCHEMA` (before it runs)."""
    for table, column, definition in _ADDED:
        have = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        if have and column not in have:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            if column == "seqno_data":
                db.execute("UPDATE messages SET seqno_data = seqno")
