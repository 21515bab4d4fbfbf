"""The client against a real loopback devnet (chain + node processes). One small devnet for the
module; every wait is bounded; the devnet is stopped whatever happens."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from session_core import _backend
from session_core.cli import cli
from session_core.client import Client, ClientConfig, ClientEvent
from session_core.client.snode import Snode
from session_core.client.clock import NetworkClock
from session_core.devnet.launcher import Devnet, DevnetOptions, http_json
from session_core.identity import Identity
from session_core.identity_store import ProfileStore
from session_core.testing.observer import read_observations

pytestmark = pytest.mark.slow
NODES = 6


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    d = tmp_path_factory.mktemp("client-devnet")
    net = Devnet(d)
    # observe: every node logs what it handles (test aid), for the metadata test.
    net.up(DevnetOptions(d, nodes=NODES, block_interval=0.5, timeout=60, observe=True))
    try:
        yield net
    finally:
        # Nodes whose peers were SIGKILLed can take ~10 s each to exit on SIGTERM (ZMQ linger);
        # give each 2 s, then the launcher kills it, so the module stays short.
        net.down(grace=2.0)


def client(net: Devnet, home: Path, name: str, sync: bool = True, **kw: object) -> Client:
    cfg = ClientConfig([net.chain_url], home / name, poll_interval=0.2, listen_interval=0.1, ack_timeout=2.0,
                       request_timeout=2.0, sync=sync)
    return Client(Identity.generate(), name, cfg, **kw)  # type: ignore[arg-type]


async def wait_event(c: Client, pred: Callable[[ClientEvent], bool], timeout: float = 15.0) -> ClientEvent:
    return await c.next_event(pred, timeout)


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
    assert "Ben" in r.output and "accepted your friend request" in r.output, r.output
    r = run(cli, ["send", "--profile", "ann", *common, "--to", ids["ben"].session_id, "how are you?"])
    assert r.exit_code == 0, r.output
    r = run(cli, ["inbox", "--profile", "ben", *common, "--wait", "3"])
    assert "Ann" in r.output and "how are you?" in r.output, r.output
    r = run(cli, ["inbox", "--profile", "ben", *common])
    assert "how are you?" not in r.output  # shown once


async def befriend(a: Client, b: Client) -> None:
    await a.send_friend_request(b.session_id, "hi")
    await wait_event(b, lambda e: e.kind == "request")
    await b.accept(a.session_id, "welcome")
    await wait_event(a, lambda e: e.kind == "accepted")


def history_in(c: Client) -> list[str]:
    return [m["body"] for m in c.history() if m["dir"] == "in"]


async def test_no_node_sees_sender_address_with_recipient_or_any_plaintext(devnet: Devnet, tmp_path: Path) -> None:
    """Every node of the module devnet logs what it handles (test aid --observe). Per request a
    node handled: if it came straight from a client (HTTP, so the node saw the client's address),
    nothing the node read of it may name either Session ID; and no node reads any plaintext."""
    a, b = client(devnet, tmp_path, "a"), client(devnet, tmp_path, "b")
    await asyncio.gather(a.start(), b.start())
    secrets = ["attack at dawn", "meet by the old mill"]
    try:
        await befriend(a, b)
        assert (await a.send_text(b.session_id, secrets[0])).route == "async"
        await wait_event(b, lambda e: e.text == secrets[0])
        await wait_event(a, lambda e: e.kind == "status")
        assert (await a.send_text(b.session_id, secrets[1])).route == "sync"
        await wait_event(b, lambda e: e.text == secrets[1] and e.via == "sync")
    finally:
        await asyncio.gather(a.stop(), b.stop())
    ids = [a.session_id.encode(), b.session_id.encode()]
    words = [w.encode() for w in secrets + ["welcome"]]
    lines = [o for n in devnet.nodes for o in read_observations(devnet.directory / n["name"] / "observe.jsonl")]
    requests: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for o in lines:
        body = base64.b64decode(o["body_b64"])
        readable = [body]
        if o["event"] == "storage":  # the exit reads the RPC; its data field is the envelope
            try:
                readable.append(base64.b64decode(json.loads(body)["params"]["data"]))
            except (ValueError, KeyError, TypeError):
                pass
        for blob in readable:
            assert not any(w in blob for w in words), f"plaintext seen by {o['node']}: {o['event']}"
        o["raw"] = body
        requests.setdefault((o["node"], o["req"]), []).append(o)
    from_clients = 0
    for items in requests.values():
        if not any(o["source"].startswith("client:") for o in items if o["event"] == "in"):
            continue
        for o in items:
            assert o.get("pubkey") not in (a.session_id, b.session_id), f"{o['node']} saw a client and a Session ID"
            assert not any(i in o["raw"] for i in ids), f"{o['node']} saw a client and a Session ID"
        from_clients += any(o["event"] != "in" for o in items)
    assert from_clients > 0  # guards did peel requests that came straight from our clients
    # ... and the log can show a leak: exits did learn whom the messages were for (from a node).
    named_b = [o for o in lines if o["event"] == "storage" and o.get("pubkey") == b.session_id]
    assert named_b and all(o["source"] == "node" for o in named_b)
    # The observed nodes relay with the C engine, as production nodes do: what it carried from
    # node to node without handing it to Python is counted on /status, not logged.
    if not _backend.NO_EXTENSIONS:
        engines = [http_json(n["http"] + "/status")["relay_engine"] for n in devnet.nodes]
        assert all(e is not None for e in engines)
        assert sum(e["relayed"] for e in engines) > 0  # middle hops did relay through the engine


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
        # SIGKILL the guard of each general path a uses (a listening node too, if it is one);
        # not of its detours too: on 6 nodes that could leave too few for any path.
        by_key = {n["ed25519"]: n["name"] for n in devnet.nodes}
        victims = {p.guard.ed25519 for p in a.pool.general}
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


async def test_dropping_and_tampering_nodes_other_copies_used(tmp_path: Path) -> None:
    """A second, small devnet (the bad nodes must not disturb the module devnet's tests): node 3
    acknowledges stores and keeps nothing, node 4 corrupts what it returns (test aid
    --misbehave). Both clients are pinned to a 3-node view of b's swarm holding both bad nodes,
    so every store and every poll meets them."""
    d = tmp_path / "bad-devnet"
    net = Devnet(d)
    net.up(DevnetOptions(d, nodes=5, block_interval=0.5, timeout=60, misbehave={3: "drop", 4: "tamper"}))
    try:
        a, b = client(net, tmp_path, "a", sync=False), client(net, tmp_path, "b", sync=False)
        await asyncio.gather(a.start(), b.start())
        try:
            swarm = await a.router.swarm_of(b.session_id)
            by_name = {n["name"]: n["ed25519"] for n in net.nodes}
            dropper, tamperer = by_name["node-03"], by_name["node-04"]
            honest = next(s for s in swarm if s.ed25519 not in (dropper, tamperer))
            pinned: list[Snode] = [s for s in swarm if s.ed25519 in (dropper, tamperer)] + [honest]
            assert len(pinned) == 3, "the bad nodes are not in b's swarm"
            a.router.swarms[b.session_id] = list(pinned)
            b.router.swarms[b.session_id] = list(pinned)
            await befriend(a, b)
            sent = [f"t{i}" for i in range(3)]
            reports = [await a.send_text(b.session_id, t) for t in sent]
            await wait_texts(b, sent, timeout=20.0)
            for _ in range(3):  # more polls: the bad nodes answer again, nothing new may appear
                await b.poll_once()
            assert sorted(history_in(b)) == sorted(sent)  # each once
            assert b.stats.undecryptable > 0  # the tampered copies were detected ...
            for rep in reports:  # ... and the dropper acknowledged every store it was given
                assert dropper in [n.ed25519 for n in rep.store.stored_on]  # type: ignore[union-attr]
            status = {n["name"]: http_json(n["http"] + "/status") for n in net.nodes}
            assert status["node-03"]["messages"] == 0 and status["node-04"]["messages"] > 0
        finally:
            await asyncio.gather(a.stop(), b.stop())
    finally:
        net.down(grace=2.0)
