"""Disappearing-message timers across the devices of one account (in memory): the setting
travels in the conversations config whichever device (or the peer) changed it, and the copy of
a disappearing message sent on one device carries the timer, so it disappears on the others at
the same time and the own swarm keeps it no longer."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from session_core.client import Client, ClientConfig
from session_core.client.clock import NetworkClock
from session_core.errors import ConfigFormatError
from session_core.identity import Identity
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.config import AccountConfig
from session_core.protocol.expiration import Expiration
from session_core.protocol.sent_sync import sync_copy, synced_events
from session_core.testing.memnet import MemNetwork, MemTransport


def make(net: MemNetwork, home: Path, name: str, identity: Identity, *, multi_device: bool = True) -> Client:
    cfg = ClientConfig([net.seed_url], home / name, poll_interval=0.05, listen_interval=0.03, ack_timeout=1.0,
                       request_timeout=2.0, sync=False, multi_device=multi_device)
    return Client(identity, name, cfg, transport=MemTransport(net), rng=random.Random(),
                  clock=NetworkClock(local=net.now_ms))


async def three(tmp_path: Path) -> tuple[MemNetwork, Client, Client, Client]:
    net = MemNetwork(8)
    alice = Identity.generate()
    a1, a2 = make(net, tmp_path, "a1", alice), make(net, tmp_path, "a2", alice)
    bob = make(net, tmp_path, "bob", Identity.generate(), multi_device=False)
    for c in (a1, a2, bob):
        await c.start(loops=False)
    await a1.send_friend_request(bob.session_id, "hi")
    await bob.poll_swarm()
    await bob.accept(alice.session_id, "hello")
    await a1.poll_swarm(); await a2.poll_swarm()
    return net, a1, a2, bob


def own_swarm(net: MemNetwork, owner: str) -> dict[str, int]:
    """{hash: expiration} of what the nodes of *owner*'s swarm serve (every member's answer)."""
    out: dict[str, int] = {}
    for node in net.swarm_nodes(owner):
        body = json.dumps({"method": "retrieve", "params": {"pubKey": owner, "lastHash": ""}}).encode()
        for m in json.loads(node.rpc.handle(body).reply.body)["messages"]:
            assert out.setdefault(m["hash"], m["expiration"]) == m["expiration"]
    return out


async def test_a_timer_set_on_one_device_reaches_the_others(tmp_path: Path) -> None:
    net, a1, a2, bob = await three(tmp_path)
    try:
        assert a2.disappearing(bob.session_id) is None
        await a1.set_disappearing(bob.session_id, Expiration("after_send", 30))
        await a2.poll_swarm()
        assert str(a2.disappearing(bob.session_id)) == "after_send:30"
        await bob.poll_swarm()
        assert str(bob.disappearing(a1.session_id)) == "after_send:30"
        # The peer changes it: both devices receive the update and agree.
        await bob.set_disappearing(a1.session_id, Expiration("after_read", 60))
        await a1.poll_swarm(); await a2.poll_swarm()
        assert str(a1.disappearing(bob.session_id)) == str(a2.disappearing(bob.session_id)) == "after_read:60"
        # Turned off on the second device: off on the first.
        await a2.set_disappearing(bob.session_id, None)
        await a1.poll_swarm()
        assert a1.disappearing(bob.session_id) is None
    finally:
        for c in (a1, a2, bob):
            await c.stop()


async def test_a_disappearing_message_sent_on_one_device_disappears_on_the_others(tmp_path: Path) -> None:
    net, a1, a2, bob = await three(tmp_path)
    try:
        await a1.set_disappearing(bob.session_id, Expiration("after_send", 30))
        await a2.poll_swarm()
        before = own_swarm(net, a1.session_id)
        await a2.send_text(bob.session_id, "vanishing")
        copies = {h: e for h, e in own_swarm(net, a1.session_id).items() if h not in before}
        sent = [m for m in a2.history(bob.session_id) if m["body"] == "vanishing"]
        (ts,) = [m["ts"] for m in sent]
        got = await a1.poll_swarm()
        assert [(e.kind, e.text) for e in got] == [("sent", "vanishing")]  # copied, not kept back
        assert [m["body"] for m in a1.history(bob.session_id) if m["dir"] == "out"][-1] == "vanishing"
        # The own swarm keeps the copy only until the message's time.
        # (within the milliseconds between the outbox's clock reading and the store's)
        assert len(copies) == 1 and all(ts + 30_000 <= e <= ts + 30_100 for e in copies.values())
        net.offset_ms += 29_000
        assert "vanishing" in [m["body"] for m in a1.history(bob.session_id)]
        net.offset_ms += 1_101
        for c in (a1, a2):
            assert "vanishing" not in [m["body"] for m in c.history(bob.session_id)]
        assert not set(copies) & set(own_swarm(net, a1.session_id))
        # A message sent with no timer is copied for good, as before.
        await a2.set_disappearing(bob.session_id, None)
        await a2.send_text(bob.session_id, "stays")
        await a1.poll_swarm()
        net.offset_ms += 3_600_000
        await asyncio.sleep(0)
        assert "stays" in [m["body"] for m in a1.history(bob.session_id)]
    finally:
        for c in (a1, a2, bob):
            await c.stop()


def test_the_copy_carries_the_timer_and_bad_settings_are_refused() -> None:
    alice = Identity.generate()
    bob = Identity.generate().session_id
    copy = sync_copy(alice, bob, "x", sent_ms=1_000, expire=Expiration("after_read", 3600))
    assert copy.ttl_ms == 3_600_000
    assert sync_copy(alice, bob, "x", sent_ms=1_000, expire=Expiration("after_send", 5)).ttl_ms == 10_000  # node minimum
    assert sync_copy(alice, bob, "x", sent_ms=1_000).ttl_ms > 86_400_000
    content = pb.Content()
    content.dataMessage.body = "x"
    content.dataMessage.syncTarget = bob
    Expiration("after_send", 30).apply(content)
    (ev,) = synced_events(content, 5)
    assert str(ev.expiration) == "after_send:30"
    cfg = AccountConfig(alice)
    for bad in ("after_send:1", "soon", "after_read:", 30):
        with pytest.raises(ConfigFormatError):
            cfg.conversations.set(bob, expire=bad)
    assert cfg.conversations.expiration(bob) == (False, None)
    cfg.conversations.set_expiration(bob, None)
    assert cfg.conversations.expiration(bob) == (True, None)
    cfg.conversations.state.set(("v", bob, "expire"), "after_send:99999999")  # from a newer device
    assert cfg.conversations.expiration(bob) == (False, None)


async def test_an_after_read_message_read_on_one_device_starts_its_timer_on_the_others(tmp_path: Path) -> None:
    net, a1, a2, bob = await three(tmp_path)
    try:
        await bob.set_disappearing(a1.session_id, Expiration("after_read", 60))
        await a1.poll_swarm(); await a2.poll_swarm()
        await bob.send_text(a1.session_id, "read me once")
        for c in (a1, a2):
            assert [e.text for e in await c.poll_swarm() if e.kind == "message"] == ["read me once"]
        net.offset_ms += 120_000  # unread on both: nothing runs
        assert all("read me once" in [m["body"] for m in c.history(bob.session_id)] for c in (a1, a2))
        assert await a1.mark_read(bob.session_id) == 1  # read on a1: its timer starts, the mark moves
        await a1.push_config()
        await a2.poll_swarm()  # a2 learns the read mark: its copy's timer starts too
        net.offset_ms += 59_000
        assert "read me once" in [m["body"] for m in a2.history(bob.session_id)]
        net.offset_ms += 2_000
        for c in (a1, a2):
            assert "read me once" not in [m["body"] for m in c.history(bob.session_id)]
    finally:
        for c in (a1, a2, bob):
            await c.stop()
