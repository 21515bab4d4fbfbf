"""Revoking a device-link code before it expires (in-memory network, real node logic): the
record leaves every swarm member, the code then finds nothing, other messages stay."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from session_core.client import Client, ClientConfig
from session_core.client.linking import import_link, offer_link, outstanding_offers, revoke_links
from session_core.errors import DeliveryError
from session_core.identity import Identity
from session_core.testing.memnet import MemNetwork, MemTransport


def make(net: MemNetwork, home: Path, name: str, identity: Identity) -> Client:
    cfg = ClientConfig([net.seed_url], home / name, poll_interval=0.05, request_timeout=2.0, sync=False,
                       multi_device=True)
    return Client(identity, name, cfg, transport=MemTransport(net), rng=random.Random())


def copies(net: MemNetwork, owner: str, message_hash: str) -> int:
    """Live copies (not expired now) of a message on its swarm's nodes."""
    now = int(time.time() * 1000)
    return sum(1 for n in net.swarm_nodes(owner) for m in n.store.messages(now)
               if m.pubkey == owner and m.hash == message_hash)


async def test_a_revoked_code_finds_nothing_and_other_messages_stay(tmp_path: Path) -> None:
    net = MemNetwork(12)
    alice = Identity.generate()
    a1, probe = make(net, tmp_path, "a1", alice), make(net, tmp_path, "probe", Identity.generate())
    for c in (a1, probe):
        await c.start(loops=False)
    other = await a1.router.store(alice.session_id, b"not a link record", 60_000)
    code = await offer_link(a1.router, a1.clock, alice, db=a1.db)
    (offer,) = outstanding_offers(a1.db, a1.clock.now_ms())
    assert copies(net, alice.session_id, offer.record_hash) >= 1  # the hash is the nodes' own

    assert await revoke_links(a1.router, a1.clock, alice, a1.db) == 1
    assert copies(net, alice.session_id, offer.record_hash) == 0  # gone from every member
    assert copies(net, alice.session_id, other.message_hash) >= 1
    assert outstanding_offers(a1.db, a1.clock.now_ms()) == []
    with pytest.raises(DeliveryError, match="no link record"):
        await import_link(probe.router, probe.clock, code)
    assert await revoke_links(a1.router, a1.clock, alice, a1.db) == 0  # nothing left to revoke
    for c in (a1, probe):
        await c.stop()


async def test_an_offer_is_remembered_across_restarts_until_revoked_or_expired(tmp_path: Path) -> None:
    net = MemNetwork(12)
    alice = Identity.generate()
    a1 = make(net, tmp_path, "a1", alice)
    await a1.start(loops=False)
    await offer_link(a1.router, a1.clock, alice, ttl_ms=60_000, db=a1.db)
    await a1.stop()
    again = make(net, tmp_path, "a1", alice)
    await again.start(loops=False)
    now = again.clock.now_ms()
    assert len(outstanding_offers(again.db, now)) == 1
    assert outstanding_offers(again.db, now + 61_000) == []  # expired offers are not revoked
    assert await revoke_links(again.router, again.clock, alice, again.db) == 1
    await again.stop()
