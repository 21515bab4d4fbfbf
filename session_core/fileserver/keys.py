"""The file server's key: an Ed25519 seed in its data directory; onion requests are encrypted
for the X25519 twin of the key, and clients name the server by the Ed25519 public key (the
``#p=`` of attachment URLs, as upstream)."""

from __future__ import annotations

from session_core.server_keys import ServerKeys

__all__ = ["FileServerKeys", "ServerKeys"]


class FileServerKeys(ServerKeys):
    KEY_FILE = "fileserver_ed25519"
