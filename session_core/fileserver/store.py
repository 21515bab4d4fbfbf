"""The file server's storage: blobs as files on disk, their index in SQLite.

A blob's id is its content address, upstream's newer form:
``urlsafe_b64(BLAKE2b(data, digest_size=33, salt=b"SessionFileSvr\\0\\0"))`` (44 characters),
so identical uploads get the same id and are stored once (a repeat upload renews the
expiry).  An upload is written to a temporary file while its hash and size are computed
(:class:`Ingest`: never the whole body in memory), and renamed into place only when complete
and within the size limit; anything else removes the temporary file, so a failed or refused
upload leaves nothing behind.  Files expire ``ttl`` seconds (3 weeks) after their last upload.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from session_core.attachments.pointer import check_file_id
from session_core.errors import AttachmentInputError, AttachmentTooLargeError

__all__ = ["DEFAULT_MAX_SIZE", "DEFAULT_TTL", "BlobStore", "FileInfo", "Ingest"]

#: Upstream's current attachment limit (Desktop and the file server: 10 MB).
DEFAULT_MAX_SIZE = 10_000_000
DEFAULT_TTL = 21 * 86400.0
_SALT = b"SessionFileSvr\0\0"


def _hasher() -> "hashlib.blake2b":
    return hashlib.blake2b(digest_size=33, salt=_SALT)


def content_id(data: bytes) -> str:
    h = _hasher()
    h.update(data)
    return base64.urlsafe_b64encode(h.digest()).decode()


@dataclass(frozen=True)
class FileInfo:
    file_id: str
    size: int
    uploaded: float
    expires: float


class Ingest:
    """One upload being received: ``write`` pieces, then ``finish`` (or ``abort``)."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self._hash = _hasher()
        self.size = 0
        self._tmp = store.tmp_dir / f"up-{os.getpid()}-{id(self):x}-{time.monotonic_ns()}"
        self._fh = open(self._tmp, "wb")

    def write(self, piece: bytes | memoryview) -> None:
        self.size += len(piece)
        if self.size > self._store.max_size:
            self.abort()
            raise AttachmentTooLargeError(f"upload exceeds the file size limit of {self._store.max_size} bytes")
        self._hash.update(piece)
        self._fh.write(piece)

    def finish(self) -> str:
        self._fh.close()
        if self.size == 0:
            self._tmp.unlink(missing_ok=True)
            raise AttachmentInputError("an upload must not be empty")
        file_id = base64.urlsafe_b64encode(self._hash.digest()).decode()
        return self._store.commit(file_id, self._tmp, self.size)

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self._tmp.unlink(missing_ok=True)


class BlobStore:
    def __init__(self, directory: Path, *, max_size: int = DEFAULT_MAX_SIZE, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.max_size = max_size
        self.ttl = ttl
        self.clock = clock
        self.blob_dir = directory / "blobs"
        self.tmp_dir = directory / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp_dir.iterdir():  # uploads cut off by a crash
            stale.unlink(missing_ok=True)
        self.db = sqlite3.connect(directory / "files.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS files (id TEXT PRIMARY KEY, size INTEGER NOT NULL, "
            "uploaded REAL NOT NULL, expires REAL NOT NULL)"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS files_expires ON files(expires)")
        self.uploads = 0
        self.deduplicated = 0

    def close(self) -> None:
        self.db.close()

    def path_of(self, file_id: str) -> Path:
        check_file_id(file_id)
        return self.blob_dir / file_id[:2] / file_id

    def ingest(self) -> Ingest:
        return Ingest(self)

    def put(self, data: bytes | memoryview) -> str:
        """Store a blob that is already in memory (an onion request's body)."""
        return self.spool(data).finish()

    def spool(self, data: bytes | memoryview) -> Ingest:
        """Hash *data* and write it to a temporary file; ``finish()`` the result to record it.
        Touches no shared state but the temporary directory, so a server may run it in a
        worker thread and keep ``finish`` (SQLite) on its own."""
        if len(data) > self.max_size:
            raise AttachmentTooLargeError(f"upload exceeds the file size limit of {self.max_size} bytes")
        up = self.ingest()
        try:
            up.write(data)
        except BaseException:
            up.abort()
            raise
        return up

    def commit(self, file_id: str, tmp: Path, size: int) -> str:
        now = self.clock()
        path = self.path_of(file_id)
        self.uploads += 1
        row = self.db.execute("SELECT size FROM files WHERE id = ?", (file_id,)).fetchone()
        if row is not None and path.exists():
            tmp.unlink(missing_ok=True)
            self.deduplicated += 1
            self.db.execute("UPDATE files SET expires = ? WHERE id = ?", (now + self.ttl, file_id))
            return file_id
        path.parent.mkdir(exist_ok=True)
        os.replace(tmp, path)
        self.db.execute(
            "INSERT OR REPLACE INTO files (id, size, uploaded, expires) VALUES (?, ?, ?, ?)",
            (file_id, size, now, now + self.ttl),
        )
        return file_id

    def info(self, file_id: str) -> FileInfo | None:
        """The file's record, or None if there is none or it expired (or its id is malformed)."""
        try:
            check_file_id(file_id)
        except ValueError:
            return None
        row = self.db.execute("SELECT size, uploaded, expires FROM files WHERE id = ?", (file_id,)).fetchone()
        if row is None or row[2] <= self.clock():
            return None
        return FileInfo(file_id, int(row[0]), float(row[1]), float(row[2]))

    def read(self, file_id: str) -> bytes | None:
        if self.info(file_id) is None:
            return None
        return self.read_file(file_id)

    def read_file(self, file_id: str) -> bytes | None:
        """The file's bytes if it is on disk, without the index check of :meth:`read` (no
        SQLite: safe in a worker thread once :meth:`info` said the file is current)."""
        try:
            return self.path_of(file_id).read_bytes()
        except FileNotFoundError:
            return None

    def purge(self) -> int:
        """Delete expired files; returns how many."""
        now = self.clock()
        ids = [r[0] for r in self.db.execute("SELECT id FROM files WHERE expires <= ?", (now,))]
        for file_id in ids:
            self.path_of(file_id).unlink(missing_ok=True)
            self.db.execute("DELETE FROM files WHERE id = ?", (file_id,))
        return len(ids)

    def stored_sizes(self) -> list[int]:
        return [int(r[0]) for r in self.db.execute("SELECT size FROM files")]
