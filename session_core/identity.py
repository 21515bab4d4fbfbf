"""Session identities: seed, keys, Session ID and recovery phrase.

Theory of operation (docs/interop.md §5.1-5.3, whitepaper 4.3):

* An identity *is* a 16-byte random seed.  Everything else is derived from it.
* Ed25519 key pair = ``crypto_sign_seed_keypair(seed || 16 zero bytes)`` (the post-2020
  Session derivation).
* X25519 key pair = the birational conversion of that Ed25519 key pair; its public key is
  the long-term identity key that others encrypt to.
* Session ID = ``"05" + hex(x25519_public)`` (0x05 is libsignal's DJB key-type byte).
* Recovery phrase = Session's own 13-word format (:mod:`session_core.recovery`), encoding
  exactly the 16-byte seed, so restoring from it gives back the same keys and Session ID as any
  Session app.  The 12-word BIP-39 phrases session_core issued before are still read.

This module does no I/O; storing identities on disk lives in :mod:`session_core.identity_store`.
"""

from __future__ import annotations

import hmac
import secrets
import string
from functools import cached_property

from nacl.bindings import (
    crypto_sign,
    crypto_sign_ed25519_pk_to_curve25519,
    crypto_sign_ed25519_sk_to_curve25519,
    crypto_sign_seed_keypair,
)

from session_core.errors import (
    InvalidSeedError,
    InvalidSessionIdError,
)
from session_core.recovery import DecodedPhrase, decode_phrase, encode_phrase

__all__ = [
    "SEED_BYTES",
    "MNEMONIC_WORDS",
    "SESSION_ID_PREFIX",
    "Identity",
    "canonical_session_id",
    "parse_session_id",
    "session_id_from_x25519",
    "x25519_from_ed25519_public",
]

SEED_BYTES = 16
MNEMONIC_WORDS = 13
SESSION_ID_PREFIX = "05"
_SESSION_ID_HEX_LEN = 66
_HEX_DIGITS = frozenset(string.hexdigits)


def session_id_from_x25519(x25519_public: bytes) -> str:
    """The Session ID of an X25519 public key."""
    if len(x25519_public) != 32:
        raise InvalidSessionIdError(f"an X25519 public key is 32 bytes, got {len(x25519_public)}")
    return SESSION_ID_PREFIX + x25519_public.hex()


def canonical_session_id(session_id: str) -> str:
    """The Session ID in its one canonical spelling (lowercase hex), after checking its form.

    Hex is case-insensitive, but nodes compare pubkeys as strings and contacts are keyed by
    them, so every entry point normalizes first.
    """
    parse_session_id(session_id)
    return session_id.lower()


def parse_session_id(session_id: str) -> bytes:
    """Return the 32-byte X25519 public key inside a Session ID, checking its form."""
    if not isinstance(session_id, str):
        raise InvalidSessionIdError(f"a Session ID is a str, got {type(session_id).__name__}")
    if len(session_id) != _SESSION_ID_HEX_LEN:
        raise InvalidSessionIdError(
            f"a Session ID has {_SESSION_ID_HEX_LEN} hex characters, got {len(session_id)}"
        )
    if not session_id.startswith(SESSION_ID_PREFIX):
        raise InvalidSessionIdError(
            f"a Session ID starts with {SESSION_ID_PREFIX!r}, got {session_id[:2]!r}"
        )
    if not _HEX_DIGITS.issuperset(session_id[2:]):
        # Checked here, not left to bytes.fromhex, which skips whitespace (a shorter key).
        raise InvalidSessionIdError("a Session ID is hexadecimal after the '05' prefix")
    return bytes.fromhex(session_id[2:])


