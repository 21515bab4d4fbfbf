"""Signal sessions: the one adapter over the ``doubleratchet`` package (whitepaper 4.7).

Theory of operation:

* Settings follow the Signal Double Ratchet specification's recommended algorithms:
  X25519 DH ratchet; root KDF = HKDF-SHA-256 (salt = root key, input = DH output);
  chain KDF = HMAC-SHA-256 with ``MK = HMAC(CK, 0x01)``, ``CK' = HMAC(CK, 0x02)`` -- hence
  ``message_chain_constant=b"\\x02\\x01"``: the library keeps the *first* HMAC as the next chain
  key (the upstream example's ``b"\\x01\\x02"`` swaps the roles);
  AEAD = HKDF-SHA-256 -> AES-256-CBC + HMAC-SHA-256 over ``AD || ciphertext``.
* Our AEAD (:class:`PaddedAEAD`) differs from the library's recommended one in two ways: the tag
  is compared in constant time (``hmac.compare_digest``; upstream uses ``!=``), and it applies the
  message padding of docs/interop.md §6.2.  Padding lives *inside* the AEAD so that a message with bad
  padding fails inside the library's transactional decrypt, which then keeps the old state.
* ``DoubleRatchet.decrypt_message`` is transactional (it works on a copy of the ratchet and
  commits only after the tag verified), so a tampered, duplicate, replayed or too-far-ahead
  message raises a :class:`~session_core.errors.DecryptionError` subclass and changes nothing.
  Out-of-order messages are decrypted with stored skipped keys (at most
  :data:`MAX_SKIPPED_KEYS` kept, at most :data:`DOS_THRESHOLD` derived for one message).
* The initiator repeats its X3DH header in every message until the first reply decrypts, so a
  lost or late first message does not lose the session.
* Wire form: the :class:`SignalMessage` protobuf (``messages.proto``).
"""

from __future__ import annotations

import hmac
import json
import struct
from typing import Any

import doubleratchet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.padding import PKCS7
from doubleratchet.recommended import HashFunction, kdf_hkdf, kdf_separate_hmacs
from doubleratchet.recommended.diffie_hellman_ratchet_curve25519 import DiffieHellmanRatchet
from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]

from session_core.errors import (
    DecryptionError,
    DuplicateMessageError,
    KeyAgreementError,
    MalformedMessageError,
    StateDecryptionError,
    TooManySkippedMessagesError,
)
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.at_rest import StateKey
from session_core.protocol.padding import pad, unpad
from session_core.protocol.prekeys import PreKeyBundle, PreKeyStore, X3DHHeader, run_sync

__all__ = [
    "DOS_THRESHOLD",
    "MAX_SKIPPED_KEYS",
    "MESSAGE_CHAIN_CONSTANT",
    "PaddedAEAD",
    "RatchetSession",
    "parse_signal_message",
]

MESSAGE_CHAIN_CONSTANT = b"\x02\x01"
DOS_THRESHOLD = 500
MAX_SKIPPED_KEYS = 1000
_AEAD_INFO = b"session_core message keys"
_ROOT_INFO = b"session_core ratchet root"
_TAG = 32
_MIN_CIPHERTEXT = 16 + _TAG  # one AES block + tag


