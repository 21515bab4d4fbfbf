"""Message storage: one interface, an in-memory store (tests, sans-IO) and SQLite.

Rules both follow (docs/interop.md §4.2):
- messages are keyed by their hash; saving a hash that exists is a no-op that
  still counts as success (idempotent stores);
- expired messages (``timestamp + ttl <= now``) are never returned, even before
  the background purge removes them;
- ``retrieve`` returns, for one owner, at most *limit* messages in insertion
  order after the row of ``last_hash`` (an unknown ``last_hash`` means "from the
  start", like upstream's ``COALESCE(..., 0)``).

Expiry can only be brought forward (:meth:`~MessageStore.expire`, the owner's authenticated
``expire`` request for disappearing messages): the new time is kept beside the message, never
in it, because the TTL is part of the proof of work a peer re-checks on replication; a message
read back carries it (``Message.shortened_to``), so ``retrieve`` reports the current expiry.
The owner's signed request that shortened a message (its *proof*, see
:mod:`session_core.node.expiry_proofs`) is kept beside it until the message is purged, so a
member that was away can be handed it by catch-up (:meth:`~MessageStore.expiry_proofs_after`).  SQLite
runs with ``secure_delete`` and a purge that removed rows truncates the WAL, so an expired
message's bytes are gone from the database files, not just unlinked from the B-tree.

SQLite runs in WAL mode and commits before a save returns, so a message that was
acknowledged survives the node process being killed; client stores also enter a replication
*outbox* in the same transaction, which the replicator empties as peers take them and reloads
when the node starts (a message acknowledged just before a crash still reaches the swarm).  ``synchronous=NORMAL``
(the default here) protects against process crashes; pass ``durable=True`` for
``FULL`` if the machine itself may lose power.  The database is created 0600.

Quotas (:class:`StorageLimits`): both stores keep, per owner, the bytes of message
data and the number of messages they hold (SQLite: a ``usage`` table kept by
triggers, so it can never drift from the rows), and :meth:`~MessageStore.refusal`
says why a message may not be added -- the owner's mailbox is full, or the node's
whole budget is spent.  Expired rows still count until they are purged, so a
refusal purges once and looks again before saying no.
"""

from __future__ import annotations

import bisect
import random
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from session_core.node.message import Message
from session_core.private_files import create_private


@dataclass(frozen=True, slots=True)
class StorageLimits:
    """What one node agrees to hold (defaults and reasons: docs/security.md)."""

    # ~500 maximum-size messages: far above a real inbox over the 4-day TTL, far below
    # what one attacker should be able to make every member of a swarm keep.
    max_bytes_per_pubkey: int = 50 * 1024 * 1024
    max_messages_per_pubkey: int = 20_000
    # The node's whole message budget (bytes of message data).
    max_total_bytes: int = 2 * 1024**3

    def __post_init__(self) -> None:
        if min(self.max_bytes_per_pubkey, self.max_messages_per_pubkey, self.max_total_bytes) < 1:
            raise ValueError("storage limits must be positive")


def _refusal(limits: StorageLimits, msg: Message, owner_bytes: int, owner_count: int, total: int) -> str | None:
    size = len(msg.data)
    if total + size > limits.max_total_bytes:
        return f"node storage is full ({total} of {limits.max_total_bytes} bytes): try another member of the swarm"
    if owner_count + 1 > limits.max_messages_per_pubkey:
        return f"mailbox is full ({owner_count} of {limits.max_messages_per_pubkey} messages): wait for messages to expire"
    if owner_bytes + size > limits.max_bytes_per_pubkey:
        return f"mailbox is full ({owner_bytes} of {limits.max_bytes_per_pubkey} bytes): wait for messages to expire"
    return None


