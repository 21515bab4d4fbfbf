"""The admin's key message (one per generation) and roster snapshot, and the keys a generation
key gives.

``KIND_KEYS`` body (then the group signature, :mod:`.wire`)::

    version u8 (1) || generation u32 || created_ms u64 || store key (32) || store certificate (64)
    || blob length u32 || agreement blob || roster nonce (24) || RosterChange sealed under the roster key

The store key (an Ed25519 key derived from the generation key) and its certificate (the group
key's signature of it, :func:`~.wire.certify_store_key`) let members prove to the swarm that they
hold the generation's key when they store a message (:func:`~.wire.seal_member_auth`).

``KIND_ROSTER`` body (a full member list, for members who joined or were away too long to
apply changes)::

    generation u32 || nonce (24) || Roster sealed under the roster key

The sealed parts are XChaCha20-Poly1305 with the record's clear bytes as AD.  Membership is
sealed so the swarm does not learn who is in the group; only the admin signature is public.

One 32-byte generation key ``K`` gives (keyed BLAKE2b, distinct personalisations) the header key
of member messages, the roster key, and the seed every sender's chain starts from.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from dataclasses import dataclass, replace

import nacl.bindings
import nacl.exceptions

from session_core.errors import DecryptionError, GroupFormatError
from session_core.protocol.groups.roster import Roster, RosterChange

__all__ = ["GenerationSecrets", "KeyMessage", "RosterSnapshot", "agreement_context"]

VERSION = 1
_enc = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt
_dec = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt


def agreement_context(group_pk: bytes, generation: int) -> bytes:
    """What a wrapped key is bound to: this group and this generation (no cross-group reuse)."""
    return b"sc-grp-keys\x00" + group_pk + struct.pack("<I", generation)


@dataclass(frozen=True)
class GenerationSecrets:
    generation: int
    header_key: bytes
    roster_key: bytes
    chain_seed: bytes  # dropped once the chains are derived (forward secrecy)
    store_seed: bytes  # Ed25519 seed of the generation's store key (swarm admission, not secrecy)

    @classmethod
    def derive(cls, generation: int, key: bytes) -> GenerationSecrets:
        def sub(person: bytes) -> bytes:
            return hashlib.blake2b(struct.pack("<I", generation), digest_size=32, key=key, person=person).digest()
        return cls(generation, sub(b"sc-grp-header"), sub(b"sc-grp-roster-k"), sub(b"sc-grp-chains"),
                   sub(b"sc-grp-store"))

    def without_chain_seed(self) -> GenerationSecrets:
        return replace(self, chain_seed=b"")

    @property
    def store_public_key(self) -> bytes:
        return bytes(nacl.bindings.crypto_sign_seed_keypair(self.store_seed)[0])


_HEAD = 1 + 4 + 8 + 32 + 64 + 4


@dataclass(frozen=True)
class KeyMessage:
    generation: int
    created_ms: int
    store_pk: bytes
    store_cert: bytes
    blob: bytes
    sealed_change: bytes  # nonce || ciphertext

    def header(self) -> bytes:
        return (struct.pack("<BIQ", VERSION, self.generation, self.created_ms) + self.store_pk + self.store_cert
                + struct.pack("<I", len(self.blob)))

    def encode(self) -> bytes:
        return self.header() + self.blob + self.sealed_change

    @classmethod
    def build(cls, generation: int, created_ms: int, store_cert: bytes, blob: bytes, secrets_: GenerationSecrets,
              change: RosterChange) -> KeyMessage:
        unsealed = cls(generation, created_ms, secrets_.store_public_key, store_cert, blob, b"")
        nonce = secrets.token_bytes(24)
        sealed = nonce + _enc(change.encode(), unsealed.header(), nonce, secrets_.roster_key)
        return replace(unsealed, sealed_change=sealed)

    @classmethod
    def decode(cls, body: bytes) -> KeyMessage:
        if len(body) < _HEAD:
            raise GroupFormatError("key message truncated")
        version, gen, created = struct.unpack_from("<BIQ", body)
        if version != VERSION:
            raise GroupFormatError(f"key message version {version} is not {VERSION}")
        (blob_len,) = struct.unpack_from("<I", body, _HEAD - 4)
        if len(body) < _HEAD + blob_len + 24 + 16:
            raise GroupFormatError("key message truncated")
        return cls(gen, created, body[13:45], body[45:109], body[_HEAD:_HEAD + blob_len], body[_HEAD + blob_len:])

    def open_change(self, secrets_: GenerationSecrets) -> RosterChange:
        nonce, ct = self.sealed_change[:24], self.sealed_change[24:]
        try:
            plain = _dec(ct, self.header(), nonce, secrets_.roster_key)
        except nacl.exceptions.CryptoError:
            raise DecryptionError("the roster change does not open with this generation's key") from None
        change = RosterChange.decode(bytes(plain))
        if change.generation != self.generation:
            raise GroupFormatError("the roster change names another generation")
        return change


@dataclass(frozen=True)
class RosterSnapshot:
    generation: int
    sealed: bytes  # nonce || ciphertext

    @classmethod
    def build(cls, roster: Roster, secrets_: GenerationSecrets) -> RosterSnapshot:
        nonce = secrets.token_bytes(24)
        head = struct.pack("<I", roster.generation)
        return cls(roster.generation, nonce + _enc(roster.encode(), head, nonce, secrets_.roster_key))

    def encode(self) -> bytes:
        return struct.pack("<I", self.generation) + self.sealed

    @classmethod
    def decode(cls, body: bytes) -> RosterSnapshot:
        if len(body) < 4 + 24 + 16:
            raise GroupFormatError("roster snapshot truncated")
        return cls(int(struct.unpack_from("<I", body)[0]), body[4:])

    def open(self, secrets_: GenerationSecrets) -> Roster:
        try:
            plain = _dec(self.sealed[24:], struct.pack("<I", self.generation), self.sealed[:24], secrets_.roster_key)
        except nacl.exceptions.CryptoError:
            raise DecryptionError("the roster snapshot does not open with this generation's key") from None
        roster = Roster.decode(bytes(plain))
        if roster.generation != self.generation:
            raise GroupFormatError("the roster snapshot names another generation")
        return roster
