"""Two (and three) devices of one account on the in-memory network: linking by code, sent
messages reaching the other device through one copy in the own swarm, received messages read
on every device, read state and friend-request state synced through the configs."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from session_core.client import Client, ClientConfig
from session_core.client.linking import import_link, link_acks, offer_link
from session_core.errors import DeliveryError, LinkExpiredError
from session_core.identity import Identity
from session_core.protocol.link import LinkCode
from session_core.testing.memnet import MemNetwork, MemTransport


def make(net: MemNetwork, home: Path, name: str, identity: Identity, *, multi_device: bool = True) -> Client:
    cfg = ClientConfig([net.seed_url], home / name, poll_interval=0.05, listen_interval=0.03, ack_timeout=1.0,
                       request_timeout=2.0, sync=False, multi_device=multi_device)
    return Client(identity, name, cfg, transport=MemTransport(net), rng=random.Random())


def history(c: Client, peer: str, direction: str) -> list[str]:
    return [m["body"] for m in c.history(peer) if m["dir"] == direction]


async def test_two_devices_see_each_others_sent_messages_and_share_read_state(tmp_path: Path) -> None:
    net = MemNetwork(12)
    alice = Identity.generate()
    a1 = make(net, tmp_path, "a1", alice)
    bob = make(net, tmp_path, "bob", Identity.generate(), multi_device=False)
    for c in (a1, bob):
        await c.start(loops=False)

    # The second device joins by link code (shown on a1, typed on a2).
    code = await offer_link(a1.router, a1.clock, alice)
    newcomer = make(net, tmp_path, "probe", Identity.generate(), multi_device=False)
    await newcomer.start(loops=False)
    linked = await import_link(newcomer.router, newcomer.clock, LinkCode.parse(code.qr_payload))
    assert linked.session_id == alice.session_id and linked.seed == alice.seed
    assert await link_acks(a1.router, code) == 1
    a2 = make(net, tmp_path, "a2", linked)
    await a2.start(loops=False)

    # a1 writes to Bob; Bob accepts; a2 learns it from the contacts config, not from a request.
    await a1.send_friend_request(bob.session_id, "hi bob, it's alice")
    await bob.poll_swarm()
    assert bob.pending_requests() == [alice.session_id]
    await bob.accept(alice.session_id, "hello alice")
    events2 = await a2.poll_swarm()
    assert a2.pending_requests() == []  # not a stranger's request: a1 wrote to Bob first
    assert [e.text for e in events2 if e.kind == "message"] == ["hello alice"]  # read on every device
    assert [e.text for e in await a1.poll_swarm() if e.kind == "message"] == ["hello alice"]
    assert a2.devices is not None and a2.devices.config.contacts.get(bob.session_id).request_state == "friends"  # type: ignore[union-attr]

    # A text sent on one device shows up, as sent, on the other (one store in the own swarm).
    before = a1.stats.sync_copies
    await a1.send_text(bob.session_id, "sent from a1")
    assert a1.stats.sync_copies == before + 1
    got = await a2.poll_swarm()
    assert [(e.kind, e.peer, e.text) for e in got] == [("sent", bob.session_id, "sent from a1")]
    await a2.send_text(bob.session_id, "sent from a2")
    assert [e.text for e in await a1.poll_swarm() if e.kind == "sent"] == ["sent from a2"]
    assert history(a1, bob.session_id, "out") == history(a2, bob.session_id, "out") == ["sent from a1", "sent from a2"]
    assert [e.text for e in await bob.poll_swarm() if e.kind == "message"] == ["sent from a1", "sent from a2"]
    assert history(a1, bob.session_id, "out").count("sent from a1") == 1  # its own copy is not shown twice

    # Read state: read on a2, a1 learns it at its next poll.
    await bob.send_text(alice.session_id, "are you there?")
    await a1.poll_swarm()
    await a2.poll_swarm()
    newest = max(m["ts"] for m in a2.history(bob.session_id) if m["dir"] == "in")
    assert a1.read_up_to(bob.session_id) == 0
    assert a2.set_read_mark(bob.session_id) is True
    await a2.push_config()
    await a1.poll_swarm()
    assert a1.read_up_to(bob.session_id) == a2.read_up_to(bob.session_id) == newest
    assert a1.set_read_mark(bob.session_id, newest - 1) is False  # a read mark never moves back

    for c in (a1, a2, bob, newcomer):
        await c.stop()


async def test_concurrent_config_edits_on_three_devices_converge(tmp_path: Path) -> None:
    net = MemNetwork(8)
    alice = Identity.generate()
    devices = [make(net, tmp_path, f"d{i}", alice) for i in range(3)]
    for d in devices:
        await d.start(loops=False)
    peer = Identity.generate().session_id
    # Three devices edit different fields of one contact, and the profile name, offline.
    assert all(d.devices is not None for d in devices)
    devices[0].devices.config.contacts.set(peer, nickname="bobby")  # type: ignore[union-attr]
    devices[1].devices.config.contacts.set(peer, blocked=True)  # type: ignore[union-attr]
    devices[2].devices.config.profile.name = "Alice"  # type: ignore[union-attr]
    for d in devices:
        await d.push_config()
    for _ in range(2):  # two polls each
        for d in devices:
            await d.poll_swarm()
    views = [d.devices.config.view() for d in devices]  # type: ignore[union-attr]
    assert views[0] == views[1] == views[2]
    contact = devices[2].devices.config.contacts.get(peer)  # type: ignore[union-attr]
    assert contact is not None and contact.nickname == "bobby" and contact.blocked
    assert devices[0].devices.config.profile.name == "Alice"  # type: ignore[union-attr]
    for d in devices:
        await d.stop()


async def test_link_code_refused_when_expired_or_absent(tmp_path: Path) -> None:
    net = MemNetwork(8)
    alice = Identity.generate()
    a1 = make(net, tmp_path, "a1", alice)
    probe = make(net, tmp_path, "probe", Identity.generate(), multi_device=False)
    for c in (a1, probe):
        await c.start(loops=False)
    code = await offer_link(a1.router, a1.clock, alice, ttl_ms=60_000)
    probe.clock.offset_ms = 61_000  # the new device's clock says the offer is over
    with pytest.raises(LinkExpiredError):
        await import_link(probe.router, probe.clock, code)
    other = LinkCode(alice.x25519_public_key, bytes(16))  # right account, wrong one-time key
    probe.clock.offset_ms = 0
    with pytest.raises(DeliveryError):
        await import_link(probe.router, probe.clock, other)
    assert await link_acks(a1.router, code) == 0
    for c in (a1, probe):
        await c.stop()


def test_cli_link_then_join_gives_the_same_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`session-core id link` on the existing profile, `id join` with the code it showed."""
    from click.testing import CliRunner

    from session_core.cli import cli

    net = MemNetwork(8)
    net.seed_url = "http://seed.invalid/json_rpc"
    monkeypatch.setattr("session_core.client.state.HttpTransport", lambda: MemTransport(net))
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "correct horse")
    home = str(tmp_path / "home")
    runner = CliRunner()
    made = runner.invoke(cli, ["id", "new", "--home", home, "--profile", "laptop"])
    assert made.exit_code == 0, made.output
    sid = next(line.split()[-1] for line in made.output.splitlines() if line.startswith("Session ID:"))

    shown = runner.invoke(cli, ["id", "link", "--home", home, "--profile", "laptop", "--seed", net.seed_url,
                                "--no-wait"])
    assert shown.exit_code == 0, shown.output
    code = next(line.strip() for line in shown.output.splitlines() if line.strip().startswith("sclink1-"))
    assert f"session-core:link/{code}" in shown.output

    joined = runner.invoke(cli, ["id", "join", "--home", home, "--profile", "phone", "--seed", net.seed_url],
                           input=code + "\n")
    assert joined.exit_code == 0, joined.output
    assert f"Session ID:   {sid}" in joined.output
    for profile in ("laptop", "phone"):
        assert (tmp_path / "home" / "profiles" / profile / "multi_device").exists()

    wrong = runner.invoke(cli, ["id", "join", "--home", home, "--profile", "tablet", "--seed", net.seed_url],
                          input=code[:-2] + "aa\n")
    assert wrong.exit_code != 0 and "no link record" in wrong.output

    # A second code, shown and then revoked: it finds nothing any more.
    again = runner.invoke(cli, ["id", "link", "--home", home, "--profile", "laptop", "--seed", net.seed_url,
                                "--no-wait"])
    code2 = next(line.strip() for line in again.output.splitlines() if line.strip().startswith("sclink1-"))
    assert "--revoke" in again.output
    revoked = runner.invoke(cli, ["id", "link", "--home", home, "--profile", "laptop", "--seed", net.seed_url,
                                  "--revoke"])
    assert revoked.exit_code == 0 and "revoked 2 of 2 unexpired link codes" in revoked.output, revoked.output
    late = runner.invoke(cli, ["id", "join", "--home", home, "--profile", "tablet", "--seed", net.seed_url],
                         input=code2 + "\n")
    assert late.exit_code != 0 and "no link record" in late.output