class PaddedAEAD(doubleratchet.AEAD):
    """Signal's recommended AEAD with a constant-time tag check and docs/interop.md §6.2 padding."""

    @staticmethod
    def _keys(key: bytes) -> tuple[bytes, bytes, bytes]:
        okm = HKDF(hashes.SHA256(), 80, b"\x00" * 32, _AEAD_INFO).derive(key)
        return okm[:32], okm[32:64], okm[64:]

    @staticmethod
    def _tag(auth_key: bytes, associated_data: bytes, ciphertext: bytes) -> bytes:
        mac = crypto_hmac.HMAC(auth_key, hashes.SHA256())
        mac.update(associated_data)
        mac.update(ciphertext)
        return mac.finalize()

    @staticmethod
    async def encrypt(plaintext: bytes, key: bytes, associated_data: bytes) -> bytes:
        enc_key, auth_key, iv = PaddedAEAD._keys(key)
        padder = PKCS7(128).padder()
        padded = padder.update(pad(plaintext)) + padder.finalize()
        encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        return ciphertext + PaddedAEAD._tag(auth_key, associated_data, ciphertext)

    @staticmethod
    async def decrypt(ciphertext: bytes, key: bytes, associated_data: bytes) -> bytes:
        if len(ciphertext) < _MIN_CIPHERTEXT or (len(ciphertext) - _TAG) % 16:
            raise doubleratchet.DecryptionFailedException("ciphertext has an impossible length")
        dec_key, auth_key, iv = PaddedAEAD._keys(key)
        body, tag = ciphertext[:-_TAG], ciphertext[-_TAG:]
        if not hmac.compare_digest(PaddedAEAD._tag(auth_key, associated_data, body), tag):
            raise doubleratchet.AuthenticationFailedException("authentication tag mismatch")
        decryptor = Cipher(algorithms.AES(dec_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(body) + decryptor.finalize()
        try:
            unpadder = PKCS7(128).unpadder()
            return unpad(unpadder.update(padded) + unpadder.finalize())
        except ValueError as exc:  # PKCS7 error or our PaddingError (a ValueError too)
            raise doubleratchet.DecryptionFailedException(f"bad padding: {exc}") from None


class _RootKDF(kdf_hkdf.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return _ROOT_INFO


class _ChainKDF(kdf_separate_hmacs.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256


class _DoubleRatchet(doubleratchet.DoubleRatchet):
    @staticmethod
    def _build_associated_data(associated_data: bytes, header: doubleratchet.Header) -> bytes:
        # X3DH's AD has a fixed length (two 33-byte keys), so AD || header parses uniquely.
        return (
            associated_data
            + header.ratchet_pub
            + struct.pack(">II", header.previous_sending_chain_length, header.sending_chain_length)
        )


_CONFIG: dict[str, Any] = {
    "diffie_hellman_ratchet_class": DiffieHellmanRatchet,
    "root_chain_kdf": _RootKDF,
    "message_chain_kdf": _ChainKDF,
    "message_chain_constant": MESSAGE_CHAIN_CONSTANT,
    "dos_protection_threshold": DOS_THRESHOLD,
    "max_num_skipped_message_keys": MAX_SKIPPED_KEYS,
    "aead": PaddedAEAD,
}


def _header_to_pb(header: X3DHHeader, out: pb.X3DHHeader) -> None:
    out.identityKey = header.identity_key
    out.ephemeralKey = header.ephemeral_key
    out.signedPreKey = header.signed_pre_key
    out.preKey = header.pre_key


def parse_signal_message(data: bytes) -> tuple[X3DHHeader | None, doubleratchet.EncryptedMessage]:
    """Parse and size-check a :class:`SignalMessage`; :class:`MalformedMessageError` if bad."""
    message = pb.SignalMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, TypeError) as exc:
        raise MalformedMessageError(f"not a SignalMessage: {exc}") from None
    for field in ("ratchetKey", "counter", "previousCounter", "ciphertext"):
        if not message.HasField(field):
            raise MalformedMessageError(f"SignalMessage lacks {field}")
    if len(message.ratchetKey) != 32:
        raise MalformedMessageError("SignalMessage ratchet key must be 32 bytes")
    header: X3DHHeader | None = None
    if message.HasField("x3dh"):
        x = message.x3dh
        header = X3DHHeader(x.identityKey, x.ephemeralKey, x.signedPreKey, x.preKey)
        header.check()
    return header, doubleratchet.EncryptedMessage(
        header=doubleratchet.Header(
            ratchet_pub=message.ratchetKey,
            previous_sending_chain_length=message.previousCounter,
            sending_chain_length=message.counter,
        ),
        ciphertext=message.ciphertext,
    )


class RatchetSession:
    """A Double Ratchet session with one peer.

    Create with :meth:`initiate` (we hold the peer's bundle) or :meth:`respond` (we got an
    initial message).  :meth:`encrypt` and :meth:`decrypt` take and return bytes; both are
    synchronous (see :func:`~session_core.protocol.prekeys.run_sync`).
    """

    def __init__(
        self,
        ratchet: _DoubleRatchet,
        peer_identity_key: bytes,
        associated_data: bytes,
        pending_header: X3DHHeader | None,
        ephemeral_key: bytes,
    ) -> None:
        self._ratchet = ratchet
        self.peer_identity_key = peer_identity_key
        self._ad = associated_data
        self._pending_header = pending_header
        # The X3DH ephemeral key that created this session: a repeated header with this key is
        # a repeat of the initiator's header, not a new session.
        self.ephemeral_key = ephemeral_key

    # -- creation -----------------------------------------------------------------------------

    @classmethod
    def initiate(
        cls, prekeys: PreKeyStore, bundle: PreKeyBundle, plaintext: bytes
    ) -> tuple[RatchetSession, bytes]:
        """Active X3DH with the peer's bundle and the first message; returns (session, wire)."""
        secret, ad, header = prekeys.agree_active(bundle)
        ratchet, encrypted = run_sync(
            _DoubleRatchet.encrypt_initial_message(
                shared_secret=secret,
                recipient_ratchet_pub=bundle.signed_pre_key,
                message=plaintext,
                associated_data=ad,
                **_CONFIG,
            )
        )
        session = cls(ratchet, bundle.identity_key, ad, header, header.ephemeral_key)
        return session, session._wire(encrypted)

    @classmethod
    def respond(
        cls, prekeys: PreKeyStore, data: bytes, expected_peer: bytes
    ) -> tuple[RatchetSession, bytes]:
        """Passive X3DH from an initial message of ``expected_peer``; returns (session, text).

        On any failure the prekeys are unchanged (the one-time prekey is consumed only after
        the message decrypted).
        """
        header, encrypted = parse_signal_message(data)
        if header is None:
            raise KeyAgreementError("no X3DH header: not an initial message and no session")
        if not hmac.compare_digest(header.identity_key, expected_peer):
            raise KeyAgreementError("the X3DH identity key is not the sender's Session ID key")
        secret, ad, spk_priv = prekeys.agree_passive(header)
        try:
            ratchet, plaintext = run_sync(
                _DoubleRatchet.decrypt_initial_message(
                    shared_secret=secret,
                    own_ratchet_priv=spk_priv,
                    message=encrypted,
                    associated_data=ad,
                    **_CONFIG,
                )
            )
        except Exception as exc:
            raise _translate(exc) from None
        prekeys.consume_pre_key(header.pre_key)
        return cls(ratchet, expected_peer, ad, None, header.ephemeral_key), plaintext

    # -- messages -----------------------------------------------------------------------------

    @property
    def awaiting_reply(self) -> bool:
        """True while we initiated and have not yet decrypted anything from the peer."""
        return self._pending_header is not None

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt (and pad) one message; returns the SignalMessage bytes."""
        return self._wire(run_sync(self._ratchet.encrypt_message(plaintext, self._ad)))

    def decrypt(self, data: bytes) -> bytes:
        """Decrypt one SignalMessage; on any error the session state is unchanged."""
        _, encrypted = parse_signal_message(data)
        return self.decrypt_parsed(encrypted)

    def decrypt_parsed(self, encrypted: doubleratchet.EncryptedMessage) -> bytes:
        try:
            plaintext = run_sync(self._ratchet.decrypt_message(encrypted, self._ad))
        except Exception as exc:
            raise _translate(exc) from None
        self._pending_header = None  # the peer has the session: stop repeating the header
        return plaintext

    def _wire(self, encrypted: doubleratchet.EncryptedMessage) -> bytes:
        message = pb.SignalMessage(
            ratchetKey=encrypted.header.ratchet_pub,
            previousCounter=encrypted.header.previous_sending_chain_length,
            counter=encrypted.header.sending_chain_length,
            ciphertext=encrypted.ciphertext,
        )
        if self._pending_header is not None:
            _header_to_pb(self._pending_header, message.x3dh)
        return bytes(message.SerializeToString())

    # -- serialisation ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Plain state (holds private keys: encrypt it, e.g. with :meth:`to_bytes`)."""
        header = self._pending_header
        return {
            "v": 1,
            "peer": self.peer_identity_key.hex(),
            "ad": self._ad.hex(),
            "eph": self.ephemeral_key.hex(),
            "pending": None
            if header is None
            else [header.identity_key.hex(), header.ephemeral_key.hex(),
                  header.signed_pre_key.hex(), header.pre_key.hex()],
            "ratchet": dict(self._ratchet.json),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RatchetSession:
        try:
            pending = data["pending"]
            header = None if pending is None else X3DHHeader(*(bytes.fromhex(k) for k in pending))
            ratchet = _DoubleRatchet.from_json(data["ratchet"], **_CONFIG)
            return cls(
                ratchet,
                bytes.fromhex(data["peer"]),
                bytes.fromhex(data["ad"]),
                header,
                bytes.fromhex(data["eph"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateDecryptionError(f"saved session state is malformed: {exc}") from None

    def to_bytes(self, key: StateKey) -> bytes:
        """The session state encrypted at rest under ``key``."""
        return key.seal(json.dumps(self.to_json(), separators=(",", ":")).encode())

    @classmethod
    def from_bytes(cls, key: StateKey, blob: bytes) -> RatchetSession:
        try:
            data = json.loads(key.open(blob))
        except ValueError as exc:
            if isinstance(exc, StateDecryptionError):
                raise
            raise StateDecryptionError(f"saved session state is not JSON: {exc}") from None
        return cls.from_json(data)


def _translate(exc: Exception) -> Exception:
    """Map the libraries' exceptions to ours (callers re-raise with ``from None``)."""
    if isinstance(exc, doubleratchet.DuplicateMessageException):
        return DuplicateMessageError("duplicate or replayed message (its key was already used)")
    if isinstance(exc, doubleratchet.DoSProtectionException):
        return TooManySkippedMessagesError(
            f"message claims more than {DOS_THRESHOLD} skipped messages; refused"
        )
    if isinstance(exc, doubleratchet.AuthenticationFailedException):
        return DecryptionError("message authentication failed (tampered, or not for this session)")
    if isinstance(exc, doubleratchet.DecryptionFailedException):
        return DecryptionError(f"message decryption failed: {exc}")
    if isinstance(exc, (ValueError, doubleratchet.ChainNotAvailableException)):
        # e.g. a low-order ratchet key gives an all-zero X25519 output
        return DecryptionError(f"message rejected: {exc}")
    return exc