class MessageStore(Protocol):
    def save_if_new(self, msg: Message) -> bool: ...
    def save_each(self, msgs: list[Message]) -> list[bool]: ...
    def save_many(self, msgs: Iterable[Message]) -> int: ...
    def retrieve(self, pubkey: str, last_hash: str, limit: int, now_ms: int) -> list[Message]: ...
    def get(self, msg_hash: str, now_ms: int) -> Message | None: ...
    def messages(self, now_ms: int) -> Iterator[Message]: ...
    def messages_after(self, after_id: int, limit: int, now_ms: int) -> list[tuple[int, Message]]: ...
    def random_message(self, now_ms: int, rng: random.Random) -> Message | None: ...
    def count(self, now_ms: int) -> int: ...
    def purge_expired(self, now_ms: int) -> int: ...
    def expire(self, owner: str, hashes: list[str], expiry_ms: int, now_ms: int,
               proof: bytes | None = None) -> tuple[list[str], dict[str, int]]: ...
    def expiry_proofs_after(self, after_id: int, limit: int, now_ms: int) -> list[tuple[int, str, bytes]]: ...
    def refusal(self, msg: Message, now_ms: int) -> str | None: ...
    def close(self) -> None: ...


class MemoryStore:
    """A dict-backed store with exactly the SQLite store's semantics."""

    def __init__(self, limits: StorageLimits | None = None) -> None:
        self.limits = limits or StorageLimits()
        self._rows: list[Message] = []
        self._ids: list[int] = []  # a row's id: increasing, never reused (paging cursors)
        self._next_id = 1
        self._index: dict[str, int] = {}
        self._usage: dict[str, tuple[int, int]] = {}  # owner -> (bytes, messages)
        self._total = 0
        # Kept proofs: id -> (owner, expiry, proof); which proof set a message's expiry.
        self._proofs: dict[int, tuple[str, int, bytes]] = {}
        self._proof_of: dict[str, int] = {}
        self._next_proof = 1

    @staticmethod
    def _exp(m: Message) -> int:
        return m.expiration

    def expire(self, owner: str, hashes: list[str], expiry_ms: int, now_ms: int,
               proof: bytes | None = None) -> tuple[list[str], dict[str, int]]:
        """Bring the expiry of *owner*'s live messages among *hashes* forward to *expiry_ms*
        (never later): (updated hashes sorted, {hash: expiry} of those already due sooner).
        *proof* (the owner's signed request) is kept for the updated ones until they are purged."""
        updated, unchanged = [], {}
        for h in set(hashes):
            i = self._index.get(h)
            if i is None or self._rows[i].pubkey != owner or self._exp(self._rows[i]) <= now_ms:
                continue
            if self._exp(self._rows[i]) > expiry_ms:
                self._rows[i] = replace(self._rows[i], shortened_to=expiry_ms)
                updated.append(h)
            else:
                unchanged[h] = self._exp(self._rows[i])
        if updated and proof is not None:
            pid, self._next_proof = self._next_proof, self._next_proof + 1
            self._proofs[pid] = (owner, expiry_ms, proof)
            self._proof_of.update((h, pid) for h in updated)
            self._drop_unused_proofs()
        return sorted(updated), unchanged

    def _drop_unused_proofs(self) -> None:
        used = set(self._proof_of.values())
        self._proofs = {k: v for k, v in self._proofs.items() if k in used}

    def expiry_proofs_after(self, after_id: int, limit: int, now_ms: int) -> list[tuple[int, str, bytes]]:
        """Kept proofs with an id above *after_id*, in id order, at most *limit*: (id, owner, proof)."""
        return [(k, o, p) for k, (o, _, p) in sorted(self._proofs.items()) if k > after_id][:limit]

    def save_if_new(self, msg: Message) -> bool:
        if msg.hash in self._index:
            return False
        self._index[msg.hash] = len(self._rows)
        self._rows.append(msg)
        self._ids.append(self._next_id)
        self._next_id += 1
        b, n = self._usage.get(msg.pubkey, (0, 0))
        self._usage[msg.pubkey] = (b + len(msg.data), n + 1)
        self._total += len(msg.data)
        return True

    def refusal(self, msg: Message, now_ms: int) -> str | None:
        if msg.hash in self._index:
            return None  # idempotent: a message we hold takes no more room
        for attempt in range(2):
            b, n = self._usage.get(msg.pubkey, (0, 0))
            why = _refusal(self.limits, msg, b, n, self._total)
            if why is None or attempt:
                return why
            self.purge_expired(now_ms)
        return None

    def save_many(self, msgs: Iterable[Message]) -> int:
        return sum(self.save_if_new(m) for m in msgs)

    def save_each(self, msgs: list[Message]) -> list[bool]:
        return [self.save_if_new(m) for m in msgs]

    def retrieve(self, pubkey: str, last_hash: str, limit: int, now_ms: int) -> list[Message]:
        start = self._index.get(last_hash, -1) + 1
        out: list[Message] = []
        for m in self._rows[start:]:
            if m is not None and m.pubkey == pubkey and self._exp(m) > now_ms:
                out.append(m)
                if len(out) == limit:
                    break
        return out

    def get(self, msg_hash: str, now_ms: int) -> Message | None:
        i = self._index.get(msg_hash)
        if i is None:
            return None
        m = self._rows[i]
        return m if self._exp(m) > now_ms else None

    def messages(self, now_ms: int) -> Iterator[Message]:
        return iter([m for m in self._rows if self._exp(m) > now_ms])

    def messages_after(self, after_id: int, limit: int, now_ms: int) -> list[tuple[int, Message]]:
        start = bisect.bisect_right(self._ids, after_id)
        out: list[tuple[int, Message]] = []
        for i in range(start, len(self._rows)):
            if len(out) >= limit:
                break
            if self._exp(self._rows[i]) > now_ms:
                out.append((self._ids[i], self._rows[i]))
        return out

    def random_message(self, now_ms: int, rng: random.Random) -> Message | None:
        live = list(self.messages(now_ms))
        return rng.choice(live) if live else None

    def count(self, now_ms: int) -> int:
        return sum(1 for _ in self.messages(now_ms))

    def purge_expired(self, now_ms: int) -> int:
        self._ids = [i for i, m in zip(self._ids, self._rows) if self._exp(m) > now_ms]
        keep = [m for m in self._rows if self._exp(m) > now_ms]
        live = {m.hash for m in keep}
        self._proof_of = {h: k for h, k in self._proof_of.items() if h in live}
        self._drop_unused_proofs()
        removed = len(self._rows) - len(keep)
        # Row order is preserved, so lastHash positions stay meaningful.
        self._rows = keep
        self._index = {m.hash: i for i, m in enumerate(keep)}
        self._usage = {}
        for m in keep:
            b, n = self._usage.get(m.pubkey, (0, 0))
            self._usage[m.pubkey] = (b + len(m.data), n + 1)
        self._total = sum(len(m.data) for m in keep)
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
CREATE TABLE IF NOT EXISTS usage (
    owner TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL,
    messages INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 0), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO totals (id, bytes) VALUES (0, 0);
