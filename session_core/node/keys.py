"""The node's identity: an Ed25519 key with its X25519 twin, kept in the data directory."""

from __future__ import annotations

from session_core.server_keys import ServerKeys

__all__ = ["NodeKeys"]


class NodeKeys(ServerKeys):
    KEY_FILE = "key_ed25519"
