"""X3DH through the ``x3dh`` package: our prekeys and the key agreement (whitepaper 4.7).

Theory of operation:

* The X3DH identity key *is* the Session identity: ``x3dh`` gets the Ed25519 seed
  (``seed || 16 zero bytes``), and its Curve25519 public key equals the X25519 key in the Session
  ID.  Public keys are encoded as ``0x05 || key`` (libsignal's DJB type byte) wherever X3DH signs
  or binds them, as in Signal.
* Settings: Curve25519 identity format, HKDF-SHA-256, info ``b"session_core X3DH"``.  A one-time
  prekey is *always* required on both sides (``require_pre_key=True``): replaying an initial
  message then fails because its prekey is gone, which the no-prekey variant cannot guarantee.
* Session has no prekey server: each friend request carries a bundle with one fresh one-time
  prekey (:meth:`PreKeyStore.issue_bundle`).  Prekeys of requests that are never answered are
  capped (:data:`MAX_OUTSTANDING_PRE_KEYS`, oldest dropped).
* We subclass ``x3dh.BaseState`` (manual management) rather than ``x3dh.State``, because
  ``State`` deletes the one-time prekey *during* the passive agreement, before we know whether
  the message it protects decrypts.  Here the caller consumes it only after success, so a
  tampered initial message leaves the prekeys unchanged.

The library's entry points are ``async`` although they never wait on anything; :func:`run_sync`
drives them without an event loop (see there).
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import x3dh
import xeddsa
from x3dh.crypto_provider import HashFunction
from x3dh.identity_key_pair import IdentityKeyPairSeed
from x3dh.types import Header as X3DHHeaderTuple
from x3dh.types import IdentityKeyFormat

from session_core.errors import KeyAgreementError, MalformedMessageError
from session_core.identity import Identity

__all__ = [
    "MAX_OUTSTANDING_PRE_KEYS",
    "X3DH_INFO",
    "PreKeyBundle",
    "X3DHHeader",
    "PreKeyStore",
    "encode_public_key",
    "run_sync",
    "verify_bundle",
]

T = TypeVar("T")

X3DH_INFO = b"session_core X3DH"
MAX_OUTSTANDING_PRE_KEYS = 32
_KEY = 32
_SIG = 64


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends, without an event loop.

    The x3dh/doubleratchet coroutines only ``await`` other coroutines of the same kind, all CPU
    bound, so the first ``send`` runs them to completion.  This keeps the protocol layer sans-IO
    and usable from sync and async code alike, and avoids an event loop per message (which would
    cost more than the crypto).  If a future library version ever truly suspends, we fail loudly
    instead of silently dropping work.
    """
    try:
        coro.send(None)
    except StopIteration as stop:
        return cast(T, stop.value)
    coro.close()
    raise RuntimeError("a protocol coroutine suspended; it must be awaited in an event loop")


def encode_public_key(pub: bytes) -> bytes:
    """``0x05 || pub``: the DJB-typed encoding X3DH signs and binds into associated data."""
    return b"\x05" + pub


@dataclass(frozen=True)
class PreKeyBundle:
    """What a friend request carries so its recipient can start a session (X3DH "prekeys")."""

    identity_key: bytes  # X25519 public key = the Session ID's key
    signed_pre_key: bytes
    signed_pre_key_signature: bytes  # XEdDSA over encode_public_key(signed_pre_key)
    pre_key: bytes  # the one one-time prekey issued for this request

    def check(self) -> None:
        """Sizes only; :func:`verify_bundle` checks the signature."""
        for name, value, size in (
            ("identity key", self.identity_key, _KEY),
            ("signed prekey", self.signed_pre_key, _KEY),
            ("signed prekey signature", self.signed_pre_key_signature, _SIG),
            ("one-time prekey", self.pre_key, _KEY),
        ):
            if not isinstance(value, bytes) or len(value) != size:
                raise MalformedMessageError(f"prekey bundle: the {name} must be {size} bytes")


@dataclass(frozen=True)
class X3DHHeader:
    """The initiator's X3DH header, sent with its messages until the first reply."""

    identity_key: bytes
    ephemeral_key: bytes
    signed_pre_key: bytes
    pre_key: bytes

    def check(self) -> None:
        for name, value in (
            ("identity key", self.identity_key),
            ("ephemeral key", self.ephemeral_key),
            ("signed prekey", self.signed_pre_key),
            ("one-time prekey", self.pre_key),
        ):
            if not isinstance(value, bytes) or len(value) != _KEY:
                raise MalformedMessageError(f"X3DH header: the {name} must be {_KEY} bytes")


def verify_bundle(bundle: PreKeyBundle) -> None:
    """Raise :class:`KeyAgreementError` unless the signed prekey is signed by the identity key."""
    bundle.check()
    try:
        # XEdDSA: the Ed25519 form of a Curve25519 key with the sign bit forced to 0.
        ed_pub = xeddsa.curve25519_pub_to_ed25519_pub(bundle.identity_key, False)
        ok = xeddsa.ed25519_verify(
            bundle.signed_pre_key_signature, ed_pub, encode_public_key(bundle.signed_pre_key)
        )
    except Exception:  # invalid point encodings
        ok = False
    if not ok:
        raise KeyAgreementError("the signed prekey's signature does not verify")


