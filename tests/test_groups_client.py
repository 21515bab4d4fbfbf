"""Closed groups end to end on the in-memory network: real node logic, onion paths, one store
per group message into the group's swarm, a kicked member who keeps polling and reads nothing."""

from __future__ import annotations

import asyncio
import base64
import random
from pathlib import Path

import pytest

from session_core.client import Client, ClientConfig
from session_core.client.clock import NetworkClock
from session_core.client.groups import GroupEvent, Groups
from session_core.errors import DeliveryError, NotGroupMemberError, StoreRefusedError
from session_core.identity import Identity
from session_core.protocol.groups import Group, GroupMessageReceived, GroupSigner
from session_core.protocol.groups.wire import KIND_KEYS, KIND_MESSAGE, seal_control
from session_core.testing.memnet import MemNetwork, MemTransport


def make(net: MemNetwork, tmp: Path, name: str, addr: str, identity: Identity | None = None) -> Client:
    cfg = ClientConfig([net.seed_url], tmp / name, poll_interval=0.05, request_timeout=2.0, sync=False)
    return Client(identity or Identity.generate(), name, cfg, transport=MemTransport(net, addr), rng=random.Random())


def group_copies(net: MemNetwork, gid: str) -> list[int]:
    """How many records each node of the group's swarm holds for the group."""
    return [len([m for m in n.store.messages(0) if m.pubkey == gid]) for n in net.swarm_nodes(gid)]


def msgs(events: list[GroupEvent]) -> list[str]:
    return [e.text for e in events if e.kind == "message"]


@pytest.fixture
async def trio(tmp_path: Path):  # type: ignore[no-untyped-def]
    net = MemNetwork(12)
    clients = [make(net, tmp_path, n, f"192.0.2.{i + 1}") for i, n in enumerate("abc")]
    for c in clients:
        await c.start(loops=False)
    a, b, c = clients
    ga, gb, gc = Groups(a), Groups(b), Groups(c)
    gid, reps = await ga.create([b.session_id, c.session_id])
    assert len(reps) == 2 and all(r.stored_on for r in reps)
    gb.join(gid)
    gc.join(gid)
    for g in (gb, gc):
        evs = await g.poll(gid)
        assert [e.kind for e in evs] == ["members"]
    yield net, gid, (a, b, c), (ga, gb, gc)
    for cl in clients:
        if not cl._closing:  # a test may have stopped (and restarted) one already
            await cl.stop()


async def test_one_store_per_group_message_read_by_all(trio) -> None:  # type: ignore[no-untyped-def]
    net, gid, _, (ga, gb, gc) = trio
    before = group_copies(net, gid)
    await gb.send(gid, "hello group")
    after = group_copies(net, gid)
    assert [y - x for x, y in zip(before, after)] == [1] * len(after)  # one record, replicated in the swarm
    assert msgs(await ga.poll(gid)) == ["hello group"]
    assert msgs(await gc.poll(gid)) == ["hello group"]
    assert msgs(await gc.poll(gid)) == []  # polled again: nothing twice
    assert [m["body"] for m in gc.history(gid)] == ["hello group"]


