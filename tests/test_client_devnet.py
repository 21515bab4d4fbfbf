"""The client against a real loopback devnet (chain + node processes). One small devnet for the
module; every wait is bounded; the devnet is stopped whatever happens."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_core.cli import cli
from session_core.client import Client, ClientConfig, ClientEvent
from session_core.client.clock import NetworkClock
from session_core.devnet.launcher import Devnet, DevnetOptions
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

pytestmark = pytest.mark.slow
NODES = 6


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    d = tmp_path_factory.mktemp("client-devnet")
    net = Devnet(d)
    net.up(DevnetOptions(d, nodes=NODES, block_interval=0.5, timeout=60))
    try:
        yield net
    finally:
        # Nodes whose peers were SIGKILLed can take ~10 s each to exit on SIGTERM (ZMQ linger);
        # give each 2 s, then the launcher kills it, so the module stays short.
        for name in [n for n in net.procs if n != "chain"] + ["chain"]:
            net.stop_proc(name, timeout=2.0)
        net.down()
        assert not any(p.poll() is None for p in net.procs.values())


def client(net: Devnet, home: Path, name: str, **kw: object) -> Client:
    cfg = ClientConfig([net.chain_url], home / name, poll_interval=0.2, listen_interval=0.1, ack_timeout=2.0,
                       request_timeout=2.0)
    return Client(Identity.generate(), name, cfg, **kw)  # type: ignore[arg-type]


async def wait_event(c: Client, pred: Callable[[ClientEvent], bool], timeout: float = 15.0) -> ClientEvent:
    async def loop() -> ClientEvent:
        while True:
            ev = await c.events.get()
            if pred(ev):
                return ev
    return await asyncio.wait_for(loop(), timeout)


async def wait_texts(c: Client, texts: list[str], timeout: float) -> None:
    """Wait until every text has arrived, in any order (routes differ, so arrival order may)."""
    missing = set(texts)

    async def loop() -> None:
        while missing:
            ev = await c.events.get()
            missing.discard(ev.text)
    try:
        await asyncio.wait_for(loop(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"never arrived: {sorted(missing)}") from None


def test_cli_send_and_inbox_first_contact(devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    store = ProfileStore(tmp_path)
    ids = {n: Identity.generate() for n in ("ann", "ben")}
    for n, ident in ids.items():
        store.create(n, ident, "pw", display_name=n.title(), created_ms=1)
    run = CliRunner().invoke
    common = ["--home", str(tmp_path), "--devnet", str(devnet.directory)]
    r = run(cli, ["send", "--profile", "ann", *common, "--to", ids["ben"].session_id, "--request", "hello ben"])
    assert r.exit_code == 0, r.output
    assert "async" in r.output and "stored on" in r.output
    r = run(cli, ["inbox", "--profile", "ben", *common, "--wait", "3"])
    assert r.exit_code == 0, r.output
    assert f"friend request from {ids['ann'].session_id}" in r.output
    r = run(cli, ["inbox", "--profile", "ben", *common, "--accept", ids["ann"].session_id])
    assert r.exit_code == 0 and "accepted" in r.output, r.output
    r = run(cli, ["inbox", "--profile", "ann", *common, "--wait", "3"])
    assert r.exit_code == 0, r.output
    r = run(cli, ["send", "--profile", "ann", *common, "--to", ids["ben"].session_id, "how are you?"])
    assert r.exit_code == 0, r.output
    r = run(cli, ["inbox", "--profile", "ben", *common, "--wait", "3"])
    assert "Ann" in r.output and "how are you?" in r.output, r.output
    r = run(cli, ["inbox", "--profile", "ben", *common])
    assert "how are you?" not in r.output  # shown once


async def test_async_sync_skewed_clock_and_guard_killed(devnet: Devnet, tmp_path: Path) -> None:
    skewed = NetworkClock(lambda: int(time.time() * 1000) + 5 * 60_000)  # five minutes fast
    a, b = client(devnet, tmp_path, "a", clock=skewed), client(devnet, tmp_path, "b")
    await asyncio.gather(a.start(), b.start())
    try:
        rep = await a.send_friend_request(b.session_id, "hi")
        assert any(e.startswith("406") for e in rep.store.events)  # type: ignore[union-attr]
        await wait_event(b, lambda e: e.kind == "request")
        await b.accept(a.session_id, "welcome")
        await wait_event(a, lambda e: e.kind == "accepted")
        assert (await a.send_text(b.session_id, "async one")).route == "async"
        await wait_event(b, lambda e: e.text == "async one")
        await wait_event(a, lambda e: e.kind == "status")
        assert (await a.send_text(b.session_id, "sync one")).route == "sync"
        await wait_event(b, lambda e: e.text == "sync one" and e.via == "sync")
        # SIGKILL the guard of every path a uses (a listening node too, if it is one).
        by_key = {n["ed25519"]: n["name"] for n in devnet.nodes}
        victims = {p.guard.ed25519 for p in a.pool.paths}
        assert victims
        for key in victims:
            proc = devnet.procs[by_key[key]]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
        sent = [f"after kill {i}" for i in range(3)]
        for s in sent:
            await a.send_text(b.session_id, s)
        await wait_texts(b, sent, timeout=40.0)
        got = [m["body"] for m in b.history() if m["dir"] == "in"]
        # Nothing lost, nothing shown twice; order across routes is not promised.
        assert got[:2] == ["async one", "sync one"]
        assert sorted(got[2:]) == sorted(sent)
        assert not victims.intersection(h.ed25519 for p in a.pool.paths for h in p.hops)
    finally:
        await asyncio.gather(a.stop(), b.stop())
