"""Blinded direct messages (a room server's ``/inbox``), as libsession-util's
``encrypt_for_blinded_recipient`` / ``decrypt_from_blinded_recipient`` (15-blinding).

Sender A (secret scalar a, blinded ``kA``) and recipient B (``kB``) on the same server share
``a·kB = b·kA = kab·G``; the key is ``BLAKE2b-256(kabG ‖ kA_sender ‖ kB_recipient)`` (the 32-byte
keys, without the 15 prefix).  The message travels as
``0x00 ‖ XChaCha20-Poly1305(message ‖ A) ‖ nonce(24)``, where ``A`` is the sender's *unblinded*
Ed25519 key: the recipient learns who wrote (their Session ID) and checks that ``A`` blinds to
the claimed sender, so nobody can write in someone else's name; the server learns neither.
"""

from __future__ import annotations

import hashlib
import os

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_scalarmult_ed25519_noclamp,
    crypto_sign_ed25519_sk_to_curve25519,
    crypto_sign_seed_keypair,
)
from nacl.exceptions import CryptoError

from session_core.blinding import blind15_key_pair, blinded15_id_from_ed, parse_blinded_id, session_id_of
from session_core.errors import BlindingError, RoomInputError

__all__ = ["VERSION", "decrypt_from_blinded", "encrypt_for_blinded"]

VERSION = 0
_NONCE = 24
_TAG = 16


def _shared_key(seed: bytes, mine: bytes, theirs: bytes, *, sending: bool) -> bytes:
    if not isinstance(seed, bytes) or len(seed) != 32:
        raise RoomInputError("an Ed25519 seed is 32 bytes")
    a = crypto_sign_ed25519_sk_to_curve25519(crypto_sign_seed_keypair(seed)[1])  # the scalar a
    try:
        shared = crypto_scalarmult_ed25519_noclamp(a, theirs)
    except CryptoError:
        raise RoomInputError("the other side's blinded key is unusable") from None
    sender, recipient = (mine, theirs) if sending else (theirs, mine)
    return hashlib.blake2b(bytes(shared) + sender + recipient, digest_size=32).digest()


def encrypt_for_blinded(seed: bytes, server_pk: bytes, recipient: str, message: bytes) -> bytes:
    """*message* from the holder of Ed25519 *seed* to blinded ID *recipient* on that server."""
    theirs = _blinded(recipient)
    mine = blind15_key_pair(seed, server_pk).public
    key = _shared_key(seed, mine, theirs, sending=True)
    nonce = os.urandom(_NONCE)
    inner = message + crypto_sign_seed_keypair(seed)[0]
    return bytes([VERSION]) + crypto_aead_xchacha20poly1305_ietf_encrypt(inner, None, nonce, key) + nonce


def decrypt_from_blinded(seed: bytes, server_pk: bytes, sender: str, data: bytes) -> tuple[bytes, str]:
    """``(message, sender's Session ID)`` of a DM that blinded ID *sender* sent to us."""
    theirs = _blinded(sender)
    if len(data) < 1 + _TAG + _NONCE + 32:
        raise RoomInputError("a blinded DM is too short")
    if data[0] != VERSION:
        raise RoomInputError(f"unknown blinded DM version {data[0]}")
    mine = blind15_key_pair(seed, server_pk).public
    key = _shared_key(seed, mine, theirs, sending=False)
    try:
        inner = crypto_aead_xchacha20poly1305_ietf_decrypt(data[1:-_NONCE], None, data[-_NONCE:], key)
    except CryptoError:
        raise RoomInputError("a blinded DM does not decrypt (not for us, or altered)") from None
    message, sender_ed = inner[:-32], inner[-32:]
    try:
        claimed = blinded15_id_from_ed(sender_ed, server_pk)
    except BlindingError:
        raise RoomInputError("a blinded DM names an unusable sender key") from None
    negated = claimed[:64] + f"{int(claimed[64:], 16) ^ 0x80:02x}"
    if sender.lower() not in (claimed, negated):
        raise RoomInputError("a blinded DM's inner sender is not the blinded ID it came from")
    return message, session_id_of(sender_ed)


def _blinded(blinded_id: str) -> bytes:
    try:
        return parse_blinded_id(blinded_id.lower() if isinstance(blinded_id, str) else blinded_id)
    except BlindingError as exc:
        raise RoomInputError(str(exc)) from None
