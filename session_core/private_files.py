"""Files that hold secrets (message databases, client state) are readable by their owner only.

A process's umask usually makes new files 0644, so a database opened the ordinary way is
readable by every local user.  :func:`create_private` creates the file 0600 before SQLite opens
it (SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file), and tightens a
file an older version created with the umask's mode, together with its ``-wal``/``-shm``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRIVATE_MODE", "create_private"]

PRIVATE_MODE = 0o600
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def create_private(path: Path | str) -> None:
    """Create *path* with mode 0600, or set an existing file (and its SQLite side files) to 0600."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE))
    except FileExistsError:
        os.chmod(path, PRIVATE_MODE)
        for suffix in _SQLITE_SIDE_FILES:
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.chmod(side, PRIVATE_MODE)
