"""Framing of what a group stores in its swarm, and the admin signature on control records.

Every stored item starts with one kind byte, visible to the swarm:

* ``KIND_KEYS`` (0x01) and ``KIND_ROSTER`` (0x02) are *control records*: ``kind || body || sig``
  where ``sig`` is the group key's Ed25519 signature of ``CONTEXT || group_pk || kind || body``.
  Only the administrator (who holds the group's secret key) can make one, and anyone who knows
  the group ID can check one -- members do, and so does every node of the group's swarm
  (:func:`node_refusal`), which refuses to store a control record that does not verify.
* ``KIND_MESSAGE`` (0x10) is a member's message (:mod:`.messages`) followed by a *store
  proof* (:func:`seal_member_auth`): the generation's store key, its certificate (the group key's
  signature of it) and the store key's signature of the record.  Only holders of a generation key
  can make one, so the swarm refuses messages from outsiders (two signature checks); it cannot
  tell which member sent it.  A node also refuses a message of a generation older than the
  newest key message it stores for the group (:func:`generation_of`,
  ``session_core/node/group_generations.py``), so a member removed since cannot post.

The kind byte tells the swarm which items are control records; that is the price of letting it
refuse forged ones (production's groups v2 shows the same by storing keys in their own namespace).
"""

from __future__ import annotations

import base64
import binascii
import struct

import nacl.bindings

from session_core.errors import AdminSignatureError, GroupFormatError, InvalidGroupIdError, NotGroupMemberError
from session_core.protocol.groups.group_key import GroupSigner, parse_group_id, verify_group_signature

__all__ = [
    "CONTROL_KINDS",
    "MEMBER_AUTH_BYTES",
    "certify_store_key",
    "generation_of",
    "open_member_auth",
    "seal_member_auth",
    "store_cert_valid",
    "KIND_KEYS",
    "KIND_MESSAGE",
    "KIND_ROSTER",
    "node_refusal",
    "open_control",
    "record_kind",
    "seal_control",
]

KIND_KEYS = 0x01
KIND_ROSTER = 0x02
KIND_MESSAGE = 0x10
CONTROL_KINDS = frozenset({KIND_KEYS, KIND_ROSTER})
_CONTEXT = b"session_core group control v1\x00"
_CERT_CONTEXT = b"session_core group store key v1\x00"
_STORE_CONTEXT = b"session_core group store v1\x00"
_SIG = 64
MEMBER_AUTH_BYTES = 32 + 64 + 64  # store key, its certificate, the record's signature


def _signed_bytes(group_pk: bytes, kind: int, body: bytes) -> bytes:
    return _CONTEXT + group_pk + bytes([kind]) + body


def seal_control(signer: GroupSigner, kind: int, body: bytes) -> bytes:
    """A control record of ``kind`` carrying ``body``, signed by the group key."""
    if kind not in CONTROL_KINDS:
        raise GroupFormatError(f"kind {kind:#x} is not a control record")
    return bytes([kind]) + body + signer.sign(_signed_bytes(signer.public_key, kind, body))


def _cert_bytes(group_pk: bytes, generation: int, store_pk: bytes) -> bytes:
    return _CERT_CONTEXT + group_pk + struct.pack("<I", generation) + store_pk


def certify_store_key(signer: GroupSigner, generation: int, store_pk: bytes) -> bytes:
    """The admin's certificate that ``store_pk`` is the store key of ``generation``."""
    return signer.sign(_cert_bytes(signer.public_key, generation, store_pk))


def store_cert_valid(group_pk: bytes, generation: int, store_pk: bytes, cert: bytes) -> bool:
    return verify_group_signature(group_pk, _cert_bytes(group_pk, generation, store_pk), cert)


def seal_member_auth(group_pk: bytes, record: bytes, store_seed: bytes, cert: bytes) -> bytes:
    """``record`` (a member message) followed by its store proof."""
    pk, sk = nacl.bindings.crypto_sign_seed_keypair(store_seed)
    tail = bytes(pk) + cert
    sig = nacl.bindings.crypto_sign(_STORE_CONTEXT + group_pk + record + tail, sk)[:64]
    return record + tail + bytes(sig)


