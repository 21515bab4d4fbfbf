"""Who may hand a node records, and how much a catch-up answer may be (issue 11 items 4, 7):
the Replicator in memory, with a NetworkView the test writes, no sockets."""

from __future__ import annotations

import os
import time
from typing import Any

from session_core.bench.loadgen import random_pubkey, store_params
from session_core.node import catchup, replication
from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.powcheck import message_hash
from session_core.node.replicator import Replicator
from session_core.node.stats import NodeStats
from session_core.node.store import MemoryStore

A, B = 1 << 40, 1 << 62  # two swarm ids


def node(i: int, swarm: int) -> SnodeInfo:
    return SnodeInfo(f"{i:064x}", f"{i + 1000:064x}", "127.0.0.1", 1, 2, swarm)


# Nodes 1-3 form swarm A, 4-6 swarm B.
NODES = tuple(node(i, A if i <= 3 else B) for i in range(1, 7))
VIEW = NetworkView(1, "aa" * 32, NODES)
ME, MATE, STRANGER = NODES[0], NODES[1], NODES[3]


def key_of(swarm: int, view: NetworkView = VIEW) -> str:
    while True:
        pk = random_pubkey()
        if view.swarm_for_pubkey(pk) == swarm:
            return pk


def message(pk: str, size: int = 30) -> Message:
    ts = int(time.time() * 1000)
    p = store_params(pk, os.urandom(size), 600_000, ts, 1)
    h = message_hash(p["nonce"], ts, 600_000, p["pubKey"], p["data"])
    assert h is not None
    return Message(pubkey=p["pubKey"], hash=h, data=p["data"], ttl=600_000, timestamp=ts, nonce=p["nonce"])


class Box:
    view: NetworkView | None = VIEW


def replicator(store: MemoryStore | None = None, box: Box | None = None) -> Replicator:
    box = box or Box()
    r = Replicator(ME.ed25519, store or MemoryStore(), DifficultyTracker(DifficultyPolicy(base=1)),
                   None,  # type: ignore[arg-type]  # no network in these tests
                   lambda: box.view, NodeStats(), 96 * 3600 * 1000)
    if box.view is not None:
        r.on_view(box.view)
    return r


def batch(*msgs: Message) -> list[bytes]:
    return replication.serialize_batches(list(msgs))


# -- item 4: data -------------------------------------------------------------------------------


def test_a_node_of_another_swarm_cannot_push_records_at_all() -> None:
    r = replicator()
    ours, theirs = message(key_of(A)), message(key_of(B))
    got = r.accept(batch(ours, theirs), STRANGER.x25519)
    assert (got.new, got.taken, got.refused) == (0, 0, 2)
    assert r.store.count(int(time.time() * 1000)) == 0


def test_a_swarm_member_cannot_push_records_of_another_swarm() -> None:
    r = replicator()
    ours, theirs = message(key_of(A)), message(key_of(B))
    got = r.accept(batch(ours, theirs), MATE.x25519)
    assert (got.new, got.refused) == (1, 1)
    now = int(time.time() * 1000)
    assert r.store.get(ours.hash, now) is not None and r.store.get(theirs.hash, now) is None


def test_an_unregistered_sender_is_refused() -> None:
    r = replicator()
    got = r.accept(batch(message(key_of(A))), "ee" * 32)
    assert got.taken == 0 and got.refused == 1


