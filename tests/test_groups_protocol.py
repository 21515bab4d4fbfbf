"""Closed groups, sans-IO: create, messages through per-sender ratchets, add, kick, leave,
catch-up after the TTL, persistence.  Bad input lives in test_groups_bad_input.py."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from session_core.errors import (
    DuplicateMessageError,
    GroupKeyUnavailableError,
    NotGroupMemberError,
    StaleGenerationError,
    StateDecryptionError,
    TooManySkippedMessagesError,
)
from session_core.identity import Identity
from session_core.protocol.events import Event
from session_core.protocol.groups import (
    REFRESH_MS,
    Group,
    GroupLeaveRequested,
    GroupMembersChanged,
    GroupMessageReceived,
    GroupOutgoing,
    GroupRemoved,
    parse_group_id,
)
from session_core.protocol.groups import sender_keys
from session_core.protocol.groups.key_agreement import ENTRY_BYTES, PAD_MULTIPLE
from session_core.protocol.groups.sender_keys import ReceiveChain, SendChain
from session_core.protocol.groups.wire import KIND_KEYS, KIND_MESSAGE, KIND_ROSTER

NOW = 1_800_000_000_000


def deliver(outs: Sequence[GroupOutgoing], *groups: Group) -> list[list[Event]]:
    got: list[list[Event]] = [[] for _ in groups]
    for o in outs:
        for i, g in enumerate(groups):
            got[i] += g.receive(o.data, NOW)
    return got


def texts(events: Sequence[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, GroupMessageReceived)]


@pytest.fixture
def trio() -> tuple[Group, Group, Group, Identity, Identity, Identity]:
    a, b, c = Identity.generate(), Identity.generate(), Identity.generate()
    ga, outs = Group.create(a, NOW, [b.session_id, c.session_id])
    gb, gc = Group.join(b, ga.group_id), Group.join(c, ga.group_id)
    deliver(outs, gb, gc)
    return ga, gb, gc, a, b, c


def test_group_id_is_03_and_the_group_key(trio: tuple[Group, ...]) -> None:
    ga = trio[0]
    assert ga.group_id.startswith("03") and len(ga.group_id) == 66
    assert parse_group_id(ga.group_id) == ga.group_pk
    assert ga.signer is not None and ga.signer.public_key == ga.group_pk
    assert not trio[1].is_admin and ga.is_admin


def test_create_gives_every_member_the_same_signed_list(trio: tuple[Group, ...]) -> None:
    ga, gb, gc = trio[:3]
    assert ga.generation == gb.generation == gc.generation == 0
    assert ga.members() == gb.members() == gc.members()
    assert len(ga.members()) == 3 and gb.admin == ga.me.session_id


def test_message_is_one_record_read_by_every_member(trio: tuple[Group, ...]) -> None:
    ga, gb, gc = trio[:3]
    out = gb.send_text("hello group", NOW)
    assert out.group_id == ga.group_id
    assert out.data[0] == KIND_MESSAGE and out.kind == "message"
    ea, ec = ga.receive(out.data, NOW), gc.receive(out.data, NOW)
    assert texts(ea) == texts(ec) == ["hello group"]
    assert isinstance(ea[0], GroupMessageReceived) and ea[0].sender == gb.me.session_id


def test_the_swarm_sees_neither_sender_nor_text(trio: tuple[Group, ...]) -> None:
    gb = trio[1]
    data = gb.send_text("secret words", NOW).data
    assert b"secret" not in data
    assert gb.me.x25519_public_key not in data and gb.me.ed25519_public_key not in data


def test_sender_chain_moves_forward_and_keys_differ(trio: tuple[Group, ...]) -> None:
    ga, gb = trio[:2]
    outs = [gb.send_text(f"m{i}", NOW) for i in range(3)]
    # Out of order: the skipped keys are kept, then used once.
    assert texts(ga.receive(outs[2].data, NOW)) == ["m2"]
    assert texts(ga.receive(outs[0].data, NOW)) == ["m0"]
    assert texts(ga.receive(outs[1].data, NOW)) == ["m1"]
    for o in outs:
        with pytest.raises(DuplicateMessageError):
            ga.receive(o.data, NOW)


def test_chain_steps_are_one_way_and_distinct() -> None:
    c0 = SendChain(b"\x01" * 32)
    n0, k0, c1 = c0.step()
    n1, k1, c2 = c1.step()
    assert (n0, n1) == (0, 1) and k0 != k1 and c1.chain != c0.chain != c2.chain
    r = ReceiveChain(b"\x01" * 32)
    got, r2 = r.key_for(1)
    assert got == k1 and r2.skipped == {0: k0} and r2.next_counter == 2


def test_forward_secrecy_state_after_reading_opens_nothing_earlier(trio: tuple[Group, ...]) -> None:
    ga, gb = trio[:2]
    first = gb.send_text("before the theft", NOW)
    ga.receive(first.data, NOW)
    stolen = json.dumps(ga.to_json())  # an attacker copies A's whole state now
    assert ga.current is not None and ga.current.secrets.chain_seed == b""  # no way back to chain starts
    thief = Group.from_json(ga.me, json.loads(stolen))
    with pytest.raises(DuplicateMessageError):
        thief.receive(first.data, NOW)
    later = gb.send_text("after the theft", NOW)
    assert texts(thief.receive(later.data, NOW)) == ["after the theft"]  # (until the next rekey)


def test_skip_window_is_bounded(trio: tuple[Group, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    ga, gb = trio[:2]
    monkeypatch.setattr(sender_keys, "MAX_SKIP", 5)
    monkeypatch.setattr(sender_keys, "MAX_SKIPPED_KEYS", 3)
    outs = [gb.send_text(f"m{i}", NOW) for i in range(8)]
    with pytest.raises(TooManySkippedMessagesError):
        ga.receive(outs[7].data, NOW)
    assert texts(ga.receive(outs[5].data, NOW)) == ["m5"]
    assert ga.current is not None
    chain = ga.current.recv[ga.current.roster.members.index(gb.me.x25519_public_key)]
    assert sorted(chain.skipped) == [2, 3, 4]  # the oldest skipped keys were dropped
    with pytest.raises(DuplicateMessageError):
        ga.receive(outs[0].data, NOW)
    assert texts(ga.receive(outs[3].data, NOW)) == ["m3"]


def test_kicked_member_reads_nothing_after_the_kick(trio: tuple[Group, ...]) -> None:
    ga, gb, gc = trio[:3]
    kick = ga.kick([gc.me.session_id], NOW)
    assert [o.kind for o in kick] == ["keys"]  # ONE store
    eb, ec = deliver(kick, gb, gc)
    assert isinstance(eb[0], GroupMembersChanged) and eb[0].removed == (gc.me.session_id,)
    assert ec == [GroupRemoved(ga.group_id, 1)]
    for sender in (ga, gb):
        out = sender.send_text("not for C", NOW)
        with pytest.raises(GroupKeyUnavailableError):
            gc.receive(out.data, NOW)
    assert texts(gb.receive(ga.send_text("still here", NOW).data, NOW)) == ["still here"]
    with pytest.raises(NotGroupMemberError):
        gc.send_text("let me in", NOW)


def test_late_message_of_the_last_generation_only_from_remaining_members(trio: tuple[Group, ...]) -> None:
    ga, gb, gc = trio[:3]
    in_flight_b = gb.send_text("sent before B saw the kick", NOW)
    in_flight_c = gc.send_text("sent by C before the kick", NOW)
    kick = ga.kick([gc.me.session_id], NOW)
    deliver(kick, gb)
    assert texts(ga.receive(in_flight_b.data, NOW)) == ["sent before B saw the kick"]
    with pytest.raises(NotGroupMemberError):
        gb.receive(in_flight_c.data, NOW)


def test_joiner_reads_nothing_from_before(trio: tuple[Group, ...]) -> None:
    ga, gb = trio[:2]
    old = gb.send_text("history", NOW)
    d = Identity.generate()
    gd = Group.join(d, ga.group_id)
    add = ga.add([d.session_id], NOW)
    assert [o.kind for o in add] == ["keys", "roster"]
    (eb,) = deliver(add[:1], gb)[0]
    assert isinstance(eb, GroupMembersChanged) and eb.added == (d.session_id,)
    (ed,) = deliver(add, gd)[0]
    assert isinstance(ed, GroupMembersChanged) and d.session_id in ed.added
    assert gd.generation == gb.generation == 1 and gd.members() == gb.members()
    with pytest.raises(GroupKeyUnavailableError):
        gd.receive(old.data, NOW)
    assert texts(gd.receive(gb.send_text("welcome", NOW).data, NOW)) == ["welcome"]


def test_a_joiner_holds_messages_until_the_roster_arrives(trio: tuple[Group, ...]) -> None:
    ga, gb = trio[:2]
    d = Identity.generate()
    gd = Group.join(d, ga.group_id)
    keys, roster = ga.add([d.session_id], NOW)
    deliver([keys], gb, gd)
    early = gb.send_text("stored between keys and roster", NOW)
    assert gd.receive(early.data, NOW) == []  # held, not lost
    assert texts(gd.receive(roster.data, NOW)) == ["stored between keys and roster"]


def test_leave_request_then_admin_rekey(trio: tuple[Group, ...]) -> None:
    ga, gb, gc = trio[:3]
    bye = gc.leave(NOW)
    assert gc.left and gc.current is None  # the leaver forgets the keys at once
    (ev,) = ga.receive(bye.data, NOW)
    assert ev == GroupLeaveRequested(ga.group_id, gc.me.session_id)
    kick = ga.kick([ev.member], NOW)
    deliver(kick, gb)
    with pytest.raises(GroupKeyUnavailableError):
        gc.receive(gb.send_text("after C left", NOW).data, NOW)
    assert gc.me.session_id not in gb.members()


def test_member_away_longer_than_ttl_catches_up(trio: tuple[Group, ...]) -> None:
    ga, gb, gc = trio[:3]
    d = Identity.generate()
    deliver(ga.add([d.session_id], NOW), gb)  # C misses generation 1 (expired) ...
    kick = ga.kick([d.session_id], NOW)  # ... and generation 2 (its key message expired too)
    deliver(kick, gb)
    assert gc.generation == 0
    later = NOW + REFRESH_MS
    refreshed = ga.refresh(later)
    assert [o.kind for o in refreshed] == ["keys", "roster"]
    assert ga.refresh(later) == []  # nothing more until the next period
    evs = deliver(refreshed, gc)[0]
    assert gc.generation == 2 and gc.members() == ga.members()
    assert isinstance(evs[-1], GroupMembersChanged)
    assert texts(gc.receive(gb.send_text("back in sync", NOW).data, NOW)) == ["back in sync"]
    with pytest.raises(DuplicateMessageError):  # B already holds it: a refresh is harmless
        gb.receive(refreshed[0].data, NOW)


def test_kick_snapshot_follows_with_the_next_refresh(trio: tuple[Group, ...]) -> None:
    ga, gc = trio[0], trio[2]
    ga.kick([gc.me.session_id], NOW)
    assert [o.kind for o in ga.refresh(NOW + 1)] == ["roster"]
    assert ga.refresh(NOW + 2) == []


def test_large_change_goes_by_snapshot() -> None:
    a = Identity.generate()
    many = [Identity.generate() for _ in range(70)]
    ga, outs = Group.create(a, NOW, [m.session_id for m in many])
    assert [o.kind for o in outs] == ["keys", "roster"]
    g5 = Group.join(many[5], ga.group_id)
    assert deliver(outs[:1], g5)[0] == [] and g5.generation is None
    deliver(outs[1:], g5)
    assert g5.generation == 0 and len(g5.members()) == 71


def test_key_message_size_is_48_bytes_per_member_padded_to_75() -> None:
    a = Identity.generate()
    ga, outs = Group.create(a, NOW, [Identity.generate().session_id for _ in range(9)])
    keys = outs[0].data
    assert keys[0] == KIND_KEYS and outs[1].data[0] == KIND_ROSTER
    wrapped = PAD_MULTIPLE * ENTRY_BYTES  # 10 members -> 75 entries
    assert wrapped < len(keys) < wrapped + 1000


def test_state_survives_json_round_trip(trio: tuple[Group, ...]) -> None:
    ga, gb, gc = trio[:3]
    gb.receive(ga.send_text("one", NOW).data, NOW)
    gb2 = Group.from_json(gb.me, json.loads(json.dumps(gb.to_json())))
    ga2 = Group.from_json(ga.me, json.loads(json.dumps(ga.to_json())))
    assert texts(gb2.receive(ga2.send_text("two", NOW).data, NOW)) == ["two"]
    kick = ga2.kick([gc.me.session_id], NOW)
    assert isinstance(gb2.receive(kick[0].data, NOW)[0], GroupMembersChanged)
    assert gb2.generation == 1 and gc.me.session_id not in gb2.members()


def test_records_out_of_order_are_held_then_applied(trio: tuple[Group, ...]) -> None:
    """Swarm nodes replicate with lag: a member may see a later key message, a roster or a
    message before the key message they follow from."""
    ga, gb, gc = trio[:3]
    d, e = Identity.generate(), Identity.generate()
    add_d = ga.add([d.session_id], NOW)  # generation 1: keys + roster
    kick_e_less = ga.add([e.session_id], NOW)  # generation 2
    msg = ga.send_text("in generation 2", NOW)
    # C gets generation 2's records and the message first, generation 1's last.
    assert gc.receive(msg.data, NOW) == []
    assert gc.receive(kick_e_less[0].data, NOW) == []
    assert gc.generation == 0
    evs = gc.receive(add_d[0].data, NOW)
    assert gc.generation == 2 and gc.members() == ga.members()
    assert [type(x).__name__ for x in evs] == ["GroupMembersChanged", "GroupMembersChanged", "GroupMessageReceived"]
    assert texts(evs) == ["in generation 2"]
    with pytest.raises(StaleGenerationError):  # generation 1's roster, late: nothing to do with it
        gc.receive(add_d[1].data, NOW)
    # A joiner who sees the roster before the key message.
    gd = Group.join(d, ga.group_id)
    keys2, roster2 = kick_e_less
    assert gd.receive(roster2.data, NOW) == []
    assert isinstance(gd.receive(keys2.data, NOW)[0], GroupMembersChanged) and gd.generation == 2


def test_held_records_are_bounded(trio: tuple[Group, ...]) -> None:
    from session_core.protocol.groups import state as state_mod

    gd = Group.join(Identity.generate(), trio[0].group_id)  # never added: everything is held
    for i in range(state_mod.MAX_DEFERRED + 10):
        gd.receive(trio[1].send_text(f"m{i}", NOW).data, NOW)
    assert len(gd.deferred) == state_mod.MAX_DEFERRED


def test_changes_are_saved_apart_and_a_message_moves_one_chain(trio: tuple[Group, ...]) -> None:
    """A driver saves the core only when it changed and one chain row per message received."""
    ga, gb, gc = trio[:3]
    rows: dict[tuple[int, int], dict[str, object]] = {}

    def save(g: Group) -> tuple[bool, list[tuple[int, int]], list[tuple[int, int]]]:
        changes = g.take_changes()
        for key in changes[1]:
            rows[key] = json.loads(json.dumps(g.chain_json(*key)))
        for key in changes[2]:
            del rows[key]
        return changes

    core, chains, gone = save(gb)
    assert core and len(chains) == 3 and gone == []  # two senders' chains + our own send chain
    saved_core = json.loads(json.dumps(gb.to_json(chains=False)))
    assert "chains" not in saved_core["current"]
    one = ga.send_text("one", NOW)
    gb.receive(one.data, NOW)
    index0 = {sid: i for i, sid in enumerate(gb.members())}
    assert save(gb) == (False, [(0, index0[ga.me.session_id])], [])  # O(1) per message, any group size
    restored = Group.from_json(gb.me, saved_core, chain=lambda gen, i: rows.get((gen, i)))
    with pytest.raises(DuplicateMessageError):  # the saved chain moved past "one"
        restored.receive(one.data, NOW)
    assert texts(restored.receive(ga.send_text("two", NOW).data, NOW)) == ["two"]
    gb.receive(ga.kick([gc.me.session_id], NOW)[0].data, NOW)
    core, chains, gone = save(gb)
    assert core and chains and all(gen == 1 for gen, _ in chains)
    # The kicked sender's chain and our old send chain are gone from disk; A's old chain stays
    # (in-flight messages of generation 0 from A are still read).
    assert gone == sorted([(0, index0[gc.me.session_id]), (0, index0[gb.me.session_id])])
    assert (0, index0[ga.me.session_id]) in rows
    with pytest.raises(StateDecryptionError):
        Group.from_json(gb.me, gb.to_json(chains=False))  # chains saved apart need a loader


def test_records_the_driver_could_not_store_are_offered_again(trio: tuple[Group, ...]) -> None:
    ga, gb, gc = trio[:3]
    (lost,) = ga.kick([gc.me.session_id], NOW)
    ga.store_failed()
    again = ga.refresh(NOW + 1)
    assert [o.kind for o in again] == ["keys", "roster"] and again[0].data == lost.data
    deliver(again, gb)
    assert gb.generation == 1
