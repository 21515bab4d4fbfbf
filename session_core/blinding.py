"""Session's 15-blinding: the per-server identity a user shows an open group server.

Theory of operation
-------------------
A room server must not learn a user's Session ID, yet must tell users apart and check that a
request comes from who it says.  Upstream (libsession-util ``blinding.cpp``, session-pysogs)
gives each user a different Ed25519 key per server:

* ``k = reduce(BLAKE2b-512(server_pk))`` — one factor per server (``server_pk`` is the server's
  32-byte X25519 public key, the ``public_key`` of a room URL);
* the user's Ed25519 secret scalar ``a`` becomes ``k·a`` and their public key ``A`` becomes
  ``kA``; the blinded ID is ``"15" + hex(kA)``;
* signatures by the blinded key are ordinary Ed25519 signatures verifiable with ``kA``; they are
  made by hand from ``k·a`` because there is no 32-byte seed behind it (``blind15_sign``: the
  nonce is derived from the second half of SHA-512(seed ‖ pubkey), as upstream does, so the
  same message gives the same signature).

Anyone who knows a Session ID can compute its blinded ID for a server — but only up to the sign
of the Ed25519 key, which a Session ID (an X25519 key) does not carry: :func:`blind15_ids`
returns both candidates (they differ in the top bit of the last byte).  That is how a moderator
bans "05…" on a server that only sees "15…".

All point and scalar arithmetic is libsodium's (``crypto_core_ed25519_*``,
``crypto_scalarmult_ed25519_*noclamp`` through PyNaCl).  The one computation libsodium lacks,
the X25519 → Ed25519 public key map (Edwards ``y = (u − 1)/(u + 1)`` mod 2²⁵⁵ − 19, XEdDSA's
"positive" choice of sign), is a field division done with Python integers.
"""

from __future__ import annotations

import functools
import hashlib

from nacl.bindings import (
    crypto_core_ed25519_is_valid_point,
    crypto_core_ed25519_scalar_add,
    crypto_core_ed25519_scalar_mul,
    crypto_core_ed25519_scalar_reduce,
    crypto_scalarmult_ed25519_base_noclamp,
    crypto_scalarmult_ed25519_noclamp,
    crypto_sign_ed25519_pk_to_curve25519,
    crypto_sign_ed25519_sk_to_curve25519,
    crypto_sign_seed_keypair,
)
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

from session_core.errors import BlindingError

__all__ = [
    "BLINDED_PREFIX",
    "BlindedKeyPair",
    "blind15_factor",
    "blind15_ids",
    "blind15_key_pair",
    "blinded15_id_from_ed",
    "blind15_sign",
    "verify_blinded",
    "blinded_matches_session_id",
    "parse_blinded_id",
    "session_id_of",
]

BLINDED_PREFIX = "15"
_P = 2**255 - 19


