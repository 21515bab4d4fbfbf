"""A server's long-term key (service node, file server, room server): an Ed25519 key with its
X25519 twin, kept as a seed in its data directory.

Onion requests are encrypted for the X25519 twin of the key.  The file server is named by the
Ed25519 public key (the ``#p=`` of attachment URLs), a room server by the X25519 one (the
``public_key`` of room URLs), as upstream does.  Each kind keeps its seed under its own file
name (the ``KEY_FILE`` of a subclass, or the name given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

from nacl.bindings import crypto_sign_ed25519_pk_to_curve25519, crypto_sign_ed25519_sk_to_curve25519
from nacl.signing import SigningKey

from session_core.errors import InvalidInputError

__all__ = ["ServerKeys"]


@dataclass(frozen=True)
class ServerKeys:
    signing: SigningKey

    #: The seed's file in the data directory.
    KEY_FILE: ClassVar[str] = "key_ed25519"

    @property
    def ed25519(self) -> bytes:
        return bytes(self.signing.verify_key)

    @property
    def x25519_public(self) -> bytes:
        return bytes(crypto_sign_ed25519_pk_to_curve25519(self.ed25519))

    @property
    def x25519_secret(self) -> bytes:
        return bytes(crypto_sign_ed25519_sk_to_curve25519(bytes(self.signing) + self.ed25519))

    @classmethod
    def load_or_create(cls, data_dir: Path, file_name: str | None = None) -> Self:
        """Read the 32-byte seed from ``<data_dir>/<file_name or KEY_FILE>`` (hex), creating it
        (mode 0600) if absent."""
        path = data_dir / (file_name or cls.KEY_FILE)
        if path.exists():
            try:
                seed = bytes.fromhex(path.read_text().strip())
            except ValueError:
                seed = b""
            if len(seed) != 32:
                raise InvalidInputError(f"{path} must hold 64 hex characters (an Ed25519 seed)")
        else:
            seed = os.urandom(32)
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(seed.hex() + "\n")
        return cls(SigningKey(seed))
