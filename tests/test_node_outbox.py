"""The replication outbox: an acknowledged client store reaches the swarm even when the node is
killed before its replicator sent it (found by the soak test, issue 11)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from session_core.bench.loadgen import random_pubkey, store_params
from session_core.errors import PeerTimeoutError
from session_core.node import replication
from session_core.node.clock import now_ms
from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.powcheck import message_hash
from session_core.node.replicator import Replicator
from session_core.node.stats import NodeStats
from session_core.node.store import SqliteStore

MAX_TTL = 96 * 3600 * 1000
ME, PEER = "aa" * 32, "bb" * 32
SWARM = 7


def message(ttl: int = 3_600_000) -> Message:
    ts = now_ms()
    p = store_params(random_pubkey(), os.urandom(20), ttl, ts, 1)
    h = message_hash(p["nonce"], ts, ttl, p["pubKey"], p["data"])
    assert h is not None
    return Message(pubkey=p["pubKey"], hash=h, data=p["data"], ttl=ttl, timestamp=ts, nonce=p["nonce"])


class Peers:
    """Stands in for PeerClient: records ``data`` batches, or times out while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.got: list[Message] = []

    async def request(self, x25519: str, ip: str, port: int, cmd: bytes, parts: list[bytes], timeout: float) -> list[bytes]:
        if self.down:
            raise PeerTimeoutError("peer is down")
        assert cmd == b"data"
        for blob in parts:
            self.got += replication.parse_batch(blob)
        return [b"OK", b"1"]


def view() -> NetworkView:
    nodes = (SnodeInfo(ME, "01" * 32, "127.0.0.1", 1, 2, SWARM), SnodeInfo(PEER, "02" * 32, "127.0.0.1", 3, 4, SWARM))
    return NetworkView(1, "00" * 32, nodes)


def replicator(db: SqliteStore, peers: Peers) -> Replicator:
    v = view()
    peer_client: Any = peers
    return Replicator(ME, db, DifficultyTracker(DifficultyPolicy(base=1)), peer_client, lambda: v, NodeStats(),
                      MAX_TTL, outbox=db)


def test_client_stores_enter_the_outbox_in_their_transaction(tmp_path: Path) -> None:
    db = SqliteStore(tmp_path / "m.db")
    a, b, c = message(), message(), message()
    assert db.save_each([a, b]) == [True, True]
    assert db.save_each([a]) == [False]  # a retry: already queued, not twice
    assert db.save_many([c]) == 1  # from a peer: not ours to replicate
    db.close()
    db = SqliteStore(tmp_path / "m.db")  # what a restarted node finds
    assert db.outbox_messages(now_ms()) == [a, b]
    db.outbox_remove([a.hash])
    assert db.outbox_messages(now_ms()) == [b]
    assert db.outbox_messages(b.expiration) == []  # expired: dropped from the outbox too
    db.close()


def test_message_acked_then_node_killed_is_replicated_after_restart(tmp_path: Path) -> None:
    async def scenario() -> None:
        peers = Peers()
        db = SqliteStore(tmp_path / "m.db")
        rep = replicator(db, peers)
        m = message()
        assert db.save_each([m]) == [True]  # committed: the client is acknowledged now
        rep.on_stored(m)
        db.close()  # ... and the node is killed before its next replication round

        db = SqliteStore(tmp_path / "m.db")
        rep = replicator(db, peers)  # the restarted node: empty RAM queue
        assert rep.restore() == 1
        await rep.replicate_once()
        assert peers.got == [m]
        assert db.outbox_messages(now_ms()) == []  # taken: nothing left to re-send
        db.close()

    asyncio.run(scenario())


def test_outbox_keeps_what_a_down_peer_has_not_taken(tmp_path: Path) -> None:
    async def scenario() -> None:
        peers = Peers()
        db = SqliteStore(tmp_path / "m.db")
        rep = replicator(db, peers)
        m1, m2 = message(), message()
        db.save_each([m1])
        rep.on_stored(m1)
        await rep.replicate_once()
        assert peers.got == [m1] and db.outbox_messages(now_ms()) == []
        peers.down = True
        db.save_each([m2])
        rep.on_stored(m2)
        await rep.replicate_once()  # the peer's backlog holds m2, so does the outbox
        assert db.outbox_messages(now_ms()) == [m2]
        db.close()
        db = SqliteStore(tmp_path / "m.db")  # we restart while the peer is still down ...
        rep = replicator(db, peers)
        assert rep.restore() == 1
        await rep.replicate_once()
        assert db.outbox_messages(now_ms()) == [m2]
        peers.down = False  # ... and it comes back
        await rep.replicate_once()
        assert peers.got == [m1, m2] and db.outbox_messages(now_ms()) == []
        db.close()

    asyncio.run(scenario())
