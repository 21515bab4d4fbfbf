"""The outer layers: Envelope (what swarm nodes store, wrapped) and the sealed box inside it.

Both conversation modes put a sealed box in an Envelope of type SESSION_MESSAGE (6), which
goes to the swarm wrapped as real clients do (:mod:`session_core.protocol.store_data`).  In the
ratchet mode ``Envelope.content = crypto_box_seal(recipient_x25519, SealedMessage)``; in the
Session-protocol mode the box holds ``M || A || sig``
(:mod:`session_core.protocol.session_protocol`).  libsodium's sealed box
does an ephemeral X25519 ECDH per message with XSalsa20-Poly1305, so only the recipient can open
it and relays see neither the sender nor the kind of message (every Envelope has type
SESSION_MESSAGE and an empty ``source``).  The box itself does not authenticate the sender:
the ``source`` inside is authenticated by the friend-request signature
(:mod:`session_core.protocol.friend_request`) or by the ratchet's associated data (which binds both
identity keys), so a forged ``source`` fails there.
"""

from __future__ import annotations

import nacl.exceptions
from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]
from nacl.bindings import crypto_box_seal, crypto_box_seal_open

from session_core.errors import DecryptionError, MalformedMessageError
from session_core.identity import Identity
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.store_data import unwrap_store_data, wrap_envelope

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "build_envelope",
    "envelope_store_data",
    "open_box",
    "open_envelope",
    "parse_sealed",
    "read_envelope",
]

# The 2020 storage server's MAX_MESSAGE_BODY is 102400 base64 characters (docs/interop.md §1.6).
MAX_ENVELOPE_BYTES = 102400 * 3 // 4


def envelope_store_data(content: bytes, timestamp_ms: int) -> bytes:
    """An Envelope{SESSION_MESSAGE, timestamp, content}, wrapped for ``store.data``."""
    envelope = pb.Envelope(type=pb.Envelope.SESSION_MESSAGE, timestamp=timestamp_ms, content=content)
    data = wrap_envelope(bytes(envelope.SerializeToString()))
    if len(data) > MAX_ENVELOPE_BYTES:
        raise MalformedMessageError(
            f"message too large: {len(data)} bytes > {MAX_ENVELOPE_BYTES} the network stores"
        )
    return data


def build_envelope(recipient_x25519: bytes, sealed: pb.SealedMessage, timestamp_ms: int) -> bytes:
    """Seal ``sealed`` to the recipient and wrap it in an Envelope; returns the store data."""
    boxed = crypto_box_seal(sealed.SerializeToString(), recipient_x25519)
    return envelope_store_data(bytes(boxed), timestamp_ms)


def read_envelope(data: bytes) -> pb.Envelope:
    """Parse received store data (wrapped or bare) into a 1:1 Envelope, checking its form.

    Raises :class:`MalformedMessageError` for bytes that are not an Envelope of type
    SESSION_MESSAGE with content.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedMessageError(f"an envelope is bytes, got {type(data).__name__}")
    if len(data) > MAX_ENVELOPE_BYTES:
        raise MalformedMessageError(f"envelope of {len(data)} bytes exceeds {MAX_ENVELOPE_BYTES}")
    envelope = pb.Envelope()
    try:
        envelope.ParseFromString(unwrap_store_data(bytes(data)))
    except DecodeError as exc:
        raise MalformedMessageError(f"not an Envelope: {exc}") from None
    if envelope.type != pb.Envelope.SESSION_MESSAGE or not envelope.HasField("content"):
        raise MalformedMessageError(
            f"unsupported envelope (type {envelope.type}, content present: "
            f"{envelope.HasField('content')})"
        )
    return envelope


def open_box(identity: Identity, envelope: pb.Envelope) -> bytes:
    """Open the sealed box in ``envelope.content``; :class:`DecryptionError` if not for us."""
    try:
        inner = crypto_box_seal_open(
            envelope.content, identity.x25519_public_key, identity.x25519_private_key
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionError("the envelope is not for this identity, or was modified") from None
    return bytes(inner)


def parse_sealed(inner: bytes) -> pb.SealedMessage:
    sealed = pb.SealedMessage()
    try:
        sealed.ParseFromString(inner)
    except DecodeError as exc:
        raise MalformedMessageError(f"sealed content is not a SealedMessage: {exc}") from None
    return sealed


def open_envelope(identity: Identity, data: bytes) -> tuple[int, pb.SealedMessage]:
    """Parse store data addressed to ``identity`` and open its ratchet-mode sealed box.

    Returns (envelope timestamp, SealedMessage).  Raises :class:`MalformedMessageError` for bytes
    that are not an Envelope, :class:`DecryptionError` if the box is not for us or was modified.
    """
    envelope = read_envelope(data)
    return envelope.timestamp, parse_sealed(open_box(identity, envelope))