async def test_kicked_member_keeps_polling_and_reads_nothing_after(trio) -> None:  # type: ignore[no-untyped-def]
    net, gid, (a, b, c), (ga, gb, gc) = trio
    await ga.send(gid, "before the kick")
    assert msgs(await gc.poll(gid)) == ["before the kick"]
    before_kick = gc.get(gid).to_json()
    await ga.send(gid, "last before the kick")  # C does not poll it before the kick
    reps = await ga.kick(gid, [c.session_id])
    assert len(reps) == 1  # ONE store for kick + rekey
    assert [e.kind for e in await gb.poll(gid)] == ["message", "message", "members"]
    for i in range(3):
        await ga.send(gid, f"admin after {i}")
        await gb.send(gid, f"member after {i}")
    evs = await gc.poll(gid)  # C still polls the same swarm, through onions, and gets every record
    assert [e.kind for e in evs] == ["message", "removed"]
    assert gc.stats.refused >= 6 and set(gc.stats.refused_kinds) == {"GroupKeyUnavailableError"}
    assert msgs(await gb.poll(gid)) == [f"admin after {i}" for i in range(3)]
    # A kicked member whose client ignores the kick (the state from before it) and reads every
    # record of the swarm directly still opens nothing written after the kick.
    stubborn = Group.from_json(c.identity, before_kick)
    opened = []
    for node in net.swarm_nodes(gid):
        for m in node.store.messages(0):
            if m.pubkey == gid and base64.b64decode(m.data)[0] == KIND_MESSAGE:
                try:
                    opened += stubborn.receive(base64.b64decode(m.data), a.clock.now_ms())
                except ValueError:  # DecryptionError, GroupKeyUnavailableError, DuplicateMessageError
                    continue
    assert [e.text for e in opened if isinstance(e, GroupMessageReceived)] == ["last before the kick"]
    with pytest.raises(NotGroupMemberError):
        await gc.send(gid, "let me back in")


async def test_swarm_refuses_a_kicked_members_messages(trio) -> None:  # type: ignore[no-untyped-def]
    """After the kick no node of the group's swarm takes a record from the kicked member, even one
    whose client ignores the kick (the state from before it, a valid store proof of then)."""
    net, gid, (a, b, c), (ga, gb, gc) = trio
    stale = Group.from_json(c.identity, gc.get(gid).to_json())
    await ga.kick(gid, [c.session_id])
    before = group_copies(net, gid)
    out = stale.send_text("still here?", a.clock.now_ms())
    with pytest.raises(StoreRefusedError, match="generation 0 refused: the group is at generation 1"):
        await gc._router(gid).store(gid, out.data, out.ttl_ms)
    with pytest.raises(NotGroupMemberError, match="removed from the group"):
        await gc.send(gid, "let me back in")  # the client reads the kick, then says why
    assert group_copies(net, gid) == before


async def test_a_member_who_missed_a_rekey_sends_under_the_new_key(trio) -> None:  # type: ignore[no-untyped-def]
    net, gid, (a, b, c), (ga, gb, gc) = trio
    await ga.kick(gid, [c.session_id])
    assert gb.get(gid).generation == 0  # B has not read the rekey yet
    rep = await gb.send(gid, "sent after the kick")  # refused as generation 0, re-made as 1
    assert rep.stored_on and gb.get(gid).generation == 1
    assert msgs(await ga.poll(gid)) == ["sent after the kick"]
    assert msgs(await gc.poll(gid)) == []


async def test_the_newest_generation_survives_a_node_restart(trio) -> None:  # type: ignore[no-untyped-def]
    from session_core.node.group_generations import GroupGenerations

    net, gid, (a, b, c), (ga, gb, gc) = trio
    await ga.kick(gid, [c.session_id])
    for node in net.swarm_nodes(gid):
        fresh = GroupGenerations(node.store)  # what a restarted node builds from its own store
        assert fresh.newest(gid, a.clock.now_ms()) == 1


async def test_swarm_refuses_a_kick_forged_by_a_member(trio) -> None:  # type: ignore[no-untyped-def]
    net, gid, (a, b, c), (ga, gb, gc) = trio
    real = ga.get(gid)
    assert real.signer is not None
    body = real.last_keys[1:-64]
    forged = seal_control(GroupSigner.generate(), KIND_KEYS, body)
    before = group_copies(net, gid)
    with pytest.raises(DeliveryError):
        await gb._router(gid).store(gid, forged, 3_600_000)
    assert group_copies(net, gid) == before
    assert c.session_id in gb.get(gid).members()


