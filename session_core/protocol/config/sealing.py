"""Padding and encryption of config messages, as libsession-util does it (``config/encrypt.cpp``).

Theory of operation.  Every device of an account derives the same key from the account's
Ed25519 seed, so each can read and write the configs in the account's own swarm, and nobody
else can.  For a plaintext ``M`` of ``n`` bytes in domain ``D`` (``"Contacts"``, ...):

    key   = BLAKE2b-32(seed32 || be64(n) || D)                   (unkeyed)
    nonce = BLAKE2b-24(M, key = "libsessionutil-config-encrypted-" || D)
    out   = XChaCha20-Poly1305(key, nonce, M) || nonce

The nonce is derived from the plaintext: the same config gives the same bytes on every device
(so two devices pushing the same merge store one message, not two) and nothing random is needed.
Before encryption the plaintext is left-padded with zero bytes to a size bucket (256-byte steps
up to 5 120, then 1 024, 2 048, 5 120, counting the 40 bytes of overhead) so a config's size says
little about how many contacts it holds; a bt-encoded message starts with ``d``, so the zeros
strip off unambiguously.
"""

from __future__ import annotations

import hashlib

import nacl.exceptions
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)

from session_core.errors import ConfigFormatError, ConfigSignatureError, InvalidInputError

__all__ = ["OVERHEAD", "decrypt", "encrypt", "pad", "padded_size", "unpad"]

OVERHEAD = 40  # Poly1305 tag (16) + nonce (24)
_NONCE_KEY_PREFIX = b"libsessionutil-config-encrypted-"
_MAX_DOMAIN = 24


def padded_size(size: int, overhead: int = OVERHEAD) -> int:
    """The plaintext size after padding (so that ``size + overhead`` lands on a bucket)."""
    total = size + overhead
    chunk = 256 if total < 5120 else 1024 if total < 20480 else 2048 if total < 40960 else 5120
    return -(-total // chunk) * chunk - overhead


def pad(message: bytes) -> bytes:
    return bytes(padded_size(len(message)) - len(message)) + message


def unpad(padded: bytes) -> bytes:
    body = padded.lstrip(b"\x00")
    if not body:
        raise ConfigFormatError("config plaintext is all padding")
    return body


def _key(seed: bytes, size: int, domain: bytes) -> bytes:
    if len(seed) != 32:
        raise InvalidInputError("the config key base is the 32-byte Ed25519 seed")
    if not 1 <= len(domain) <= _MAX_DOMAIN:
        raise InvalidInputError("a config domain is 1 to 24 bytes")
    return hashlib.blake2b(seed + size.to_bytes(8, "big") + domain, digest_size=32).digest()


def encrypt(message: bytes, seed: bytes, domain: bytes) -> bytes:
    key = _key(seed, len(message), domain)
    nonce = hashlib.blake2b(message, digest_size=24, key=_NONCE_KEY_PREFIX + domain).digest()
    return crypto_aead_xchacha20poly1305_ietf_encrypt(message, None, nonce, key) + nonce


def decrypt(ciphertext: bytes, seed: bytes, domain: bytes) -> bytes:
    if len(ciphertext) < OVERHEAD:
        raise ConfigSignatureError("config ciphertext too short")
    body, nonce = ciphertext[:-24], ciphertext[-24:]
    key = _key(seed, len(body) - 16, domain)
    try:
        return bytes(crypto_aead_xchacha20poly1305_ietf_decrypt(body, None, nonce, key))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise ConfigSignatureError("config message does not decrypt with this account's key") from None

