"""The encrypted value of a name: the 33-byte Session ID (``05`` || X25519 key), encrypted so
that only someone who knows the name can read it (oxen-core ONS, libsession-util
``decrypt_ons_response``).

Current form: XChaCha20-Poly1305 (IETF) under ``key = BLAKE2b-256(name, key=BLAKE2b-256(name))``
with a random 24-byte nonce, kept beside the 49-byte ciphertext.  Legacy form (registrations
before Oxen hard fork 16, and what a lookup without a nonce means): key = Argon2id(name, salt of
16 zero bytes, libsodium's MODERATE limits), XSalsa20-Poly1305 secretbox with a zero nonce.  The
legacy key costs 256 MiB and about a second to derive; it is kept so old records stay readable,
never chosen for new ones.

Misuse warning: the key depends on the name only, so a nonce must never be reused for two
values of the same name (the encrypt functions draw a fresh one unless a test passes one).
"""

from __future__ import annotations

import hashlib
import os

import nacl.bindings as sodium
import nacl.exceptions
import nacl.pwhash.argon2id

from session_core.errors import NameValueError
from session_core.identity import parse_session_id
from session_core.names.name import normalize_name

__all__ = ["NONCE_BYTES", "VALUE_BYTES", "encrypt_value", "decrypt_value", "encrypt_value_legacy", "value_key"]

NONCE_BYTES = 24
VALUE_BYTES = 33  # 05 || X25519 public key
_TAG_BYTES = 16
_LEGACY_SALT = bytes(16)
_LEGACY_NONCE = bytes(24)


def value_key(name: str) -> bytes:
    """The XChaCha20-Poly1305 key of a name's value."""
    raw = normalize_name(name).encode("ascii")
    h = hashlib.blake2b(raw, digest_size=32).digest()
    return hashlib.blake2b(raw, digest_size=32, key=h).digest()


def _legacy_key(name: str) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        32, normalize_name(name).encode("ascii"), _LEGACY_SALT,
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_MODERATE, memlimit=nacl.pwhash.argon2id.MEMLIMIT_MODERATE,
    )


def _session_id_bytes(session_id: str) -> bytes:
    return b"\x05" + parse_session_id(session_id.lower())


def encrypt_value(name: str, session_id: str, nonce: bytes | None = None) -> tuple[bytes, bytes]:
    """``(ciphertext, nonce)`` of *session_id* under *name* (current form, fresh random nonce)."""
    plain = _session_id_bytes(session_id)
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise NameValueError(f"the nonce is {NONCE_BYTES} bytes, got {len(nonce)}")
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, None, nonce, value_key(name))
    return bytes(ct), nonce


def encrypt_value_legacy(name: str, session_id: str) -> bytes:
    """The pre-HF16 form (no nonce travels with it); for tests and old records only."""
    return bytes(sodium.crypto_secretbox(_session_id_bytes(session_id), _LEGACY_NONCE, _legacy_key(name)))


def decrypt_value(name: str, ciphertext: bytes, nonce: bytes | None) -> str:
    """The Session ID (hex) that *ciphertext* holds; *nonce* None means the legacy form."""
    if nonce is None:
        if len(ciphertext) != VALUE_BYTES + _TAG_BYTES:
            raise NameValueError(f"a legacy name value is {VALUE_BYTES + _TAG_BYTES} bytes, got {len(ciphertext)}")
        try:
            plain = sodium.crypto_secretbox_open(ciphertext, _LEGACY_NONCE, _legacy_key(name))
        except nacl.exceptions.CryptoError:
            raise NameValueError("the name value does not decrypt under this name (legacy form)") from None
    else:
        if len(nonce) != NONCE_BYTES:
            raise NameValueError(f"the nonce is {NONCE_BYTES} bytes, got {len(nonce)}")
        if len(ciphertext) != VALUE_BYTES + _TAG_BYTES:
            raise NameValueError(f"a name value is {VALUE_BYTES + _TAG_BYTES} bytes, got {len(ciphertext)}")
        try:
            plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, None, nonce, value_key(name))
        except nacl.exceptions.CryptoError:
            raise NameValueError("the name value does not decrypt under this name") from None
    if plain[:1] != b"\x05":
        raise NameValueError("the name value decrypts but is not a Session ID (no 05 prefix)")
    return bytes(plain).hex()
