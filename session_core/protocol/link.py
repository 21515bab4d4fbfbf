"""Linking a new device to an account: a one-time code, and a sealed record in the own swarm.

Theory of operation.  In Session every device of an account holds the same keys (the 2020
pairing protocol of whitepaper 5.2.1 was withdrawn); a new device gets them from the 13-word
phrase, or from this: the existing device draws a fresh 16-byte one-time key ``K`` and

* stores in the account's own swarm, with a short TTL, the *link record*
  ``"SCLK" 01 || nonce(24) || XChaCha20-Poly1305(k, nonce, seed(16) || expiry_ms(8 BE),
  ad = "SCLK" 01 || account X25519 key)`` with ``k = BLAKE2b-32(K, key="session-core/link")``;
* shows the *code* ``sclink1-`` + base32(account X25519 key (32) || K (16)) -- 77 characters,
  as text to type or as the QR payload ``session-core:link/<code>``.

The new device parses the code, polls the account's swarm (the code names it), opens the record
with ``K``, checks the expiry and that the seed gives the account in the code, and is a device of
that account.  It then stores an *ack* (``"SCLA" 01 || BLAKE2b-16(K, key="session-core/link-ack")``)
so the existing device can report that a device linked -- and how many did.

Why the swarm and not the seed in the QR: the code holds no key of the account.  A photo of the
screen is useless once the record has expired (the swarm drops it at its TTL; the sealed expiry
stops a node that keeps it); every offer has its own ``K``; and the code stays short.  What it does
not stop: someone who reads the code *within* its lifetime can link too (anyone holding the
phrase can as well) -- the ack count shows it.  Production Session's retrieve needs a signature
by the account, which a device without the keys cannot make; there the payload would be shown
directly in the QR instead (see docs/devices.md).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

import nacl.exceptions
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)

from session_core.errors import InvalidSeedError, LinkCodeError, LinkExpiredError
from session_core.identity import SEED_BYTES, Identity, session_id_from_x25519

__all__ = [
    "LINK_TTL_MS",
    "LinkCode",
    "ack_for",
    "is_link_ack",
    "is_link_record",
    "make_link",
    "open_link",
]

LINK_TTL_MS = 10 * 60_000
CODE_PREFIX = "sclink1-"
QR_PREFIX = "session-core:link/"
_RECORD = b"SCLK\x01"
_ACK = b"SCLA\x01"
_KEY_BYTES = 16
_RECORD_BYTES = len(_RECORD) + 24 + SEED_BYTES + 8 + 16


@dataclass(frozen=True)
class LinkCode:
    account_x25519: bytes  # whose swarm holds the record
    key: bytes  # the one-time key K

    @property
    def session_id(self) -> str:
        return session_id_from_x25519(self.account_x25519)

    @property
    def text(self) -> str:
        raw = base64.b32encode(self.account_x25519 + self.key).decode().rstrip("=").lower()
        return CODE_PREFIX + raw

    @property
    def qr_payload(self) -> str:
        return QR_PREFIX + self.text

    @classmethod
    def parse(cls, text: str) -> LinkCode:
        """A code as shown (text or QR payload; case, spaces and dashes inside it do not matter)."""
        if not isinstance(text, str):
            raise LinkCodeError("a link code is text")
        cleaned = text.strip()
        if cleaned.lower().startswith(QR_PREFIX):
            cleaned = cleaned[len(QR_PREFIX):]
        if not cleaned.lower().startswith(CODE_PREFIX):
            raise LinkCodeError(f"a link code starts with {CODE_PREFIX!r}")
        body = "".join(cleaned[len(CODE_PREFIX):].split()).replace("-", "").upper()
        if len(body) != 77:
            raise LinkCodeError(f"a link code has 77 characters after {CODE_PREFIX!r}, got {len(body)}")
        try:
            raw = base64.b32decode(body + "===")
        except ValueError:
            raise LinkCodeError("a link code is base32 (letters a-z and digits 2-7)") from None
        return cls(raw[:32], raw[32:])


def _record_key(code: LinkCode) -> bytes:
    return hashlib.blake2b(code.key, digest_size=32, key=b"session-core/link").digest()


def make_link(identity: Identity, *, now_ms: int, ttl_ms: int = LINK_TTL_MS,
              key: bytes | None = None) -> tuple[LinkCode, bytes]:
    """A fresh code and the record to store (with ``ttl_ms``) in ``identity``'s own swarm."""
    code = LinkCode(identity.x25519_public_key, os.urandom(_KEY_BYTES) if key is None else key)
    if len(code.key) != _KEY_BYTES:
        raise LinkCodeError("a link key is 16 bytes")
    nonce = os.urandom(24)
    plaintext = identity.seed + (now_ms + ttl_ms).to_bytes(8, "big")
    sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, _RECORD + code.account_x25519, nonce,
                                                        _record_key(code))
    return code, _RECORD + nonce + sealed


def is_link_record(data: bytes) -> bool:
    return data.startswith(_RECORD)


def open_link(code: LinkCode, record: bytes, *, now_ms: int) -> Identity:
    """The account's identity from its link record; :class:`LinkCodeError` if the record is not
    for this code, :class:`LinkExpiredError` if it is too old."""
    if not is_link_record(record) or len(record) != _RECORD_BYTES:
        raise LinkCodeError("not a link record")
    nonce, sealed = record[len(_RECORD):len(_RECORD) + 24], record[len(_RECORD) + 24:]
    try:
        plaintext = crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, _RECORD + code.account_x25519, nonce,
                                                               _record_key(code))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise LinkCodeError("this link record does not open with the code") from None
    seed, expiry_ms = plaintext[:SEED_BYTES], int.from_bytes(plaintext[SEED_BYTES:], "big")
    if now_ms > expiry_ms:
        raise LinkExpiredError("this link code has expired: show a new one on the existing device")
    try:
        identity = Identity.from_seed(seed)
    except InvalidSeedError:
        raise LinkCodeError("the link record holds no valid seed") from None
    if identity.x25519_public_key != code.account_x25519:
        raise LinkCodeError("the link record is for another account than the code names")
    return identity


def ack_for(code: LinkCode) -> bytes:
    """What the new device stores once linked, so the existing one can count the links."""
    return _ACK + hashlib.blake2b(code.key, digest_size=16, key=b"session-core/link-ack").digest()


def is_link_ack(data: bytes) -> bool:
    return data.startswith(_ACK)

