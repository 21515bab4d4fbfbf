"""`expire` at the store level, the same on both stores: only shortens, only the owner's live
messages, unknown hashes ignored; a shortened message is hidden at its new time and purged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from session_core.node.message import Message
from session_core.node.store import MemoryStore, MessageStore, SqliteStore

NOW = 1_700_000_000_000
A, B = "05" + "aa" * 32, "05" + "bb" * 32


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MessageStore]:
    s: MessageStore = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "m.db")
    yield s
    s.close()


def m(owner: str, h: str, ttl: int = 3_600_000) -> Message:
    return Message(pubkey=owner, hash=h, data="QUJD", ttl=ttl, timestamp=NOW, nonce="n")


def test_expire_shortens_only_the_owners_live_messages(store: MessageStore) -> None:
    store.save_many([m(A, "a1"), m(A, "a2", ttl=20_000), m(B, "b1"), m(A, "old", ttl=10_000)])
    updated, unchanged = store.expire(A, ["a1", "a2", "b1", "nope", "old"], NOW + 30_000, NOW + 15_000)
    assert updated == ["a1"]  # b1: not A's; nope: unknown; old: already dead at NOW+15 s
    assert unchanged == {"a2": NOW + 20_000}  # already due sooner: never extended
    assert store.expire(A, ["a1"], NOW + 60_000, NOW + 15_000) == ([], {"a1": NOW + 30_000})  # no extension
    assert [x.hash for x in store.retrieve(A, "", 10, NOW + 29_999)] == ["a1"]
    assert store.retrieve(A, "", 10, NOW + 30_000) == [] and store.get("a1", NOW + 30_000) is None
    assert [x.hash for x in store.retrieve(B, "", 10, NOW + 30_000)] == ["b1"]
    assert store.purge_expired(NOW + 30_000) == 3  # a1, a2, old
    assert [x.hash for x in store.messages(NOW)] == ["b1"]


def test_expire_with_nothing_changes_nothing(store: MessageStore) -> None:
    store.save_if_new(m(A, "a1"))
    assert store.expire(A, [], NOW, NOW) == ([], {})
    assert [x.hash for x in store.messages(NOW)] == ["a1"]


def test_a_shortened_message_reads_back_with_its_current_expiry(store: MessageStore) -> None:
    store.save_many([m(A, "a1"), m(A, "a2")])
    store.expire(A, ["a1"], NOW + 30_000, NOW)
    got = {x.hash: x.expiration for x in store.retrieve(A, "", 10, NOW)}
    assert got == {"a1": NOW + 30_000, "a2": NOW + 3_600_000}  # what `retrieve` reports
    a1 = store.get("a1", NOW)
    assert a1 is not None and a1.paid_expiration == NOW + 3_600_000 and a1.ttl == 3_600_000  # PoW fields untouched
    assert {x.hash: x.expiration for x in store.messages(NOW)} == got
    assert {x.hash: x.expiration for _, x in store.messages_after(0, 10, NOW)} == got
    assert store.get("a2", NOW) == m(A, "a2")  # an untouched message reads back equal


def test_the_owners_proof_is_kept_while_the_message_lives(store: MessageStore) -> None:
    store.save_many([m(A, "a1"), m(A, "a2"), m(B, "b1")])
    assert store.expire(A, ["a1", "nope"], NOW + 30_000, NOW, b"proof-1")[0] == ["a1"]
    assert store.expire(A, ["a1"], NOW + 40_000, NOW, b"proof-later") == ([], {"a1": NOW + 30_000})  # nothing kept
    assert [(o, p) for _, o, p in store.expiry_proofs_after(0, 10, NOW)] == [(A, b"proof-1")]
    # A newer proof that shortens a1 again replaces the first (which no message needs any more).
    store.expire(A, ["a1", "a2"], NOW + 20_000, NOW, b"proof-2")
    rows = store.expiry_proofs_after(0, 10, NOW)
    assert [p for _, _, p in rows] == [b"proof-2"]
    assert store.expiry_proofs_after(rows[-1][0], 10, NOW) == []
    store.purge_expired(NOW + 20_000)
    assert store.expiry_proofs_after(0, 10, NOW) == []
    assert [x.hash for x in store.messages(NOW + 20_000)] == ["b1"]


def test_a_shortened_expiry_and_its_proof_survive_a_restart(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "r.db")
    s.save_many([m(A, "a1")])
    s.expire(A, ["a1"], NOW + 30_000, NOW, b"proof")
    s.close()
    s = SqliteStore(tmp_path / "r.db")
    try:
        assert [x.expiration for x in s.retrieve(A, "", 10, NOW)] == [NOW + 30_000]
        assert [p for _, _, p in s.expiry_proofs_after(0, 10, NOW)] == [b"proof"]
    finally:
        s.close()
