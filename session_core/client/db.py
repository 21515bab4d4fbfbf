"""The client's state in SQLite, encrypted at rest.

Every row that says anything about the user (the Messenger state with its sessions and contacts,
messages, last hashes, listening-node details, the outbox of stores still owed) is sealed with AES-256-GCM under a key derived
from the identity's seed (:class:`~session_core.protocol.at_rest.StateKey`, label
``client-db``). Lookups use keyed BLAKE2b tags instead of Session IDs or hashes, so the file
alone shows row counts and times, not who talks to whom.  The file is created 0600.

Disappearing messages (docs/protections.md): a row of ``expiries`` gives a message its time of
death (``at``; 0 = "after read", not read yet).  :meth:`ClientDB.delete_due` deletes what is due
with ``secure_delete`` on and truncates the WAL, so the sealed bytes leave the files too.

The Messenger is saved as rows: its core (prekeys, name) under ``messenger_core`` and one row per
contact in ``contacts``, each sealed by the Messenger itself; a save writes only what changed
(:meth:`ClientDB.save_messenger`).  A profile saved before rows existed holds the whole
Messenger in one blob; :meth:`ClientDB.load_messenger` turns it into rows, in one transaction.

Durability: commits wait for the disk only when the caller says an envelope is about to leave
(:meth:`ClientDB.transaction` with ``durable=True``); see there why the others need not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from session_core.client.wipe import scrub_sqlite
from session_core.errors import ClientStateError, StateDecryptionError
from session_core.identity import Identity
from session_core.private_files import create_private
from session_core.protocol.at_rest import StateKey
from session_core.protocol.conversation import Messenger, StateChanges

__all__ = ["ClientDB"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (name TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, peer_tag TEXT NOT NULL,
                                     at INTEGER NOT NULL, blob BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS messages_peer ON messages(peer_tag, id);
CREATE TABLE IF NOT EXISTS seen (tag TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (tag TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS expiries (msg_id INTEGER PRIMARY KEY, at INTEGER NOT NULL, timer_ms INTEGER NOT NULL,
                                     node_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS expiries_at ON expiries(at);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, slot TEXT UNIQUE,
                                   due INTEGER NOT NULL, attempts INTEGER NOT NULL, blob BLOB NOT NULL);
"""
_CORE = "messenger_core"
_LEGACY_BLOB = "messenger"  # the whole Messenger in one blob, as saved before contact rows


