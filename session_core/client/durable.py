"""Durable commits that do not stop the event loop: commit, then fsync the WAL in a thread.

Theory of operation
-------------------
Before an envelope leaves the device, the state that produced it (a Double Ratchet step) must be
on disk: after a power cut, a lost step would encrypt the next message with a used key
(:meth:`ClientDB.transaction <session_core.client.db.ClientDB.transaction>`).  A commit with
``synchronous=FULL`` does that by fsyncing the WAL inside ``COMMIT``, on the event loop's thread:
1.3-12 ms here under load, during which the client does nothing else.  The bench's trace
(``benches/bench_client.py --trace``) showed it twice per synchronous message, once before it
leaves and once before its receipt leaves, and the second one also delayed showing the
message to anything awaiting the event queue (issue 19).

:meth:`WalSync.flush` gives the same guarantee off the loop.  The caller commits as usual (WAL,
``synchronous=NORMAL``: the transaction's frames are written to the ``-wal`` file, not synced),
then awaits ``flush()``, which fsyncs that file in a worker thread.  The envelope leaves only
after ``flush()`` returns, so what it depends on is on disk first, as with FULL.  Why this is
the same guarantee:

- fsync flushes every dirty page of the file, whichever descriptor wrote it, so the commit's
  frames (and every earlier commit's) are on disk when it returns;
- a checkpoint between the commit and the fsync (another commit reached the auto-checkpoint
  size) first syncs the WAL and then the database file (``synchronous=NORMAL`` in WAL mode), so
  the commit is durable in the database file before the WAL is reused;
- the WAL was created by this connection: as SQLite does for a new WAL, the first flush also
  syncs the directory, so the file's name survives a power cut too.
If the ``-wal`` file is missing (no write since the last connection closed it, after a full
checkpoint), the database file itself is synced.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

__all__ = ["WalSync"]


class WalSync:
    """fsync of one SQLite database's WAL, awaited without blocking the event loop."""

    def __init__(self, db_path: Path | str) -> None:
        self.db_path = Path(db_path)
        self.wal_path = Path(str(db_path) + "-wal")
        self._dir_synced = False
        self.flushes = 0

    async def flush(self) -> None:
        """Return once every commit made before this call is on disk."""
        await asyncio.to_thread(self.flush_blocking)

    def flush_blocking(self) -> None:
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:  # everything is in the database file (checkpointed and closed)
            fd = os.open(self.db_path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if not self._dir_synced:
            dfd = os.open(self.db_path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            self._dir_synced = True
        self.flushes += 1
