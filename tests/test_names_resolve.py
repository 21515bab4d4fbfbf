"""Resolving names through nodes, in memory: the real onion router and storage RPC of a
MemNetwork, each node forwarding ``oxend_request`` to a devnet chain (no sockets).  Honest
nodes give a proven answer; a node that forges, alters, replays a stale mapping or lies about
a name is caught every time, and named."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from session_core.client.names import HeaderSync, NameRegistrar, NameResolver
from session_core.client.onion_client import OnionClient
from session_core.client.paths import PathPool
from session_core.devnet.chain import Chain
from session_core.devnet.rpc import ChainRPC
from session_core.errors import (
    ChainRequestError, InvalidNameError, NameDisagreementError, NameNotFoundError, NameOperationError,
)
from session_core.identity import Identity
from session_core.names import encrypt_value, name_hash_b64
from session_core.testing.memnet import MemNetwork, MemNode, MemTransport

LEASE = 6
ChainCall = Callable[[str, Any], Awaitable[Any]]


class World:
    def __init__(self, tmp: Path) -> None:
        self.rpc = ChainRPC(Chain(tmp / "chain.db", name_fee=5, name_lease_blocks=LEASE))
        self.net = MemNetwork(12, swarm_size=4)
        for node in self.net.nodes:
            node.chain_call = self.call
        self.rng = random.Random(7)
        self.pool = PathPool(self.rng)
        self.pool.set_nodes([n.snode for n in self.net.nodes])
        self.oc = OnionClient(MemTransport(self.net), self.pool, timeout=2.0)
        self.headers = HeaderSync(self.call)

    async def call(self, method: str, params: Any) -> Any:
        """As a ChainClient over HTTP: the chain's refusals arrive as ChainRequestError."""
        try:
            return self.rpc.call(method, params)
        except ValueError as exc:
            raise ChainRequestError(f"chain RPC {method}: {exc}") from None

    def resolver(self, asked: list[MemNode] | None = None) -> NameResolver:
        nodes = [n.snode for n in (asked or self.net.nodes)]
        return NameResolver(self.oc, self.headers, lambda: nodes, rng=self.rng)

    async def register(self, who: Identity, name: str) -> None:
        await NameRegistrar(self.call, who).register(name)
        self.rpc.produce_block()


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


async def test_resolve_through_three_nodes_with_proofs(world: World) -> None:
    alice = Identity.generate()
    await world.register(alice, "Alice")
    res = await world.resolver().resolve("ALICE")
    assert res.session_id == alice.session_id and res.name == "alice"
    assert len(set(res.nodes)) == 3 and res.height == world.rpc.chain.height
    assert res.owner == alice.ed25519_public_key.hex()
    # The request went through onions: no node was posted to directly except as a guard.
    assert all(url.endswith("/onion_req/v2") for url, _ in world.oc.transport.posts)  # type: ignore[attr-defined]


async def test_unknown_expired_and_invalid_names(world: World) -> None:
    with pytest.raises(InvalidNameError, match="not ' '"):
        await world.resolver().resolve("no spaces")
    with pytest.raises(NameNotFoundError, match="not registered"):
        await world.resolver().resolve("nobody")
    bob = Identity.generate()
    await world.register(bob, "bob")
    assert (await world.resolver().resolve("bob")).session_id == bob.session_id
    for _ in range(LEASE):
        world.rpc.produce_block()
    with pytest.raises(NameNotFoundError, match="expired"):
        await world.resolver().resolve("bob")