def test_the_previous_owners_may_hand_records_over_after_a_change() -> None:
    # Block 2: swarm B is dissolved, node 4 joins A, nodes 5 and 6 are gone.  The records
    # of B's users now belong to A, handed over by B's old members.
    box = Box()
    r = replicator(box=box)
    pk = key_of(B)
    later = NetworkView(2, "bb" * 32, tuple(SnodeInfo(n.ed25519, n.x25519, n.ip, 1, 2, A) for n in NODES[:4]))
    box.view = later
    r.on_view(later)
    # Node 4 was in B (the owner of pk) a block ago and is in our swarm now: taken.
    assert r.accept(batch(message(pk)), NODES[3].x25519).new == 1
    # Node 5 was in B too and has left the list (ZMQ would no longer admit it): a hand-over
    # sent before it left is still taken, it owned pk.  A node that never saw B own pk
    # (no earlier view) takes nothing from it.
    assert r.accept(batch(message(pk)), NODES[4].x25519).new == 1
    outsider = Replicator(ME.ed25519, MemoryStore(), DifficultyTracker(DifficultyPolicy(base=1)),
                          None, lambda: later, NodeStats(), 96 * 3600 * 1000)  # type: ignore[arg-type]
    outsider.on_view(later)
    assert outsider.accept(batch(message(pk)), NODES[4].x25519).taken == 0  # it never saw B own pk


# -- item 7: catchup ----------------------------------------------------------------------------


def fill(store: MemoryStore, n: int, swarm: int, size: int = 1000) -> list[Message]:
    msgs = [message(key_of(swarm), size) for _ in range(n)]
    store.save_many(msgs)
    return msgs


def test_catchup_is_refused_to_nodes_outside_our_swarm() -> None:
    store = MemoryStore()
    fill(store, 5, A)
    r = replicator(store)
    assert r.catchup_reply(STRANGER.x25519, [])[0] == b"421"
    assert r.catchup_reply("ee" * 32, [])[0] == b"421"
    assert r.catchup_reply(MATE.x25519, [])[0] == b"OK"


def test_catchup_pages_are_capped_and_the_asker_pages_through_everything() -> None:
    store = MemoryStore()
    mine = fill(store, 300, A, size=20_000)  # ~6 MB of records for swarm A
    fill(store, 50, B)
    r = replicator(store)
    r._pages = catchup.PageLimiter(rate=1e9, burst=1e9)
    got: list[Message] = []
    cursor = b""
    pages = 0
    while True:
        parts = r.catchup_reply(MATE.x25519, [cursor])
        assert parts[0] == b"OK"
        page = [m for blob in parts[2:] for m in replication.parse_batch(blob)]
        assert sum(len(m.data) for m in page) <= catchup.PAGE_BYTES + 20_000 * 4 // 3 + 100
        got += page
        pages += 1
        cursor = parts[1]
        if not cursor:
            break
    assert pages >= 3
    assert sorted(m.hash for m in got) == sorted(m.hash for m in mine)


def test_catchup_is_rate_limited_per_peer() -> None:
    store = MemoryStore()
    fill(store, 3, A)
    r = replicator(store)
    now = [0.0]
    r._pages = catchup.PageLimiter(rate=2.0, burst=4.0, clock=lambda: now[0])
    answers = [r.catchup_reply(MATE.x25519, [])[0] for _ in range(6)]
    assert answers == [b"OK"] * 4 + [b"429"] * 2
    assert r.catchup_reply(NODES[2].x25519, [])[0] == b"OK"  # another member has its own budget
    now[0] += 1.0
    assert [r.catchup_reply(MATE.x25519, [])[0] for _ in range(3)] == [b"OK", b"OK", b"429"]


def test_catchup_cursor_must_be_a_number() -> None:
    r = replicator()
    for bad in ([b"-1"], [b"1e9"], [b"9" * 40], [b"1", b"2"]):
        assert r.catchup_reply(MATE.x25519, bad)[0] == b"400"


def test_a_catchup_page_scans_a_bounded_number_of_rows() -> None:
    store = MemoryStore()
    fill(store, 120, B)
    mine = fill(store, 3, A)
    parts: Any = catchup.serve_page(store, VIEW, A, 0, int(time.time() * 1000), scan_rows=50)
    assert parts[1] == b"50" and len(parts) == 2  # nothing of ours in the first 50 rows
    parts = catchup.serve_page(store, VIEW, A, 100, int(time.time() * 1000), scan_rows=50)
    assert parts[1] == b"" and [m.hash for b in parts[2:] for m in replication.parse_batch(b)] == [m.hash for m in mine]
