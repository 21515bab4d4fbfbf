"""Closed groups, hostile input: forged admin actions, unsigned rekeys, non-members, replays,
oversized member lists, garbage.  Each gets its own error (a SessionCoreError that is also the
matching builtin) and leaves the group's state exactly as it was."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import pytest

from session_core.errors import (
    AdminSignatureError,
    DecryptionError,
    DuplicateMessageError,
    GroupFormatError,
    GroupKeyUnavailableError,
    GroupOperationError,
    GroupTooLargeError,
    InvalidGroupIdError,
    InvalidSessionIdError,
    NotGroupAdminError,
    NotGroupMemberError,
    SessionCoreError,
    StaleGenerationError,
)
from session_core.identity import Identity
from tests.test_groups_node import setup_group
from session_core.protocol.groups import MAX_MEMBERS, Group, GroupMembersChanged, GroupSigner, Roster
from session_core.protocol.groups import messages as gm
from session_core.protocol.groups.key_message import GenerationSecrets, KeyMessage, RosterSnapshot, agreement_context
from session_core.protocol.groups.roster import RosterChange
from session_core.protocol.groups.wire import (
    KIND_KEYS,
    KIND_ROSTER,
    certify_store_key,
    open_control,
    seal_control,
    seal_member_auth,
)

NOW = 1_800_000_000_000


@pytest.fixture
def trio() -> tuple[Group, Group, Group]:
    return setup_group(NOW)


def state(g: Group) -> str:
    return json.dumps(g.to_json(), sort_keys=True)


def refused(g: Group, data: bytes, error: type[Exception]) -> None:
    before = state(g)
    with pytest.raises(error) as info:
        g.receive(data, NOW)
    assert isinstance(info.value, SessionCoreError)
    assert state(g) == before


def forged_kick(ga: Group, victim: Group, forger_key: GroupSigner) -> bytes:
    """A key message dropping ``victim``, well formed in every way but the signing key."""
    assert ga.current is not None
    roster = ga.current.roster.changed(ga.current.number + 1, remove={victim.me.x25519_public_key})
    key = b"\x07" * 32
    sec = GenerationSecrets.derive(roster.generation, key)
    blob = ga.agreement.wrap(key, agreement_context(ga.group_pk, roster.generation), roster.members)
    cert = certify_store_key(forger_key, roster.generation, sec.store_public_key)
    km = KeyMessage.build(roster.generation, NOW, cert, blob, sec, RosterChange.between(ga.current.roster, roster))
    return seal_control(forger_key, KIND_KEYS, km.encode())


def test_kick_by_a_member_is_refused_by_every_member(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, gc = trio
    with pytest.raises(NotGroupAdminError) as info:
        gb.kick([gc.me.session_id], NOW)
    assert isinstance(info.value, PermissionError)
    forged = forged_kick(ga, gc, GroupSigner.generate())  # B signs with a key of its own
    for g in (ga, gb, gc):
        refused(g, forged, AdminSignatureError)
    assert gc.me.session_id in gb.members()


def test_rekey_without_signature_is_refused(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, _ = trio
    signed = ga.kick([trio[2].me.session_id], NOW)[0].data
    refused(gb, signed[:-64], AdminSignatureError)  # signature stripped
    refused(gb, signed[:-64] + bytes(64), AdminSignatureError)  # zeroed
    tampered = bytearray(signed)
    tampered[20] ^= 1
    refused(gb, bytes(tampered), AdminSignatureError)
    refused(gb, bytes([KIND_KEYS]) + b"\x01" * 10, AdminSignatureError)  # too short to be signed


def test_key_message_replays_are_refused(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, gc = trio
    first = ga.last_keys
    kick = ga.kick([gc.me.session_id], NOW)[0].data
    gb.receive(kick, NOW)
    refused(gb, kick, DuplicateMessageError)
    refused(gb, first, StaleGenerationError)  # an old key message would undo the kick
    refused(ga, first, StaleGenerationError)


def test_roster_replays_and_forgeries_are_refused(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, gc = trio
    old_roster = ga.last_roster
    ga.kick([gc.me.session_id], NOW)
    (new_roster,) = ga.refresh(NOW + 1)
    assert gb.generation == 0
    assert gb.receive(new_roster.data, NOW) == [] and gb.generation == 0  # held until its key message
    gb.receive(ga.last_keys, NOW)
    assert gb.generation == 1 and gb.deferred == []
    refused(gb, old_roster, StaleGenerationError)
    assert ga.current is not None
    fake = Roster.of(1, ga.current.roster.admin, set(ga.current.roster.members) | {gc.me.x25519_public_key})
    forged = seal_control(GroupSigner.generate(), KIND_ROSTER, RosterSnapshot.build(fake, ga.current.secrets).encode())
    refused(gb, forged, AdminSignatureError)


def test_admin_signed_snapshot_that_disagrees_is_refused(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, gc = trio
    assert ga.signer is not None and ga.current is not None
    other = Roster.of(0, ga.current.roster.admin, {ga.current.roster.admin, gb.me.x25519_public_key})
    lie = seal_control(ga.signer, KIND_ROSTER, RosterSnapshot.build(other, ga.current.secrets).encode())
    refused(gb, lie, GroupFormatError)


def test_message_from_a_non_member_is_refused(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, _ = trio
    outsider_group, _ = Group.create(Identity.generate(), NOW)
    data = bytearray(outsider_group.send_text("let me in", NOW).data)
    refused(gb, bytes(data), DecryptionError)  # no header key of this group
    kicked = trio[2]
    ga.kick([kicked.me.session_id], NOW)
    gb.receive(ga.last_keys, NOW)
    stale = kicked.send_text("still talking?", NOW).data  # kicked C never saw the kick
    refused(gb, stale, NotGroupMemberError)


def test_member_writing_as_another_member_is_refused(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, gc = trio
    # C derives A's chain (every member can) and signs with its own identity key.
    cur = gc.current
    assert cur is not None
    a_index = cur.roster.members.index(ga.me.x25519_public_key)
    mk, _ = cur.recv[a_index].key_for(0)
    text = b"I am the admin"
    sig = gc.me.sign(gm.signed_bytes(gc.group_pk, cur.number, 0, gm.TYPE_TEXT, NOW, text))
    inner = gm.seal_message(cur.secrets.header_key, mk, gm.MessageHeader(cur.number, a_index, 0),
                            gm.GroupPlaintext(gm.TYPE_TEXT, NOW, gc.me.ed25519_public_key, sig, text.decode()))
    data = seal_member_auth(gc.group_pk, inner, cur.secrets.store_seed, cur.store_cert)  # the swarm takes it
    refused(gb, data, NotGroupMemberError)
    # ... and A's real first message still reads: the forgery used up nothing.
    assert gb.receive(ga.send_text("real", NOW).data, NOW)[0].text == "real"  # type: ignore[attr-defined]


def test_message_replay_is_refused(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, _ = trio
    data = ga.send_text("once", NOW).data
    gb.receive(data, NOW)
    refused(gb, data, DuplicateMessageError)


@pytest.mark.parametrize("cut", [0, 1, 10, 40, 68, -1])
def test_truncated_message_is_refused(trio: tuple[Group, Group, Group], cut: int) -> None:
    ga, gb, _ = trio
    data = ga.send_text("whole", NOW).data
    # Shorter than header + one tag: malformed; one byte short: the body does not authenticate.
    refused(gb, data[:cut], DecryptionError if cut < 0 else GroupFormatError)


def test_unknown_kind_is_refused(trio: tuple[Group, Group, Group]) -> None:
    refused(trio[1], b"\x7f" + bytes(200), GroupFormatError)


def test_oversized_member_lists_are_refused(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, _ = trio
    assert ga.signer is not None and ga.current is not None
    before = state(ga)
    too_many = [Identity.generate().session_id for _ in range(MAX_MEMBERS - 3 + 1)]
    with pytest.raises(GroupTooLargeError) as info:
        ga.add(too_many, NOW)
    assert isinstance(info.value, ValueError) and state(ga) == before
    with pytest.raises(GroupTooLargeError):
        Group.create(Identity.generate(), NOW, too_many + [Identity.generate().session_id for _ in range(3)])
    # A snapshot claiming 1 001 members, signed by the admin: refused before anything is built.
    n = MAX_MEMBERS + 1
    plain = struct.pack("<IH", 0, n) + ga.current.roster.admin + bytes(32 * n)
    with pytest.raises(GroupTooLargeError):
        Roster.decode(plain)
    change = struct.pack("<IIHH", 0, 1, 0, n) + bytes(32) + bytes(32 * n)
    with pytest.raises(GroupTooLargeError):
        RosterChange.decode(change)


def test_admin_operations_check_their_arguments(trio: tuple[Group, Group, Group]) -> None:
    ga, gb, gc = trio
    before = state(ga)
    bad: list[tuple[Callable[[], Any], type[Exception]]] = [
        (lambda: ga.add([gb.me.session_id], NOW), GroupOperationError),  # already a member
        (lambda: ga.kick([Identity.generate().session_id], NOW), GroupOperationError),  # not a member
        (lambda: ga.kick([ga.me.session_id], NOW), GroupOperationError),  # the admin itself
        (lambda: ga.kick([gc.me.session_id, gc.me.session_id], NOW), GroupOperationError),
        (lambda: ga.add(["05zz"], NOW), InvalidSessionIdError),
        (lambda: ga.leave(NOW), GroupOperationError),
    ]
    for call, error in bad:
        with pytest.raises(error) as info:
            call()
        assert isinstance(info.value, (SessionCoreError, ValueError))
        assert state(ga) == before


def test_group_ids_are_checked() -> None:
    me = Identity.generate()
    for bad in ["", "05" + "00" * 32, "03" + "zz" * 32, "03" + "00" * 31]:
        with pytest.raises(InvalidGroupIdError) as info:
            Group.join(me, bad)
        assert isinstance(info.value, ValueError)


def test_sending_without_a_key_is_refused() -> None:
    admin_group, _ = Group.create(Identity.generate(), NOW)
    g = Group.join(Identity.generate(), admin_group.group_id)
    with pytest.raises(NotGroupMemberError):
        g.send_text("hello?", NOW)
    refused(g, admin_group.last_keys, GroupKeyUnavailableError)  # a key message not for us


def test_control_record_checks_stand_alone(trio: tuple[Group, Group, Group]) -> None:
    ga = trio[0]
    kind, body = open_control(ga.group_pk, ga.last_keys)
    assert kind == KIND_KEYS and body
    with pytest.raises(AdminSignatureError):
        open_control(GroupSigner.generate().public_key, ga.last_keys)


def test_admin_signed_key_messages_that_do_not_add_up_are_refused(trio: tuple[Group, Group, Group]) -> None:
    """Even with the admin's signature: a change whose result is not the list it commits to, a
    change from another generation, a key blob claiming too many entries."""
    ga, gb, gc = trio
    assert ga.signer is not None and ga.current is not None
    roster = ga.current.roster.changed(1, remove={gc.me.x25519_public_key})
    key = b"\x05" * 32
    sec = GenerationSecrets.derive(1, key)
    blob = ga.agreement.wrap(key, agreement_context(ga.group_pk, 1), roster.members)

    cert = certify_store_key(ga.signer, 1, sec.store_public_key)

    def signed(change: RosterChange, blob: bytes = blob, cert: bytes = cert) -> bytes:
        return seal_control(ga.signer, KIND_KEYS, KeyMessage.build(1, NOW, cert, blob, sec, change).encode())  # type: ignore[arg-type]

    good = RosterChange.between(ga.current.roster, roster)
    refused(gb, signed(RosterChange(0, 1, good.removed, good.added, bytes(32))), GroupFormatError)  # wrong digest
    refused(gb, signed(RosterChange(0, 1, (), (gb.me.x25519_public_key,), good.digest)), GroupFormatError)  # re-adds B
    refused(gb, signed(RosterChange(0, 2, good.removed, good.added, good.digest)), GroupFormatError)  # other generation
    huge = blob[:32] + struct.pack("<H", 2000) + bytes(48 * 2000)
    refused(gb, signed(good, huge), GroupTooLargeError)
    refused(gb, signed(good, blob[:-1]), GroupFormatError)  # blob shorter than its count says
    refused(gb, signed(good, blob, bytes(64)), GroupFormatError)  # store key not certified
    (ev,) = gb.receive(signed(good), NOW)  # the honest one applies
    assert isinstance(ev, GroupMembersChanged) and ev.removed == (gc.me.session_id,) and gb.generation == 1