def _rewrite(node: MemNode, world: World, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    async def lying(method: str, params: Any) -> Any:
        result = await world.call(method, params)
        return edit(dict(result))
    node.chain_call = lying


def _proof(res: dict[str, Any], **change: int) -> str:
    raw = bytearray(base64.b64decode(res["proof"]))
    if "height" in change:
        raw[:8] = change["height"].to_bytes(8, "big")
    return base64.b64encode(bytes(raw)).decode()


async def _forgeries(world: World, victim: Identity, mallory: Identity) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    """Ways a node can lie about "victim"; each keeps the answer well-formed."""
    forged_ct, forged_nonce = encrypt_value("victim", mallory.session_id)  # decrypts fine: only the proof tells
    stale = world.rpc.call("ons_resolve", {"type": 0, "name_hash": name_hash_b64("victim")})
    world.rpc.produce_block()
    tip = world.rpc.chain.height
    return {
        "value": lambda r: {**r, "encrypted_value": forged_ct.hex(), "nonce": forged_nonce.hex()},
        "owner": lambda r: {**r, "owner": mallory.ed25519_public_key.hex()},
        "expiry": lambda r: {**r, "expiration_height": r["expiration_height"] + 1000},
        "stale": lambda r: dict(stale),  # a true answer of an older block
        "future": lambda r: {**r, "proof": _proof(r, height=tip + 5)},  # a block nobody made
        "absent": lambda r: {},  # "not registered", against two proofs
        "garbage": lambda r: {**r, "proof": "AAAA"},
    }


async def test_a_lying_node_is_caught_every_time(world: World) -> None:
    victim, mallory = Identity.generate(), Identity.generate()
    await world.register(victim, "victim")
    forgeries = await _forgeries(world, victim, mallory)
    liar, honest = world.net.nodes[0], world.net.nodes[1:3]
    for kind, edit in forgeries.items():
        _rewrite(liar, world, edit)
        for _ in range(3):  # each time: new paths, new order
            with pytest.raises(NameDisagreementError) as e:
                await world.resolver([liar, *honest]).resolve("victim")
            assert e.value.culprits == (liar.info.ed25519,), kind
    liar.chain_call = world.call
    assert (await world.resolver([liar, *honest]).resolve("victim")).session_id == victim.session_id


async def test_colluding_nodes_cannot_hide_a_registered_name(world: World) -> None:
    """Every node asked says "not registered": before absence proofs that was believed."""
    victim = Identity.generate()
    await world.register(victim, "victim")
    await world.register(Identity.generate(), "other")
    borrowed = world.rpc.call("ons_resolve", {"type": 0, "name_hash": name_hash_b64("nobody")})
    assert "absence" in borrowed  # a real absence proof, of another name
    hide_ways = {
        "bare": lambda r: {},  # oxend's shape, no proof
        "borrowed": lambda r: dict(borrowed),  # the proof of a name that really is absent
        "empty": lambda r: {"absence": {"height": world.rpc.chain.height}},  # "the tree is empty"
    }
    trio = world.net.nodes[:3]
    for kind, edit in hide_ways.items():
        for node in trio:
            _rewrite(node, world, edit)
        with pytest.raises(NameDisagreementError) as e:
            await world.resolver(trio).resolve("victim")
        assert sorted(e.value.culprits) == sorted(n.info.ed25519 for n in trio), kind
    for node in trio:
        node.chain_call = world.call
    with pytest.raises(NameNotFoundError, match="proven at block"):
        await world.resolver(trio).resolve("nobody")  # a true absence still stands


async def test_stale_answer_after_transfer_is_caught(world: World) -> None:
    alice, bob = Identity.generate(), Identity.generate()
    await world.register(alice, "shared")
    old = world.rpc.call("ons_resolve", {"type": 0, "name_hash": name_hash_b64("shared")})
    await NameRegistrar(world.call, alice).update("shared", bob.session_id, bob.ed25519_public_key.hex())
    world.rpc.produce_block()
    liar = world.net.nodes[5]
    _rewrite(liar, world, lambda r: dict(old))
    with pytest.raises(NameDisagreementError, match="stale") as e:
        await world.resolver([liar, *world.net.nodes[6:8]]).resolve("shared")
    assert e.value.culprits == (liar.info.ed25519,)
    res = await world.resolver(world.net.nodes[6:9]).resolve("shared")
    assert res.session_id == bob.session_id and res.owner == bob.ed25519_public_key.hex()


async def test_unreachable_node_is_replaced_not_blamed(world: World) -> None:
    carol = Identity.generate()
    await world.register(carol, "carol")
    world.net.nodes[0].down = True
    res = await world.resolver(world.net.nodes[:5]).resolve("carol")
    assert res.session_id == carol.session_id and world.net.nodes[0].info.ed25519 not in res.nodes


async def test_oxend_request_whitelist_through_an_onion(world: World) -> None:
    dest = world.net.nodes[3].snode
    r = await world.oc.request(dest, "oxend_request", {"endpoint": "get_transactions", "params": {}})
    assert (r.status, r.body) == (400, "Invalid oxend endpoint 'get_transactions'\n")
    r = await world.oc.request(dest, "oxend_request", {"endpoint": "ons_resolve", "params": {"type": 0, "name_hash": "x"}})
    assert r.status == 400 and "base64" in r.body
    r = await world.oc.request(dest, "oxend_request", {"endpoint": "get_service_nodes"})
    assert r.status == 200 and len(json.loads(r.body)["service_node_states"]) == 12


async def test_registrar_refuses_others_and_expired_names_before_paying(world: World) -> None:
    alice, mallory = Identity.generate(), Identity.generate()
    await world.register(alice, "alice")
    evil = NameRegistrar(world.call, mallory)
    with pytest.raises(NameOperationError, match="taken \\(someone else's\\)"):
        await evil.register("alice")
    with pytest.raises(NameOperationError, match="belongs to someone else: you cannot renew"):
        await evil.renew("alice")
    with pytest.raises(NameOperationError, match="cannot transfer"):
        await evil.update("alice", mallory.session_id, mallory.ed25519_public_key.hex())
    with pytest.raises(InvalidNameError):
        await evil.register("-bad-")
    with pytest.raises(NameOperationError, match="64 hex"):
        await NameRegistrar(world.call, alice).update("alice", new_owner="zz")
    # Signed by the wrong key, the chain refuses too (the registrar's checks are only a courtesy).
    rec = world.rpc.call("ons_record", {"name_hash": name_hash_b64("alice")})
    from session_core.names import NameOp

    key = SigningKey(mallory.ed25519_seed)
    op = NameOp("renew", name_hash_b64("alice"), bytes(key.verify_key).hex(), rec["seq"], 5)
    with pytest.raises(ChainRequestError, match="not the owner"):
        world.rpc.call("ons_renew", op.sign(key))
    for _ in range(LEASE):
        world.rpc.produce_block()
    with pytest.raises(NameOperationError, match="expired at block 7; register it again"):
        await NameRegistrar(world.call, alice).renew("alice")