def x25519_from_ed25519_public(ed25519_public: bytes) -> bytes:
    """Convert an Ed25519 public key to its X25519 twin (raises on invalid points)."""
    if len(ed25519_public) != 32:
        raise InvalidSessionIdError(f"an Ed25519 public key is 32 bytes, got {len(ed25519_public)}")
    try:
        return bytes(crypto_sign_ed25519_pk_to_curve25519(ed25519_public))
    except Exception:  # nacl raises RuntimeError for a point not on the curve
        raise InvalidSessionIdError("not a valid Ed25519 public key") from None


class Identity:
    """A Session identity (long-term key pairs) derived from a 16-byte seed.

    The seed, the recovery phrase and the private keys are secrets: never log them.
    ``repr()`` shows only the Session ID.
    """

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, (bytes, bytearray)):
            raise InvalidSeedError(f"the seed is bytes, got {type(seed).__name__}")
        if len(seed) != SEED_BYTES:
            raise InvalidSeedError(f"the seed is {SEED_BYTES} bytes, got {len(seed)}")
        self._seed = bytes(seed)
        ed_public, ed_secret = crypto_sign_seed_keypair(self._seed + bytes(32 - SEED_BYTES))
        self._ed_public: bytes = bytes(ed_public)
        self._ed_secret: bytes = bytes(ed_secret)

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def generate(cls) -> Identity:
        """A new identity from 16 bytes of the OS CSPRNG."""
        return cls(secrets.token_bytes(SEED_BYTES))

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        """The identity of a 16-byte seed."""
        return cls(seed)

    @classmethod
    def from_mnemonic(cls, words: str) -> Identity:
        """Restore an identity from its recovery phrase (Session's 13 words, or 12; see below).

        Accepts Session's 13-word phrase, the same 12 words without the checksum word, and the
        12-word BIP-39 phrases session_core issued before; :meth:`restore` also says which one it
        recognised.  Raises a :class:`~session_core.errors.MnemonicError` subclass that says what
        is wrong: the word count, which word is unknown (with close matches), or a failed checksum.
        """
        return cls.restore(words)[0]

    @classmethod
    def restore(cls, words: str) -> tuple[Identity, DecodedPhrase]:
        """Like :meth:`from_mnemonic`, also returning the decoded phrase and its format."""
        decoded = decode_phrase(words)
        return cls(decoded.seed), decoded

    # -- public data --------------------------------------------------------------------------

    @property
    def ed25519_public_key(self) -> bytes:
        """The 32-byte Ed25519 public key (signatures)."""
        return self._ed_public

    @cached_property
    def x25519_public_key(self) -> bytes:
        """The 32-byte X25519 public key (the long-term identity key of the Session ID)."""
        return bytes(crypto_sign_ed25519_pk_to_curve25519(self._ed_public))

    @property
    def session_id(self) -> str:
        """``"05"`` + 64 hex digits of the X25519 public key."""
        return session_id_from_x25519(self.x25519_public_key)

    # -- secrets ------------------------------------------------------------------------------

    @property
    def seed(self) -> bytes:
        """The 16-byte seed: the whole secret of this identity."""
        return self._seed

    @property
    def ed25519_seed(self) -> bytes:
        """The 32-byte Ed25519 seed (``seed || 16 zero bytes``), as x3dh wants it."""
        return self._seed + bytes(32 - SEED_BYTES)

    @cached_property
    def x25519_private_key(self) -> bytes:
        """The 32-byte X25519 private key (clamped SHA-512 of the Ed25519 seed)."""
        return bytes(crypto_sign_ed25519_sk_to_curve25519(self._ed_secret))

    @property
    def mnemonic(self) -> str:
        """The 13-word Session recovery phrase of the seed (the one Session apps show)."""
        return encode_phrase(self._seed)

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature of ``message`` by this identity."""
        return bytes(crypto_sign(message, self._ed_secret)[:64])

    # -- value semantics ----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return hmac.compare_digest(self._seed, other._seed)

    def __hash__(self) -> int:
        return hash(self._ed_public)

    def __repr__(self) -> str:
        return f"Identity(session_id={self.session_id!r})"