async def test_config_is_republished_before_the_swarm_drops_it(tmp_path: Path) -> None:
    from session_core.client.devices import CONFIG_TTL_MS

    net = MemNetwork(8)
    alice = Identity.generate()
    a1, a2 = make(net, tmp_path, "a1", alice), make(net, tmp_path, "a2", alice)
    for c in (a1, a2):
        await c.start(loops=False)
    assert a1.devices is not None and a2.devices is not None
    a1.devices.config.profile.name = "Alice"
    assert await a1.push_config() == 1
    assert await a1.push_config() == 0  # nothing new, and the copy in the swarm is fresh
    a1.devices.fresh_ms -= CONFIG_TTL_MS // 2 + 1  # half its TTL later
    assert await a1.push_config() == 1  # the non-empty domain again, with a new seqno
    assert a1.devices.config.states[b"UserProfile"].seqno == 2
    await a2.poll_swarm()
    assert a2.devices.config.profile.name == "Alice" and a2.devices.config.states[b"UserProfile"].seqno == 2
    for c in (a1, a2):
        await c.stop()


async def test_display_name_and_blocks_follow_the_account(tmp_path: Path) -> None:
    net = MemNetwork(8)
    alice = Identity.generate()
    a1, a2 = make(net, tmp_path, "a1", alice), make(net, tmp_path, "a2", alice)
    bob = make(net, tmp_path, "bob", Identity.generate(), multi_device=False)
    for c in (a1, a2, bob):
        await c.start(loops=False)
    a2.messenger.display_name = ""
    a1.set_display_name("Alice Liddell")
    await a1.push_config()
    await a2.poll_swarm()
    assert a2.messenger.display_name == "Alice Liddell"
    with pytest.raises(ValueError):
        a1.set_display_name("x" * 65)
    assert a1.messenger.display_name == "Alice Liddell"

    # Blocked on a2: Bob's request does not show on a1 either.
    a2.block(bob.session_id)
    await a2.push_config()
    await a1.poll_swarm()
    await bob.send_friend_request(alice.session_id, "let me in")
    assert [e for e in await a1.poll_swarm() if e.kind in ("request", "message")] == []
    assert [e for e in await a2.poll_swarm() if e.kind in ("request", "message")] == []
    # Hidden, not lost: unblocked, the request is there to accept.
    a1.block(bob.session_id, False)
    assert a1.pending_requests() == [bob.session_id]
    for c in (a1, a2, bob):
        await c.stop()