class ClientDB:
    def __init__(self, path: Path | str, identity: Identity) -> None:
        self._key = StateKey.for_identity(identity, b"client-db")
        self._tag_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"session_core/client-db/v1",
                             info=b"index tags").derive(identity.ed25519_seed)
        self.path = Path(path)
        create_private(path)  # it holds sealed state, but row counts and times are still private
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA secure_delete=ON")  # deleted rows are zeroed, not left in free pages
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable commits ask for FULL: transaction()
        self.db.executescript(_SCHEMA)
        probe = self.get("owner")
        if probe is None:
            self.put("owner", identity.session_id)
        elif probe != identity.session_id:
            raise ClientStateError("this client database belongs to another identity")

    def close(self) -> None:
        self.db.close()

    def scrub_and_close(self) -> None:
        """Delete every row so the file holds zeros, leave no WAL frames behind, close (wipe)."""
        scrub_sqlite(self.db, self.path)

    def tag(self, text: str) -> str:
        return hashlib.blake2b(text.encode(), key=self._tag_key, digest_size=16).hexdigest()

    def _open(self, blob: bytes) -> Any:
        try:
            return json.loads(self._key.open(blob))
        except StateDecryptionError as exc:
            raise ClientStateError(f"client database does not decrypt with this identity: {exc}") from None

    # -- key/value ----------------------------------------------------------------------------

    def put(self, name: str, value: Any) -> None:
        blob = self._key.seal(json.dumps(value).encode())
        self.db.execute("INSERT OR REPLACE INTO kv(name, blob) VALUES (?, ?)", (name, blob))

    def get(self, name: str) -> Any:
        row = self.db.execute("SELECT blob FROM kv WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._open(row[0])

    def put_bytes(self, name: str, blob: bytes) -> None:
        """Store an already-encrypted blob (the Messenger seals its own state)."""
        self.db.execute("INSERT OR REPLACE INTO kv(name, blob) VALUES (?, ?)", (name, blob))

    def get_bytes(self, name: str) -> bytes | None:
        row = self.db.execute("SELECT blob FROM kv WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def write_rows(self, puts: dict[str, Any], deletes: list[str]) -> None:
        """Put and delete key/value rows in one transaction (the closed groups' chains)."""
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO kv(name, blob) VALUES (?, ?)",
                                [(n, self._key.seal(json.dumps(v).encode())) for n, v in puts.items()])
            self.db.executemany("DELETE FROM kv WHERE name = ?", [(n,) for n in deletes])

    # -- the Messenger, as a core and one row per contact ---------------------------------------

    def load_messenger(self, identity: Identity, display_name: str) -> Messenger:
        """The saved Messenger (a new one if none was saved); migrates a one-blob save to rows."""
        core = self.get_bytes(_CORE)
        if core is not None:
            rows = [bytes(r[0]) for r in self.db.execute("SELECT blob FROM contacts ORDER BY rowid")]
            return Messenger.from_rows(identity, core, rows)
        legacy = self.get_bytes(_LEGACY_BLOB)
        messenger = Messenger.from_bytes(identity, legacy) if legacy else Messenger(identity, display_name)
        self.save_messenger(messenger, drop_legacy=legacy is not None)
        return messenger

    def save_messenger(self, messenger: Messenger, *, drop_legacy: bool = False) -> None:
        """Write what changed in *messenger* since it was last saved, atomically."""
        changes = messenger.take_changes()
        try:
            self._write_changes(changes, drop_legacy)
        except BaseException:
            messenger.put_back(changes)
            raise

    def _write_changes(self, changes: StateChanges, drop_legacy: bool) -> None:
        if changes.core is None and not changes.contacts and not changes.removed and not drop_legacy:
            return
        # A savepoint: its own transaction, or a part of the caller's (:meth:`transaction`).
        self.db.execute("SAVEPOINT messenger")
        try:
            if changes.core is not None:
                self.put_bytes(_CORE, changes.core)
            # Upsert, not REPLACE: a contact keeps its rowid, so rows load in arrival order.
            self.db.executemany(
                "INSERT INTO contacts(tag, blob) VALUES (?, ?) ON CONFLICT(tag) DO UPDATE SET blob = excluded.blob",
                [(self.tag("contact:" + sid), blob) for sid, blob in changes.contacts.items()])
            self.db.executemany("DELETE FROM contacts WHERE tag = ?",
                                [(self.tag("contact:" + sid),) for sid in changes.removed])
            if drop_legacy:
                self.db.execute("DELETE FROM kv WHERE name = ?", (_LEGACY_BLOB,))
        except BaseException:
            self.db.execute("ROLLBACK TO messenger")
            self.db.execute("RELEASE messenger")
            raise
        self.db.execute("RELEASE messenger")

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[None]:
        """Everything written inside commits together (receiving a message writes four rows)
        or, on an exception, not at all.

        *durable*: the commit waits for the disk (``synchronous=FULL``), and with it every
        commit before it.  Required before an envelope leaves the device: a ratchet state
        lost to a power cut after its message went out would encrypt the next message with a
        used key.  Other commits are safe against a crash of the process but may be lost to a
        power cut (WAL, ``synchronous=NORMAL``): what they record is received again from the
        swarm (last hashes and dedup roll back with it), so they skip the disk wait that
        otherwise dominated the client's part of a message's latency (issue 19).
        Nested in another transaction, it is part of that one (and of its durability)."""
        if self.db.in_transaction:
            yield
            return
        if durable:
            self.db.execute("PRAGMA synchronous=FULL")  # only allowed outside a transaction
        try:
            self.db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        finally:
            if durable:
                self.db.execute("PRAGMA synchronous=NORMAL")

    # -- messages -----------------------------------------------------------------------------

    def add_message(self, peer: str, record: dict[str, Any], at_ms: int) -> int:
        blob = self._key.seal(json.dumps(record).encode())
        cur = self.db.execute("INSERT INTO messages(peer_tag, at, blob) VALUES (?, ?, ?)", (self.tag(peer), at_ms, blob))
        return int(cur.lastrowid or 0)

    def messages(self, peer: str | None = None, after_id: int = 0) -> list[dict[str, Any]]:
        if peer is None:
            rows = self.db.execute("SELECT id, blob FROM messages WHERE id > ? ORDER BY id", (after_id,)).fetchall()
        else:
            rows = self.db.execute("SELECT id, blob FROM messages WHERE peer_tag = ? AND id > ? ORDER BY id",
                                   (self.tag(peer), after_id)).fetchall()
        return [{"id": i, **self._open(b)} for i, b in rows]

    # -- disappearing messages ---------------------------------------------------------------

    def set_expiry(self, msg_id: int, at_ms: int, timer_ms: int, node_hash: str = "") -> None:
        """Message *msg_id* disappears at *at_ms* (0: *timer_ms* after it is read)."""
        self.db.execute("INSERT OR REPLACE INTO expiries(msg_id, at, timer_ms, node_hash) VALUES (?, ?, ?, ?)",
                        (msg_id, at_ms, timer_ms, node_hash))

    def start_read_timers(self, peer: str | None, now_ms: int) -> list[tuple[str, int]]:
        """Start the timers of unread after-read messages (of *peer*, or all): (node hash, time
        of death) of each ("" as the hash: it came another way and has no copy in our swarm)."""
        where = "" if peer is None else " AND msg_id IN (SELECT id FROM messages WHERE peer_tag = ?)"
        args: tuple[Any, ...] = () if peer is None else (self.tag(peer),)
        rows = self.db.execute(f"SELECT msg_id, timer_ms, node_hash FROM expiries WHERE at = 0{where}", args).fetchall()
        self.db.executemany("UPDATE expiries SET at = ? WHERE msg_id = ?", [(now_ms + t, i) for i, t, _ in rows])
        return [(h, now_ms + t) for _, t, h in rows]

    def unread_timers(self) -> dict[int, int]:
        """{message id: timer ms} of the after-read messages whose timer has not started."""
        return {int(i): int(t) for i, t in self.db.execute("SELECT msg_id, timer_ms FROM expiries WHERE at = 0")}

    def messages_by_id(self, ids: list[int]) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"SELECT id, blob FROM messages WHERE id IN ({marks}) ORDER BY id", ids).fetchall() if ids else []
        return [{"id": i, **self._open(b)} for i, b in rows]

    def start_timers(self, timers: dict[int, int], now_ms: int) -> None:
        """Start the after-read timers of these messages now ({message id: timer ms})."""
        self.db.executemany("UPDATE expiries SET at = ? WHERE msg_id = ? AND at = 0",
                            [(now_ms + t, i) for i, t in timers.items()])

    def next_expiry(self) -> int | None:
        row = self.db.execute("SELECT MIN(at) FROM expiries WHERE at > 0").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def delete_due(self, now_ms: int) -> int:
        """Delete the messages whose time has come; their bytes leave the file and the WAL."""
        with self.transaction():
            n = self.db.execute("DELETE FROM messages WHERE id IN (SELECT msg_id FROM expiries WHERE at > 0 AND at <= ?)",
                                (now_ms,)).rowcount
            self.db.execute("DELETE FROM expiries WHERE at > 0 AND at <= ?", (now_ms,))
        if n > 0:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n

    # -- outbox: stores we owe the network (client/outbox.py) ----------------------------------

    def outbox_add(self, record: dict[str, Any], due_ms: int, slot: str = "") -> int:
        """Queue a sealed record; one with the same ``slot`` is replaced (it is superseded)."""
        blob = self._key.seal(json.dumps(record).encode())
        with self.transaction(durable=True):  # what we owe must survive a power cut too
            if slot:
                self.db.execute("DELETE FROM outbox WHERE slot = ?", (self.tag(slot),))
            cur = self.db.execute("INSERT INTO outbox(slot, due, attempts, blob) VALUES (?, ?, 0, ?)",
                                  (self.tag(slot) if slot else None, due_ms, blob))
        return int(cur.lastrowid or 0)

    def outbox_rows(self, due_by_ms: int | None = None) -> list[tuple[int, int, int, dict[str, Any]]]:
        """(id, due ms, attempts, record), oldest first; only those due by ``due_by_ms`` if given."""
        if due_by_ms is None:
            rows = self.db.execute("SELECT id, due, attempts, blob FROM outbox ORDER BY id").fetchall()
        else:
            rows = self.db.execute("SELECT id, due, attempts, blob FROM outbox WHERE due <= ? ORDER BY id",
                                   (due_by_ms,)).fetchall()
        return [(i, d, a, self._open(b)) for i, d, a, b in rows]

    def outbox_reschedule(self, row_id: int, due_ms: int, attempts: int) -> None:
        self.db.execute("UPDATE outbox SET due = ?, attempts = ? WHERE id = ?", (due_ms, attempts, row_id))

    def outbox_remove(self, row_id: int) -> None:
        self.db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    # -- dedup --------------------------------------------------------------------------------

    def seen(self, digest: str) -> bool:
        return self.db.execute("SELECT 1 FROM seen WHERE tag = ?", (self.tag(digest),)).fetchone() is not None

    def mark_seen(self, digest: str, at_ms: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO seen(tag, at) VALUES (?, ?)", (self.tag(digest), at_ms))
