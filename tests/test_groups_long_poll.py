"""Group members receive through held retrieves on the group's swarm (long-poll), woken by the
store of the group record: the poll interval here (60 s) is far beyond every wait in the test,
so a message can only arrive by a wake.  With ``long_poll_ms=0`` the fixed-interval rounds stay."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from session_core.client import Client, ClientConfig
from session_core.client.groups import GroupEvent, Groups
from session_core.identity import Identity
from session_core.node.waiters import WaitLimits, Waiters, pubkey_key
from session_core.testing.memnet import MemNetwork, MemTransport


def make(net: MemNetwork, tmp: Path, name: str, addr: str, **cfg: float) -> Client:
    config = ClientConfig([net.seed_url], tmp / name, request_timeout=2.0, sync=False, **cfg)  # type: ignore[arg-type]
    return Client(Identity.generate(), name, config, transport=MemTransport(net, addr), rng=random.Random())


async def next_message(g: Groups, timeout: float) -> GroupEvent:
    while True:
        e = await asyncio.wait_for(g.events.get(), timeout)
        if e.kind == "message":
            return e


def drain(g: Groups) -> list[GroupEvent]:
    out = []
    while not g.events.empty():
        out.append(g.events.get_nowait())
    return out


def held_for(net: MemNetwork, gid: str) -> int:
    """Retrieves held for the group by the nodes of its swarm."""
    return sum(len(n.rpc.waiters) for n in net.swarm_nodes(gid))


async def test_group_messages_arrive_by_wake_not_by_the_poll_interval(tmp_path: Path) -> None:
    net = MemNetwork(12)
    a, b, c = (make(net, tmp_path, n, f"192.0.2.{i + 1}", poll_interval=60.0, long_poll_ms=20_000)
               for i, n in enumerate("abc"))
    for cl in (a, b, c):
        await cl.start(loops=False)  # only the group loops run: nothing else can deliver
    ga, gb, gc = Groups(a), Groups(b), Groups(c)
    gid, _ = await ga.create([b.session_id, c.session_id])
    gb.join(gid)
    gc.join(gid)
    for g in (gb, gc):
        g.start()
    for g in (gb, gc):  # the first retrieve finds the key message and roster already there
        e = await asyncio.wait_for(g.events.get(), 5.0)
        assert e.kind == "members"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while held_for(net, gid) < 6:  # 3 held retrieves per member, on the group's swarm
        assert loop.time() < deadline, f"only {held_for(net, gid)} retrieves held for the group"
        await asyncio.sleep(0.01)
    sent = b.oc.sent
    await asyncio.sleep(0.2)
    assert b.oc.sent == sent  # idle: the held requests are all b sends

    t0 = loop.time()
    await ga.send(gid, "woken")
    got = [await next_message(g, 5.0) for g in (gb, gc)]
    assert [e.text for e in got] == ["woken", "woken"] and all(e.sender == a.session_id for e in got)
    assert loop.time() - t0 < 5.0  # a poll round would have come after 60 s
    assert gb.stats.received >= 2 and gb.stats.refused == 0
    await asyncio.sleep(0.2)  # the other two copies of the record came too: shown once
    assert all(e.kind != "message" for e in drain(gb) + drain(gc))

    await gb.send(gid, "from b")  # the other direction: a member's store wakes the others
    assert (await next_message(gc, 5.0)).text == "from b"
    for g in (gb, gc):
        await g.stop()
    assert not gb._loops and not gc._loops  # stopping leaves no loop behind
    for cl in (a, b, c):
        await cl.stop()


async def test_without_long_poll_members_receive_in_fixed_rounds(tmp_path: Path) -> None:
    net = MemNetwork(12)
    a, b = (make(net, tmp_path, n, f"192.0.2.{i + 1}", poll_interval=0.05, long_poll_ms=0)
            for i, n in enumerate("ab"))
    for cl in (a, b):
        await cl.start(loops=False)
    ga, gb = Groups(a), Groups(b)
    gb.start()  # running before the join: the group gets its loop when joined
    gid, _ = await ga.create([b.session_id])
    gb.join(gid)
    await ga.send(gid, "round")
    assert (await next_message(gb, 5.0)).text == "round"
    assert held_for(net, gid) == 0  # plain rounds: nothing asked to wait
    assert len(gb._loops[gid]) == 1
    await gb.stop()
    for cl in (a, b):
        await cl.stop()


def test_a_group_key_holds_a_request_per_member_an_account_key_only_a_few() -> None:
    w = Waiters(WaitLimits(max_per_key=4, max_per_group=6))
    group, account = pubkey_key("03" + "ab" * 32), pubkey_key("05" + "ab" * 32)
    held = [w.hold(group, lambda: None) for _ in range(6)]
    assert all(t is not None and not t.evicted for t in held) and w.waiting(group) == 6
    assert w.hold(group, lambda: None) is not None and held[0] is not None and held[0].evicted  # past its own bound
    acct = [w.hold(account, lambda: None) for _ in range(5)]
    assert acct[0] is not None and acct[0].evicted and w.waiting(account) == 4


async def test_more_members_than_an_account_may_hold_all_receive_by_wake(tmp_path: Path) -> None:
    """Six members: more held retrieves per node for the group key than ``max_per_key`` (4)
    allows one account; none is pushed out to its (60 s) poll interval."""
    net = MemNetwork(12)
    slow = dict(poll_interval=60.0, long_poll_ms=20_000)
    clients = [make(net, tmp_path, f"m{i}", f"192.0.2.{i + 1}", **slow) for i in range(7)]
    for cl in clients:
        await cl.start(loops=False)
    admin, *rest = [Groups(cl) for cl in clients]
    gid, _ = await admin.create([cl.session_id for cl in clients[1:]])
    for g in rest:
        g.join(gid)
        g.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while held_for(net, gid) < 3 * len(rest):
        assert loop.time() < deadline, f"only {held_for(net, gid)} retrieves held for the group"
        await asyncio.sleep(0.01)
    assert sum(n.rpc.waiters.evicted for n in net.nodes) == 0
    await admin.send(gid, "to all six")
    got = [await next_message(g, 5.0) for g in rest]
    assert [e.text for e in got] == ["to all six"] * 6
    for g in rest:
        await g.stop()
    for cl in clients:
        await cl.stop()
