"""One config message: the full state of one config domain, signed by the account.

Theory of operation.  A domain's state is a map from keys (paths of 1 to 4 strings, such as
``("c", <session id>, "nickname")``) to *entries*.  An entry is a last-writer-wins register:
a value (an int, a str, or ``None`` for "deleted": a tombstone) and the stamp of the edit that
wrote it, ``(seqno, tag)``.  ``seqno`` is the config seqno the edit was pushed with and ``tag``
the BLAKE2b hash of the edit's content (key, seqno, value); stamps compare as tuples, so among
edits pushed with the same seqno the higher content hash wins -- the same on every device.

A message carries every entry of its domain (not a diff), the seqno it was pushed with (``#``)
and an Ed25519 signature by the account (``~``).  Encoded in canonical bt-encoding::

    d 1:# i<seqno>e
      1:& l ( l <key: list of strings> i<seqno>e 32:<tag> [<value>] e )* e   # sorted by key
      1:~ 64:<signature over "session-core/config/v1" 0 domain 0 bt({#, &})>
    e

Entries without a value are tombstones.  The message's identity (``hash``) is BLAKE2b-32 of its
encoding, which is canonical, so a re-encoded message hashes the same.
"""

from __future__ import annotations

import hashlib

from dataclasses import dataclass
from typing import Union

import nacl.exceptions
from nacl.bindings import crypto_sign_open

from session_core.errors import ConfigFormatError, ConfigSignatureError, InvalidInputError
from session_core.identity import Identity
from session_core.protocol.config import bencode

__all__ = [
    "MAX_KEY_PART",
    "MAX_STRING",
    "ConfigMessage",
    "Entry",
    "Key",
    "Scalar",
    "check_key",
    "check_value",
    "decode_entries",
    "edit_tag",
    "encode_entries",
]

Scalar = Union[int, str]
Key = tuple[str, ...]

MAX_KEY_PART = 128  # bytes, as libsession's config keys
MAX_STRING = 4096  # bytes, as libsession's config string values
_MAX_KEY_PARTS = 4
_INT_RANGE = (-(2**63), 2**63 - 1)
_SIG_DOMAIN = b"session-core/config/v1\x00"
_TAG_KEY = b"session-core/config/edit"


@dataclass(frozen=True)
class Entry:
    seqno: int
    tag: bytes  # 32 bytes: hash of the edit's content (the tie-break)
    value: Scalar | None  # None: deleted (a tombstone)

    @property
    def stamp(self) -> tuple[int, bytes]:
        return (self.seqno, self.tag)


def check_key(key: Key) -> Key:
    if not isinstance(key, tuple) or not 1 <= len(key) <= _MAX_KEY_PARTS:
        raise ConfigFormatError(f"a config key is a tuple of 1 to {_MAX_KEY_PARTS} strings")
    for part in key:
        if not isinstance(part, str) or not 1 <= len(part.encode()) <= MAX_KEY_PART:
            raise ConfigFormatError(f"a config key part is a string of 1 to {MAX_KEY_PART} bytes")
    return key


def check_value(value: Scalar | None) -> Scalar | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigFormatError(f"a config value is an int or a str, got {type(value).__name__}")
    if isinstance(value, int) and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise ConfigFormatError("a config int is a signed 64-bit integer")
    if isinstance(value, str) and len(value.encode()) > MAX_STRING:
        raise ConfigFormatError(f"a config string is at most {MAX_STRING} bytes")
    return value


def _bt_value(value: Scalar | None) -> bencode.Value:
    if value is None:
        return []
    return value if isinstance(value, int) else value.encode()


def edit_tag(key: Key, seqno: int, value: Scalar | None) -> bytes:
    """The content hash of one edit: equal edits get equal stamps, different ones never tie."""
    content = bencode.encode([[p.encode() for p in key], seqno, _bt_value(value)])
    return hashlib.blake2b(content, digest_size=32, key=_TAG_KEY).digest()


def encode_entries(entries: dict[Key, Entry]) -> list[bencode.Value]:
    out: list[bencode.Value] = []
    for key in sorted(entries, key=lambda k: [p.encode() for p in k]):
        e = entries[key]
        item: list[bencode.Value] = [[p.encode() for p in key], e.seqno, e.tag]
        if e.value is not None:
            item.append(_bt_value(e.value))
        out.append(item)
    return out


