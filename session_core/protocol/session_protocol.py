"""Session's production 1:1 encryption (the "Session protocol", desktop >= 1.5).

Theory of operation (libsession-util ``session_encrypt.cpp`` ``encrypt_for_recipient`` /
``decrypt_incoming``; Desktop ``MessageEncrypter.encryptUsingSessionProtocol``), with A the
sender's Ed25519 public key and Y the recipient's X25519 public key:

    sig        = Ed25519_sign(M || A || Y)
    ciphertext = crypto_box_seal(Y, M || A || sig)

``M`` is whatever the caller encrypts (clients pass a padded ``Content``).  The recipient opens
the sealed box, verifies ``sig`` with the A found inside over ``M || A || Y`` (binding Y stops
the recipient from re-sealing the message to someone else), and the sender's Session ID is
``05`` + the X25519 form of A.  There is no forward secrecy: whoever later learns the recipient's
identity key can read every message ever sealed to it.  That is why session_core keeps its
X3DH + Double Ratchet mode as the default between its own peers.

A sealed box is ``eph_pk || crypto_box(M', nonce = BLAKE2b-24(eph_pk || Y), Y, eph_sk)`` for a
fresh ephemeral X25519 key pair.  :func:`encrypt_for_recipient_deterministic` derives that key
pair, as libsession-util does, from ``BLAKE2b-32(key="SessionBoxEphemeralHashKey",
sender_seed || Y || M)``, so the same message gives the same bytes (used for deduplicated pushes,
and for reproducing upstream's test vector byte for byte).
"""

from __future__ import annotations

import nacl.exceptions
from nacl.bindings import (
    crypto_box,
    crypto_box_seal,
    crypto_box_seal_open,
    crypto_box_seed_keypair,
    crypto_generichash_blake2b_salt_personal,
    crypto_sign_open,
)

from session_core.errors import DecryptionError
from session_core.identity import Identity, session_id_from_x25519, x25519_from_ed25519_public

__all__ = [
    "SEAL_OVERHEAD",
    "decrypt_incoming",
    "encrypt_for_recipient",
    "encrypt_for_recipient_deterministic",
    "open_signed",
    "sender_session_id",
    "sign_for_recipient",
]

SEAL_OVERHEAD = 48  # ephemeral public key (32) + Poly1305 tag (16)
_TRAILER = 32 + 64  # A || sig
_BOX_HASH_KEY = b"SessionBoxEphemeralHashKey"


def sign_for_recipient(sender: Identity, recipient_x25519: bytes, message: bytes) -> bytes:
    """``M || A || sig`` with ``sig = Ed25519(M || A || Y)``: what goes inside the sealed box."""
    _check_key(recipient_x25519)
    signature = sender.sign(message + sender.ed25519_public_key + recipient_x25519)
    return message + sender.ed25519_public_key + signature


def encrypt_for_recipient(sender: Identity, recipient_x25519: bytes, message: bytes) -> bytes:
    """Encrypt ``message`` from ``sender`` to the holder of ``recipient_x25519`` (random seal)."""
    signed = sign_for_recipient(sender, recipient_x25519, message)
    return bytes(crypto_box_seal(signed, recipient_x25519))


def encrypt_for_recipient_deterministic(
    sender: Identity, recipient_x25519: bytes, message: bytes
) -> bytes:
    """As :func:`encrypt_for_recipient`, with the ephemeral key derived from the inputs.

    Misuse warning: identical inputs give identical ciphertexts, so an observer of the swarm can
    tell that a message repeats.  Use the random form for chat messages.
    """
    signed = sign_for_recipient(sender, recipient_x25519, message)
    eph_seed = crypto_generichash_blake2b_salt_personal(
        sender.ed25519_seed + recipient_x25519 + message, digest_size=32, key=_BOX_HASH_KEY
    )
    return _seal_with_seed(signed, recipient_x25519, eph_seed)


def _seal_with_seed(plaintext: bytes, recipient_x25519: bytes, eph_seed: bytes) -> bytes:
    """``crypto_box_seal`` with the ephemeral key pair of ``eph_seed`` instead of a random one."""
    eph_pk, eph_sk = crypto_box_seed_keypair(eph_seed)
    nonce = crypto_generichash_blake2b_salt_personal(eph_pk + recipient_x25519, digest_size=24)
    return bytes(eph_pk) + bytes(crypto_box(plaintext, nonce, recipient_x25519, eph_sk))


def open_signed(signed: bytes, recipient_x25519: bytes) -> tuple[bytes, bytes]:
    """Verify the ``M || A || sig`` of an opened box; returns (M, A).

    Raises :class:`DecryptionError` when the signature does not verify (or is no signature).
    """
    if len(signed) < _TRAILER:
        raise DecryptionError("Session-protocol message too short for its signature")
    message, sender_ed = signed[:-_TRAILER], signed[-_TRAILER:-64]
    signature = signed[-64:]
    try:
        crypto_sign_open(signature + message + sender_ed + recipient_x25519, sender_ed)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionError("Session-protocol signature does not verify") from None
    return bytes(message), bytes(sender_ed)


def decrypt_incoming(recipient: Identity, ciphertext: bytes) -> tuple[bytes, bytes]:
    """Open and verify a Session-protocol ciphertext; returns (message, sender Ed25519 key)."""
    if len(ciphertext) < SEAL_OVERHEAD + _TRAILER:
        raise DecryptionError("Session-protocol ciphertext too short")
    try:
        signed = crypto_box_seal_open(
            bytes(ciphertext), recipient.x25519_public_key, recipient.x25519_private_key
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionError("the message is not for this identity, or was modified") from None
    return open_signed(bytes(signed), recipient.x25519_public_key)


def sender_session_id(sender_ed25519: bytes) -> str:
    """The Session ID behind a verified sender Ed25519 key (``05`` + its X25519 form)."""
    try:
        return session_id_from_x25519(x25519_from_ed25519_public(sender_ed25519))
    except ValueError:
        raise DecryptionError("the sender's Ed25519 key has no X25519 form") from None


def _check_key(recipient_x25519: bytes) -> None:
    if not isinstance(recipient_x25519, (bytes, bytearray)) or len(recipient_x25519) != 32:
        raise ValueError("the recipient's X25519 key is 32 bytes")
