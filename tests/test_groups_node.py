"""The group swarm refuses admin-only records not signed by the group key (store and replication)."""

from __future__ import annotations

import base64

from session_core.bench.loadgen import rpc_bytes, store_params
from session_core.identity import Identity
from session_core.node import powcheck, replication
from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.storage_rpc import StorageRPC
from session_core.node.store import MemoryStore
from session_core.protocol.groups import Group, GroupSigner
from session_core.protocol.groups.wire import KIND_KEYS, MEMBER_AUTH_BYTES, node_refusal, seal_control

NOW = 1_800_000_000_000
TTL = 3_600_000
ME = SnodeInfo(ed25519="11" * 32, x25519="22" * 32, ip="127.0.0.1", http_port=20000, zmq_port=30000, swarm_id=0)
VIEW = NetworkView(height=1, block_hash="ab" * 32, nodes=(ME,))  # one swarm: it holds every key


def rpc() -> tuple[StorageRPC, MemoryStore]:
    store = MemoryStore()
    return StorageRPC(store, lambda: VIEW, ME.ed25519, DifficultyTracker(DifficultyPolicy(base=1)), lambda: NOW), store


def store(r: StorageRPC, pubkey: str, data: bytes) -> int:
    return r.handle(rpc_bytes("store", store_params(pubkey, data, TTL, NOW, 1))).reply.status


def setup_group(now: int = NOW) -> tuple[Group, Group, Group]:
    """An admin and two members who have read the group's first records (at *now*)."""
    a, b, c = Identity.generate(), Identity.generate(), Identity.generate()
    ga, outs = Group.create(a, now, [b.session_id, c.session_id])
    gb, gc = Group.join(b, ga.group_id), Group.join(c, ga.group_id)
    for o in outs:
        gb.receive(o.data, now)
        gc.receive(o.data, now)
    return ga, gb, gc


def test_swarm_stores_admin_records_and_member_messages() -> None:
    ga, gb, gc = setup_group()
    r, st = rpc()
    assert store(r, ga.group_id, ga.last_keys) == 200
    assert store(r, ga.group_id, ga.last_roster) == 200
    assert store(r, ga.group_id, gb.send_text("hi", NOW).data) == 200
    assert store(r, ga.group_id, ga.kick([gc.me.session_id], NOW)[0].data) == 200
    assert len(list(st.messages(0))) == 4


def test_swarm_refuses_a_kick_not_signed_by_the_admin() -> None:
    ga, gb, _ = setup_group()
    r, st = rpc()
    body = ga.kick([gb.me.session_id], NOW)[0].data[1:-64]
    forged = seal_control(GroupSigner.generate(), KIND_KEYS, body)  # well formed, wrong key
    for bad in (forged, forged[:-64], forged[:-1] + bytes([forged[-1] ^ 1])):
        reply = r.handle(rpc_bytes("store", store_params(ga.group_id, bad, TTL, NOW, 1))).reply
        assert reply.status == 401 and "admin" in reply.body
    assert list(st.messages(0)) == []


def test_users_are_not_looked_at_and_group_records_must_prove_themselves() -> None:
    assert node_refusal("05" + "00" * 32, base64.b64encode(b"\x01junk").decode()) is None
    for junk in (b"\x10anything", b"\x01unsigned", b"\x7funknown kind"):
        assert node_refusal("03" + "00" * 32, base64.b64encode(junk).decode()) is not None


def test_swarm_refuses_messages_from_outside_the_group() -> None:
    ga, gb, gc = setup_group()
    r, st = rpc()
    good = gb.send_text("from a member", NOW).data
    outsider, _ = Group.create(Identity.generate(), NOW)  # its own group key certifies its store key
    foreign = outsider.send_text("spam", NOW).data
    no_proof = good[:-MEMBER_AUTH_BYTES]
    bad_sig = good[:-1] + bytes([good[-1] ^ 1])
    for bad in (foreign, no_proof, bad_sig):
        reply = r.handle(rpc_bytes("store", store_params(ga.group_id, bad, TTL, NOW, 1))).reply
        assert reply.status == 401 and "group record refused" in reply.body
    assert list(st.messages(0)) == []
    assert store(r, ga.group_id, good) == 200


def test_swarm_refuses_a_member_kicked_since_once_it_holds_the_rekey() -> None:
    ga, gb, gc = setup_group()
    r, st = rpc()
    assert store(r, ga.group_id, ga.last_keys) == 200
    (kick,) = ga.kick([gc.me.session_id], NOW)
    # A node that has not got the rekey yet cannot know: it takes the kicked member's message
    # (fails open; members refuse it, test_groups_bad_input).
    late = gc.send_text("kicked but still storing", NOW).data
    assert store(r, ga.group_id, late) == 200
    assert store(r, ga.group_id, kick.data) == 200
    reply = r.handle(rpc_bytes("store", store_params(ga.group_id, gc.send_text("again", NOW).data, TTL, NOW, 1))).reply
    assert reply.status == 401 and "generation 0 refused: the group is at generation 1" in reply.body
    stale_member = gb.send_text("sent before reading the rekey", NOW).data  # B, still a member
    assert store(r, ga.group_id, stale_member) == 401
    for o in [kick]:
        gb.receive(o.data, NOW)
    assert store(r, ga.group_id, gb.send_text("under the new key", NOW).data) == 200
    assert len(list(st.messages(0))) == 4  # keys, late, kick, the new-key message


def test_generations_learnt_by_replication_count_and_survive_a_restart() -> None:
    from session_core.node.group_generations import GroupGenerations

    ga, gb, gc = setup_group()
    r, st = rpc()
    assert store(r, ga.group_id, ga.last_keys) == 200
    gens = GroupGenerations(st)
    assert gens.newest(ga.group_id, NOW) == 0
    (kick,) = ga.kick([gc.me.session_id], NOW)
    p = store_params(ga.group_id, kick.data, TTL, NOW, 1)
    h = powcheck.check(p["nonce"], p["timestamp"], p["ttl"], p["pubKey"], p["data"], 1)
    assert h is not None
    copy = Message(pubkey=ga.group_id, hash=h, data=p["data"], ttl=TTL, timestamp=NOW, nonce=p["nonce"])
    assert st.save_if_new(copy)
    gens.noted(copy)  # what the replicator does with every copy it saves
    assert gens.newest(ga.group_id, NOW) == 1
    assert GroupGenerations(st).newest(ga.group_id, NOW) == 1  # rebuilt from the store
    assert gens.refusal(ga.group_id, base64.b64encode(gc.send_text("x", NOW).data).decode(), NOW) is not None
    assert gens.newest("03" + "00" * 32, NOW) is None  # a group this node holds nothing of


def test_replication_does_not_let_a_forged_kick_in() -> None:
    ga, gb, _ = setup_group()
    body = ga.kick([gb.me.session_id], NOW)[0].data[1:-64]
    tracker = DifficultyTracker(DifficultyPolicy(base=1))
    for data, ok in ((seal_control(GroupSigner.generate(), KIND_KEYS, body), False), (ga.last_keys, True)):
        p = store_params(ga.group_id, data, TTL, NOW, 1)
        h = powcheck.check(p["nonce"], p["timestamp"], p["ttl"], p["pubKey"], p["data"], 1)
        assert h is not None
        msg = Message(pubkey=ga.group_id, hash=h, data=p["data"], ttl=TTL, timestamp=NOW, nonce=p["nonce"])
        assert replication.verify(msg, NOW, tracker, 96 * 3_600_000) is ok
