"""Disappearing messages on a real loopback devnet: node processes with their own SQLite files,
replication and purge loop, clients over onion requests.  After the after-read timer and one
purge round, no node file and no client file holds the message (text, stored copy, sealed row)."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from protect_aids import befriend, scan
from session_core.client import Client, ClientConfig
from session_core.devnet.launcher import Devnet, DevnetOptions
from session_core.identity import Identity
from session_core.protocol.expiration import Expiration

pytestmark = pytest.mark.slow
NODES = 4
PURGE_INTERVAL_S = 10.0  # NodeConfig.purge_interval


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    d = tmp_path_factory.mktemp("protect-devnet")
    net = Devnet(d)
    net.up(DevnetOptions(d, nodes=NODES, block_interval=0.5, timeout=60))
    try:
        yield net
    finally:
        net.down(grace=2.0)


def node_rows(net: Devnet, owner: str) -> list[tuple[str, str, int]]:
    rows = []
    for db_file in sorted(net.directory.glob("node-*/messages.db")):
        db = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
        try:
            rows += db.execute("SELECT hash, data, expiration FROM messages WHERE owner = ?", (owner,)).fetchall()
        finally:
            db.close()
    return rows


async def test_after_read_message_leaves_no_trace_on_any_node_or_client(devnet: Devnet, tmp_path: Path) -> None:
    def client(name: str) -> Client:
        cfg = ClientConfig([devnet.chain_url], tmp_path / name, poll_interval=0.2, listen_interval=0.1,
                           ack_timeout=2.0, request_timeout=3.0, sync=False)
        return Client(Identity.generate(), name, cfg)

    a, b = client("a"), client("b")
    await a.start(); await b.start()
    try:
        await befriend(a, b)
        await a.set_disappearing(b.session_id, Expiration("after_read", 5))
        await b.next_event(lambda e: e.kind == "timer", 20)
        older = {h for h, _, _ in node_rows(devnet, b.session_id)}
        canary = "CANARY-devnet-after-read-5b1c"
        await a.send_text(b.session_id, canary)
        await b.next_event(lambda e: e.kind == "message" and e.text == canary, 20)
        swarm = await b.router.swarm_of(b.session_id)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the nodes' own replication reaches every member
            copies = [r for r in node_rows(devnet, b.session_id) if r[0] not in older]
            if len(copies) >= len(swarm):
                break
            await asyncio.sleep(0.2)
        assert len(copies) == len(swarm)
        db = sqlite3.connect(tmp_path / "b" / "client.db")
        sealed = [bytes(r[0]) for r in db.execute("SELECT blob FROM messages ORDER BY id DESC LIMIT 1")]
        db.close()
        needles = [canary.encode(), *[d.encode() for _, d, _ in copies], *[base64.b64decode(d) for _, d, _ in copies],
                   *sealed]
        roots = [devnet.directory, tmp_path / "a", tmp_path / "b"]
        assert scan(roots, needles)  # found while it lives
        read_at = int(time.time() * 1000)
        assert await b.mark_read(a.session_id) == 1
        shortened = [r for r in node_rows(devnet, b.session_id) if r[0] not in older]
        assert len(shortened) == len(swarm) and all(e <= read_at + 6_000 for _, _, e in shortened)
        await asyncio.sleep(5 + PURGE_INTERVAL_S + 2)  # the timer, then one purge round of every node
        assert canary not in [m["body"] for m in a.history() + b.history()]
        assert scan(roots, needles) == []
    finally:
        await a.stop(); await b.stop()


def test_cli_disappear_remote_wipe_backup_restore(devnet: Devnet, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from session_core.cli import cli
    from session_core.identity_store import ProfileStore

    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    store = ProfileStore(tmp_path / "home")
    ids = {n: Identity.generate() for n in ("ann", "ben")}
    for n, ident in ids.items():
        store.create(n, ident, "pw", display_name=n.title(), created_ms=1)
    ann, ben = ids["ann"].session_id, ids["ben"].session_id

    def run(*args: str, env: dict[str, str] | None = None) -> str:
        r = CliRunner().invoke(cli, [*args], env=env, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return str(r.output)

    net = ["--home", str(tmp_path / "home"), "--devnet", str(devnet.directory)]
    run("send", "--profile", "ann", *net, "--to", ben, "--request", "hello ben")
    run("inbox", "--profile", "ben", *net, "--wait", "5")
    run("inbox", "--profile", "ben", *net, "--accept", ann)
    assert "accepted your friend request" in run("inbox", "--profile", "ann", *net, "--wait", "5")
    assert "after_read:5" in run("disappear", "--profile", "ann", *net, "--to", ben, "after_read:5")
    canary = "CANARY-cli-disappearing-77e0"
    run("send", "--profile", "ann", *net, "--to", ben, canary)
    shown = run("inbox", "--profile", "ben", *net, "--wait", "5")
    assert "set disappearing messages: after_read:5" in shown and canary in shown  # shown = read: the timer runs
    secret = run("remote-wipe", "arm", "--profile", "ben", "--home", str(tmp_path / "home"),
                 "--friend", ann).split(": ")[1].split()[0]
    backup = tmp_path / "ben.backup"
    run("backup", "create", "--profile", "ben", "--home", str(tmp_path / "home"), "--out", str(backup))
    time.sleep(5 + PURGE_INTERVAL_S + 2)
    assert canary not in run("inbox", "--profile", "ben", *net)
    assert scan([devnet.directory, tmp_path / "home"], [canary.encode()]) == []
    # The friend reveals the secret: one poll of ben's inbox wipes the profile.
    run("send", "--profile", "ann", *net, "--to", ben, f"as agreed {secret}")
    assert "wiped" in run("inbox", "--profile", "ben", *net, "--wait", "5")
    assert not (tmp_path / "home" / "profiles" / "ben").exists()
    # Restore from the phrase: contacts and sessions are back, the old trigger does not wipe again.
    out = run("backup", "restore", "--profile", "ben2", "--home", str(tmp_path / "home"), "--in", str(backup),
              env={"SESSION_CORE_PHRASE": ids["ben"].mnemonic})
    assert "1 contacts" in out
    run("inbox", "--profile", "ben2", *net, "--wait", "2")
    assert (tmp_path / "home" / "profiles" / "ben2" / "client.db").exists()
    run("send", "--profile", "ann", *net, "--to", ben, "welcome back")
    assert "welcome back" in run("inbox", "--profile", "ben2", *net, "--wait", "5")
