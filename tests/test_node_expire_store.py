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
