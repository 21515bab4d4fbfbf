"""``session-core id``: new, restore, show, list (through click's runner, real files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_core.cli import cli
from session_core.identity import Identity

VECTOR = json.loads((Path(__file__).parent / "data" / "identity_vectors.json").read_text())


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SESSION_CORE_PASSPHRASE", raising=False)
    monkeypatch.setenv("SESSION_CORE_HOME", str(tmp_path / "env-home"))
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, ["id", *args], input=input, catch_exceptions=False)

    return invoke


def test_new_then_show_and_reveal(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("new", "--profile", "alice", "--display-name", "Alice", input="pw\npw\n")
    assert result.exit_code == 0, result.output
    session_id = next(l.split()[-1] for l in result.output.splitlines() if "Session ID" in l)
    phrase = result.output.strip().splitlines()[-1].strip()
    assert Identity.from_mnemonic(phrase).session_id == session_id
    assert (tmp_path / "env-home" / "profiles" / "alice" / "identity.json").is_file()

    shown = run("show", "--profile", "alice")
    assert session_id in shown.output and "Alice" in shown.output and phrase not in shown.output
    revealed = run("show", "--profile", "alice", "--mnemonic", input="pw\n")
    assert phrase in revealed.output
    wrong = run("show", "--profile", "alice", "--mnemonic", input="nope\n")
    assert wrong.exit_code == 1 and "wrong passphrase" in wrong.output


def test_restore_vector_gives_the_known_session_id(run) -> None:  # type: ignore[no-untyped-def]
    seed = bytes.fromhex(VECTOR["identities"][0]["seed16"])
    phrase = Identity.from_seed(seed).mnemonic
    result = run("restore", "--profile", "old", input=f"{phrase}\npw\npw\n")
    assert result.exit_code == 0, result.output
    assert "05" + VECTOR["identities"][0]["x25519_pk"] in result.output


def test_restore_mistyped_word_is_a_clear_error(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    words = VECTOR["bip39"][1]["words"].replace("sausage", "sausag")
    result = run("restore", "--profile", "x", input=f"{words}\n")
    assert result.exit_code == 1
    assert "word 6 ('sausag')" in result.output and "'sausage'" in result.output
    assert not (tmp_path / "env-home" / "profiles" / "x").exists()


def test_home_option_and_listing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other"
    assert run("--home", str(other), "new", "--profile", "p1", input="a\na\n").exit_code == 0
    assert run("--home", str(other), "new", "--profile", "p2", input="b\nb\n").exit_code == 0
    listed = run("--home", str(other), "list").output.splitlines()
    assert [line.split()[0] for line in listed] == ["p1", "p2"]
    assert "no profiles" in run("show").output  # the env home is still empty


def test_duplicate_profile_refused(run) -> None:  # type: ignore[no-untyped-def]
    assert run("new", "--profile", "a", input="x\nx\n").exit_code == 0
    result = run("new", "--profile", "a", input="x\nx\n")
    assert result.exit_code == 1 and "already exists" in result.output


def test_passphrase_from_environment(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "envpw")
    assert run("new", "--profile", "s").exit_code == 0
    assert "recovery phrase:" in run("show", "--profile", "s", "--mnemonic").output


@pytest.mark.parametrize("kind", ["session", "session12", "bip39"])
def test_restore_says_which_format_it_recognised(run, kind: str) -> None:  # type: ignore[no-untyped-def]
    from session_core.recovery import encode_bip39

    seed = bytes.fromhex(VECTOR["identities"][0]["seed16"])
    phrase = {
        "session": Identity.from_seed(seed).mnemonic,
        "session12": " ".join(Identity.from_seed(seed).mnemonic.split()[:12]),
        "bip39": encode_bip39(seed),
    }[kind]
    result = run("restore", "--profile", kind, input=f"{phrase}\npw\npw\n")
    assert result.exit_code == 0, result.output
    expected = {"session": "Session 13-word phrase", "session12": "without its checksum word",
                "bip39": "legacy session_core BIP-39"}[kind]
    assert expected in result.output
    assert "05" + VECTOR["identities"][0]["x25519_pk"] in result.output