def _bytes32(value: bytes, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise BlindingError(f"{what} must be 32 bytes")
    return bytes(value)


def _secret64(ed25519_sk: bytes) -> bytes:
    """The 64-byte libsodium secret key (seed ‖ public key) from a 32-byte seed or itself."""
    if isinstance(ed25519_sk, (bytes, bytearray)) and len(ed25519_sk) == 32:
        return bytes(crypto_sign_seed_keypair(bytes(ed25519_sk))[1])
    if isinstance(ed25519_sk, (bytes, bytearray)) and len(ed25519_sk) == 64:
        return bytes(ed25519_sk)
    raise BlindingError("an Ed25519 secret key is a 32-byte seed or the 64-byte seed ‖ public key")


def blind15_factor(server_pk: bytes) -> bytes:
    """k = BLAKE2b-512(server_pk) reduced mod ℓ (32 bytes, little-endian)."""
    h = hashlib.blake2b(_bytes32(server_pk, "a server public key"), digest_size=64).digest()
    return bytes(crypto_core_ed25519_scalar_reduce(h))


class BlindedKeyPair:
    """A user's blinded key for one server: public ``kA`` (32 bytes) and secret scalar ``k·a``.

    Holds a secret scalar: do not log or persist it; it is cheap to derive again."""

    __slots__ = ("public", "_scalar", "_hash_suffix")

    def __init__(self, public: bytes, scalar: bytes, hash_suffix: bytes) -> None:
        self.public = public
        self._scalar = scalar
        self._hash_suffix = hash_suffix

    @property
    def blinded_id(self) -> str:
        return BLINDED_PREFIX + self.public.hex()

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature of *message* verifiable with :attr:`public` (deterministic)."""
        r = crypto_core_ed25519_scalar_reduce(hashlib.sha512(self._hash_suffix + self.public + message).digest())
        big_r = crypto_scalarmult_ed25519_base_noclamp(r)
        hram = crypto_core_ed25519_scalar_reduce(hashlib.sha512(big_r + self.public + message).digest())
        s = crypto_core_ed25519_scalar_add(crypto_core_ed25519_scalar_mul(hram, self._scalar), r)
        return bytes(big_r) + bytes(s)

    def __repr__(self) -> str:
        return f"BlindedKeyPair({self.blinded_id})"


def blind15_key_pair(ed25519_sk: bytes, server_pk: bytes) -> BlindedKeyPair:
    sk = _secret64(ed25519_sk)
    k = blind15_factor(server_pk)
    # libsodium's "to curve25519" of a secret key is exactly the clamped Ed25519 scalar a.
    a = crypto_sign_ed25519_sk_to_curve25519(sk)
    ka = bytes(crypto_core_ed25519_scalar_mul(k, a))
    public = bytes(crypto_scalarmult_ed25519_base_noclamp(ka))
    return BlindedKeyPair(public, ka, hashlib.sha512(sk).digest()[32:])


def blind15_sign(ed25519_sk: bytes, server_pk: bytes, message: bytes) -> bytes:
    return blind15_key_pair(ed25519_sk, server_pk).sign(message)


def blinded15_id_from_ed(ed25519_pk: bytes, server_pk: bytes) -> str:
    """The blinded ID of the holder of Ed25519 public key *ed25519_pk* on the server."""
    k = blind15_factor(server_pk)
    try:
        out = crypto_scalarmult_ed25519_noclamp(k, _bytes32(ed25519_pk, "an Ed25519 public key"))
    except CryptoError:
        raise BlindingError("not a usable Ed25519 public key (not on the main subgroup)") from None
    return BLINDED_PREFIX + bytes(out).hex()


def _x25519_to_ed25519(x_pk: bytes) -> bytes:
    u = int.from_bytes(x_pk, "little") % _P
    if (u + 1) % _P == 0:
        raise BlindingError("this X25519 key has no Ed25519 twin")
    y = (u - 1) * pow(u + 1, _P - 2, _P) % _P
    return y.to_bytes(32, "little")  # sign bit 0: the "positive" key, as XEdDSA chooses


def _session_x25519(session_id: str | bytes) -> bytes:
    if isinstance(session_id, str):
        if len(session_id) != 66 or not session_id.startswith("05"):
            raise BlindingError("a Session ID is 66 hex digits starting with 05")
        try:
            return bytes.fromhex(session_id[2:])
        except ValueError:
            raise BlindingError("a Session ID is 66 hex digits starting with 05") from None
    if len(session_id) == 33 and session_id[0] == 0x05:
        return bytes(session_id[1:])
    return _bytes32(session_id, "a Session ID (without its 05 prefix)")


def blind15_ids(session_id: str | bytes, server_pk: bytes) -> tuple[str, str]:
    """The two blinded IDs a Session ID may have on the server (positive key first)."""
    ed = _x25519_to_ed25519(_session_x25519(session_id))
    if not crypto_core_ed25519_is_valid_point(ed):
        raise BlindingError("this Session ID is not a usable key")
    pos = blinded15_id_from_ed(ed, server_pk)
    last = int(pos[64:], 16) ^ 0x80
    return pos, pos[:64] + f"{last:02x}"


def blinded_matches_session_id(blinded_id: str, session_id: str, server_pk: bytes) -> bool:
    return blinded_id.lower() in blind15_ids(session_id, server_pk)


def session_id_of(ed25519_pk: bytes) -> str:
    """The Session ID ("05" + X25519) of an Ed25519 public key (what upstream derives)."""
    return "05" + bytes(crypto_sign_ed25519_pk_to_curve25519(_bytes32(ed25519_pk, "an Ed25519 public key"))).hex()


def verify_blinded(blinded_id: str, message: bytes, signature: bytes) -> bool:
    """Whether *signature* is the holder of *blinded_id*'s signature of *message*."""
    pk = parse_blinded_id(blinded_id)
    if len(signature) != 64:
        return False
    try:
        VerifyKey(pk).verify(message, bytes(signature))
    except BadSignatureError:
        return False
    return True


def parse_blinded_id(blinded_id: str) -> bytes:
    """The Ed25519 public key in a "15…" blinded ID; refuses anything else."""
    if not isinstance(blinded_id, str) or len(blinded_id) != 66 or not blinded_id.startswith(BLINDED_PREFIX):
        raise BlindingError("a blinded ID is 66 hex digits starting with 15")
    try:
        pk = bytes.fromhex(blinded_id[2:])
    except ValueError:
        raise BlindingError("a blinded ID is 66 hex digits starting with 15") from None
    if not _valid_point(pk):
        raise BlindingError("a blinded ID must hold a valid Ed25519 point")
    return pk


@functools.lru_cache(maxsize=65536)
def _valid_point(pk: bytes) -> bool:
    # The full check (on the curve, in the main subgroup, not small order) costs ~90 µs; a
    # server sees the same few thousand IDs on every request.
    return bool(crypto_core_ed25519_is_valid_point(pk))
