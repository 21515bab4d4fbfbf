"""``session-core group`` against a real loopback devnet (chain + node processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_core.cli import cli
from session_core.devnet.launcher import Devnet, DevnetOptions
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    d = tmp_path_factory.mktemp("groups-devnet")
    net = Devnet(d)
    net.up(DevnetOptions(d, nodes=6, block_interval=0.5, timeout=60))
    try:
        yield net
    finally:
        net.down(grace=2.0)


def profiles(devnet: Devnet, home: Path, monkeypatch: pytest.MonkeyPatch, *names: str) -> tuple[dict[str, Identity], list[str]]:
    """Fresh profiles ``names`` under ``home`` (passphrase "pw"), and the options every command takes."""
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    store = ProfileStore(home)
    ids = {n: Identity.generate() for n in names}
    for n, ident in ids.items():
        store.create(n, ident, "pw", display_name=n.title(), created_ms=1)
    return ids, ["--home", str(home), "--devnet", str(devnet.directory)]


def test_group_create_send_kick_read(devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids, common = profiles(devnet, tmp_path, monkeypatch, "ann", "ben", "cal")

    def run(profile: str, *args: str) -> str:
        r = CliRunner().invoke(cli, ["group", args[0], "--profile", profile, *common, *args[1:]])
        assert r.exit_code == 0, r.output
        return r.output

    out = run("ann", "create", "--member", ids["ben"].session_id, "--member", ids["cal"].session_id)
    gid = out.split()[0]
    assert gid.startswith("03") and len(gid) == 66
    assert "generation 0, 3 members" in run("ben", "join", gid)
    assert "generation 0, 3 members" in run("cal", "join", gid)
    assert "sent:" in run("ben", "send", gid, "hello from ben")
    assert "hello from ben" in run("cal", "read", gid, "--wait", "3")
    # The interactive chat's /group: cal switches to the group and types a line.
    env = dict(os.environ, SESSION_CORE_PASSPHRASE="pw")
    proc = subprocess.run([sys.executable, "-m", "session_core.cli", "chat", "--profile", "cal", *common],
                          input=f"/group {gid}\nhi from cal's chat\n/quit\n", capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"now in group {gid[:12]}" in proc.stdout and "(group, swarm of" in proc.stdout, proc.stdout
    assert "hi from cal's chat" in run("ben", "read", gid, "--wait", "3")
    assert "generation 1: 2 members; 1 record(s) stored" in run("ann", "kick", gid, ids["cal"].session_id)
    run("ben", "send", gid, "cal cannot read this")
    out = run("cal", "read", gid, "--wait", "3")
    assert "removed from the group" in out and "cal cannot read this" not in out
    assert "cal cannot read this" in run("ann", "read", gid, "--wait", "3")
    assert "admin" in run("ann", "list") and "removed" in run("cal", "list")
    r = CliRunner().invoke(cli, ["group", "kick", "--profile", "ben", *common, gid, ids["ann"].session_id])
    assert r.exit_code != 0 and "admin" in r.output


def test_group_invitation_through_the_1to1_conversation(devnet: Devnet, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ids, common = profiles(devnet, tmp_path, monkeypatch, "ann", "dan", "eve")

    def run(*args: str, expect: int = 0) -> str:
        r = CliRunner().invoke(cli, [*args, *common])  # output: stdout and stderr
        assert r.exit_code == expect, r.output
        return r.output

    run("send", "--profile", "ann", "--to", ids["dan"].session_id, "--request", "hi dan")
    run("inbox", "--profile", "dan", "--wait", "5", "--accept", ids["ann"].session_id)
    assert "accepted your friend request" in run("inbox", "--profile", "ann", "--wait", "5")
    out = run("group", "create", "--profile", "ann", "--name", "Climbers",
              "--member", ids["dan"].session_id, "--member", ids["eve"].session_id)
    gid = out.split()[0]
    assert "invited (async)" in out and "not invited" in out  # eve is no contact of ann
    invites = run("group", "invites", "--profile", "dan")
    assert f"{gid}  Climbers  from {ids['ann'].session_id}" in invites
    assert "no pending group invitations" in run("group", "invites", "--profile", "eve")
    assert "joined Climbers: generation 0, 3 members" in run("group", "accept", "--profile", "dan", gid)
    assert "no pending invitation" in run("group", "decline", "--profile", "dan", gid, expect=1)
    assert "Climbers" in run("group", "list", "--profile", "dan")
