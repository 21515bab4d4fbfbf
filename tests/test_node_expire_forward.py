"""`expire` reaches the whole swarm from one member (upstream's requests are recursive): the
replicator forwards the owner's signed proof, peers check it themselves, an unreachable peer
gets it from the backlog, a restarted one by catch-up, a proof that arrives before its message
waits for it; hostile proofs (forged, widened, later, other swarm's, malformed) change nothing.
Also `retrieve` reports the current expiry.  All in memory: Replicators wired by a fake peer
client, no sockets."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest

from session_core.bench.loadgen import store_params
from session_core.errors import PeerTimeoutError, ReplicationBatchError
from session_core.identity import Identity
from session_core.node import replication
from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
from session_core.node.expiry_proofs import ExpiryProof, ExpiryProofError
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.powcheck import message_hash
from session_core.node.replicator import Replicator
from session_core.node.stats import NodeStats
from session_core.node.storage_rpc import StorageRPC
from session_core.node.store import MemoryStore
from session_core.protocol import storage_auth

A, B = 1 << 40, 1 << 62  # two swarm ids
MAX_TTL = 96 * 3600 * 1000


def node(i: int, swarm: int) -> SnodeInfo:
    return SnodeInfo(f"{i:064x}", f"{i + 1000:064x}", "127.0.0.1", 1, 2, swarm)


NODES = tuple(node(i, A if i <= 3 else B) for i in range(1, 7))  # 1-3: swarm A, 4-6: swarm B
VIEW = NetworkView(1, "aa" * 32, NODES)


def owner_in(swarm: int) -> Identity:
    while True:
        ident = Identity.generate()
        if VIEW.swarm_for_pubkey(ident.session_id) == swarm:
            return ident


def now() -> int:
    return int(time.time() * 1000)


def message(pk: str, ttl: int = 600_000) -> Message:
    ts = now()
    p = store_params(pk, os.urandom(24), ttl, ts, 1)
    h = message_hash(p["nonce"], ts, ttl, p["pubKey"], p["data"])
    assert h is not None
    return Message(pubkey=p["pubKey"], hash=h, data=p["data"], ttl=ttl, timestamp=ts, nonce=p["nonce"])


def proof(owner: Identity, hashes: list[str], expiry: int) -> ExpiryProof:
    p = storage_auth.expire_params(owner, hashes, expiry)
    return ExpiryProof(owner.session_id, str(p["pubkey_ed25519"]), str(p["signature"]), expiry, True, tuple(hashes))


class Net:
    """Replicators of nodes 1-6, each on a MemoryStore; requests go straight to the addressee."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.calls: list[tuple[str, bytes]] = []  # (to x25519, command)
        self.view = VIEW
        self.reps = {n.x25519: self._make(n) for n in NODES}

    def _make(self, n: SnodeInfo) -> Replicator:
        peers: Any = self
        r = Replicator(n.ed25519, MemoryStore(), DifficultyTracker(DifficultyPolicy(base=1)), peers,
                       lambda: self.view, NodeStats(), MAX_TTL)
        r.on_view(self.view)
        return r

    def join(self, n: SnodeInfo) -> Replicator:
        """A new node in the next block's view."""
        self.view = NetworkView(2, "bb" * 32, (*self.view.nodes, n))
        for r in self.reps.values():
            r.on_view(self.view)
        self.reps[n.x25519] = self._make(n)
        return self.reps[n.x25519]

    def rep(self, i: int) -> Replicator:
        return self.reps[NODES[i - 1].x25519]

    def sender_of(self, i: int) -> str:
        return NODES[i - 1].x25519

    async def request(self, x25519: str, ip: str, port: int, cmd: bytes, parts: list[bytes], timeout: float) -> list[bytes]:
        if x25519 in self.down:
            raise PeerTimeoutError("peer is down")
        self.calls.append((x25519, cmd))
        r = self.reps[x25519]
        me = next(n for n in self.view.nodes if n.x25519 == x25519)
        sender = next(n.x25519 for n in self.view.nodes if n.ed25519 != me.ed25519 and n.swarm_id == me.swarm_id)
        if cmd == b"data":
            r.accept(parts, sender)
        elif cmd == b"expire":
            got = r.accept_expiries(parts, sender)
            if got.refused and not got.taken:
                return [b"421", b"no"]
        else:
            raise AssertionError(cmd)
        return [b"OK", b"0"]


def rpc_for(r: Replicator) -> StorageRPC:
    return StorageRPC(r.store, lambda: VIEW, r.me, r.difficulty, now)


def expire_body(owner: Identity, hashes: list[str], expiry: int) -> bytes:
    return json.dumps({"method": "expire", "params": storage_auth.expire_params(owner, hashes, expiry)}).encode()


def expirations(r: Replicator, pk: str) -> dict[str, int]:
    return {m.hash: m.expiration for m in r.store.retrieve(pk, "", 100, now())}


