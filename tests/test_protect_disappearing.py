"""Disappearing messages end to end in memory, on nodes that keep SQLite files: after the
timer every node database and both client databases are scanned for the message -- its text,
the swarm's stored copy (base64 and raw) and the client's sealed rows -- and nothing is left."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from pathlib import Path

import pytest

from protect_aids import befriend, make_client, scan, sqlite_net, wait_event
from session_core.errors import InvalidExpirationError, NoSessionError
from session_core.identity import Identity
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.expiration import Expiration, read_expiration


def stored_rows(net, owner: str) -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    """(hash, data, expiration) of every copy any node holds for *owner*."""
    rows = []
    for node in net.nodes:
        rows += node.store._db.execute("SELECT hash, data, expiration FROM messages WHERE owner = ?", (owner,)).fetchall()
    return rows


def sealed_rows(home: Path) -> list[bytes]:
    db = sqlite3.connect(home / "client.db")
    try:
        return [bytes(r[0]) for r in db.execute("SELECT blob FROM messages")]
    finally:
        db.close()


async def _conversation(tmp_path: Path, setting: str, canary: str):  # type: ignore[no-untyped-def]
    net = sqlite_net(tmp_path)
    a, b = make_client(net, tmp_path / "a", "alice"), make_client(net, tmp_path / "b", "bob")
    await a.start(); await b.start()
    await befriend(a, b)
    await a.set_disappearing(b.session_id, Expiration.parse(setting))
    ev = await wait_event(b, lambda e: e.kind == "timer")
    assert ev.text == setting and str(b.disappearing(a.session_id)) == setting
    before_a, before_b = set(sealed_rows(tmp_path / "a")), set(sealed_rows(tmp_path / "b"))
    older = {h for h, _, _ in stored_rows(net, b.session_id)}
    await a.send_text(b.session_id, canary)
    await wait_event(b, lambda e: e.kind == "message" and e.text == canary)
    net.canary_copies = lambda: [r for r in stored_rows(net, b.session_id) if r[0] not in older]
    return net, a, b, before_a, before_b


async def _scan_after_expiry(tmp_path: Path, net, a, b, canary: str, before_a: set[bytes],  # type: ignore[no-untyped-def]
                             before_b: set[bytes], copies: list[tuple[str, str, int]], advance_ms: int) -> None:
    sealed = (set(sealed_rows(tmp_path / "a")) - before_a) | (set(sealed_rows(tmp_path / "b")) - before_b)
    needles = [canary.encode()] + [d.encode() for _, d, _ in copies] + [base64.b64decode(d) for _, d, _ in copies]
    needles += sorted(sealed)
    roots = [tmp_path / "nodes", tmp_path / "a", tmp_path / "b"]
    # The scanner finds the copies while they live (so finding nothing later means something).
    hits = scan(roots, needles)
    assert any("nodes" in str(p) for p, _ in hits) and any("client.db" in p.name for p, _ in hits)
    net.offset_ms += advance_ms
    for node in net.nodes:  # what each node's purge loop does (service.py)
        node.store.purge_expired(node.clock())
    await asyncio.sleep(0.3)  # a few polls of both clients' loops: their sweeps run
    assert canary not in [m["body"] for m in a.history() + b.history()]
    assert scan(roots, needles) == []
    await a.stop(); await b.stop()
    assert scan(roots, needles) == []  # closing (WAL checkpoint) brings nothing back


async def test_after_send_disappears_everywhere_counted_from_the_sender_timestamp(tmp_path: Path) -> None:
    canary = "CANARY-after-send-7f3a9c"
    net, a, b, before_a, before_b = await _conversation(tmp_path, "after_send:30", canary)
    sent = next(m for m in a.history() if m["body"] == canary)
    copies = net.canary_copies()
    # Every copy in b's swarm dies at the sender's timestamp + 30 s, not the 2-day default.
    assert len(copies) == len(net.swarm_nodes(b.session_id))
    assert all(e == sent["ts"] + 30_000 for _, _, e in copies)
    net.offset_ms += 20_000  # before the time: still there
    await asyncio.sleep(0.2)
    assert canary in [m["body"] for m in b.history()]
    await _scan_after_expiry(tmp_path, net, a, b, canary, before_a, before_b, copies, 11_000)


async def test_after_read_starts_at_read_and_the_node_shortens_the_stored_ttl(tmp_path: Path) -> None:
    canary = "CANARY-after-read-41d2e8"
    net, a, b, before_a, before_b = await _conversation(tmp_path, "after_read:60", canary)
    full = net.canary_copies()
    assert full and all(e - net.now_ms() > 86_400_000 for _, _, e in full)  # unread: the full TTL
    net.offset_ms += 120_000  # unread for 2 minutes: still there on b's side
    await asyncio.sleep(0.2)
    assert canary in [m["body"] for m in b.history()]
    read_at = net.now_ms()
    assert await b.mark_read(a.session_id) == 1
    copies = net.canary_copies()
    # The authenticated `expire` reached every member of b's swarm: each copy now dies read + 60 s.
    assert len(copies) == len(net.swarm_nodes(b.session_id))
    assert all(read_at + 60_000 <= e <= read_at + 61_000 for _, _, e in copies)
    await _scan_after_expiry(tmp_path, net, a, b, canary, before_a, before_b, copies, 62_000)


async def test_expire_needs_the_owner_signature(tmp_path: Path) -> None:
    from session_core.protocol import storage_auth

    net = sqlite_net(tmp_path)
    a, b = make_client(net, tmp_path / "a", "alice"), make_client(net, tmp_path / "b", "bob")
    await a.start(); await b.start()
    await befriend(a, b)
    await a.send_text(b.session_id, "stays")
    await wait_event(b, lambda e: e.kind == "message" and e.text == "stays")
    before = sorted(stored_rows(net, b.session_id))
    node = net.swarm_nodes(b.session_id)[0]
    h = before[0][0]
    import json
    # Alice (not the owner) signs an expire of Bob's message: refused, nothing changes.
    forged = storage_auth.expire_params(a.identity, [h], net.now_ms())
    forged["pubkey"] = b.session_id
    out = node.rpc.handle(json.dumps({"method": "expire", "params": forged}).encode())
    assert out.reply.status == 401
    # A signature over other bytes (expiry changed after signing): refused.
    good = storage_auth.expire_params(b.identity, [h], net.now_ms() + 5_000)
    good["expiry"] = int(good["expiry"]) - 1  # type: ignore[call-overload]
    assert node.rpc.handle(json.dumps({"method": "expire", "params": good}).encode()).reply.status == 401
    for bad in ({"messages": []}, {"messages": "x"}, {"expiry": "1"}, {"extend": True}, {"pubkey": "05zz"}):
        p = {**storage_auth.expire_params(b.identity, [h], net.now_ms()), **bad}
        assert node.rpc.handle(json.dumps({"method": "expire", "params": p}).encode()).reply.status == 400
    assert sorted(stored_rows(net, b.session_id)) == before
    # Bob's own: accepted, upstream's reply shape.
    ok = storage_auth.expire_params(b.identity, [h], net.now_ms() + 5_000)
    reply = node.rpc.handle(json.dumps({"method": "expire", "params": ok}).encode()).reply
    assert reply.status == 200
    mine = json.loads(reply.body)["swarm"][node.info.ed25519]
    assert mine["updated"] == [h] and mine["unchanged"] == {}
    # The node signs (PUBKEY_HEX || EXPIRY || requested || updated || unchanged) with its key.
    signed = storage_auth.expire_reply_message(b.session_id, ok["expiry"], [h], [h], {})  # type: ignore[arg-type]
    assert storage_auth.verify_node(node.info.ed25519, mine["signature"], signed)
    assert not storage_auth.verify_node(node.info.ed25519, mine["signature"], signed + b"x")
    assert not storage_auth.verify_node(net.nodes[-1].info.ed25519, mine["signature"], signed)
    # Through onions to every member of the swarm: each answers with a valid signature.
    assert await b.router.expire(b.identity, [(h, net.now_ms() + 4_000)]) == len(net.swarm_nodes(b.session_id))
    await a.stop(); await b.stop()


def test_expire_signature_bytes_are_upstreams() -> None:
    from session_core.protocol.storage_auth import expire_message

    # ("expire" || ShortenOrExtend || expiry || messages...), oxen-storage-server expire_msgs.
    assert expire_message(1753944012045, ["H1", "H2"], shorten=True) == b"expireshorten1753944012045H1H2"
    assert expire_message(5, ["x"]) == b"expire5x"
    assert expire_message(5, ["x"], extend=True) == b"expireextend5x"


def test_expiration_values_and_wire_fields() -> None:
    e = Expiration.parse("after_send:30")
    content = pb.Content()
    assert e is not None
    e.apply(content)
    raw = content.SerializeToString()
    # field 12 (varint) = DELETE_AFTER_SEND (2), field 13 (varint) = 30
    assert raw == bytes([12 << 3, 2, 13 << 3, 30])
    assert read_expiration(pb.Content.FromString(raw)) == e
    assert Expiration.parse("off") is None
    for bad in ("after_send", "after_send:-1", "after_send:2", "later:30", "after_read:99999999999", "after_read:x"):
        with pytest.raises(InvalidExpirationError):
            Expiration.parse(bad)


async def test_setting_a_timer_without_a_session_fails_and_changes_nothing(tmp_path: Path) -> None:
    net = sqlite_net(tmp_path)
    a = make_client(net, tmp_path / "a", "alice")
    await a.start(loops=False)
    stranger = Identity.generate().session_id
    with pytest.raises(NoSessionError):
        await a.set_disappearing(stranger, Expiration("after_send", 30))
    assert a.disappearing(stranger) is None
    await a.stop()
