"""The protection commands through click's runner, on real files: wipe, pin (with the duress
PIN), backup create/restore (tampered: refused, no profile made), remote-wipe and disappear
refusing bad input without changing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from protect_aids import files_under, scan
from session_core.cli import cli
from session_core.identity import Identity


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for env in ("SESSION_CORE_PASSPHRASE", "SESSION_CORE_PIN", "SESSION_CORE_DURESS_PIN", "SESSION_CORE_PHRASE"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("SESSION_CORE_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


def new_profile(run, name: str = "alice") -> str:  # type: ignore[no-untyped-def]
    out = run("id", "new", "--profile", name, "--display-name", "Alice-CANARY", input="pw\npw\n")
    assert out.exit_code == 0, out.output
    return str(out.output.strip().splitlines()[-1].strip())  # the phrase


def test_wipe_asks_then_erases(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new_profile(run)
    d = tmp_path / "home" / "profiles" / "alice"
    before = {p: p.read_bytes() for p in files_under(d)}
    out = run("wipe", "--profile", "alice", input="bob\n")
    assert out.exit_code == 1 and "nothing was wiped" in out.output
    assert {p: p.read_bytes() for p in files_under(d)} == before
    out = run("wipe", "--profile", "nobody", "--yes")
    assert out.exit_code == 1 and "no profile 'nobody'" in out.output
    out = run("wipe", "--profile", "alice", input="alice\n")
    assert out.exit_code == 0 and not d.exists()
    assert scan([tmp_path / "home"], [b"Alice-CANARY"]) == []


def test_pin_duress_looks_like_a_fresh_install(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new_profile(run)
    sid = run("id", "show", "--profile", "alice").output.split("Session ID:")[1].split()[0]
    bad = run("pin", "set", "--profile", "alice", env={"SESSION_CORE_PASSPHRASE": "pw", "SESSION_CORE_PIN": "12",
                                                       "SESSION_CORE_DURESS_PIN": "9999"})
    assert bad.exit_code == 1 and "4 to 32 digits" in bad.output
    assert not (tmp_path / "home" / "profiles" / "alice" / "pin.json").exists()
    ok = run("pin", "set", "--profile", "alice", env={"SESSION_CORE_PASSPHRASE": "pw", "SESSION_CORE_PIN": "2468",
                                                      "SESSION_CORE_DURESS_PIN": "1357"})
    assert ok.exit_code == 0, ok.output
    assert run("pin", "unlock", "--profile", "alice", env={"SESSION_CORE_PIN": "2468"}).output.strip() == sid
    wrong = run("pin", "unlock", "--profile", "alice", env={"SESSION_CORE_PIN": "0000"})
    assert wrong.exit_code == 1 and "wrong PIN" in wrong.output
    duress = run("pin", "unlock", "--profile", "alice", env={"SESSION_CORE_PIN": "1357"})
    never = run("pin", "unlock", "--profile", "nobody", env={"SESSION_CORE_PIN": "1357"})
    assert duress.exit_code == never.exit_code == 1
    assert duress.output == never.output.replace("nobody", "alice")
    fresh = run("id", "list", env={"SESSION_CORE_HOME": str(tmp_path / "fresh")}).output
    assert run("id", "list").output == fresh.replace(str(tmp_path / "fresh"), str(tmp_path / "home"))
    # The messaging commands too: the duress PIN answers `send` like a profile that never was.
    new_profile(run, "carol")
    run("pin", "set", "--profile", "carol", env={"SESSION_CORE_PASSPHRASE": "pw", "SESSION_CORE_PIN": "2468",
                                                 "SESSION_CORE_DURESS_PIN": "1357"})
    to = Identity.generate().session_id
    seed = ["--seed", "http://127.0.0.1:9/json_rpc"]
    duress = run("send", "--profile", "carol", *seed, "--to", to, "hi", env={"SESSION_CORE_PIN": "1357"})
    never = run("send", "--profile", "nobody", *seed, "--to", to, "hi", env={"SESSION_CORE_PIN": "1357"})
    assert duress.exit_code == never.exit_code == 1
    assert duress.output == never.output.replace("nobody", "carol")


def test_backup_roundtrip_and_tampered_backup_makes_no_profile(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    phrase = new_profile(run)
    f = tmp_path / "alice.backup"
    out = run("backup", "create", "--profile", "alice", "--out", str(f), env={"SESSION_CORE_PASSPHRASE": "pw"})
    assert out.exit_code == 0, out.output
    again = run("backup", "create", "--profile", "alice", "--out", str(f), env={"SESSION_CORE_PASSPHRASE": "pw"})
    assert again.exit_code == 1 and "exists" in again.output
    bad = tmp_path / "bad.backup"
    raw = bytearray(f.read_bytes())
    raw[-5] ^= 0x40
    bad.write_bytes(bytes(raw))
    env = {"SESSION_CORE_PHRASE": phrase, "SESSION_CORE_PASSPHRASE": "pw2"}
    out = run("backup", "restore", "--profile", "alice2", "--in", str(bad), env=env)
    assert out.exit_code == 1 and "does not authenticate" in out.output
    assert not (tmp_path / "home" / "profiles" / "alice2").exists()
    other = " ".join(Identity.generate().mnemonic.split())
    out = run("backup", "restore", "--profile", "alice3", "--in", str(f), env={**env, "SESSION_CORE_PHRASE": other})
    assert out.exit_code == 1 and not (tmp_path / "home" / "profiles" / "alice3").exists()
    out = run("backup", "restore", "--profile", "alice2", "--in", str(f), env=env)
    assert out.exit_code == 0 and "restored alice2" in out.output


def test_remote_wipe_and_disappear_refuse_bad_input(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new_profile(run)
    stranger = Identity.generate().session_id
    out = run("remote-wipe", "arm", "--profile", "alice", "--friend", stranger, env={"SESSION_CORE_PASSPHRASE": "pw"})
    assert out.exit_code == 1 and "not an established contact" in out.output
    listed = run("remote-wipe", "list", "--profile", "alice", env={"SESSION_CORE_PASSPHRASE": "pw"})
    assert listed.exit_code == 0 and listed.output == ""
    out = run("disappear", "--profile", "alice", "--to", stranger, "after_send:2")
    assert out.exit_code == 2 and "5.." in out.output


async def test_chat_protection_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from protect_aids import befriend, make_client, sqlite_net, wait_event
    from session_core.commands.chat_cmd import _protect_command
    from session_core.errors import InvalidExpirationError

    net = sqlite_net(tmp_path)
    a, b = make_client(net, tmp_path / "a", "alice"), make_client(net, tmp_path / "b", "bob")
    await a.start(); await b.start()
    await befriend(a, b)
    assert not await _protect_command(a, "/disappear", "after_read:60", [])  # no contact selected
    assert "no contact selected" in capsys.readouterr().out
    with pytest.raises(InvalidExpirationError):
        await _protect_command(a, "/disappear", "sometimes", [b.session_id])
    assert a.disappearing(b.session_id) is None
    assert not await _protect_command(a, "/disappear", "after_read:60", [b.session_id])
    assert (await wait_event(b, lambda e: e.kind == "timer")).text == "after_read:60"
    assert not await _protect_command(a, "/arm", "", [b.session_id])
    assert "wipe-" in capsys.readouterr().out and len(a.remote_wipe_armings()) == 1
    assert not await _protect_command(a, "/disarm", "", [b.session_id])
    assert a.remote_wipe_armings() == []
    assert not await _protect_command(a, "/backup", str(tmp_path / "a.backup"), [b.session_id])
    assert (tmp_path / "a.backup").read_bytes().startswith(b"SCBACKUP")
    assert not await _protect_command(a, "/wipe", "", [b.session_id])
    assert (tmp_path / "a").exists()
    assert await _protect_command(a, "/wipe", "yes", [b.session_id])
    assert a.wiped and not (tmp_path / "a").exists()
    await a.stop(); await b.stop()


def test_pin_attempt_limit_through_the_commands(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new_profile(run)
    d = tmp_path / "home" / "profiles" / "alice"
    env = {"SESSION_CORE_PASSPHRASE": "pw", "SESSION_CORE_PIN": "2468", "SESSION_CORE_DURESS_PIN": "1357"}
    bad = run("pin", "set", "--profile", "alice", "--max-failures", "2", env=env)
    assert bad.exit_code == 1 and "3 to 100 wrong PINs" in bad.output and not (d / "pin.json").exists()
    assert run("pin", "set", "--profile", "alice", "--max-failures", "3", env=env).exit_code == 0
    for left in ("2 tries", "1 try"):
        out = run("pin", "unlock", "--profile", "alice", env={"SESSION_CORE_PIN": "0000"})
        assert out.exit_code == 1 and f"wrong PIN ({left} left before the PIN is locked)" in out.output
    out = run("pin", "unlock", "--profile", "alice", env={"SESSION_CORE_PIN": "0000"})
    assert out.exit_code == 1 and "the PIN is locked" in out.output and len(out.output.strip().splitlines()) == 1
    out = run("pin", "unlock", "--profile", "alice", env={"SESSION_CORE_PIN": "2468"})
    assert out.exit_code == 1 and "pin remove --passphrase" in out.output
    assert run("pin", "remove", "--profile", "alice", env={"SESSION_CORE_PIN": "2468"}).exit_code == 1
    out = run("pin", "remove", "--profile", "alice", "--passphrase", env={"SESSION_CORE_PASSPHRASE": "nope"})
    assert out.exit_code == 1 and (d / "pin.json").exists()
    out = run("pin", "remove", "--profile", "alice", "--passphrase", env={"SESSION_CORE_PASSPHRASE": "pw"})
    assert out.exit_code == 0, out.output
    assert not (d / "pin.json").exists() and not (d / ".pin-state").exists()
