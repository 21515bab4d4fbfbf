"""Encryption of saved protocol state (ratchet sessions, prekeys) at rest.

The libraries' saved state holds private keys in clear, so nothing leaves this package
unencrypted.  Key: HKDF-SHA256 of the identity's Ed25519 seed with a purpose label, so whoever can
read the database but not the identity (itself protected by the profile passphrase) learns
nothing.  Cipher: AES-256-GCM with a random 96-bit nonce; the label is authenticated as associated
data, so a blob saved as one kind of state cannot be loaded as another.

Blob layout: ``b"SCS1" || nonce(12) || ciphertext+tag``.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from session_core.errors import StateDecryptionError
from session_core.identity import Identity

__all__ = ["StateKey"]

_MAGIC = b"SCS1"
_NONCE = 12


class StateKey:
    """The at-rest key of one identity for one purpose label."""

    __slots__ = ("_aead", "_label")

    def __init__(self, key: bytes, label: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the state key is 32 bytes")
        self._aead = AESGCM(key)
        self._label = label

    @classmethod
    def for_identity(cls, identity: Identity, label: bytes) -> StateKey:
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"session_core/at-rest/v1",
            info=label,
        ).derive(identity.ed25519_seed)
        return cls(key, label)

    def seal(self, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return _MAGIC + nonce + self._aead.encrypt(nonce, plaintext, self._label)

    def open(self, blob: bytes) -> bytes:
        if not isinstance(blob, (bytes, bytearray)) or len(blob) < len(_MAGIC) + _NONCE + 16:
            raise StateDecryptionError("saved state is truncated")
        if bytes(blob[:4]) != _MAGIC:
            raise StateDecryptionError("saved state has an unknown format marker")
        nonce = bytes(blob[4 : 4 + _NONCE])
        try:
            return self._aead.decrypt(nonce, bytes(blob[4 + _NONCE :]), self._label)
        except InvalidTag:
            raise StateDecryptionError(
                "saved state does not decrypt with this identity's key (wrong identity or corrupt)"
            ) from None
