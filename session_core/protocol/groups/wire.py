"""Framing of what a group stores in its swarm, and the admin signature on control records.

Every stored item starts with one kind byte, visible to the swarm:

* ``KIND_KEYS`` (0x01) and ``KIND_ROSTER`` (0x02) are *control records*: ``kind || body || sig``
  where ``sig`` is the group key's Ed25519 signature of ``CONTEXT || group_pk || kind || body``.
  Only the administrator (who holds the group's secret key) can make one, and anyone who knows
  the group ID can check one -- members do, and so does every node of the group's swarm
  (:func:`node_refusal`), which refuses to store a control record that does not verify.
* ``KIND_MESSAGE`` (0x10) is a member's message (:mod:`.messages`); it carries no signature the
  swarm could check (the sender is hidden from the swarm), members check it after decrypting.

The kind byte tells the swarm which items are control records; that is the price of letting it
refuse forged ones (production's groups v2 shows the same by storing keys in their own namespace).
"""

from __future__ import annotations

import base64
import binascii

from session_core.errors import AdminSignatureError, GroupFormatError, InvalidGroupIdError
from session_core.protocol.groups.group_key import GroupSigner, parse_group_id, verify_group_signature

__all__ = [
    "CONTROL_KINDS",
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
_SIG = 64


def _signed_bytes(group_pk: bytes, kind: int, body: bytes) -> bytes:
    return _CONTEXT + group_pk + bytes([kind]) + body


def seal_control(signer: GroupSigner, kind: int, body: bytes) -> bytes:
    """A control record of ``kind`` carrying ``body``, signed by the group key."""
    if kind not in CONTROL_KINDS:
        raise GroupFormatError(f"kind {kind:#x} is not a control record")
    return bytes([kind]) + body + signer.sign(_signed_bytes(signer.public_key, kind, body))


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

    Only group IDs (``03…``) are looked at, and of their records only control records: one
    base64 decode of the first bytes to read the kind, and one signature check for the rare
    control record.  Member messages and anything stored for ``05…`` users pass untouched.
    """
    if not pubkey_hex.startswith("03"):
        return None
    try:
        group_pk = parse_group_id(pubkey_hex)
        head = base64.b64decode(data_b64[:4], validate=True)
    except (InvalidGroupIdError, binascii.Error, ValueError):
        return None  # other checks answer for malformed keys and bodies
    if not head or head[0] not in CONTROL_KINDS:
        return None
    try:
        open_control(group_pk, base64.b64decode(data_b64, validate=True))
    except (binascii.Error, ValueError) as exc:  # AdminSignatureError and GroupFormatError are ValueErrors
        return f"group control record refused: {exc}"
    return None