def test_one_expire_reaches_every_member_and_retrieve_reports_it() -> None:
    net = Net()
    bob = owner_in(A)
    m1, m2 = message(bob.session_id), message(bob.session_id)
    for i in (1, 2, 3):
        net.rep(i).store.save_many([m1, m2])
    entry = net.rep(1)
    new_expiry = now() + 5_000
    out = rpc_for(entry).handle(expire_body(bob, [m1.hash], new_expiry))
    assert out.reply.status == 200 and out.expired is not None and out.expired_missing == ()
    entry.on_expired(out.expired, out.expired_missing)
    # Before the round: only the entry shortened it, and its retrieve says so (item 2).
    doc = json.loads(rpc_for(entry).handle(json.dumps(
        {"method": "retrieve", "params": {"pubKey": bob.session_id, "lastHash": ""}}).encode()).reply.body)
    assert {m["hash"]: m["expiration"] for m in doc["messages"]} == {m1.hash: new_expiry, m2.hash: m2.expiration}
    assert expirations(net.rep(2), bob.session_id)[m1.hash] == m1.expiration
    asyncio.run(entry.replicate_once())
    for i in (1, 2, 3):
        assert expirations(net.rep(i), bob.session_id) == {m1.hash: new_expiry, m2.hash: m2.expiration}
        assert [m.hash for m in net.rep(i).store.retrieve(bob.session_id, "", 10, new_expiry)] == [m2.hash]
    # Swarm B's nodes were never asked (not ours to tell).
    assert {x for x, _ in net.calls} == {net.sender_of(2), net.sender_of(3)}
    # Peers do not forward it again (no loops): nothing queued on them.
    for i in (2, 3):
        net.calls.clear()
        asyncio.run(net.rep(i).replicate_once())
        assert net.calls == []


def test_an_unreachable_member_gets_the_expire_from_the_backlog() -> None:
    net = Net()
    bob = owner_in(A)
    m = message(bob.session_id)
    for i in (1, 2, 3):
        net.rep(i).store.save_many([m])
    net.down.add(net.sender_of(3))
    entry = net.rep(1)
    t = now() + 7_000
    out = rpc_for(entry).handle(expire_body(bob, [m.hash], t))
    assert out.expired is not None
    entry.on_expired(out.expired)
    asyncio.run(entry.replicate_once())
    assert expirations(net.rep(2), bob.session_id) == {m.hash: t}
    assert expirations(net.rep(3), bob.session_id) == {m.hash: m.expiration}  # it was away
    net.down.clear()
    asyncio.run(entry.replicate_once())
    assert expirations(net.rep(3), bob.session_id) == {m.hash: t}


def test_a_restarted_member_catches_up_on_kept_proofs() -> None:
    net = Net()
    bob, carol = owner_in(A), owner_in(B)
    m, other = message(bob.session_id), message(carol.session_id)
    for i in (1, 2, 3):
        net.rep(i).store.save_many([m, other])
    t = now() + 9_000
    p = proof(bob, [m.hash], t)
    mate = net.rep(2)
    assert mate.accept_expiries([p.encode()], net.sender_of(1)).new == 1
    # Carol's proof is kept too (in this test her message sits on swarm A's stores by hand).
    mate.store.expire(carol.session_id, [other.hash], t, now(), proof(carol, [other.hash], t).encode())
    # Node 3 was down and comes back with its old database: it asks node 2 for the kept proofs.
    page = mate.expiry_catchup_reply(net.sender_of(3), [b""])
    assert page[0] == b"OK" and page[1] == b"" and len(page[2:]) == 1  # only swarm A's owners
    got = net.rep(3).accept_expiries(page[2:], net.sender_of(2))
    assert got.new == 1 and expirations(net.rep(3), bob.session_id) == {m.hash: t}
    # Another swarm's node and a malformed cursor are refused.
    assert mate.expiry_catchup_reply(net.sender_of(4), [b""])[0] == b"421"
    assert mate.expiry_catchup_reply(net.sender_of(3), [b"x1"])[0] == b"400"
    # Once the message is purged the proof is gone too.
    mate.store.purge_expired(t + 1)
    assert mate.store.expiry_proofs_after(0, 10, now()) == []


def test_a_proof_that_comes_before_its_message_waits_for_it() -> None:
    net = Net()
    bob = owner_in(A)
    m = message(bob.session_id)
    r = net.rep(3)
    t = now() + 4_000
    got = r.accept_expiries([proof(bob, [m.hash], t).encode()], net.sender_of(1))
    assert (got.new, got.taken) == (0, 1) and len(r.pending) == 1
    r.accept(replication.serialize_batches([m]), net.sender_of(2))
    assert expirations(r, bob.session_id) == {m.hash: t} and len(r.pending) == 0


