"""Group invitations through a 1:1 conversation (Session's ``GroupUpdateInviteMessage``).

The admin tells a new member about a group inside their 1:1 conversation: the group's ID
(``03…``), a display name, and the group key's Ed25519 signature of ``"INVITE" || invitee's
Session ID (hex) || the message's sent time in ms (decimal)``, as production signs it
(session-desktop's ``getGroupInviteMessage``).  Only the group key's holder -- the admin -- can
produce that signature, so a contact cannot invite anyone to a group it does not run, and the
invitee ID and time bind it to this recipient and message: it cannot be forwarded to someone
else or replayed later as new.  Production also carries ``memberAuthData`` (a subaccount token
for storing in the group swarm); our members store with a per-generation key from the group's
key message instead, so it travels empty.

An invitation gives nothing but the ID: the keys still come from the group's swarm, wrapped for
the member by the admin's key message (:mod:`.key_message`).  Accepting is joining.
"""

from __future__ import annotations

from dataclasses import dataclass

from session_core.errors import GroupInviteError, InvalidGroupIdError
from session_core.protocol.groups.group_key import GroupSigner, parse_group_id, verify_group_signature

__all__ = ["GroupInvite", "MAX_NAME_CHARS", "check_invite", "check_name", "sign_invite", "signed_text"]

#: Longest group name an invitation may carry (libsession-util's groups allow 100 characters).
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class GroupInvite:
    group_id: str  # "03" + 64 hex digits, lowercase
    name: str
    admin_signature: bytes
    sent_ms: int


def signed_text(invitee: str, sent_ms: int) -> bytes:
    """What the group key signs: ``INVITE`` + the invitee's Session ID + the sent time (ms)."""
    return f"INVITE{invitee}{sent_ms}".encode()


def sign_invite(signer: GroupSigner, invitee: str, name: str, sent_ms: int) -> GroupInvite:
    """The admin's invitation of ``invitee`` (a ``05…`` Session ID) into the group of ``signer``,
    for a message sent at ``sent_ms``."""
    check_name(name)
    return GroupInvite(signer.group_id, name, signer.sign(signed_text(invitee, sent_ms)), sent_ms)


def check_invite(group_id: str, name: str, admin_signature: bytes, *, invitee: str, sent_ms: int) -> GroupInvite:
    """The invitation received by ``invitee`` in a message sent at ``sent_ms``, checked: a valid
    group ID, a name within bounds, and the group key's signature over this invitee and time."""
    try:
        group_pk = parse_group_id(group_id)
    except InvalidGroupIdError as exc:
        raise GroupInviteError(f"group invitation: {exc}") from exc
    check_name(name)
    if not verify_group_signature(group_pk, signed_text(invitee, sent_ms), admin_signature):
        raise GroupInviteError("group invitation not signed by the group's key for this recipient and time")
    return GroupInvite(group_id.lower(), name, admin_signature, sent_ms)


def check_name(name: str) -> None:
    """Refuse a group name over :data:`MAX_NAME_CHARS` or with control characters."""
    if len(name) > MAX_NAME_CHARS or any(ord(ch) < 0x20 for ch in name):
        raise GroupInviteError(f"a group name is at most {MAX_NAME_CHARS} printable characters")
