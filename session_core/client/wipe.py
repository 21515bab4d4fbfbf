"""Full wipe of a profile: identity, databases, node list, every file in its directory.

Theory of operation.  Everything a profile keeps at rest is already encrypted under keys that
derive from the seed, and the seed is kept only wrapped under the passphrase (identity.json)
or the PIN (pin.json).  So the wipe is first a *crypto-erasure*: once those wrapped copies are
gone, the rest is noise to anyone without the recovery phrase.  It then goes further, because
the rows' sizes, times and counts are metadata too:

1. an open client database is scrubbed through SQLite itself: ``secure_delete`` on, every row of
   every table deleted, checkpointed, then the WAL file is overwritten in place (SQLite would
   otherwise unlink it with old frames still in its blocks);
2. every file under the profile directory is overwritten in place with zeros (same inode, so
   the blocks that held it are the ones overwritten on a conventional file system), flushed
   with fsync, truncated and unlinked; then the directories are removed.

Not covered (docs/protections.md): copy-on-write and log-structured file systems, SSD wear
levelling and snapshots/backups made by the OS may keep old blocks; Python cannot reliably
erase secrets from its own memory.  Full-disk encryption is the answer to the first.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WipeReport", "overwrite_and_unlink", "scrub_sqlite", "wipe_directory"]

_CHUNK = 1 << 16


@dataclass(frozen=True)
class WipeReport:
    files: int
    bytes: int


def scrub_sqlite(db: sqlite3.Connection, path: Path) -> None:
    """Delete every row of every table of an open database so its bytes are zeroed, then close
    it without leaving the WAL's old frames behind."""
    db.execute("PRAGMA secure_delete=ON")
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    if db.in_transaction:
        db.execute("ROLLBACK")
    db.execute("BEGIN")
    for t in tables:
        db.execute(f'DELETE FROM "{t}"')
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(FULL)")  # the zeroed pages reach the main file
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        _overwrite(wal)  # a zeroed WAL header is an empty WAL to SQLite: nothing to replay
    shm = path.with_name(path.name + "-shm")
    if shm.exists():
        # The WAL index (page numbers, no row data) is mapped by SQLite: zero it in place but
        # keep its size, or touching the mapping would fault.  SQLite unlinks it on close.
        _overwrite(shm, truncate=False)
    db.close()


def _overwrite(path: Path, *, truncate: bool = True) -> int:
    size = path.stat().st_size
    fd = os.open(path, os.O_WRONLY)
    try:
        zeros = bytes(_CHUNK)
        left = size
        while left > 0:
            left -= os.write(fd, zeros[: min(left, _CHUNK)])
        os.fsync(fd)
        if truncate:
            os.ftruncate(fd, 0)
            os.fsync(fd)
    finally:
        os.close(fd)
    return size


def overwrite_and_unlink(path: Path) -> int:
    """One file: overwritten in place, truncated, unlinked; its size."""
    size = _overwrite(path)
    path.unlink()
    return size


def wipe_directory(directory: Path) -> WipeReport:
    """Overwrite, truncate and unlink every file under *directory*, then remove it.  Symbolic
    links are unlinked, never followed (a link must not make us wipe something else)."""
    directory = Path(directory)
    files = total = 0
    if not directory.exists():
        return WipeReport(0, 0)
    for root, dirs, names in os.walk(directory, topdown=False, followlinks=False):
        for name in names:
            p = Path(root) / name
            try:
                if not p.is_symlink() and p.is_file():
                    total += _overwrite(p)
                    files += 1
                p.unlink()
            except FileNotFoundError:
                continue  # another wiper got there first (a duress wipe finishing): fine
        for d in dirs:
            q = Path(root) / d
            with contextlib.suppress(FileNotFoundError):
                q.unlink() if q.is_symlink() else q.rmdir()
    with contextlib.suppress(FileNotFoundError):
        directory.rmdir()
    return WipeReport(files, total)
