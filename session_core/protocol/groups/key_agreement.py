"""Group key agreement: how the admin hands a new generation key to every remaining member.

This is the one module to replace for a sub-linear scheme (MLS/TreeKEM commits are O(log N));
the rest of the group code sees only :class:`KeyAgreement`: ``wrap`` turns a 32-byte generation
key and the member list into one opaque blob, ``unwrap`` gets the key back for one member, or
None when the blob holds nothing for them (they were kicked, left, or are not yet added).

:class:`PerMemberWrap` is the O(N) scheme production's groups v2 uses, with a fresh key per
rekey: a new ephemeral X25519 key ``e`` (public ``E``); for member ``B`` the wrapping key is
``BLAKE2b(X25519(e, B) || E || B, key=context)``; the entry is the generation key sealed with
XChaCha20-Poly1305 under it (32 + 16 = 48 bytes, production's size).  The ephemeral key makes a
later leak of the group's signing key useless for unwrapping old generations (production derives
the wrapping from the group key itself).  Entries are in random order and padded with random
ones to a multiple of 75 (production's MESSAGE_KEY_MULTIPLE), so the blob shows the group size
only roughly and no entry points at a member; a member finds theirs by trial (one X25519 and
at most N + 74 AEAD attempts, ~1-3 ms at 1 000 members).

Blob: ``E (32) || count u16 LE || count x 48-byte entries``.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import struct
from collections.abc import Sequence
from typing import Protocol

import nacl.bindings
import nacl.exceptions

from session_core.errors import GroupFormatError, GroupTooLargeError
from session_core.protocol.groups.roster import MAX_MEMBERS

__all__ = ["ENTRY_BYTES", "PAD_MULTIPLE", "KeyAgreement", "PerMemberWrap"]

ENTRY_BYTES = 48
PAD_MULTIPLE = 75
_NONCE = bytes(24)  # every wrapping key is fresh (new ephemeral per rekey) and used once
_PERSON = b"sc-grp-wrap"


class KeyAgreement(Protocol):
    name: str

    def wrap(self, group_key: bytes, context: bytes, recipients: Sequence[bytes]) -> bytes:
        """One blob giving ``group_key`` to every X25519 public key in ``recipients``."""

    def unwrap(self, blob: bytes, context: bytes, x25519_secret: bytes, x25519_public: bytes) -> bytes | None:
        """The group key for this member, or None when the blob holds none for them.
        Raises :class:`GroupFormatError` for a malformed blob."""


def _wrapping_key(shared: bytes, ephemeral_pk: bytes, member_pk: bytes, context: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=32, key=hashlib.blake2b(context, digest_size=32).digest(), person=_PERSON)
    h.update(shared + ephemeral_pk + member_pk)
    return h.digest()


class PerMemberWrap:
    name = "per-member-wrap-v1"

    def wrap(self, group_key: bytes, context: bytes, recipients: Sequence[bytes]) -> bytes:
        if len(group_key) != 32:
            raise GroupFormatError("a generation key is 32 bytes")
        if len(recipients) > MAX_MEMBERS:
            raise GroupTooLargeError(f"{len(recipients)} recipients: a group holds at most {MAX_MEMBERS}")
        e_sk = secrets.token_bytes(32)
        e_pk = nacl.bindings.crypto_scalarmult_base(e_sk)
        ctx_key = hashlib.blake2b(context, digest_size=32).digest()
        entries = []
        for member in recipients:
            try:
                shared = nacl.bindings.crypto_scalarmult(e_sk, member)
            except nacl.exceptions.RuntimeError:
                raise GroupFormatError("a member key is not a valid X25519 point") from None
            h = hashlib.blake2b(shared + e_pk + member, digest_size=32, key=ctx_key, person=_PERSON)
            entries.append(nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(group_key, context, _NONCE, h.digest()))
        junk = (-len(entries)) % PAD_MULTIPLE
        entries += [secrets.token_bytes(ENTRY_BYTES) for _ in range(junk)]
        random.SystemRandom().shuffle(entries)
        return e_pk + struct.pack("<H", len(entries)) + b"".join(entries)

    def unwrap(self, blob: bytes, context: bytes, x25519_secret: bytes, x25519_public: bytes) -> bytes | None:
        if len(blob) < 34:
            raise GroupFormatError("key agreement blob truncated")
        e_pk = blob[:32]
        (count,) = struct.unpack_from("<H", blob, 32)
        if count > MAX_MEMBERS + PAD_MULTIPLE:
            raise GroupTooLargeError(f"{count} wrapped keys: at most {MAX_MEMBERS + PAD_MULTIPLE}")
        if len(blob) != 34 + count * ENTRY_BYTES:
            raise GroupFormatError("key agreement blob length does not match its count")
        try:
            shared = nacl.bindings.crypto_scalarmult(x25519_secret, e_pk)
        except nacl.exceptions.RuntimeError:
            raise GroupFormatError("ephemeral key is not a valid X25519 point") from None
        key = _wrapping_key(shared, e_pk, x25519_public, context)
        dec = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt
        for i in range(count):
            entry = blob[34 + i * ENTRY_BYTES: 34 + (i + 1) * ENTRY_BYTES]
            try:
                return bytes(dec(entry, context, _NONCE, key))
            except nacl.exceptions.CryptoError:
                continue
        return None
