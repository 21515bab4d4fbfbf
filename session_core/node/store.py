"""Message storage: one interface, an in-memory store (tests, sans-IO) and SQLite.

Rules both follow (docs/interop.md §4.2):
- messages are keyed by their hash; saving a hash that exists is a no-op that
  still counts as success (idempotent stores);
- expired messages (``timestamp + ttl <= now``) are never returned, even before
  the background purge removes them;
- ``retrieve`` returns, for one owner, at most *limit* messages in insertion
  order after the row of ``last_hash`` (an unknown ``last_hash`` means "from the
  start", like upstream's ``COALESCE(..., 0)``).

SQLite runs in WAL mode and commits before a save returns, so a message that was
acknowledged survives the node process being killed.  ``synchronous=NORMAL``
(the default here) protects against process crashes; pass ``durable=True`` for
``FULL`` if the machine itself may lose power.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from session_core.node.message import Message


class MessageStore(Protocol):
    def save_if_new(self, msg: Message) -> bool: ...
    def save_each(self, msgs: list[Message]) -> list[bool]: ...
    def save_many(self, msgs: Iterable[Message]) -> int: ...
    def retrieve(self, pubkey: str, last_hash: str, limit: int, now_ms: int) -> list[Message]: ...
    def get(self, msg_hash: str, now_ms: int) -> Message | None: ...
    def messages(self, now_ms: int) -> Iterator[Message]: ...
    def random_message(self, now_ms: int, rng: random.Random) -> Message | None: ...
    def count(self, now_ms: int) -> int: ...
    def purge_expired(self, now_ms: int) -> int: ...
    def close(self) -> None: ...


class MemoryStore:
    """A dict-backed store with exactly the SQLite store's semantics."""

    def __init__(self) -> None:
        self._rows: list[Message] = []
        self._index: dict[str, int] = {}

    def save_if_new(self, msg: Message) -> bool:
        if msg.hash in self._index:
            return False
        self._index[msg.hash] = len(self._rows)
        self._rows.append(msg)
        return True

    def save_many(self, msgs: Iterable[Message]) -> int:
        return sum(self.save_if_new(m) for m in msgs)

    def save_each(self, msgs: list[Message]) -> list[bool]:
        return [self.save_if_new(m) for m in msgs]

    def retrieve(self, pubkey: str, last_hash: str, limit: int, now_ms: int) -> list[Message]:
        start = self._index.get(last_hash, -1) + 1
        out: list[Message] = []
        for m in self._rows[start:]:
            if m is not None and m.pubkey == pubkey and m.expiration > now_ms:
                out.append(m)
                if len(out) == limit:
                    break
        return out

    def get(self, msg_hash: str, now_ms: int) -> Message | None:
        i = self._index.get(msg_hash)
        if i is None:
            return None
        m = self._rows[i]
        return m if m.expiration > now_ms else None

    def messages(self, now_ms: int) -> Iterator[Message]:
        return iter([m for m in self._rows if m.expiration > now_ms])

    def random_message(self, now_ms: int, rng: random.Random) -> Message | None:
        live = list(self.messages(now_ms))
        return rng.choice(live) if live else None

    def count(self, now_ms: int) -> int:
        return sum(1 for _ in self.messages(now_ms))

    def purge_expired(self, now_ms: int) -> int:
        keep = [m for m in self._rows if m.expiration > now_ms]
        removed = len(self._rows) - len(keep)
        # Row order is preserved, so lastHash positions stay meaningful.
        self._rows = keep
        self._index = {m.hash: i for i, m in enumerate(keep)}
        return removed

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    data TEXT NOT NULL,
    ttl INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    nonce TEXT NOT NULL,
    expiration INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_owner ON messages(owner, id);
CREATE INDEX IF NOT EXISTS messages_expiration ON messages(expiration);
"""
_COLS = "owner, hash, data, ttl, timestamp, nonce"


def _row(r: tuple[str, str, str, int, int, str]) -> Message:
    return Message(pubkey=r[0], hash=r[1], data=r[2], ttl=r[3], timestamp=r[4], nonce=r[5])


class SqliteStore:
    """SQLite (WAL) message store.  One connection, used from one thread at a time."""

    def __init__(self, path: str | Path, *, durable: bool = False) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(_SCHEMA)

    def _insert(self, msgs: Iterable[Message]) -> int:
        before = self._db.total_changes
        self._db.executemany(
            "INSERT OR IGNORE INTO messages (owner, hash, data, ttl, timestamp, nonce, expiration)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((m.pubkey, m.hash, m.data, m.ttl, m.timestamp, m.nonce, m.expiration) for m in msgs),
        )
        return self._db.total_changes - before

    def save_if_new(self, msg: Message) -> bool:
        with self._lock:
            return self._insert((msg,)) == 1

    def save_many(self, msgs: Iterable[Message]) -> int:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                n = self._insert(msgs)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return n

    def save_each(self, msgs: list[Message]) -> list[bool]:
        """Save several messages in ONE transaction (group commit); which ones were new."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                out = [self._insert((m,)) == 1 for m in msgs]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return out

    def retrieve(self, pubkey: str, last_hash: str, limit: int, now_ms: int) -> list[Message]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLS} FROM messages WHERE owner = ? AND expiration > ? AND id >"
                " COALESCE((SELECT id FROM messages WHERE hash = ?), 0) ORDER BY id LIMIT ?",
                (pubkey, now_ms, last_hash, limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def get(self, msg_hash: str, now_ms: int) -> Message | None:
        with self._lock:
            r = self._db.execute(
                f"SELECT {_COLS} FROM messages WHERE hash = ? AND expiration > ?", (msg_hash, now_ms)
            ).fetchone()
        return _row(r) if r else None

    def messages(self, now_ms: int) -> Iterator[Message]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLS} FROM messages WHERE expiration > ? ORDER BY id", (now_ms,)
            ).fetchall()
        return (_row(r) for r in rows)

    def random_message(self, now_ms: int, rng: random.Random) -> Message | None:
        n = self.count(now_ms)
        if n == 0:
            return None
        with self._lock:
            r = self._db.execute(
                f"SELECT {_COLS} FROM messages WHERE expiration > ? ORDER BY id LIMIT 1 OFFSET ?",
                (now_ms, rng.randrange(n)),
            ).fetchone()
        return _row(r) if r else None

    def count(self, now_ms: int) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM messages WHERE expiration > ?", (now_ms,)).fetchone()
        return int(n)

    def purge_expired(self, now_ms: int) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM messages WHERE expiration <= ?", (now_ms,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
