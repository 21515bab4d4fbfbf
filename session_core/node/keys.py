"""The node's identity: an Ed25519 key with its X25519 twin, kept in the data directory
(:class:`session_core.server_keys.ServerKeys` in ``<data_dir>/key_ed25519``)."""

from __future__ import annotations

from pathlib import Path

from session_core.server_keys import ServerKeys

KEY_FILE = "key_ed25519"


class NodeKeys(ServerKeys):
    @classmethod
    def load_or_create(cls, data_dir: Path, file_name: str = KEY_FILE) -> NodeKeys:
        """Read the 32-byte seed from ``<data_dir>/key_ed25519`` (hex), creating it (mode 0600) if absent."""
        return cls(ServerKeys.load_or_create(data_dir, file_name).signing)