async def test_a_copy_the_own_swarm_refuses_does_not_fail_the_send_and_is_kept(tmp_path: Path) -> None:
    net = MemNetwork(8)
    alice = Identity.generate()
    a1 = make(net, tmp_path, "a1", alice)
    bob = make(net, tmp_path, "bob", Identity.generate(), multi_device=False)
    for c in (a1, bob):
        await c.start(loops=False)
    await a1.send_friend_request(bob.session_id, "hi")
    await bob.poll_swarm()
    await bob.accept(alice.session_id)
    await a1.poll_swarm()
    real_store = a1.router.store

    async def own_swarm_unreachable(recipient: str, data: bytes, ttl_ms: int, **kw: Any):  # type: ignore[no-untyped-def]
        if recipient == alice.session_id:
            raise DeliveryError("own swarm unreachable")
        return await real_store(recipient, data, ttl_ms, **kw)

    a1.router.store = own_swarm_unreachable  # type: ignore[method-assign]
    copies = a1.stats.sync_copies
    await a1.send_text(bob.session_id, "still delivered")
    assert a1.stats.sync_copies == copies and [i.kind for i in a1.outbox.items()] == ["sync_copy"]
    assert [e.text for e in await bob.poll_swarm() if e.kind == "message"] == ["still delivered"]
    a1.router.store = real_store  # type: ignore[method-assign]
    a1.outbox.db.outbox_reschedule(a1.outbox.items()[0].id, 0, 1)  # due now rather than after the backoff
    assert await a1.flush_outbox() == 1 and a1.stats.sync_copies == copies + 1
    for c in (a1, bob):
        await c.stop()
