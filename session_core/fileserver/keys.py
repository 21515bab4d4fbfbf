"""The file server's key (:class:`session_core.server_keys.ServerKeys`) and where it is kept;
clients name the server by the Ed25519 public key (the ``#p=`` of attachment URLs)."""

from __future__ import annotations

from pathlib import Path

from session_core.server_keys import ServerKeys

__all__ = ["KEY_FILE", "ServerKeys", "load_or_create"]

KEY_FILE = "fileserver_ed25519"


def load_or_create(data_dir: Path) -> ServerKeys:
    return ServerKeys.load_or_create(data_dir, KEY_FILE)
