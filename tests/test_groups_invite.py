"""Group invitations through the 1:1 conversation (protocol level): what the admin's signature
binds, and that anything forged, forwarded or out of bounds is dropped without an event."""

from __future__ import annotations

import pytest

from session_core.errors import GroupInviteError
from session_core.identity import Identity
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.conversation import Messenger
from session_core.protocol.events import GroupInviteReceived, MessageReceived, Outgoing
from session_core.protocol.groups import GroupSigner
from session_core.protocol.groups.invite import MAX_NAME_CHARS, check_invite, sign_invite, signed_text
from session_core.protocol.modes import ConversationMode


def friends(mode: ConversationMode) -> tuple[Messenger, Messenger]:
    a, b = Messenger(Identity.generate(), "ann"), Messenger(Identity.generate(), "ben")
    a.modes = b.modes = (mode,)
    b.receive(a.send_friend_request(b.session_id, "hi", now_ms=1).data, now_ms=2)
    for ev in a.receive(b.accept(a.session_id, now_ms=3).data, now_ms=4):
        if isinstance(ev, Outgoing):
            b.receive(ev.data, now_ms=5)
    return a, b


MODES = [ConversationMode.RATCHET, ConversationMode.SESSION]


@pytest.mark.parametrize("mode", MODES)
def test_an_invitation_arrives_with_the_group_id_and_name(mode: ConversationMode) -> None:
    ann, ben = friends(mode)
    signer = GroupSigner.generate()
    out = ann.send_group_invite(ben.session_id, sign_invite(signer, ben.session_id, "Climbers", 1_000))
    events = ben.receive(out.data, now_ms=1_001)
    assert events == [GroupInviteReceived(ann.session_id, signer.group_id, "Climbers", 1_000)]


@pytest.mark.parametrize("mode", MODES)
def test_an_invitation_signed_by_another_key_is_dropped(mode: ConversationMode) -> None:
    ann, ben = friends(mode)
    real, forger = GroupSigner.generate(), GroupSigner.generate()
    forged = sign_invite(forger, ben.session_id, "Climbers", 1_000)
    forged = type(forged)(real.group_id, forged.name, forged.admin_signature, forged.sent_ms)
    assert ben.receive(ann.send_group_invite(ben.session_id, forged).data, now_ms=1_001) == []


@pytest.mark.parametrize("mode", MODES)
def test_an_invitation_for_someone_else_is_dropped(mode: ConversationMode) -> None:
    ann, ben = friends(mode)
    cal = Identity.generate()
    signer = GroupSigner.generate()
    theirs = sign_invite(signer, cal.session_id, "Climbers", 1_000)  # forwarded to ben
    assert ben.receive(ann.send_group_invite(ben.session_id, theirs).data, now_ms=1_001) == []


def test_the_rest_of_a_message_survives_a_bad_invitation() -> None:
    ann, ben = friends(ConversationMode.SESSION)
    content = pb.Content()
    content.dataMessage.body = "see you there"
    msg = content.dataMessage.groupUpdateMessage.inviteMessage
    msg.groupSessionId, msg.name, msg.adminSignature = "03" + "ab" * 32, "x", bytes(64)
    events = ben.receive(ann.send_content(ben.session_id, content, kind="regular", now_ms=7).data, now_ms=8)
    assert [type(e) for e in events] == [MessageReceived] and events[0].body == "see you there"


def test_the_signature_binds_invitee_time_and_group() -> None:
    signer = GroupSigner.generate()
    ben, cal = Identity.generate().session_id, Identity.generate().session_id
    inv = sign_invite(signer, ben, "g", 5)
    assert signed_text(ben, 5) == f"INVITE{ben}5".encode()  # session-desktop's layout
    assert check_invite(signer.group_id.upper(), "g", inv.admin_signature, invitee=ben, sent_ms=5).group_id == signer.group_id
    for invitee, sent in ((cal, 5), (ben, 6)):
        with pytest.raises(GroupInviteError, match="not signed"):
            check_invite(signer.group_id, "g", inv.admin_signature, invitee=invitee, sent_ms=sent)
    with pytest.raises(GroupInviteError, match="not signed"):
        check_invite(GroupSigner.generate().group_id, "g", inv.admin_signature, invitee=ben, sent_ms=5)
    with pytest.raises(GroupInviteError, match="not signed"):
        check_invite(signer.group_id, "g", inv.admin_signature[:63], invitee=ben, sent_ms=5)


@pytest.mark.parametrize("group_id", ["", "05" + "ab" * 32, "03" + "ab" * 31, "03" + "zz" * 32])
def test_a_malformed_group_id_is_refused(group_id: str) -> None:
    with pytest.raises(GroupInviteError, match="group ID"):
        check_invite(group_id, "g", bytes(64), invitee="05" + "00" * 32, sent_ms=1)


@pytest.mark.parametrize("name", ["x" * (MAX_NAME_CHARS + 1), "bell\x07"])
def test_a_name_out_of_bounds_is_refused_both_ways(name: str) -> None:
    signer = GroupSigner.generate()
    with pytest.raises(GroupInviteError, match="group name"):
        sign_invite(signer, "05" + "00" * 32, name, 1)
    with pytest.raises(GroupInviteError, match="group name"):
        check_invite(signer.group_id, name, bytes(64), invitee="05" + "00" * 32, sent_ms=1)


def test_the_wire_uses_production_field_numbers() -> None:
    """DataMessage.groupUpdateMessage is field 120 and inviteMessage its field 1 (session-desktop's
    SignalService.proto): tag 120 << 3 | 2 = varint c2 07, then tag 1 << 3 | 2 = 0a."""
    data = pb.DataMessage()
    data.groupUpdateMessage.inviteMessage.name = "g"
    assert data.SerializeToString().startswith(b"\xc2\x07")
    assert data.groupUpdateMessage.SerializeToString().startswith(b"\x0a")
    resp = pb.GroupUpdateMessage()
    resp.inviteResponse.isApproved = True
    assert resp.SerializeToString() == b"\x32\x02\x08\x01"  # field 6, then isApproved (1) = true
