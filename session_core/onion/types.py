"""Value types and constants of onion requests (docs/interop.md §3.3), shared by both backends.

The crypto backends (``_onion_c`` on libsodium, ``_onion_py`` on PyNaCl + cryptography)
implement the small :class:`Crypto` protocol; everything here is backend-neutral.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from session_core.errors import (
    OnionArgumentError,
    OnionDecryptError,
    OnionEncTypeError,
    OnionHopError,
    OnionPathTooLongError,
    OnionUrlError,
)

#: SS ≥ 2.1 refuses requests whose hop counter exceeds this (docs/interop.md §3.3).
MAX_ONION_HOPS = 15
#: Largest frame we build or accept, in bytes.  Ours, not upstream's: generous for a
#: 10 MB attachment plus layers, and it bounds what a hostile peer can make us allocate.
MAX_BODY_SIZE = 16 * 1024 * 1024

ENC_AES_GCM = 0
ENC_XCHACHA20 = 1
#: Wire names accepted in ``enc_type`` (docs/interop.md §3.1), and the one we write for each.
ENC_TYPES: Mapping[str, int] = {
    "aes-gcm": ENC_AES_GCM,
    "gcm": ENC_AES_GCM,
    "xchacha20": ENC_XCHACHA20,
    "xchacha20-poly1305": ENC_XCHACHA20,
}
ENC_NAMES = ("aes-gcm", "xchacha20")
NONCE_BYTES = (12, 24)
TAG_BYTES = 16

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def enc_code(enc_type: object) -> int:
    """Map an ``enc_type`` value to its code; absent (None) means aes-gcm, as upstream."""
    if enc_type is None:
        return ENC_AES_GCM
    if isinstance(enc_type, str) and enc_type in ENC_TYPES:
        return ENC_TYPES[enc_type]
    raise OnionEncTypeError("invalid enc_type")


def is_hex_key(value: object) -> bool:
    """True for a 64-character hex string (a 32-byte key).  Rejects the whitespace
    that ``bytes.fromhex`` would silently accept."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def parse_hop(raw: bytes) -> int:
    """The hop counter a node-to-node ``onion`` request carries (``str(hop)`` as ASCII).

    Checked before it is converted: ``int()`` of a 5 000-digit field raises a bare
    ValueError (Python's int digit limit), and a hostile peer must get a per-request
    answer, not break the batch it arrived in.  Raises :class:`OnionHopError` for anything
    but ASCII digits, :class:`OnionPathTooLongError` for a value above MAX_ONION_HOPS
    (leading zeros allowed, as ``int()`` allows them).
    """
    if not isinstance(raw, (bytes, bytearray)) or not raw or not raw.isdigit():  # bytes: ASCII only
        raise OnionHopError()
    digits = bytes(raw).lstrip(b"0")
    if len(digits) > 2 or (digits and int(digits) > MAX_ONION_HOPS):
        raise OnionPathTooLongError()
    return int(digits) if digits else 0


def check_secret(x25519_secret: bytes) -> bytes:
    if not isinstance(x25519_secret, (bytes, bytearray, memoryview)) or len(x25519_secret) != 32:
        raise OnionArgumentError("x25519_secret must be 32 raw bytes")
    return bytes(x25519_secret)


class Crypto(Protocol):
    """What a crypto backend module provides (see ``_onion_py`` for the reference).

    The C backend also has fast paths that callers look up with ``getattr`` and use when
    present: ``build_route`` (a whole build), ``peel_one`` and ``peel_batch`` (peel and
    peel_many); each answers "not sure" where the reference must decide."""

    def keypairs(self, n: int) -> tuple[bytes, bytes]: ...

    def seal(
        self,
        payload: bytes,
        framed: bool,
        final_json: bytes,
        recipients: bytes,
        eph_secrets: bytes,
        eph_publics: bytes,
        jsons: Sequence[bytes],
        enc: int,
    ) -> tuple[bytes, bytes]: ...

    def open_blob(
        self, buf: bytes, offset: int, length: int, secret: bytes, public: bytes, eph_public: bytes, enc: int
    ) -> tuple[bytes, bytes]: ...

    def public_key(self, secret: bytes) -> bytes: ...

    def encrypt(self, key: bytes, enc: int, data: bytes) -> bytes: ...

    def decrypt(self, key: bytes, enc: int, data: bytes) -> bytes: ...


def _key_hex(value: str, what: str) -> str:
    if not is_hex_key(value):
        raise OnionArgumentError(f"{what} must be 64 hex characters")
    return value.lower()