def decode_entries(raw: bencode.Value, seqno: int) -> dict[Key, Entry]:
    if not isinstance(raw, list):
        raise ConfigFormatError("config entries are a list")
    entries: dict[Key, Entry] = {}
    last: list[bytes] | None = None
    for item in raw:
        if not isinstance(item, list) or len(item) not in (3, 4):
            raise ConfigFormatError("a config entry is [key, seqno, tag] or [key, seqno, tag, value]")
        raw_key, e_seqno, tag = item[0], item[1], item[2]
        if not isinstance(raw_key, list) or not all(isinstance(p, bytes) for p in raw_key):
            raise ConfigFormatError("a config entry key is a list of strings")
        parts: list[bytes] = [p for p in raw_key if isinstance(p, bytes)]
        if last is not None and parts <= last:
            raise ConfigFormatError("config entries not sorted by key, or a key repeats")
        last = parts
        try:
            key = check_key(tuple(p.decode() for p in parts))
        except UnicodeDecodeError:
            raise ConfigFormatError("a config key part is not UTF-8") from None
        if not isinstance(e_seqno, int) or not 0 < e_seqno <= seqno:
            raise ConfigFormatError("an entry's seqno is positive and at most the message's")
        if not isinstance(tag, bytes) or len(tag) != 32:
            raise ConfigFormatError("an entry's tag is 32 bytes")
        value: Scalar | None = None
        if len(item) == 4:
            raw_value = item[3]
            if isinstance(raw_value, bytes):
                try:
                    value = raw_value.decode()
                except UnicodeDecodeError:
                    raise ConfigFormatError("a config string is not UTF-8") from None
            elif isinstance(raw_value, int):
                value = raw_value
            else:
                raise ConfigFormatError("a config value is an int or a string")
            check_value(value)
        entries[key] = Entry(e_seqno, tag, value)
    return entries


@dataclass(frozen=True)
class ConfigMessage:
    """A decoded, signature-checked config message (build one with :meth:`sign`)."""

    domain: bytes
    seqno: int
    entries: dict[Key, Entry]
    encoded: bytes  # the signed bt-encoding (what is padded and encrypted)
    hash: bytes  # BLAKE2b-32 of ``encoded``

    @classmethod
    def sign(cls, identity: Identity, domain: bytes, seqno: int, entries: dict[Key, Entry]) -> ConfigMessage:
        if seqno <= 0:
            raise InvalidInputError("a config message seqno is positive")
        body: dict[bytes, bencode.Value] = {b"#": seqno, b"&": encode_entries(entries)}
        signature = identity.sign(_SIG_DOMAIN + domain + b"\x00" + bencode.encode(body))
        encoded = bencode.encode({**body, b"~": signature})
        return cls(domain, seqno, dict(entries), encoded, _hash(encoded))

    @classmethod
    def verify(cls, encoded: bytes, domain: bytes, account_ed25519: bytes) -> ConfigMessage:
        """Decode ``encoded`` and check it is signed by ``account_ed25519``."""
        doc = bencode.decode(encoded)
        if not isinstance(doc, dict):
            raise ConfigFormatError("a config message is a bt dict")
        if set(doc) != {b"#", b"&", b"~"}:
            # libsession's rule too: a key sorting before "#" means a format we cannot read.
            raise ConfigFormatError(f"config message keys are #, & and ~, got {sorted(doc)}")
        signature, seqno = doc[b"~"], doc[b"#"]
        if not isinstance(signature, bytes) or len(signature) != 64:
            raise ConfigSignatureError("config message has no 64-byte signature")
        if not isinstance(seqno, int) or seqno <= 0:
            raise ConfigFormatError("config message seqno is a positive integer")
        body = {b"#": seqno, b"&": doc[b"&"]}
        try:
            crypto_sign_open(signature + _SIG_DOMAIN + domain + b"\x00" + bencode.encode(body), account_ed25519)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError):
            raise ConfigSignatureError("config message is not signed by this account") from None
        entries = decode_entries(doc[b"&"], seqno)
        return cls(domain, seqno, entries, bytes(encoded), _hash(encoded))


def _hash(encoded: bytes) -> bytes:
    return hashlib.blake2b(encoded, digest_size=32).digest()