def test_the_entry_member_without_the_message_still_forwards_and_applies_it_later() -> None:
    net = Net()
    bob = owner_in(A)
    m = message(bob.session_id)
    for i in (2, 3):
        net.rep(i).store.save_many([m])
    entry = net.rep(1)
    t = now() + 6_000
    out = rpc_for(entry).handle(expire_body(bob, [m.hash], t))
    assert out.reply.status == 200 and out.expired is not None and out.expired_missing == (m.hash,)
    entry.on_expired(out.expired, out.expired_missing)
    asyncio.run(entry.replicate_once())
    assert expirations(net.rep(2), bob.session_id) == {m.hash: t} == expirations(net.rep(3), bob.session_id)
    entry.accept(replication.serialize_batches([m]), net.sender_of(2))  # its copy arrives late
    assert expirations(entry, bob.session_id) == {m.hash: t}


def test_hostile_proofs_change_nothing() -> None:
    net = Net()
    bob, mallory = owner_in(A), owner_in(A)
    m = message(bob.session_id)
    r = net.rep(2)
    r.store.save_many([m])
    t = now() + 5_000
    good = proof(bob, [m.hash], t)
    forged = [
        ExpiryProof(bob.session_id, good.pubkey_ed25519, good.signature, t + 1, True, good.hashes),  # time moved
        ExpiryProof(bob.session_id, good.pubkey_ed25519, good.signature, t, True, (m.hash, "ff" * 64)),  # widened
        ExpiryProof(bob.session_id, good.pubkey_ed25519, good.signature, t, False, good.hashes),  # flag changed
        # Mallory signs with her key for Bob's mailbox.
        ExpiryProof(bob.session_id, proof(mallory, [m.hash], t).pubkey_ed25519,
                    proof(mallory, [m.hash], t).signature, t, True, good.hashes),
    ]
    for p in forged:
        got = r.accept_expiries([p.encode()], net.sender_of(1))
        assert (got.new, got.taken, got.refused) == (0, 0, 1)
    # The owner's proof from a node outside the swarm: refused too.
    assert r.accept_expiries([good.encode()], net.sender_of(4)).refused == 1
    assert expirations(r, bob.session_id) == {m.hash: m.expiration} and len(r.pending) == 0
    # A malformed frame anywhere in a request: an error, and nothing of the request applied.
    for bad in (b"", b"{", b"[]", b"x" * 300_000, json.dumps({**json.loads(good.encode()), "expiry": -1}).encode(),
                json.dumps({**json.loads(good.encode()), "messages": []}).encode(),
                json.dumps({**json.loads(good.encode()), "pubkey": "05zz"}).encode(),
                json.dumps({**json.loads(good.encode()), "shorten": "yes"}).encode()):
        with pytest.raises(ExpiryProofError) as exc:
            r.accept_expiries([good.encode(), bad], net.sender_of(1))
        assert isinstance(exc.value, ReplicationBatchError) and isinstance(exc.value, ValueError)
    assert expirations(r, bob.session_id) == {m.hash: m.expiration}
    # The owner's own proof applies; a replayed later one cannot extend it.
    assert r.accept_expiries([good.encode()], net.sender_of(1)).new == 1
    later = proof(bob, [m.hash], t + 60_000)
    assert r.accept_expiries([later.encode()], net.sender_of(1)).new == 0
    assert expirations(r, bob.session_id) == {m.hash: t}


def test_a_refused_expire_is_not_forwarded() -> None:
    net = Net()
    bob, mallory = owner_in(A), owner_in(A)
    m = message(bob.session_id)
    entry = net.rep(1)
    entry.store.save_many([m])
    forged = storage_auth.expire_params(mallory, [m.hash], now() + 1_000)
    forged["pubkey"] = bob.session_id
    out = rpc_for(entry).handle(json.dumps({"method": "expire", "params": forged}).encode())
    assert out.reply.status == 401 and out.expired is None
    out = rpc_for(entry).handle(json.dumps({"method": "expire", "params": {**forged, "messages": []}}).encode())
    assert out.reply.status == 400 and out.expired is None


def test_a_node_joining_the_swarm_gets_the_kept_proofs_with_the_messages() -> None:
    from session_core.node.membership import Membership
    from session_core.swarm import SwarmEvents

    net = Net()
    bob = owner_in(A)
    m = message(bob.session_id)
    old = net.rep(1)
    old.store.save_many([m])
    t = now() + 8_000
    assert old.accept_expiries([proof(bob, [m.hash], t).encode()], net.sender_of(2)).new == 1
    newcomer_info = node(7, A)
    newcomer = net.join(newcomer_info)
    membership = Membership(old.me, old.store, old, lambda coro: None)
    asyncio.run(membership.push_for_events(SwarmEvents(A, new_snodes=(newcomer_info.ed25519,)), net.view))
    assert expirations(newcomer, bob.session_id) == {m.hash: t}  # not the paid-for expiry
    assert [c for _, c in net.calls] == [b"data", b"expire"]  # messages first, then the proofs