def open_member_auth(group_pk: bytes, data: bytes, *, verify: bool = True) -> bytes:
    """The member message inside ``data`` (its store proof checked when ``verify``);
    :class:`NotGroupMemberError` when the proof is missing or not a generation key holder's."""
    if len(data) < 5 + MEMBER_AUTH_BYTES or data[0] != KIND_MESSAGE:
        raise GroupFormatError("group message too short to carry its store proof")
    record, tail = data[:-MEMBER_AUTH_BYTES], data[-MEMBER_AUTH_BYTES:]
    if verify:
        (generation,) = struct.unpack_from("<I", record, 1)
        store_pk, cert, sig = tail[:32], tail[32:96], tail[96:]
        if not store_cert_valid(group_pk, generation, store_pk, cert):
            raise NotGroupMemberError("group message store key is not certified by the group's admin")
        if not verify_group_signature(store_pk, _STORE_CONTEXT + group_pk + record + tail[:96], sig):
            raise NotGroupMemberError("group message is not signed by its store key")
    return record


def generation_of(data: bytes) -> int | None:
    """The generation a key message or member message names (None for anything else, or too
    short to name one).  Only the layout is read: a node calls this on records it verified."""
    if len(data) >= 6 and data[0] == KIND_KEYS:
        return int(struct.unpack_from("<I", data, 2)[0])  # kind, version, generation u32
    if len(data) >= 5 and data[0] == KIND_MESSAGE:
        return int(struct.unpack_from("<I", data, 1)[0])  # kind, generation u32
    return None


def record_kind(data: bytes) -> int:
    if not data:
        raise GroupFormatError("an empty group record")
    kind = data[0]
    if kind not in CONTROL_KINDS and kind != KIND_MESSAGE:
        raise GroupFormatError(f"unknown group record kind {kind:#x}")
    return kind


def open_control(group_pk: bytes, data: bytes) -> tuple[int, bytes]:
    """``(kind, body)`` of a control record whose group signature verifies.

    Raises :class:`AdminSignatureError` when the signature is missing or not the group key's
    (a kick or rekey forged by a member or anyone else), :class:`GroupFormatError` when the
    record is not a control record at all.
    """
    kind = record_kind(data)
    if kind not in CONTROL_KINDS:
        raise GroupFormatError(f"kind {kind:#x} is not a control record")
    if len(data) < 1 + _SIG:
        raise AdminSignatureError("control record too short to carry the admin signature")
    body, sig = data[1:-_SIG], data[-_SIG:]
    if not verify_group_signature(group_pk, _signed_bytes(group_pk, kind, body), sig):
        raise AdminSignatureError("control record is not signed by the group's admin key")
    return kind, body


def node_refusal(pubkey_hex: str, data_b64: str) -> str | None:
    """Why a swarm node must refuse to store ``data_b64`` for ``pubkey_hex`` (None: store it).

    Only group IDs (``03…``) are looked at: a control record must carry the group key's
    signature (one check), a member message a store proof (two checks); anything else stored for
    a group is refused.  Stores for ``05…`` users pass untouched.
    """
    if not pubkey_hex.startswith("03"):
        return None
    try:
        group_pk = parse_group_id(pubkey_hex)
        head = base64.b64decode(data_b64[:4], validate=True)
    except (InvalidGroupIdError, binascii.Error, ValueError):
        return None  # other checks answer for malformed keys and bodies
    if not head:
        return None
    try:
        data = base64.b64decode(data_b64, validate=True)
        if head[0] in CONTROL_KINDS:
            open_control(group_pk, data)
        elif head[0] == KIND_MESSAGE:
            open_member_auth(group_pk, data)
        else:
            raise GroupFormatError(f"unknown group record kind {head[0]:#x}")
    except (binascii.Error, ValueError, PermissionError) as exc:  # our errors are ValueError/PermissionError
        return f"group record refused: {exc}"
    return None
