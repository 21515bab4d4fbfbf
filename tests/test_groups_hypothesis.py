"""Closed groups, property tests: over random sequences of sends, adds, kicks and leaves (every
record delivered to everyone in order), a person reads a message exactly when they are in the
member list of its generation; and damaged records only ever raise SessionCoreError (a ValueError)
and change nothing."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from session_core.errors import SessionCoreError
from session_core.identity import Identity
from session_core.protocol.groups import Group, GroupLeaveRequested, GroupMessageReceived

NOW = 1_800_000_000_000
PEOPLE = [Identity.from_seed(bytes([i]) * 16) for i in range(1, 7)]  # PEOPLE[0] is the admin
EXAMPLE = [("send", 1), ("kick", 2), ("send", 1), ("add", 2), ("send", 3), ("leave", 3), ("send", 2),
           ("add", 3), ("add", 5), ("send", 0), ("kick", 1), ("send", 5)]
ops = st.lists(st.tuples(st.sampled_from(["send", "send", "kick", "add", "leave"]), st.integers(0, 5)), max_size=14)


@settings(max_examples=40, deadline=None)
@given(ops)
@example(EXAMPLE)
def test_a_message_is_read_exactly_by_the_members_of_its_generation(steps: list[tuple[str, int]]) -> None:
    admin, outs = Group.create(PEOPLE[0], NOW, [p.session_id for p in PEOPLE[1:4]])
    views = {p.session_id: Group.join(p, admin.group_id) for p in PEOPLE[1:]}
    views[PEOPLE[0].session_id] = admin
    read: dict[str, set[str]] = {sid: set() for sid in views}
    expected: dict[str, set[str]] = {sid: set() for sid in views}

    def deliver(records: list[bytes]) -> None:
        for data in records:
            for sid, g in views.items():
                try:
                    events = g.receive(data, NOW)
                except SessionCoreError:
                    continue  # not for them, their own, a removed member's view: all checked below
                for e in events:
                    if isinstance(e, GroupMessageReceived):
                        read[sid].add(e.text)
                    if isinstance(e, GroupLeaveRequested) and g is admin and e.member in admin.members():
                        deliver([o.data for o in admin.kick([e.member], NOW)])

    deliver([o.data for o in outs])
    for n, (op, who) in enumerate(steps):
        person = PEOPLE[who]
        sid = person.session_id
        members = admin.members()
        if op == "send" and sid in members:
            text = f"m{n}"
            out = views[sid].send_text(text, NOW)
            expected_readers = set(members) - {sid}
            for r in expected_readers:
                expected[r].add(text)
            deliver([out.data])
        elif op == "kick" and sid in members and who != 0:
            deliver([o.data for o in admin.kick([sid], NOW)])
        elif op == "add" and sid not in members:
            deliver([o.data for o in admin.add([sid], NOW)])
        elif op == "leave" and sid in members and who != 0:
            deliver([views[sid].leave(NOW).data])
    assert read == expected
    if steps == EXAMPLE:  # the explicit example: who read what
        assert read[PEOPLE[2].session_id] == {"m0", "m4", "m9", "m11"}  # not m2 (kicked), back for m4
        assert read[PEOPLE[3].session_id] == {"m0", "m2", "m9", "m11"}  # not m6 (left), back for m9
        assert read[PEOPLE[5].session_id] == {"m9"}  # added at step 8: nothing earlier (m11 is its own)
        assert read[PEOPLE[1].session_id] == {"m4", "m6", "m9"}  # kicked at step 10: not m11


def _state(g: Group) -> str:
    return json.dumps(g.to_json(), sort_keys=True)


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 3), st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), min_size=1, max_size=4),
       st.integers(0, 100))
def test_damaged_records_raise_our_errors_and_change_nothing(which: int, flips: list[tuple[int, int]],
                                                             cut: int) -> None:
    admin, outs = Group.create(PEOPLE[0], NOW, [PEOPLE[1].session_id, PEOPLE[2].session_id])
    member = Group.join(PEOPLE[1], admin.group_id)
    for o in outs:
        member.receive(o.data, NOW)
    records = [admin.kick([PEOPLE[2].session_id], NOW)[0].data, outs[1].data,
               admin.send_text("hello", NOW).data, admin.refresh(NOW + 1)[0].data]
    data = bytearray(records[which])
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    damaged = bytes(data[: max(1, len(data) - cut)])
    before = _state(member)
    try:
        member.receive(damaged, NOW)
    except SessionCoreError as exc:
        assert isinstance(exc, ValueError)
        assert _state(member) == before