@dataclass(frozen=True, slots=True)
class Node:
    """A service node as an onion hop or destination.

    ``x25519_pubkey`` encrypts the layer, ``ed25519_pubkey`` names the node in the
    previous hop's routing JSON (docs/interop.md §3.3), ``address`` is how to reach it
    (``"host:port"``; opaque to this module).
    """

    x25519_pubkey: str
    ed25519_pubkey: str
    address: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "x25519_pubkey", _key_hex(self.x25519_pubkey, "x25519_pubkey"))
        object.__setattr__(self, "ed25519_pubkey", _key_hex(self.ed25519_pubkey, "ed25519_pubkey"))


def check_exit(host: object, target: object, port: object, protocol: object, method: object) -> None:
    """The exit rules (one rule for build and peel): SS-HEAD ``is_onion_url_target_allowed`` plus sane host/port/protocol."""
    ok = (
        isinstance(host, str)
        and 0 < len(host) <= 253
        and all(c not in host for c in "/?#@ \t\r\n")
        and isinstance(target, str)
        and (target.startswith("/loki/") or target.startswith("/oxen/"))
        and target.endswith("/lsrpc")
        and "?" not in target
        and type(port) is int
        and 0 < port < 65536
        and protocol in ("http", "https")
        and isinstance(method, str)
        and method.isalpha()
        and method.isascii()
    )
    if not ok:
        raise OnionUrlError()


@dataclass(frozen=True, slots=True)
class ServerTarget:
    """A server (file server, open group server) reached through the last hop over HTTP."""

    host: str
    x25519_pubkey: str
    target: str = "/loki/v3/lsrpc"
    port: int = 443
    protocol: str = "https"
    method: str = "POST"

    def __post_init__(self) -> None:
        object.__setattr__(self, "x25519_pubkey", _key_hex(self.x25519_pubkey, "x25519_pubkey"))
        check_exit(self.host, self.target, self.port, self.protocol, self.method)


@dataclass(frozen=True, eq=False, slots=True)
class Reply:
    """Encrypts the answer of a final destination for the client (docs/interop.md §3.5).

    Holds the symmetric key of the layer it came from; there is one per request.
    """

    key: bytes = field(repr=False)
    enc: int
    crypto: Crypto = field(repr=False)

    @property
    def enc_type(self) -> str:
        return ENC_NAMES[self.enc]

    def encrypt(self, data: bytes) -> bytes:
        """``nonce ‖ ciphertext ‖ tag`` with a fresh random nonce."""
        return self.crypto.encrypt(self.key, self.enc, bytes(data))

    def encrypt_b64(self, data: bytes) -> bytes:
        """What a storage server answers over HTTP: base64 of :meth:`encrypt` (§3.5)."""
        return base64.b64encode(self.encrypt(data))


@dataclass(frozen=True, eq=False, slots=True)
class BuildContext:
    """What the client keeps from :func:`build` to open the destination's answer."""

    key: bytes = field(repr=False)
    enc: int
    crypto: Crypto = field(repr=False)
    hops: int

    @property
    def enc_type(self) -> str:
        return ENC_NAMES[self.enc]

    def decrypt_reply(self, data: bytes) -> bytes:
        """Open the destination's reply, raw (``Reply.encrypt``) or base64 (``encrypt_b64``,
        what a storage server sends).  Raises OnionDecryptError if it does not open."""
        raw = bytes(data)
        try:
            return self.crypto.decrypt(self.key, self.enc, raw)
        except OnionDecryptError:
            try:
                decoded = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise OnionDecryptError() from None
            return self.crypto.decrypt(self.key, self.enc, decoded)


@dataclass(frozen=True, slots=True)
class Relay:
    """Forward ``body`` to the node whose Ed25519 key is ``next_ed25519``.

    ``body`` is the decrypted layer itself, ``[N][blob][routing JSON]``: a valid frame for
    :func:`peel` on the next node (which reads its ``ephemeral_key``/``enc_type``), so
    relaying copies nothing.  ``hop`` is the value to pass to the next node's ``peel``.
    """

    next_ed25519: str
    body: bytes = field(repr=False)
    hop: int = 1


@dataclass(frozen=True, slots=True)
class Final:
    """This node (or server) is the destination: ``payload`` is the request."""

    payload: bytes
    reply: Reply
    #: The inner routing JSON (SS-HEAD reads optional ``json``/``base64`` flags from it).
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Exit:
    """POST ``body`` to ``protocol://host:port target`` (docs/interop.md §3.3 server exit)."""

    host: str
    target: str
    port: int
    protocol: str
    method: str
    body: bytes = field(repr=False)

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}{self.target}"