class _State(x3dh.BaseState):
    @staticmethod
    def _encode_public_key(key_format: IdentityKeyFormat, pub: bytes) -> bytes:
        if key_format is not IdentityKeyFormat.CURVE_25519:
            raise KeyAgreementError("session_core uses Curve25519 identity keys only")
        return encode_public_key(pub)


class PreKeyStore:
    """Our X3DH state: identity key, signed prekey (+ the previous one), one-time prekeys."""

    def __init__(self, state: _State, issued: list[bytes]) -> None:
        self._state = state
        self._issued = issued  # one-time prekey publics in the order they were handed out

    @classmethod
    def create(cls, identity: Identity) -> PreKeyStore:
        state = _State.create(
            IdentityKeyFormat.CURVE_25519,
            HashFunction.SHA_256,
            X3DH_INFO,
            IdentityKeyPairSeed(identity.ed25519_seed),
        )
        store = cls(state, [])
        if store.identity_key != identity.x25519_public_key:  # guards the derivation assumption
            raise KeyAgreementError("x3dh derived a different identity key than the Session ID")
        return store

    @property
    def identity_key(self) -> bytes:
        return bytes(self._state.bundle.identity_key)

    def issue_bundle(self) -> PreKeyBundle:
        """A bundle with a fresh one-time prekey, for one friend request."""
        before = self._state.bundle.pre_keys
        self._state.generate_pre_keys(1)
        current = self._state.bundle
        (new_pre_key,) = current.pre_keys - before
        self._issued.append(new_pre_key)
        while len(self._issued) > MAX_OUTSTANDING_PRE_KEYS:
            self._state.delete_pre_key(self._issued.pop(0))
        return PreKeyBundle(
            identity_key=bytes(current.identity_key),
            signed_pre_key=bytes(current.signed_pre_key),
            signed_pre_key_signature=bytes(current.signed_pre_key_sig),
            pre_key=bytes(new_pre_key),
        )

    def rotate_signed_pre_key(self) -> None:
        """New signed prekey; the previous one keeps working until the next rotation."""
        self._state.rotate_signed_pre_key()

    @property
    def outstanding_pre_keys(self) -> int:
        return len(self._issued)

    # -- agreement ----------------------------------------------------------------------------

    def agree_active(self, bundle: PreKeyBundle) -> tuple[bytes, bytes, X3DHHeader]:
        """Initiator side: (shared secret, associated data, header) for ``bundle``."""
        verify_bundle(bundle)
        lib_bundle = x3dh.Bundle(
            identity_key=bundle.identity_key,
            signed_pre_key=bundle.signed_pre_key,
            signed_pre_key_sig=bundle.signed_pre_key_signature,
            pre_keys=frozenset([bundle.pre_key]),
        )
        try:
            secret, ad, header = run_sync(
                self._state.get_shared_secret_active(lib_bundle, require_pre_key=True)
            )
        except (x3dh.KeyAgreementException, ValueError) as exc:
            raise KeyAgreementError(f"X3DH failed: {exc}") from None
        assert header.pre_key is not None  # require_pre_key=True
        return secret, ad, X3DHHeader(
            identity_key=bytes(header.identity_key),
            ephemeral_key=bytes(header.ephemeral_key),
            signed_pre_key=bytes(header.signed_pre_key),
            pre_key=bytes(header.pre_key),
        )

    def agree_passive(self, header: X3DHHeader) -> tuple[bytes, bytes, bytes]:
        """Responder side: (shared secret, associated data, signed prekey private key).

        Does not consume the one-time prekey: call :meth:`consume_pre_key` once the initial
        message decrypted.
        """
        header.check()
        try:
            secret, ad, spk = run_sync(
                self._state.get_shared_secret_passive(
                    X3DHHeaderTuple(
                        identity_key=header.identity_key,
                        ephemeral_key=header.ephemeral_key,
                        signed_pre_key=header.signed_pre_key,
                        pre_key=header.pre_key,
                    ),
                    require_pre_key=True,
                )
            )
        except (x3dh.KeyAgreementException, ValueError) as exc:
            raise KeyAgreementError(f"X3DH failed: {exc}") from None
        return secret, ad, bytes(spk.priv)

    def consume_pre_key(self, pre_key: bytes) -> None:
        self._state.delete_pre_key(pre_key)
        if pre_key in self._issued:
            self._issued.remove(pre_key)

    # -- serialisation (plain; callers encrypt with at_rest.StateKey) ------------------------

    def to_json(self) -> dict[str, Any]:
        return {"v": 1, "x3dh": dict(self._state.json), "issued": [k.hex() for k in self._issued]}

    @classmethod
    def from_json(cls, data: dict[str, Any], identity: Identity) -> PreKeyStore:
        try:
            state, _ = _State.from_json(
                data["x3dh"], IdentityKeyFormat.CURVE_25519, HashFunction.SHA_256, X3DH_INFO
            )
            issued = [bytes.fromhex(k) for k in data["issued"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedMessageError(f"saved prekey state is malformed: {exc}") from None
        store = cls(state, issued)
        if store.identity_key != identity.x25519_public_key:
            raise KeyAgreementError("saved prekey state belongs to another identity")
        return store

