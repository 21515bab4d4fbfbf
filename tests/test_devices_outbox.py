"""Nothing acknowledged is lost: the client's outbox (sync copies of sent messages, config
pushes) keeps what the own swarm refused, retries it with backoff, and survives a restart."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from session_core.client import Client, ClientConfig
from session_core.client.db import ClientDB
from session_core.client.outbox import Outbox
from session_core.errors import DeliveryError
from session_core.identity import Identity
from session_core.testing.memnet import MemNetwork, MemTransport

# -- the outbox alone, with a store that fails on demand --------------------------------------


class FlakyStore:
    def __init__(self) -> None:
        self.refuse: set[str] = set()
        self.calls: list[tuple[str, bytes, int]] = []
        self.stored: list[bytes] = []

    async def __call__(self, recipient: str, data: bytes, ttl_ms: int) -> None:
        self.calls.append((recipient, data, ttl_ms))
        if recipient in self.refuse:
            raise DeliveryError("swarm refuses")
        self.stored.append(data)


def _outbox(path: Path, identity: Identity) -> tuple[ClientDB, Outbox]:
    db = ClientDB(path, identity)
    return db, Outbox(db, base_ms=1000, max_ms=8000, rng=random.Random(1))


async def test_outbox_retries_with_backoff_then_stores_in_order_and_survives_reopen(tmp_path: Path) -> None:
    me = Identity.generate()
    db, box = _outbox(tmp_path / "c.db", me)
    store = FlakyStore()
    store.refuse.add("own")
    box.add("sync_copy", "own", b"one", ttl_ms=60_000, now_ms=0)
    box.add("sync_copy", "own", b"two", ttl_ms=60_000, now_ms=0)
    box.add("sync_copy", "other", b"elsewhere", ttl_ms=60_000, now_ms=0)
    assert [i.data for i in await box.flush(store, 0)] == [b"elsewhere"]  # another swarm is not held up
    # One attempt for the refusing swarm, the other item of that swarm waits with it.
    assert [c[1] for c in store.calls] == [b"one", b"elsewhere"]
    first = box.items()
    assert [(i.data, i.attempts) for i in first] == [(b"one", 1), (b"two", 0)]
    assert first[0].due_ms == first[1].due_ms and 500 <= first[0].due_ms <= 1000

    store.calls.clear()
    assert await box.flush(store, first[0].due_ms - 1) == [] and store.calls == []  # not due yet
    delays = []
    now = first[0].due_ms
    for _ in range(5):
        await box.flush(store, now)
        due = box.items()[0].due_ms
        delays.append(due - now)
        now = due
    # Doubling from 1 s (jittered down by at most half), capped at 8 s.
    assert [a for a in (i.attempts for i in box.items())][:1] == [6]
    for attempt, delay in enumerate(delays, start=2):
        full = min(8000, 1000 * 2 ** (attempt - 1))
        assert full // 2 <= delay <= full

    db.close()  # the client stops; a new one opens the same profile
    db, box = _outbox(tmp_path / "c.db", me)
    store.refuse.clear()
    store.calls.clear()
    got = await box.flush(store, now)
    assert [i.data for i in got] == [b"one", b"two"] and len(box) == 0
    assert all(ttl == 60_000 - now for _, _, ttl in store.calls)  # the original expiry is kept
    db.close()


async def test_outbox_slot_replaces_and_expired_items_are_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db, box = _outbox(tmp_path / "c.db", Identity.generate())
    store = FlakyStore()
    box.add("config", "own", b"seqno 1", 60_000, 0, slot="config:profile")
    box.add("config", "own", b"contacts", 60_000, 0, slot="config:contacts")
    box.add("config", "own", b"seqno 2", 60_000, 0, slot="config:profile")  # supersedes seqno 1
    box.add("sync_copy", "own", b"late", 1000, 0)
    assert sorted(i.data for i in box.items()) == [b"contacts", b"late", b"seqno 2"]
    got = await box.flush(store, 1000)
    assert sorted(i.data for i in got) == [b"contacts", b"seqno 2"] and b"late" not in store.stored
    assert len(box) == 0 and "expired before any store succeeded" in caplog.text
    with pytest.raises(ValueError):
        Outbox(db, base_ms=0)
    db.close()


def test_outbox_rows_are_sealed(tmp_path: Path) -> None:
    db, box = _outbox(tmp_path / "c.db", Identity.generate())
    box.add("sync_copy", "05" + "ab" * 32, b"secret payload", 60_000, 0, slot="config:x")
    db.close()
    raw = b"".join(f.read_bytes() for f in tmp_path.glob("c.db*"))  # the WAL too, if left
    assert b"secret payload" not in raw and b"abababab" not in raw and b"sync_copy" not in raw


# -- a client whose own swarm refuses stores for a while ----------------------------------------


def make(net: MemNetwork, home: Path, name: str, identity: Identity, *, multi_device: bool = True) -> Client:
    cfg = ClientConfig([net.seed_url], home / name, poll_interval=0.05, listen_interval=0.03, ack_timeout=1.0,
                       request_timeout=2.0, sync=False, multi_device=multi_device, outbox_backoff_s=(0.05, 0.2))
    return Client(identity, name, cfg, transport=MemTransport(net), rng=random.Random())


def apart(net: MemNetwork) -> tuple[Identity, Identity]:
    """Two identities in different swarms (so one swarm can refuse while the other works)."""
    a = Identity.generate()
    while True:
        b = Identity.generate()
        if net.view.swarm_for_pubkey(b.session_id) != net.view.swarm_for_pubkey(a.session_id):
            return a, b


async def test_copies_and_config_pushes_wait_out_a_refusing_swarm_and_a_restart(tmp_path: Path) -> None:
    net = MemNetwork(12)
    alice, bob_id = apart(net)
    a1, a2 = make(net, tmp_path, "a1", alice), make(net, tmp_path, "a2", alice)
    bob = make(net, tmp_path, "bob", bob_id, multi_device=False)
    for c in (a1, a2, bob):
        await c.start(loops=False)
    await a1.send_friend_request(bob.session_id, "hi")
    await bob.poll_swarm()
    await bob.accept(alice.session_id)
    for c in (a1, a2):
        await c.poll_swarm()

    own = net.swarm_nodes(alice.session_id)
    for node in own:
        node.refuse_stores = True  # full: retrieves work, stores get a 507
    copies = a1.stats.sync_copies
    rep = await a1.send_text(bob.session_id, "sent while our swarm is full")
    assert rep.route == "async"  # the message itself went out
    a1.set_display_name("Alice (laptop)")
    assert await a1.push_config() == 1
    assert a1.stats.sync_copies == copies and sorted(i.kind for i in a1.outbox.items()) == ["config", "sync_copy"]
    await asyncio.sleep(0.06)
    await a1.poll_swarm()  # retried, refused again
    assert max(i.attempts for i in a1.outbox.items()) >= 2  # (one failure holds the others of the swarm)
    assert [e for e in await a2.poll_swarm() if e.kind == "sent"] == []
    await a1.stop()  # restart with the outbox full

    for node in own:
        node.refuse_stores = False
    a1 = make(net, tmp_path, "a1", alice)
    await a1.start(loops=False)
    assert len(a1.outbox) == 2
    await asyncio.sleep(0.21)  # past the longest backoff
    await a1.poll_swarm()
    assert len(a1.outbox) == 0 and a1.stats.sync_copies == 1
    got = await a2.poll_swarm()
    assert [(e.kind, e.text) for e in got] == [("sent", "sent while our swarm is full")]
    assert a2.messenger.display_name == "Alice (laptop)"
    assert [e.text for e in await bob.poll_swarm() if e.kind == "message"] == ["sent while our swarm is full"]
    assert [m["body"] for m in a1.history(bob.session_id) if m["dir"] == "out"].count(
        "sent while our swarm is full") == 1  # its own copy, read back, is not shown twice
    for c in (a1, a2, bob):
        await c.stop()


async def test_a_failed_config_push_is_not_republished_with_new_seqnos_while_it_waits(tmp_path: Path) -> None:
    from session_core.client.devices import CONFIG_TTL_MS

    net = MemNetwork(8)
    alice = Identity.generate()
    a1 = make(net, tmp_path, "a1", alice)
    await a1.start(loops=False)
    assert a1.devices is not None
    for node in net.swarm_nodes(alice.session_id):
        node.refuse_stores = True
    a1.devices.config.profile.name = "Alice"
    assert await a1.push_config() == 1
    a1.devices.fresh_ms -= CONFIG_TTL_MS  # as if the swarm's copy were old: it would republish
    assert await a1.push_config() == 0  # the push waiting in the outbox is the republication
    assert a1.devices.config.states[b"UserProfile"].seqno == 1 and len(a1.outbox) == 1
    await a1.stop()
