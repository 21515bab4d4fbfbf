"""What a newcomer sees when something is missing or mistyped: one line saying what to do,
never a traceback (issue 12).  No network is started here; the devnet flows are in
test_client_devnet.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from session_core.cli import cli
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

PEER = "05" + "ab" * 32


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    ProfileStore(tmp_path).create("alice", Identity.generate(), "pw", display_name="Alice", created_ms=1)
    return tmp_path


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def one_clear_line(result: Result, *needles: str) -> None:
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1, result.output
    for needle in needles:
        assert needle in error[0], result.output


@pytest.mark.parametrize("command", [["send", "--to", PEER, "hi"], ["inbox"], ["chat"]])
def test_devnet_dir_without_devnet(home: Path, tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "no-devnet-here"
    r = run(command[0], "--profile", "alice", "--home", str(home), "--devnet", str(missing), *command[1:])
    one_clear_line(r, f"no devnet in {missing}", "session-core devnet up")


def test_no_network_says_what_to_give(home: Path) -> None:
    r = run("send", "--profile", "alice", "--home", str(home), "--to", PEER, "hi")
    one_clear_line(r, "--devnet DIR", "--seed URL")


def test_dead_seed_names_it_once_without_class_names(home: Path) -> None:
    seed = "http://127.0.0.1:1/json_rpc"
    r = run("send", "--profile", "alice", "--home", str(home), "--seed", seed, "--to", PEER, "hi")
    one_clear_line(r, "no seed answered", "cannot connect")
    assert r.output.count(seed) == 1 and "Error'" not in r.output and "ConnectorError" not in r.output


def test_seed_that_is_not_a_url_is_reported(home: Path) -> None:
    r = run("inbox", "--profile", "alice", "--home", str(home), "--seed", "not-a-url")
    assert "warning: --seed 'not-a-url' is not an http(s) URL" in r.output
    one_clear_line(r, "--seed URL")


def test_unknown_profile_says_how_to_create_it(home: Path) -> None:
    r = run("inbox", "--profile", "bob", "--home", str(home), "--seed", "http://127.0.0.1:1/json_rpc")
    one_clear_line(r, "no profile 'bob'", "session-core id new --profile bob")


def test_send_refuses_a_recipient_that_is_not_a_session_id(home: Path) -> None:
    r = run("send", "--profile", "alice", "--home", str(home), "--to", "05zz", "hi")
    assert r.exit_code == 2 and "not a Session ID" in r.output


def test_chat_without_network_closes_its_session(home: Path) -> None:
    # aiohttp reports an unclosed session on stderr when the client is not stopped.
    env = dict(os.environ, SESSION_CORE_PASSPHRASE="pw", PYTHONWARNINGS="default")
    proc = subprocess.run(
        [sys.executable, "-m", "session_core.cli", "chat", "--profile", "alice", "--home", str(home),
         "--seed", "http://127.0.0.1:1/json_rpc"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Unclosed" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("Error: no seed answered"), proc.stderr


def test_devnet_start_suggests_up_and_down_twice_is_fine(tmp_path: Path) -> None:
    r = run("devnet", "start")
    assert r.exit_code == 2 and "session-core devnet up" in r.output
    for _ in range(2):
        r = run("devnet", "down", "--dir", str(tmp_path))
        assert r.exit_code == 0 and "nothing to stop" in r.output
    r = run("devnet", "status", "--dir", str(tmp_path))
    one_clear_line(r, "session-core devnet up")


def test_id_new_takes_home_after_the_subcommand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    r = run("id", "new", "--home", str(tmp_path), "--profile", "zoe")
    assert r.exit_code == 0, r.output
    assert [p.name for p in ProfileStore(tmp_path).list()] == ["zoe"]
    r = run("id", "list", "--home", str(tmp_path))
    assert r.exit_code == 0 and r.output.startswith("zoe ")


def test_piping_a_passphrase_prints_no_getpass_warning(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SESSION_CORE_PASSPHRASE"}
    proc = subprocess.run(
        [sys.executable, "-m", "session_core.cli", "id", "new", "--home", str(tmp_path), "--profile", "p"],
        input="hunter2x\nhunter2x\n", capture_output=True, text=True, timeout=60, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "GetPassWarning" not in proc.stderr and "may be echoed" not in proc.stderr, proc.stderr
    assert "hunter2x" not in proc.stdout + proc.stderr
    assert proc.stdout.startswith("profile:      p\n")


def test_restore_help_says_how_the_words_are_entered() -> None:
    r = run("id", "restore", "--help")
    assert r.exit_code == 0 and "one line, separated by spaces" in r.output


@pytest.mark.parametrize("command, what", [
    (["fileserver", "run"], "the file server stopped"),
    (["opengroup", "run"], "the room server stopped"),
    (["node", "run", "--chain", "http://127.0.0.1:1/json_rpc"], "the node stopped"),
])
def test_a_server_that_cannot_use_its_data_dir_says_so_in_one_line(tmp_path: Path, command: list[str],
                                                                    what: str) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    one_clear_line(run(*command, "--data-dir", str(not_a_dir / "data")), what)
