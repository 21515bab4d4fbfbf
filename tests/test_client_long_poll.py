"""The client's long-poll loops on the in-memory network: messages arrive because a held request
is woken (the polling intervals are set far beyond every wait here), an idle client sends
nothing, and a node that does not hold requests makes the client poll, not spin."""

from __future__ import annotations

import asyncio
from pathlib import Path

from session_core.client.poll_loops import LONG_POLL_BURST, LONG_POLL_MAX_RATE
from session_core.client.router import Retrieved, poll_order
from session_core.client.snode import Snode
from session_core.node.waiters import WaitLimits
from session_core.testing.memnet import MemNetwork
from tests.test_client import befriend, make, texts, wait_event

SLOW = dict(poll_interval=60.0, listen_interval=60.0, long_poll_ms=20_000)


async def test_async_and_sync_messages_arrive_by_wake_not_by_polling(tmp_path: Path) -> None:
    net = MemNetwork(12)
    a, b = make(net, tmp_path, "a", **SLOW), make(net, tmp_path, "b", **SLOW)
    await a.start(); await b.start()
    await befriend(a, b)  # friend request and acceptance: stores woke held retrieves
    await a.send_text(b.session_id, "first")  # async, carries a's listening route
    await wait_event(b, lambda e: e.text == "first")
    await wait_event(a, lambda e: e.kind == "status")  # b answered with its route, via a's mailbox
    rep = await a.send_text(b.session_id, "second")
    await wait_event(b, lambda e: e.text == "second")
    assert rep.route == "sync"  # acked: b's receipt woke a's held listen_get
    assert texts(b) == ["first", "second"]
    await a.stop(); await b.stop()


async def test_an_idle_client_sends_nothing_while_its_requests_are_held(tmp_path: Path) -> None:
    net = MemNetwork(12)
    a = make(net, tmp_path, "a", **SLOW)
    await a.start()
    held = lambda: sum(len(n.rpc.waiters) for n in net.nodes)  # noqa: E731
    while held() < 4:  # 3 swarm members + the listening mailbox
        await asyncio.sleep(0.01)
    sent = a.oc.sent
    await asyncio.sleep(0.3)
    assert a.oc.sent == sent and held() == 4
    await a.stop()


async def test_nodes_that_hold_nothing_make_the_client_poll_not_spin(tmp_path: Path) -> None:
    net = MemNetwork(12)
    for n in net.nodes:  # every node is "full": a request that asks to wait is answered at once
        n.rpc.waiters.limits = WaitLimits(max_total=1)
        n.rpc.waiters.hold("occupied", lambda: None)
    a = make(net, tmp_path, "a", poll_interval=0.1, listen_interval=0.1, long_poll_ms=20_000)
    b = make(net, tmp_path, "b", poll_interval=0.1, listen_interval=0.1, long_poll_ms=20_000)
    await a.start(); await b.start()
    await befriend(a, b)  # still delivered, by polling
    sent = a.oc.sent
    await asyncio.sleep(0.5)
    # About 4 loops x 5 rounds; a loop asking again at once would have sent thousands.
    assert a.oc.sent - sent < 100
    assert sum(n.rpc.waiters.refused for n in net.nodes) > 0
    await a.stop(); await b.stop()


async def test_a_node_that_always_has_messages_cannot_make_the_client_spin(tmp_path: Path) -> None:
    net = MemNetwork(12)
    a = make(net, tmp_path, "a", poll_interval=0.1, listen_interval=0.1, long_poll_ms=20_000)
    calls = 0

    async def hostile(pubkey: str, node: Snode, wait_ms: int) -> list[Retrieved]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return [Retrieved(f"{calls:064x}", b"garbage", node)]  # "new" every time, at once

    a.router.poll_member = hostile  # type: ignore[method-assign]
    await a.start()
    await asyncio.sleep(0.5)
    await a.stop()
    # 3 loops, each a burst of LONG_POLL_BURST then LONG_POLL_MAX_RATE a second: ~90 here;
    # uncapped they would have asked thousands of times.
    assert 0 < calls < 3 * (LONG_POLL_BURST + LONG_POLL_MAX_RATE * 0.5 + 10)
    assert a.stats.undecryptable > 0  # what they sent was looked at, and dropped


async def test_a_store_puts_one_copy_on_the_member_the_recipient_polls_first(tmp_path: Path) -> None:
    net = MemNetwork(12)
    a, b = make(net, tmp_path, "a", **SLOW), make(net, tmp_path, "b", **SLOW)
    await a.start(); await b.start()
    first = b.router.members_to_poll(b.session_id, 3)[0]
    assert first == poll_order(b.session_id, await a.router.swarm_of(b.session_id))[0]
    stored: list[str] = []
    request = a.oc.request

    async def req(dest: Snode, method: str, *x: object, **k: object) -> object:
        if method == "store":
            stored.append(dest.ed25519)
        return await request(dest, method, *x, **k)  # type: ignore[arg-type]

    a.oc.request = req  # type: ignore[method-assign]
    for i in range(3):
        await a.router.store(b.session_id, f"x{i}".encode(), 60_000)
    assert len(stored) == 9 and stored.count(first.ed25519) == 3  # in every store, once
    await a.stop(); await b.stop()