CREATE TRIGGER IF NOT EXISTS usage_add AFTER INSERT ON messages BEGIN
    INSERT INTO usage (owner, bytes, messages) VALUES (NEW.owner, length(NEW.data), 1)
        ON CONFLICT(owner) DO UPDATE SET bytes = bytes + length(NEW.data), messages = messages + 1;
    UPDATE totals SET bytes = bytes + length(NEW.data) WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS usage_remove AFTER DELETE ON messages BEGIN
    UPDATE usage SET bytes = bytes - length(OLD.data), messages = messages - 1 WHERE owner = OLD.owner;
    DELETE FROM usage WHERE owner = OLD.owner AND messages <= 0;
    UPDATE totals SET bytes = bytes - length(OLD.data) WHERE id = 0;
END;
CREATE TABLE IF NOT EXISTS difficulty (epoch_start INTEGER PRIMARY KEY, d INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (hash TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS expiry_proofs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    proof BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS expiry_proof_of (hash TEXT PRIMARY KEY, proof_id INTEGER NOT NULL);
"""
_DROP_UNUSED_PROOFS = """
DELETE FROM expiry_proof_of WHERE NOT EXISTS (SELECT 1 FROM messages AS m WHERE m.hash = expiry_proof_of.hash);
DELETE FROM expiry_proofs WHERE id NOT IN (SELECT proof_id FROM expiry_proof_of);
"""
# A database from before the usage table existed: count what it holds once.
_BACKFILL_USAGE = """
DELETE FROM usage;
INSERT INTO usage (owner, bytes, messages) SELECT owner, SUM(length(data)), COUNT(*) FROM messages GROUP BY owner;
UPDATE totals SET bytes = (SELECT COALESCE(SUM(length(data)), 0) FROM messages) WHERE id = 0;
"""


_COLS = "owner, hash, data, ttl, timestamp, nonce, expiration"


def _row(r: tuple[str, str, str, int, int, str, int]) -> Message:
    paid = r[4] + r[3]
    return Message(pubkey=r[0], hash=r[1], data=r[2], ttl=r[3], timestamp=r[4], nonce=r[5],
                   shortened_to=r[6] if r[6] != paid else None)


class SqliteStore:
    """SQLite (WAL) message store.  One connection, used from one thread at a time."""

    def __init__(self, path: str | Path, *, durable: bool = False, limits: StorageLimits | None = None) -> None:
        self.limits = limits or StorageLimits()
        path = Path(path)
        create_private(path)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA secure_delete=ON")  # a purged message's bytes are zeroed, not left in free pages
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        had_usage = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'usage'").fetchone()
        had_messages = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages'").fetchone()
        self._db.executescript(_SCHEMA)
        if had_messages and not had_usage:
            self._db.executescript("BEGIN;" + _BACKFILL_USAGE + "COMMIT;")

    def _insert(self, msgs: Iterable[Message]) -> int:
        # rowcount, not total_changes: the usage triggers' writes must not count as rows.
        cur = self._db.executemany(
            "INSERT OR IGNORE INTO messages (owner, hash, data, ttl, timestamp, nonce, expiration)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((m.pubkey, m.hash, m.data, m.ttl, m.timestamp, m.nonce, m.expiration) for m in msgs),
        )
        return max(cur.rowcount, 0)

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
        """Save several client stores in ONE transaction (group commit); which ones were new.

        The new ones also enter the replication outbox in that transaction, so a message
        acknowledged after this returns is replicated even if the process dies before the
        replicator sent it (the replicator reloads the outbox when the node starts)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                out = [self._insert((m,)) == 1 for m in msgs]
                self._db.executemany("INSERT OR IGNORE INTO outbox (hash) VALUES (?)",
                                     ((m.hash,) for m, new in zip(msgs, out) if new))
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

    def messages_after(self, after_id: int, limit: int, now_ms: int) -> list[tuple[int, Message]]:
        """Live messages with a row id above *after_id*, in id order, at most *limit*."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, {_COLS} FROM messages WHERE id > ? AND expiration > ? ORDER BY id LIMIT ?",
                (after_id, now_ms, limit),
            ).fetchall()
        return [(int(r[0]), _row(r[1:])) for r in rows]

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
            n = self._db.execute("DELETE FROM messages WHERE expiration <= ?", (now_ms,)).rowcount
            if n > 0:
                self._db.executescript("BEGIN;" + _DROP_UNUSED_PROOFS + "COMMIT;")
                # The WAL still holds the frames that wrote those rows: fold it in and cut it.
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return n

    def expire(self, owner: str, hashes: list[str], expiry_ms: int, now_ms: int,
               proof: bytes | None = None) -> tuple[list[str], dict[str, int]]:
        """See :meth:`MemoryStore.expire` (one transaction)."""
        wanted = sorted(set(hashes))
        marks = ",".join("?" * len(wanted))
        with self._lock:
            if not wanted:
                return [], {}
            rows = self._db.execute(
                f"SELECT hash, expiration FROM messages WHERE owner = ? AND expiration > ? AND hash IN ({marks})",
                (owner, now_ms, *wanted)).fetchall()
            updated = sorted(str(h) for h, e in rows if int(e) > expiry_ms)
            unchanged = {str(h): int(e) for h, e in rows if int(e) <= expiry_ms}
            if updated:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany("UPDATE messages SET expiration = ? WHERE hash = ?",
                                         [(expiry_ms, h) for h in updated])
                    if proof is not None:
                        pid = self._db.execute("INSERT INTO expiry_proofs (owner, proof) VALUES (?, ?)",
                                               (owner, proof)).lastrowid
                        self._db.executemany("INSERT OR REPLACE INTO expiry_proof_of (hash, proof_id) VALUES (?, ?)",
                                             [(h, pid) for h in updated])
                        self._db.execute("DELETE FROM expiry_proofs WHERE id NOT IN (SELECT proof_id FROM expiry_proof_of)")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        return updated, unchanged

    def expiry_proofs_after(self, after_id: int, limit: int, now_ms: int) -> list[tuple[int, str, bytes]]:
        """See :meth:`MemoryStore.expiry_proofs_after`."""
        with self._lock:
            rows = self._db.execute("SELECT id, owner, proof FROM expiry_proofs WHERE id > ? ORDER BY id LIMIT ?",
                                    (after_id, limit)).fetchall()
        return [(int(i), str(o), bytes(p)) for i, o, p in rows]

    def usage(self, owner: str) -> tuple[int, int]:
        """(bytes of message data, messages) held for *owner*, expired rows included."""
        with self._lock:
            r = self._db.execute("SELECT bytes, messages FROM usage WHERE owner = ?", (owner,)).fetchone()
        return (int(r[0]), int(r[1])) if r else (0, 0)

    def total_bytes(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT bytes FROM totals WHERE id = 0").fetchone()
        return int(n)

    def refusal(self, msg: Message, now_ms: int) -> str | None:
        with self._lock:
            if self._db.execute("SELECT 1 FROM messages WHERE hash = ?", (msg.hash,)).fetchone():
                return None  # idempotent: a message we hold takes no more room
        for attempt in range(2):
            b, n = self.usage(msg.pubkey)
            why = _refusal(self.limits, msg, b, n, self.total_bytes())
            if why is None or attempt:
                return why
            self.purge_expired(now_ms)
        return None

    # -- replication outbox: acknowledged client stores not yet taken by every swarm peer --------

    def outbox_remove(self, hashes: Iterable[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("DELETE FROM outbox WHERE hash = ?", ((h,) for h in hashes))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def outbox_messages(self, now_ms: int) -> list[Message]:
        """The live messages still to replicate, oldest first (entries of purged ones are dropped)."""
        with self._lock:
            self._db.execute(
                "DELETE FROM outbox WHERE NOT EXISTS"
                " (SELECT 1 FROM messages AS m WHERE m.hash = outbox.hash AND m.expiration > ?)", (now_ms,)
            )
            rows = self._db.execute(
                f"SELECT {_COLS} FROM messages WHERE hash IN (SELECT hash FROM outbox) ORDER BY id"
            ).fetchall()
        return [_row(r) for r in rows]

    def difficulty_history(self) -> list[tuple[int, int]]:
        """The saved (epoch_start, D) entries (see DifficultyTracker.restore)."""
        with self._lock:
            rows = self._db.execute("SELECT epoch_start, d FROM difficulty ORDER BY epoch_start").fetchall()
        return [(int(a), int(b)) for a, b in rows]

    def save_difficulty_history(self, entries: Iterable[tuple[int, int]]) -> None:
        """Replace the saved history with *entries* (one transaction)."""
        rows = [(int(a), int(b)) for a, b in entries]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM difficulty")
                self._db.executemany("INSERT INTO difficulty (epoch_start, d) VALUES (?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
