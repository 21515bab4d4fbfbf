"""Muting and pinning, kept in the conversations config and so shared by every device of the
account: the client marks messages of a muted conversation (no notification), ``inbox`` shows
the marker; the read mark merges as a max-register."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from session_core.client import Client, ClientConfig
from session_core.errors import ClientStateError, ConfigFormatError
from session_core.identity import Identity
from session_core.protocol.config import MUTED_FOREVER, AccountConfig
from session_core.testing.memnet import MemNetwork, MemTransport


def make(net: MemNetwork, home: Path, identity: Identity, *, multi_device: bool = True) -> Client:
    cfg = ClientConfig([net.seed_url], home, poll_interval=0.05, listen_interval=0.03, ack_timeout=1.0,
                       request_timeout=2.0, sync=False, multi_device=multi_device)
    return Client(identity, home.name, cfg, transport=MemTransport(net), rng=random.Random())


async def friends(a: Client, others: list[Client], b: Client) -> None:
    await a.send_friend_request(b.session_id, "hi")
    await b.poll_swarm()
    await b.accept(a.session_id)
    for c in [a, *others]:
        await c.poll_swarm()


async def test_mute_and_pin_follow_the_account_and_mark_messages(tmp_path: Path) -> None:
    net = MemNetwork(8)
    alice = Identity.generate()
    a1, a2 = make(net, tmp_path / "a1", alice), make(net, tmp_path / "a2", alice)
    bob = make(net, tmp_path / "bob", Identity.generate(), multi_device=False)
    for c in (a1, a2, bob):
        await c.start(loops=False)
    await friends(a1, [a2], bob)

    a1.mute(bob.session_id, MUTED_FOREVER)
    a1.pin(bob.session_id)
    await a1.push_config()
    await a2.poll_swarm()
    assert a2.muted(bob.session_id) and a2.pinned() == [bob.session_id]
    await bob.send_text(alice.session_id, "psst")
    for c in (a1, a2):
        (ev,) = [e for e in await c.poll_swarm() if e.kind == "message"]
        assert (ev.text, ev.muted) == ("psst", True)  # delivered, but no notification

    a2.mute(bob.session_id, None)  # unmuted on the other device
    a2.pin(bob.session_id, False)
    await a2.push_config()
    await a1.poll_swarm()
    assert not a1.muted(bob.session_id) and a1.pinned() == []
    await bob.send_text(alice.session_id, "hello?")
    assert [(e.text, e.muted) for e in await a1.poll_swarm() if e.kind == "message"] == [("hello?", False)]

    # Muted until a time: over once the clock passes it.
    now = a1.clock.now_ms()
    a1.mute(bob.session_id, now + 60_000)
    assert a1.muted(bob.session_id)
    a1.clock.offset_ms += 61_000
    assert not a1.muted(bob.session_id)
    a1.clock.offset_ms -= 61_000

    # Bad input: a clear error, nothing changed.
    before = a1.devices.config.view()  # type: ignore[union-attr]
    with pytest.raises(ConfigFormatError):
        a1.mute(bob.session_id, -5)
    with pytest.raises(ValueError):
        a1.pin("not a session id")
    assert a1.devices.config.view() == before  # type: ignore[union-attr]
    with pytest.raises(ClientStateError):
        bob.mute(alice.session_id, MUTED_FOREVER)  # kept in the account configs: multi-device only
    assert not bob.muted(alice.session_id) and bob.pinned() == []
    for c in (a1, a2, bob):
        await c.stop()


def test_concurrent_read_marks_converge_to_the_larger_whatever_the_tie_break() -> None:
    account = Identity.generate()
    peer = Identity.generate().session_id
    for low, high in ((5, 7), (7_000, 5_000_000), (1, 2)):
        d1, d2 = AccountConfig(account), AccountConfig(account)
        d1.conversations.mark_read(peer, high)
        d2.conversations.mark_read(peer, low)
        m1, m2 = d1.pushes(), d2.pushes()  # both at seqno 1: last-writer-wins would pick by hash
        for dev, theirs in ((d1, m2), (d2, m1)):
            for blob in theirs:
                dev.ingest(blob)
        assert d1.conversations.read_up_to(peer) == d2.conversations.read_up_to(peer) == high
        # A later, lower mark (seqno 2) does not move it back either.
        convos = d2.states[b"ConvoInfoVolatile"]
        convos.set(("v", peer, "read"), low)
        assert d2.conversations.read_up_to(peer) == high and not convos.pending
    with pytest.raises(ConfigFormatError):
        AccountConfig(account).conversations.set(peer, read="yesterday")


def test_inbox_marks_muted_conversations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from click.testing import CliRunner

    from session_core.cli import cli
    from session_core.identity_store import ProfileStore

    net = MemNetwork(8)
    net.seed_url = "http://seed.invalid/json_rpc"
    monkeypatch.setattr("session_core.client.state.HttpTransport", lambda: MemTransport(net))
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "correct horse")
    home = tmp_path / "home"
    runner = CliRunner()
    made = runner.invoke(cli, ["id", "new", "--home", str(home), "--profile", "laptop"])
    assert made.exit_code == 0, made.output
    store = ProfileStore(home)
    (store.profile_dir("laptop") / "multi_device").touch()
    alice = store.load("laptop", "correct horse")

    async def setup() -> None:
        a = make(net, store.profile_dir("laptop"), alice)
        bob = make(net, tmp_path / "bob", Identity.generate(), multi_device=False)
        carol = make(net, tmp_path / "carol", Identity.generate(), multi_device=False)
        for c in (a, bob, carol):
            await c.start(loops=False)
        for other in (bob, carol):
            await friends(a, [], other)
        a.mute(bob.session_id, MUTED_FOREVER)
        a.pin(carol.session_id)
        await a.push_config()
        await a.stop()
        await bob.send_text(alice.session_id, "from muted bob")
        await carol.send_text(alice.session_id, "from pinned carol")
        for c in (bob, carol):
            await c.stop()

    asyncio.run(setup())
    shown = runner.invoke(cli, ["inbox", "--home", str(home), "--profile", "laptop", "--seed", net.seed_url])
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if "from " in line]
    assert lines[0].endswith("from pinned carol") and not lines[0].startswith("(muted)")
    assert lines[1].startswith("(muted) ") and lines[1].endswith("from muted bob")
