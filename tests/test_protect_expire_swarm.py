"""One `expire` sent through an onion to ONE member of the owner's swarm is enough: the member
forwards the owner's signed proof and every member stops serving the message after the new
expiry, and each reports the new expiry in `retrieve` (in memory, nodes on SQLite files)."""

from __future__ import annotations

import json

from protect_aids import befriend, make_client, sqlite_net, wait_event
from session_core.protocol import storage_auth
from session_core.testing.memnet import MemNode


def served(node: MemNode, owner: str) -> dict[str, int]:
    """What *node* answers a retrieve with: {hash: expiration}."""
    body = json.dumps({"method": "retrieve", "params": {"pubKey": owner, "lastHash": ""}}).encode()
    reply = node.rpc.handle(body).reply
    assert reply.status == 200
    return {m["hash"]: m["expiration"] for m in json.loads(reply.body)["messages"]}


async def test_one_expire_to_one_member_reaches_the_whole_swarm(tmp_path) -> None:  # type: ignore[no-untyped-def]
    net = sqlite_net(tmp_path)
    a, b = make_client(net, tmp_path / "a", "alice"), make_client(net, tmp_path / "b", "bob")
    await a.start(); await b.start()
    try:
        await befriend(a, b)
        members = net.swarm_nodes(b.session_id)
        before = served(members[0], b.session_id)
        await a.send_text(b.session_id, "short-lived")
        await wait_event(b, lambda e: e.kind == "message" and e.text == "short-lived")
        (h,) = set(served(members[0], b.session_id)) - set(before)
        original = served(members[0], b.session_id)[h]
        assert all(served(n, b.session_id)[h] == original for n in members)
        new_expiry = net.now_ms() + 20_000
        entry = members[1]
        reply = await b.router.oc.request(entry.snode, "expire",
                                          storage_auth.expire_params(b.identity, [h], new_expiry))
        assert reply.status == 200 and json.loads(reply.body)["swarm"][entry.info.ed25519]["updated"] == [h]
        for n in members:  # every member, not just the one asked, reports the new expiry
            assert served(n, b.session_id)[h] == new_expiry, n.info.ed25519
        net.offset_ms += 20_001
        for n in members:
            assert h not in served(n, b.session_id)
            n.store.purge_expired(n.clock())
            assert n.store.get(h, 0) is None
    finally:
        await a.stop(); await b.stop()


async def test_a_proof_from_another_key_is_not_applied_by_a_member(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from session_core.identity import Identity
    from session_core.node.expiry_proofs import ExpiryProof

    net = sqlite_net(tmp_path)
    a, b = make_client(net, tmp_path / "a", "alice"), make_client(net, tmp_path / "b", "bob")
    await a.start(); await b.start()
    try:
        await befriend(a, b)
        member = net.swarm_nodes(b.session_id)[0]
        h, exp = next(iter(served(member, b.session_id).items()))
        mallory = Identity.generate()
        p = storage_auth.expire_params(mallory, [h], net.now_ms())
        forged = ExpiryProof(b.session_id, str(p["pubkey_ed25519"]), str(p["signature"]), int(str(p["expiry"])),
                             True, (h,))
        assert member.accept_expiry(forged.encode()) == []
        assert served(member, b.session_id)[h] == exp
    finally:
        await a.stop(); await b.stop()
