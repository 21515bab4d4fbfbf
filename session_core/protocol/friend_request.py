"""Friend requests (whitepaper 4.8): intro, prekey bundle, display name and Session ID.

A friend request is a padded ``Content`` (docs/interop.md §9: ``preKeyBundleMessage`` present, a
``dataMessage`` with the intro as ``body``, the display name in ``profile`` and the
``SESSION_REQUEST`` flag), placed in a ``SealedMessage`` of kind FRIEND_REQUEST with the sender's
Session ID, and sealed to the recipient's X25519 key with an ephemeral ECDH
(:mod:`session_core.protocol.sealed`).

Authentication by the sender's identity key: the sender signs, with the Ed25519 key of its
identity, ``DOMAIN || recipient X25519 key || sender X25519 key || timestamp (u64 BE) ||
payload``.  Binding the recipient stops a recipient from re-sealing a request to someone else
("surreptitious forwarding"); binding the timestamp lets the recipient tell a replay from a new
request.  The recipient checks that the Ed25519 key converts to the X25519 key of the claimed
Session ID, that the signature verifies, that the bundle's identity key is that same key, and
that the signed prekey's XEdDSA signature verifies.

The request also lists the conversation modes its sender speaks (``SealedMessage.modes``, see
:mod:`session_core.protocol.modes`).  That list is outside the signature but inside the sealed
box, which only the recipient can open, so nobody else can alter it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]
from nacl.bindings import crypto_sign_open

from session_core.errors import (
    FriendRequestError,
    InvalidInputError,
    InvalidSessionIdError,
    KeyAgreementError,
    MalformedMessageError,
)
from session_core.identity import Identity, parse_session_id, x25519_from_ed25519_public
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.padding import pad, unpad
from session_core.protocol.prekeys import PreKeyBundle, verify_bundle

__all__ = [
    "DOMAIN",
    "MAX_DISPLAY_NAME",
    "MAX_INTRO",
    "FriendRequest",
    "make_friend_request",
    "read_friend_request",
]

DOMAIN = b"session_core friend request v1\x00"
MAX_INTRO = 2000
MAX_DISPLAY_NAME = 64


@dataclass(frozen=True)
class FriendRequest:
    """A verified incoming friend request."""

    sender: str  # Session ID
    display_name: str
    intro: str
    bundle: PreKeyBundle
    timestamp_ms: int
    fingerprint: str  # stable id of this exact request (for de-duplication)
    modes: tuple[int, ...] = ()  # SealedMessage.Mode values the sender speaks, in its order


def _signed_bytes(recipient: bytes, sender: bytes, timestamp_ms: int, payload: bytes) -> bytes:
    return DOMAIN + recipient + sender + struct.pack(">Q", timestamp_ms) + payload


def check_text(intro: str, display_name: str) -> None:
    if not isinstance(intro, str) or len(intro) > MAX_INTRO:
        raise InvalidInputError(f"the intro is a str of at most {MAX_INTRO} characters")
    if not isinstance(display_name, str) or len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidInputError(
            f"the display name is a str of at most {MAX_DISPLAY_NAME} characters"
        )


def make_friend_request(
    identity: Identity,
    recipient: str,
    bundle: PreKeyBundle,
    *,
    intro: str,
    display_name: str,
    timestamp_ms: int,
    modes: Sequence[pb.SealedMessage.Mode] = (),
) -> pb.SealedMessage:
    """The signed SealedMessage of a friend request (seal it with ``build_envelope``)."""
    check_text(intro, display_name)
    recipient_key = parse_session_id(recipient)
    content = pb.Content()
    data = content.dataMessage
    data.body = intro
    data.timestamp = timestamp_ms
    data.flags = pb.DataMessage.SESSION_REQUEST
    data.profile.displayName = display_name
    pkb = content.preKeyBundleMessage
    pkb.identityKey = bundle.identity_key
    pkb.signedKey = bundle.signed_pre_key
    pkb.signature = bundle.signed_pre_key_signature
    pkb.preKey = bundle.pre_key
    payload = pad(content.SerializeToString())
    signature = identity.sign(
        _signed_bytes(recipient_key, identity.x25519_public_key, timestamp_ms, payload)
    )
    return pb.SealedMessage(
        kind=pb.SealedMessage.FRIEND_REQUEST,
        source=identity.session_id,
        sourceEd25519=identity.ed25519_public_key,
        signature=signature,
        payload=payload,
        timestamp=timestamp_ms,
        modes=list(modes),
    )


def read_friend_request(identity: Identity, sealed: pb.SealedMessage) -> FriendRequest:
    """Verify and decode a FRIEND_REQUEST SealedMessage addressed to ``identity``."""
    try:
        sender_key = parse_session_id(sealed.source)
    except InvalidSessionIdError as exc:
        raise MalformedMessageError(f"friend request: bad sender Session ID: {exc}") from None
    if len(sealed.sourceEd25519) != 32 or len(sealed.signature) != 64:
        raise MalformedMessageError("friend request: Ed25519 key or signature has the wrong size")
    if not sealed.HasField("timestamp") or not sealed.HasField("payload"):
        raise MalformedMessageError("friend request: timestamp or payload missing")
    try:
        derived = x25519_from_ed25519_public(sealed.sourceEd25519)
    except InvalidSessionIdError:
        raise FriendRequestError("friend request: the sender's Ed25519 key is invalid") from None
    if derived != sender_key:
        raise FriendRequestError("friend request: the signing key does not belong to the sender")
    message = _signed_bytes(identity.x25519_public_key, sender_key, sealed.timestamp, sealed.payload)
    try:
        crypto_sign_open(sealed.signature + message, sealed.sourceEd25519)
    except Exception:  # nacl BadSignatureError
        raise FriendRequestError("friend request: the signature does not verify") from None
    content = pb.Content()
    try:
        content.ParseFromString(unpad(sealed.payload))
    except DecodeError as exc:
        raise MalformedMessageError(f"friend request: payload is not a Content: {exc}") from None
    if not content.HasField("preKeyBundleMessage"):
        raise MalformedMessageError("friend request: no prekey bundle")
    pkb = content.preKeyBundleMessage
    bundle = PreKeyBundle(
        identity_key=pkb.identityKey,
        signed_pre_key=pkb.signedKey,
        signed_pre_key_signature=pkb.signature,
        pre_key=pkb.preKey,
    )
    if bundle.identity_key != sender_key:
        raise FriendRequestError("friend request: the bundle's identity key is not the sender's")
    try:
        verify_bundle(bundle)
    except KeyAgreementError as exc:
        raise FriendRequestError(f"friend request: {exc}") from None
    data = content.dataMessage
    intro, name = data.body, data.profile.displayName
    try:
        check_text(intro, name)
    except InvalidInputError as exc:
        raise MalformedMessageError(f"friend request: {exc}") from None
    return FriendRequest(
        sender=sealed.source,
        display_name=name,
        intro=intro,
        bundle=bundle,
        timestamp_ms=sealed.timestamp,
        fingerprint=hashlib.sha256(sealed.signature).hexdigest(),
        modes=tuple(sealed.modes),
    )
