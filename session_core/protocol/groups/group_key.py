"""A closed group's own identity: an Ed25519 key pair whose public half names the group.

The group ID is shown like Session's groups v2 IDs: ``03`` followed by the 64 hex digits of the
group's Ed25519 public key.  The ``03`` prefix is what tells swarm nodes (and people) that a key
is a group, not a user (``05``); the swarm is found from the 32 key bytes as for any Session ID.

Whoever holds the group's secret key is its administrator: only they can sign the records that
change membership or keys (docs/groups.md).  Members hold only the public key, i.e. the ID.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions

from session_core.errors import InvalidGroupIdError

__all__ = ["GROUP_ID_PREFIX", "GroupSigner", "group_id_of", "parse_group_id", "verify_group_signature"]

GROUP_ID_PREFIX = "03"
_HEX = frozenset("0123456789abcdef")


def group_id_of(group_public_key: bytes) -> str:
    """``03`` + hex of the 32-byte group Ed25519 public key."""
    if len(group_public_key) != 32:
        raise InvalidGroupIdError(f"a group public key is 32 bytes, got {len(group_public_key)}")
    return GROUP_ID_PREFIX + group_public_key.hex()


def parse_group_id(group_id: str) -> bytes:
    """The 32-byte group public key of a ``03…`` group ID (lowercase or uppercase hex)."""
    if not isinstance(group_id, str):
        raise InvalidGroupIdError(f"a group ID is a string, got {type(group_id).__name__}")
    text = group_id.lower()
    if len(text) != 66 or not text.startswith(GROUP_ID_PREFIX) or not _HEX.issuperset(text):
        raise InvalidGroupIdError("a group ID is '03' followed by 64 hex digits")
    return bytes.fromhex(text[2:])


def verify_group_signature(group_public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is the group key's Ed25519 signature of ``message``."""
    if len(signature) != 64 or len(group_public_key) != 32:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, group_public_key)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class GroupSigner:
    """The administrator's group key pair.  ``seed`` is the whole secret: never log it."""

    seed: bytes
    _secret: bytes = field(init=False, repr=False, compare=False)
    _public: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise InvalidGroupIdError(f"a group key seed is 32 bytes, got {len(self.seed)}")
        pk, sk = nacl.bindings.crypto_sign_seed_keypair(self.seed)
        object.__setattr__(self, "_public", bytes(pk))
        object.__setattr__(self, "_secret", bytes(sk))

    @classmethod
    def generate(cls) -> GroupSigner:
        return cls(secrets.token_bytes(32))

    @property
    def public_key(self) -> bytes:
        return self._public

    @property
    def group_id(self) -> str:
        return group_id_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(nacl.bindings.crypto_sign(message, self._secret)[:64])

    def __repr__(self) -> str:
        return f"GroupSigner({self.group_id})"
