"""A member's message to the group: one record, stored once in the group's swarm.

Layout (``KIND_MESSAGE``)::

    0x10 || generation u32 || header nonce (24) || sealed header (8 + 16) || sealed body

* The header ``sender index u32 || counter u32`` is sealed (XChaCha20-Poly1305) under the
  generation's header key, so the swarm sees neither who sent nor how many they sent; members
  learn which chain to use.  AD = the 29 bytes before it.
* The body is sealed under the message key of that sender's chain at ``counter``, with the
  record's random header nonce as its nonce too (the two keys differ, so sharing the nonce is
  safe), AD = everything before it.  A message key is meant to be used once; the random nonce
  keeps even a reused one safe (two devices of one account would derive the same chain: the
  client refuses that, but a copy of a profile could still do it).  Its plaintext, padded like 1:1
  messages (docs/interop.md §6.2), is ``type u8 || sent_ms u64 || sender Ed25519 (32) ||
  signature (64) || text``.  The signature (the sender's identity key over group, generation,
  counter, type, time and text) keeps one member from writing as another: every member can
  derive every chain, but only the sender holds their identity key.

Types: 0 text, 1 leave request (the admin answers with a rekey that drops the sender).
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions

from session_core.errors import DecryptionError, GroupFormatError, PaddingError
from session_core.protocol.groups.wire import KIND_MESSAGE
from session_core.protocol.padding import pad, unpad

__all__ = ["TYPE_LEAVE", "TYPE_TEXT", "GroupPlaintext", "MessageHeader", "open_body", "open_header", "peek_generation",
           "seal_message", "signed_bytes"]

TYPE_TEXT = 0
TYPE_LEAVE = 1
_TYPES = frozenset({TYPE_TEXT, TYPE_LEAVE})
_PREFIX = 1 + 4 + 24
_HEADER_CT = 8 + 16
_SIG_CONTEXT = b"session_core group message v1\x00"
_MIN_BODY = 1 + 8 + 32 + 64
MAX_TEXT_BYTES = 64 * 1024

_enc = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt
_dec = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt


@dataclass(frozen=True)
class MessageHeader:
    generation: int
    sender_index: int
    counter: int


@dataclass(frozen=True)
class GroupPlaintext:
    type: int
    sent_ms: int
    sender_ed25519: bytes
    signature: bytes
    text: str


def signed_bytes(group_pk: bytes, generation: int, counter: int, type_: int, sent_ms: int, text: bytes) -> bytes:
    return _SIG_CONTEXT + group_pk + struct.pack("<IIBQ", generation, counter, type_, sent_ms) + text


def seal_message(header_key: bytes, message_key: bytes, header: MessageHeader, plain: GroupPlaintext) -> bytes:
    text = plain.text.encode()
    if len(text) > MAX_TEXT_BYTES:
        raise GroupFormatError(f"group message text is {len(text)} bytes (at most {MAX_TEXT_BYTES})")
    hnonce = secrets.token_bytes(24)
    prefix = bytes([KIND_MESSAGE]) + struct.pack("<I", header.generation) + hnonce
    hct = _enc(struct.pack("<II", header.sender_index, header.counter), prefix, hnonce, header_key)
    body = (struct.pack("<BQ", plain.type, plain.sent_ms) + plain.sender_ed25519 + plain.signature + text)
    return prefix + hct + _enc(pad(body), prefix + hct, hnonce, message_key)


def peek_generation(data: bytes) -> int:
    if len(data) < _PREFIX + _HEADER_CT + 16 or data[0] != KIND_MESSAGE:
        raise GroupFormatError("group message truncated")
    return int(struct.unpack_from("<I", data, 1)[0])


def open_header(header_key: bytes, data: bytes) -> MessageHeader:
    """Who sent it and at which counter; DecryptionError if not sealed with this header key."""
    gen = peek_generation(data)
    try:
        head = _dec(data[_PREFIX:_PREFIX + _HEADER_CT], data[:_PREFIX], data[5:_PREFIX], header_key)
    except nacl.exceptions.CryptoError:
        raise DecryptionError("group message header does not open with this generation's key") from None
    index, counter = struct.unpack("<II", head)
    return MessageHeader(gen, index, counter)


def open_body(message_key: bytes, data: bytes) -> GroupPlaintext:
    ad_end = _PREFIX + _HEADER_CT
    try:
        padded = _dec(data[ad_end:], data[:ad_end], data[5:_PREFIX], message_key)
    except nacl.exceptions.CryptoError:
        raise DecryptionError("group message body does not authenticate") from None
    try:
        body = unpad(padded)
    except PaddingError:
        raise GroupFormatError("group message padding is invalid") from None
    if len(body) < _MIN_BODY:
        raise GroupFormatError("group message body truncated")
    type_, sent_ms = struct.unpack_from("<BQ", body)
    if type_ not in _TYPES:
        raise GroupFormatError(f"unknown group message type {type_}")
    try:
        text = body[_MIN_BODY:].decode()
    except UnicodeDecodeError:
        raise GroupFormatError("group message text is not UTF-8") from None
    return GroupPlaintext(type_, sent_ms, body[9:41], body[41:105], text)
