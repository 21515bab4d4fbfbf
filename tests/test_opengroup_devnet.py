"""Open groups end to end on a loopback devnet started with ``devnet up --opengroup``: two
profiles join a room with the CLI, post and read through 3-hop onion paths over the node
processes to the room server process, which only ever sees their blinded IDs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_core import blinding
from session_core.cli import cli
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def devnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("og-devnet") / "net"
    r = CliRunner().invoke(cli, ["devnet", "up", "--dir", str(d), "--nodes", "4", "--block-interval", "0.5",
                                 "--opengroup", "--detach"])
    try:
        assert r.exit_code == 0, r.output
        assert "room lobby: http://127.0.0.1:" in r.output
        yield d
    finally:
        CliRunner().invoke(cli, ["devnet", "down", "--dir", str(d)])


def test_join_post_read_through_onions(devnet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = CliRunner().invoke
    status = json.loads(run(cli, ["devnet", "status", "--dir", str(devnet_dir), "--json"]).output)
    lobby = status["opengroup"]["rooms"]["lobby"]
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    store = ProfileStore(tmp_path)
    ids = {n: Identity.generate() for n in ("ann", "ben")}
    for n, ident in ids.items():
        store.create(n, ident, "pw", display_name=n.title(), created_ms=1)
    common = ["--home", str(tmp_path), "--devnet", str(devnet_dir)]
    for n in ids:
        r = run(cli, ["opengroup", "join", "--profile", n, *common, lobby])
        assert r.exit_code == 0 and "joined Lobby" in r.output, r.output
    r = run(cli, ["opengroup", "post", "--profile", "ann", *common, "--room", "lobby", "hello from ann"])
    assert r.exit_code == 0 and "posted #1" in r.output, r.output
    r = run(cli, ["opengroup", "rooms", "--profile", "ben", *common])
    assert r.exit_code == 0 and "1 new" in r.output, r.output
    r = run(cli, ["opengroup", "read", "--profile", "ben", *common, "--room", "lobby"])
    assert r.exit_code == 0 and "hello from ann" in r.output, r.output
    r = run(cli, ["opengroup", "read", "--profile", "ben", *common, "--room", "lobby"])
    assert r.exit_code == 0 and "hello from ann" not in r.output  # read up to there already
    # what the server holds: blinded IDs only, none of the Session IDs
    server_pk = bytes.fromhex(status["opengroup"]["x25519"])
    db = sqlite3.connect(devnet_dir / "opengroup" / "opengroup.db")
    known = {r[0] for r in db.execute("SELECT session_id FROM users")}
    db.close()
    assert known == {blinding.blind15_key_pair(i.ed25519_seed, server_pk).blinded_id for i in ids.values()}
    assert not known & {i.session_id for i in ids.values()}


def test_cli_errors_are_one_line(devnet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    ProfileStore(tmp_path).create("cat", Identity.generate(), "pw", display_name="Cat", created_ms=1)
    common = ["--profile", "cat", "--home", str(tmp_path), "--devnet", str(devnet_dir)]
    run = CliRunner().invoke
    r = run(cli, ["opengroup", "join", *common, "http://127.0.0.1:1/lobby"])
    assert r.exit_code == 1 and "public_key" in r.output
    r = run(cli, ["opengroup", "post", *common, "--room", "lobby", "x"])
    assert r.exit_code == 1 and "no joined room" in r.output


def test_dm_file_and_reaction_through_onions(devnet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = CliRunner().invoke
    status = json.loads(run(cli, ["devnet", "status", "--dir", str(devnet_dir), "--json"]).output)
    lobby = status["opengroup"]["rooms"]["lobby"]
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    store = ProfileStore(tmp_path)
    common = ["--home", str(tmp_path), "--devnet", str(devnet_dir)]
    ids = {}
    for n in ("dee", "eli"):
        store.create(n, Identity.generate(), "pw", display_name=n.title(), created_ms=1)
        r = run(cli, ["opengroup", "join", "--profile", n, *common, lobby])
        assert r.exit_code == 0, r.output
        ids[n] = r.output.split()[-1]
    og = lambda p, *a: run(cli, ["opengroup", a[0], "--profile", p, *common, *a[1:]])  # noqa: E731
    r = og("eli", "read", "--room", "lobby")
    assert r.exit_code == 0, r.output
    r = og("dee", "dm", "--room", "lobby", "--to", ids["eli"], "a word in private")
    assert r.exit_code == 0 and "sent DM" in r.output, r.output
    r = og("eli", "inbox")
    assert r.exit_code == 0 and f"from {ids['dee']} (not a contact): a word in private" in r.output, r.output
    f = tmp_path / "photo.bin"
    f.write_bytes(bytes(range(256)) * 40)
    r = og("dee", "post", "--room", "lobby", "--file", str(f), "a photo")
    assert r.exit_code == 0 and "with file #" in r.output, r.output
    msg_id = r.output.split()[1].lstrip("#")
    r = og("eli", "react", "--room", "lobby", msg_id, "😀")
    assert r.exit_code == 0 and "reacted" in r.output, r.output
    r = og("eli", "read", "--room", "lobby", "--save")
    assert r.exit_code == 0 and "a photo  😀×1" in r.output and "saved to" in r.output, r.output
    assert (store.profile_dir("eli") / "attachments" / "photo.bin").read_bytes() == f.read_bytes()
