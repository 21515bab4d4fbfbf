"""Storage quotas (issue 11 item 3): one pubkey cannot fill every member's disk, the node
has a budget, a refused store changes nothing, and the database is private (item 15)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from session_core.bench.loadgen import rpc_bytes
from session_core.node.message import Message
from session_core.node.store import MemoryStore, MessageStore, SqliteStore, StorageLimits
from test_node_rpc import ME, NOW, TTL, Clock, good_params, key_in, make_rpc, snapshot

LIMITS = StorageLimits(max_bytes_per_pubkey=1000, max_messages_per_pubkey=5, max_total_bytes=2500)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MessageStore]:
    s: MessageStore = MemoryStore(LIMITS) if request.param == "memory" else SqliteStore(tmp_path / "m.db", limits=LIMITS)
    yield s
    s.close()


def msg(owner: str, i: int, size: int, expiration_ttl: int = TTL, ts: int = NOW) -> Message:
    return Message(pubkey=owner, hash=f"{owner[:8]}-{i}-{size}", data="A" * size, ttl=expiration_ttl, timestamp=ts, nonce="n")


def test_mailbox_bytes_quota(store: MessageStore) -> None:
    a = "05" + "aa" * 32
    assert store.refusal(msg(a, 0, 600), NOW) is None
    store.save_if_new(msg(a, 0, 600))
    why = store.refusal(msg(a, 1, 401), NOW)
    assert why is not None and "mailbox is full" in why and "600 of 1000 bytes" in why
    assert store.refusal(msg(a, 1, 400), NOW) is None  # exactly the quota fits
    assert store.refusal(msg(a, 0, 600), NOW) is None  # a message already held is idempotent


def test_mailbox_message_count_quota(store: MessageStore) -> None:
    a = "05" + "bb" * 32
    for i in range(5):
        store.save_if_new(msg(a, i, 10))
    why = store.refusal(msg(a, 9, 10), NOW)
    assert why is not None and "5 of 5 messages" in why
    assert store.refusal(msg("05" + "cc" * 32, 0, 10), NOW) is None  # other owners unaffected


def test_node_budget(store: MessageStore) -> None:
    owners = ["05" + f"{i:02x}" * 32 for i in range(3)]
    for i, o in enumerate(owners[:2]):
        store.save_if_new(msg(o, i, 1000))
    why = store.refusal(msg(owners[2], 0, 501), NOW)
    assert why is not None and "node storage is full" in why
    assert store.refusal(msg(owners[2], 0, 500), NOW) is None


def test_expired_messages_make_room_again(store: MessageStore) -> None:
    a = "05" + "dd" * 32
    store.save_if_new(msg(a, 0, 900, expiration_ttl=10_000))
    assert store.refusal(msg(a, 1, 200), NOW) is not None
    # Once the first one has expired, the refusal purges and finds room.
    assert store.refusal(msg(a, 1, 200), NOW + 10_001) is None
    assert store.count(NOW + 10_001) == 0


def test_rpc_refuses_a_full_mailbox_with_507_and_changes_nothing(store: MessageStore) -> None:
    clock = Clock()
    rpc = make_rpc(store, clock)
    pk = key_in(ME.swarm_id)
    statuses = []
    for _ in range(8):
        out = rpc.handle(rpc_bytes("store", good_params(pk, data=os.urandom(150))))
        statuses.append(out.reply.status)
    assert statuses[:5] == [200] * 5 and statuses[5:] == [507] * 3
    before = snapshot(store)
    out = rpc.handle(rpc_bytes("store", good_params(pk, data=os.urandom(150))))
    assert out.reply.status == 507 and "mailbox is full" in out.reply.body and out.stored is None
    assert snapshot(store) == before
    # The refused stores were not counted as load.
    assert rpc.difficulty._count == 5


def test_sqlite_usage_follows_the_rows(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "m.db", limits=LIMITS)
    a = "05" + "ee" * 32
    s.save_many([msg(a, i, 100, expiration_ttl=10_000 if i % 2 else TTL) for i in range(4)])
    assert s.usage(a) == (400, 4) and s.total_bytes() == 400
    s.save_if_new(msg(a, 0, 100))  # duplicate: no change
    assert s.usage(a) == (400, 4)
    s.purge_expired(NOW + 10_001)
    assert s.usage(a) == (200, 2) and s.total_bytes() == 200
    s.close()


def test_sqlite_usage_backfilled_for_an_old_database(tmp_path: Path) -> None:
    """A database written before quotas existed is counted when first opened."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE,"
        " owner TEXT NOT NULL, data TEXT NOT NULL, ttl INTEGER NOT NULL, timestamp INTEGER NOT NULL,"
        " nonce TEXT NOT NULL, expiration INTEGER NOT NULL);"
        "INSERT INTO messages (hash, owner, data, ttl, timestamp, nonce, expiration)"
        " VALUES ('h1', 'o1', 'AAAA', 1, 1, 'n', 99999999999999), ('h2', 'o1', 'AAAAAAAA', 1, 1, 'n', 99999999999999);"
    )
    db.commit()
    db.close()
    s = SqliteStore(path, limits=LIMITS)
    assert s.usage("o1") == (12, 2) and s.total_bytes() == 12
    s.close()


def test_databases_are_created_private(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "messages.db")
    s.save_if_new(msg("05" + "ab" * 32, 0, 10))
    for name in ("messages.db", "messages.db-wal", "messages.db-shm"):
        mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        assert mode == 0o600, (name, oct(mode))
    s.close()
    # An existing file made by an older version is tightened.
    (tmp_path / "loose.db").touch(mode=0o644)
    os.chmod(tmp_path / "loose.db", 0o644)
    SqliteStore(tmp_path / "loose.db").close()
    assert stat.S_IMODE(os.stat(tmp_path / "loose.db").st_mode) == 0o600


def test_difficulty_history_round_trips(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "m.db")
    assert s.difficulty_history() == []
    s.save_difficulty_history([(600_000, 3), (1_200_000, 1)])
    s.close()
    s = SqliteStore(tmp_path / "m.db")
    assert s.difficulty_history() == [(600_000, 3), (1_200_000, 1)]
    s.close()


def test_limits_are_checked() -> None:
    for bad in ({"max_total_bytes": 0}, {"max_bytes_per_pubkey": -1}, {"max_messages_per_pubkey": 0}):
        with pytest.raises(ValueError):
            StorageLimits(**bad)
