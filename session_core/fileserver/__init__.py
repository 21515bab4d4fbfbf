"""The file server (whitepaper 5.3): session-file-server's subset, reached through onion
requests.  ``store`` (blobs on disk, index in SQLite), ``server`` (aiohttp), ``keys``."""

from session_core.fileserver.server import FileServer, FileServerConfig, run
from session_core.fileserver.store import DEFAULT_MAX_SIZE, DEFAULT_TTL, BlobStore

__all__ = ["DEFAULT_MAX_SIZE", "DEFAULT_TTL", "BlobStore", "FileServer", "FileServerConfig", "run"]