async def test_leave_is_answered_by_the_admin_with_a_rekey(trio) -> None:  # type: ignore[no-untyped-def]
    net, gid, (a, b, c), (ga, gb, gc) = trio
    await gc.leave(gid)
    evs = await ga.poll(gid)  # the admin sees the request and rekeys at once
    assert [e.kind for e in evs] == ["leave_request"]
    assert c.session_id not in ga.get(gid).members()
    assert [e.kind for e in await gb.poll(gid)] == ["leave_request", "members"]
    assert c.session_id not in gb.get(gid).members()
    assert await gc.poll(gid) == []  # a member who left stops polling


async def test_group_state_survives_a_restart(trio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    net, gid, (a, b, c), (ga, gb, gc) = trio
    await ga.send(gid, "one")
    assert msgs(await gb.poll(gid)) == ["one"]
    ident = b.identity
    await b.stop()
    b2 = make(net, tmp_path, "b", "192.0.2.2", identity=ident)
    await b2.start(loops=False)
    gb2 = Groups(b2)
    await ga.send(gid, "two")
    assert msgs(await gb2.poll(gid)) == ["two"]  # neither "one" again nor lost keys
    await gb2.send(gid, "back")
    assert msgs(await ga.poll(gid)) == ["back"]
    await b2.stop()


async def test_a_kick_the_swarm_did_not_take_is_stored_again_on_the_next_poll(trio) -> None:  # type: ignore[no-untyped-def]
    net, gid, (a, b, c), (ga, gb, gc) = trio
    swarm = net.swarm_nodes(gid)
    for n in swarm:
        n.down = True
    with pytest.raises(DeliveryError):
        await asyncio.wait_for(ga.kick(gid, [c.session_id]), 30)
    for n in swarm:
        n.down = False
    a.pool.failures.clear()
    await ga.poll(gid)  # stores the key message (and roster) again
    assert [e.kind for e in await gb.poll(gid)] == ["members"]
    assert gb.get(gid).generation == 1 and c.session_id not in gb.get(gid).members()


async def test_member_away_longer_than_every_ttl_catches_up_from_the_swarm(tmp_path: Path) -> None:
    """Five days away: every record the member missed expired from the swarm (keys live 96 h);
    the admin's client re-stored the current key message and roster, so it catches up."""
    net = MemNetwork(12)
    clients = []
    for i, name in enumerate("abc"):
        cfg = ClientConfig([net.seed_url], tmp_path / name, request_timeout=2.0, sync=False)
        clients.append(Client(Identity.generate(), name, cfg, transport=MemTransport(net, f"192.0.2.{i + 1}"),
                              clock=NetworkClock(local=net.now_ms), rng=random.Random()))
    for cl in clients:
        await cl.start(loops=False)
    a, b, c = clients
    try:
        ga, gb, gc = Groups(a), Groups(b), Groups(c)
        gid, _ = await ga.create([b.session_id, c.session_id, Identity.generate().session_id])
        gb.join(gid)
        gc.join(gid)  # ... and then C goes offline
        await gb.poll(gid)
        await ga.send(gid, "while C was away")
        gone = next(m for m in ga.get(gid).members() if m not in (a.session_id, b.session_id, c.session_id))
        await ga.kick(gid, [gone])
        await ga.poll(gid)  # stores the roster snapshot of the new generation
        net.offset_ms += 5 * 24 * 3_600_000
        assert all(not [m for m in n.store.messages(net.now_ms()) if m.pubkey == gid] for n in net.swarm_nodes(gid))
        await ga.poll(gid)  # the admin's refresh: key message and roster stored again
        evs = await gc.poll(gid)
        assert [e.kind for e in evs] == ["members"] and gc.get(gid).generation == 1
        assert gc.get(gid).members() == ga.get(gid).members()
        await gb.poll(gid)  # B was away too: the refreshed key message brings it to generation 1
        assert gb.get(gid).generation == 1
        await gb.send(gid, "welcome back")
        assert [e.text for e in await gc.poll(gid) if e.kind == "message"] == ["welcome back"]
    finally:
        for cl in clients:
            await cl.stop()
