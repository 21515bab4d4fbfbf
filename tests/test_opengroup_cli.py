"""The opengroup CLI against a room server process (``opengroup run``), over plain HTTP
(``--direct``): join, post, read, and a moderator's timed ban, its listing, and its effect."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_core.cli import cli
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

MOD = Identity.generate()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    d = tmp_path_factory.mktemp("og-cli")
    ready = d / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "session_core.cli", "opengroup", "run", "--data-dir", str(d),
                             "--ready-file", str(ready), "--room", "lobby:The Lobby", "--admin", MOD.session_id],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            if ready.exists():
                break
            assert proc.poll() is None, "the room server exited"
            time.sleep(0.05)
        yield json.loads(ready.read_text())
    finally:
        proc.terminate()
        proc.wait(10)


def test_join_post_read_ban(server: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    store = ProfileStore(tmp_path)
    store.create("mod", MOD, "pw", display_name="Mod", created_ms=1)
    store.create("eve", Identity.generate(), "pw", display_name="Eve", created_ms=1)
    url = server["rooms"]["lobby"]
    run = CliRunner().invoke

    def og(profile: str, *args: str) -> str:
        r = run(cli, ["opengroup", args[0], "--profile", profile, "--home", str(tmp_path), "--direct", *args[1:]])
        assert r.exit_code == 0, r.output
        return r.output

    for p in ("mod", "eve"):
        assert "joined The Lobby" in og(p, "join", url)
    assert "already in" in og("eve", "join", url)
    og("eve", "post", "--room", "lobby", "spam spam")
    out = og("mod", "read", "--room", "lobby")
    assert "spam spam" in out
    eve_id = run(cli, ["opengroup", "join", "--profile", "eve", "--home", str(tmp_path), "--direct", url]).output.split()[-1]
    assert eve_id.startswith("15")
    assert "banned" in og("mod", "ban", "--room", "lobby", "--timeout", "3600", eve_id)
    assert eve_id in og("mod", "bans", "--room", "lobby")
    r = run(cli, ["opengroup", "post", "--profile", "eve", "--home", str(tmp_path), "--direct", "--room", "lobby", "x"])
    assert r.exit_code == 1 and "403" in r.output and "banned" in r.output
    r = run(cli, ["opengroup", "bans", "--profile", "eve", "--home", str(tmp_path), "--direct", "--room", "lobby"])
    assert r.exit_code == 1 and "403" in r.output
    assert "unbanned" in og("mod", "ban", "--unban", "--room", "lobby", eve_id)
    og("eve", "post", "--room", "lobby", "sorry")
