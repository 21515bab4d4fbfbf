"""Friend requests under hostile load (issue 11 items 11, 12): pending requests are capped, the
state is saved per contact, and a replayed request stays refused however many came since."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from session_core.client.db import ClientDB
from session_core.identity import Identity
from session_core.protocol.conversation import MAX_PENDING_REQUESTS, ContactState, Messenger
from session_core.protocol.events import FriendRequestDropped, FriendRequestReceived, MessageReceived, Outgoing
from session_core.protocol.friend_request import make_friend_request
from session_core.protocol.prekeys import PreKeyStore
from session_core.protocol.sealed import build_envelope


def make(name: str) -> Messenger:
    return Messenger(Identity.generate(), name)


def befriend(a: Messenger, b: Messenger) -> None:
    b.receive(a.send_friend_request(b.session_id, "hi", now_ms=1).data, now_ms=2)
    a.receive(b.accept(a.session_id, now_ms=3).data, now_ms=4)
    assert a.contacts[b.session_id].state is ContactState.ESTABLISHED


class Stranger:
    """Signs friend requests to one recipient at any timestamp, cheaply (one bundle)."""

    def __init__(self) -> None:
        self.identity = Identity.generate()
        self.bundle = PreKeyStore.create(self.identity).issue_bundle()

    def request(self, to: Messenger, ts: int) -> bytes:
        sealed = make_friend_request(self.identity, to.session_id, self.bundle, intro="hello",
                                     display_name="stranger", timestamp_ms=ts)
        return build_envelope(to.identity.x25519_public_key, sealed, ts)


# -- item 12: replays ----------------------------------------------------------------------------


def test_a_request_replayed_after_many_others_is_refused_on_an_established_contact() -> None:
    a, b = make("A"), make("B")
    original = a.send_friend_request(b.session_id, "hi", now_ms=1)
    assert isinstance(b.receive(original.data, now_ms=2)[0], FriendRequestReceived)
    a.receive(b.accept(a.session_id, now_ms=3).data, now_ms=4)
    # 1 100 requests from someone else push the original out of any bounded cache...
    spammer = Stranger()
    for ts in range(10, 1110):
        b.receive(spammer.request(b, ts), now_ms=ts)
    # ...and the replay still changes nothing: no event, no pending request on A's contact.
    assert b.receive(original.data, now_ms=2000) == []
    contact = b.contacts[a.session_id]
    assert contact.state is ContactState.ESTABLISHED and contact.request is None
    # The conversation goes on.
    out = a.send_text(b.session_id, "still here", now_ms=2001)
    assert b.receive(out.data, now_ms=2002) == [MessageReceived(a.session_id, "still here", 2001, "A")]


def test_the_replay_guard_survives_saving_and_loading(tmp_path: Path) -> None:
    a, b = make("A"), make("B")
    original = a.send_friend_request(b.session_id, "hi", now_ms=1)
    b.receive(original.data, now_ms=2)
    a.receive(b.accept(a.session_id, now_ms=3).data, now_ms=4)
    db = ClientDB(tmp_path / "client.db", b.identity)
    db.save_messenger(b)
    restored = db.load_messenger(b.identity, "B")
    assert restored.receive(original.data, now_ms=5) == []
    assert restored.contacts[a.session_id].request is None


def test_a_newer_request_from_an_established_contact_still_comes_through() -> None:
    # The peer lost its session (new device) and asks again: a later signed timestamp.
    a, b = make("A"), make("B")
    befriend(a, b)
    a2 = Messenger(a.identity, "A again")
    events = b.receive(a2.send_friend_request(b.session_id, "lost my phone", now_ms=50).data, now_ms=51)
    assert [type(e) for e in events] == [FriendRequestReceived]


# -- item 11: pending cap and per-contact rows ---------------------------------------------------


def test_pending_requests_are_capped_and_the_oldest_dropped_with_an_event() -> None:
    b = make("B")
    strangers = [Stranger() for _ in range(MAX_PENDING_REQUESTS + 20)]
    dropped: list[str] = []
    for i, s in enumerate(strangers):
        events = b.receive(s.request(b, 1000 + i), now_ms=5000 + i)
        assert isinstance(events[0], FriendRequestReceived)
        dropped += [e.sender for e in events if isinstance(e, FriendRequestDropped)]
    pending = [c for c in b.contacts.values() if c.state is ContactState.INCOMING]
    assert len(pending) == MAX_PENDING_REQUESTS
    assert dropped == [s.identity.session_id for s in strangers[:20]]  # first in, first out
    assert {c.session_id for c in pending} == {s.identity.session_id for s in strangers[20:]}


def test_the_oldest_pending_is_the_first_to_arrive_not_the_oldest_stamp() -> None:
    # A stranger cannot stamp its request in the future to outlive the others.
    b = make("B")
    sneaky = Stranger()
    b.receive(sneaky.request(b, 10**13), now_ms=1)
    for i in range(MAX_PENDING_REQUESTS):
        b.receive(Stranger().request(b, 1000 + i), now_ms=2 + i)
    assert sneaky.identity.session_id not in b.contacts


def test_established_contacts_are_never_dropped_for_pending_requests() -> None:
    a, b = make("A"), make("B")
    befriend(a, b)
    for i in range(MAX_PENDING_REQUESTS + 5):
        b.receive(Stranger().request(b, 1000 + i), now_ms=5000 + i)
    assert b.contacts[a.session_id].state is ContactState.ESTABLISHED


def test_a_message_changes_only_its_contacts_row() -> None:
    a, b = make("A"), make("B")
    befriend(a, b)
    for i in range(40):
        b.receive(Stranger().request(b, 1000 + i), now_ms=5000 + i)
    b.take_changes()  # everything saved
    out = a.send_text(b.session_id, "hi", now_ms=9000)
    assert b.receive(out.data, now_ms=9001)
    changes = b.take_changes()
    assert changes.core is None and list(changes.contacts) == [a.session_id] and not changes.removed
    assert b.take_changes().contacts == {}  # nothing left to save


def test_rows_saved_step_by_step_rebuild_the_same_state() -> None:
    """Whatever the Messenger does, the rows it reports rebuild exactly its live state."""
    a, b, c = make("A"), make("B"), make("C")
    rows: dict[str, bytes] = {}
    core: list[bytes] = []

    def save(m: Messenger) -> None:
        ch = m.take_changes()
        if ch.core is not None:
            core.append(ch.core)
        rows.update(ch.contacts)
        for sid in ch.removed:
            rows.pop(sid, None)
        rebuilt = Messenger.from_rows(m.identity, core[-1], rows.values())
        assert rebuilt.to_document() == m.to_document()

    save(b)
    b.receive(a.send_friend_request(b.session_id, "hi", now_ms=1).data, now_ms=2)
    save(b)
    b.receive(c.send_friend_request(b.session_id, "me too", now_ms=3).data, now_ms=4)
    save(b)
    b.ignore(c.session_id)
    save(b)
    a.receive(b.accept(a.session_id, now_ms=5).data, now_ms=6)
    save(b)
    for i in range(3):
        b.receive(a.send_text(b.session_id, f"m{i}", now_ms=10 + i).data, now_ms=20 + i)
        save(b)
        a.receive(b.send_text(a.session_id, f"r{i}", now_ms=30 + i).data, now_ms=40 + i)
        save(b)
    b.send_friend_request(c.session_id, "sorry, hi", now_ms=50)
    save(b)
    b.display_name = "Bob"
    save(b)


def test_a_one_blob_profile_is_migrated_to_rows(tmp_path: Path) -> None:
    a, b = make("A"), make("B")
    befriend(a, b)
    pending = Stranger()
    b.receive(pending.request(b, 77), now_ms=78)
    db = ClientDB(tmp_path / "client.db", b.identity)
    db.put_bytes("messenger", b.to_bytes())  # how profiles were saved before rows
    db.close()
    db = ClientDB(tmp_path / "client.db", b.identity)
    loaded = db.load_messenger(b.identity, "ignored")
    assert loaded.to_document() == b.to_document()
    assert db.get_bytes("messenger") is None
    assert db.db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0] == 2
    db.close()
    db = ClientDB(tmp_path / "client.db", b.identity)  # and it opens from the rows next time
    again = db.load_messenger(b.identity, "ignored")
    assert again.to_document() == b.to_document()
    out = a.send_text(b.session_id, "after the move", now_ms=100)
    assert again.receive(out.data, now_ms=101) == [MessageReceived(a.session_id, "after the move", 100, "A")]
    db.close()


def test_save_failure_keeps_the_changes(tmp_path: Path) -> None:
    a, b = make("A"), make("B")
    befriend(a, b)
    db = ClientDB(tmp_path / "client.db", b.identity)
    db.save_messenger(b)
    b.receive(a.send_text(b.session_id, "x", now_ms=10).data, now_ms=11)
    db.close()  # the write fails: a closed database
    with pytest.raises(sqlite3.ProgrammingError):
        db.save_messenger(b)
    assert list(b.take_changes().contacts) == [a.session_id]
