"""Session's attachment encryption (INTEROP §6.1), byte for byte.

``key`` is 64 random bytes: ``key[:32]`` for AES-256-CBC, ``key[32:]`` for HMAC-SHA256.
``blob = iv ‖ AES-256-CBC-PKCS7(plaintext) ‖ HMAC-SHA256(iv ‖ ciphertext)`` and the message
carries ``digest = SHA-256(blob)``.  Decryption checks, in upstream's order, the length, the
MAC (constant time), then the digest, and only then decrypts.

Padding to a size bucket happens before this (:mod:`~session_core.attachments.padding`);
this module encrypts whatever it is given.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import padding as pkcs7
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from session_core.errors import AttachmentDecryptError, AttachmentDigestError, AttachmentInputError

__all__ = ["KEY_BYTES", "MIN_BLOB", "Encrypted", "new_key", "encrypt", "decrypt", "digest_of"]

KEY_BYTES = 64
_IV = 16
_MAC = 32
#: IV + one AES block + MAC: the shortest blob there can be.
MIN_BLOB = _IV + 16 + _MAC


@dataclass(frozen=True)
class Encrypted:
    blob: bytes = field(repr=False)
    key: bytes = field(repr=False)
    digest: bytes


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
        raise AttachmentInputError(f"an attachment key is {KEY_BYTES} bytes")
    return bytes(key)


def digest_of(blob: bytes | memoryview) -> bytes:
    return hashlib.sha256(blob).digest()


def encrypt(plaintext: bytes, key: bytes | None = None, *, zero_fill: int = 0, iv: bytes | None = None) -> Encrypted:
    """Encrypt ``plaintext`` followed by ``zero_fill`` zero bytes (the bucket padding, added
    here so a 4 MiB chunk is not copied just to pad it) with a fresh random key (or ``key``)
    and IV.  ``iv`` exists for test vectors only: never reuse one with the same key."""
    key = new_key() if key is None else _check_key(key)
    iv = os.urandom(_IV) if iv is None else iv
    if len(iv) != _IV:
        raise AttachmentInputError("the IV is 16 bytes")
    if zero_fill < 0:
        raise AttachmentInputError("zero_fill is >= 0")
    total = len(plaintext) + zero_fill
    tail = 16 - total % 16
    enc = Cipher(algorithms.AES(key[:32]), modes.CBC(iv)).encryptor()
    # CBC buffers partial blocks between updates: the pieces need not be block aligned.
    parts = [iv, enc.update(plaintext), enc.update(bytes(zero_fill) + bytes([tail]) * tail), enc.finalize()]
    mac = hmac.new(key[32:], digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    parts.append(mac.digest())
    blob = b"".join(parts)
    return Encrypted(blob, key, digest_of(blob))


def decrypt(blob: bytes, key: bytes, digest: bytes) -> bytes:
    """The plaintext of ``blob``; :class:`AttachmentDecryptError` (or its subclass
    :class:`AttachmentDigestError`) if it does not check out.  The digest is required, as
    upstream's reader requires it."""
    key = _check_key(key)
    view = memoryview(blob)
    n = view.nbytes
    if n < MIN_BLOB or (n - _IV - _MAC) % 16:
        raise AttachmentDecryptError(f"an attachment of {n} bytes cannot be a valid blob (truncated?)")
    mac = hmac.new(key[32:], view[: n - _MAC], hashlib.sha256).digest()
    if not hmac.compare_digest(mac, view[n - _MAC :]):
        raise AttachmentDecryptError("the attachment does not authenticate: wrong key, or tampered/truncated")
    if not hmac.compare_digest(digest_of(view), digest):
        raise AttachmentDigestError("the attachment's SHA-256 is not the digest its sender gave")
    dec = Cipher(algorithms.AES(key[:32]), modes.CBC(bytes(view[:_IV]))).decryptor()
    padded = dec.update(view[_IV : n - _MAC]) + dec.finalize()
    unpadder = pkcs7.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        # Only the key holder could have made a valid MAC over bad padding.
        raise AttachmentDecryptError("the attachment's PKCS#7 padding is invalid") from None
