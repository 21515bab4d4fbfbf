"""`session-core pow ...` as a script would use it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from session_core import pow
from session_core.cli import cli

PK = "05" + "ab" * 32


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["pow", *args])
    return result.exit_code, result.output


def test_solve_json_then_verify() -> None:
    code, out = run("solve", "--pubkey", PK, "--data", "aGk=", "-d", "20", "--timestamp",
                    "1700000000000", "--ttl", "86400000", "--json", "--threads", "2")
    assert code == 0, out
    doc = json.loads(out)
    assert pow.verify(doc["nonce"], 1700000000000, 86400000, PK, "aGk=", 20)
    assert doc["hash"] == pow.message_hash(doc["nonce"], 1700000000000, 86400000, PK, "aGk=")
    code, out = run("verify", doc["nonce"], "--timestamp", "1700000000000", "--ttl", "86400000",
                    "--pubkey", PK, "--data", "aGk=", "-d", "20")
    assert (code, out.strip()) == (0, "valid")


def test_verify_invalid_is_exit_1_and_bad_input_exit_2() -> None:
    base = ["--timestamp", "1554859211", "--ttl", "345600", "--pubkey", PK, "--data", "x"]
    code, out = run("verify", "AAAAAAAAAAA=", *base, "-d", "1000000")
    assert (code, out.strip()) == (1, "invalid")
    code, out = run("verify", "not-a-nonce!", *base)
    assert code == 2 and "nonce" in out
    code, out = run("solve", "--pubkey", "zz", "--data", "x")
    assert code == 2 and "pubkey" in out


def test_solve_timeout_is_reported() -> None:
    code, out = run("solve", "--pubkey", PK, "--data", "", "-d", str(2**50), "--timeout", "0.2")
    assert code == 2 and "no valid nonce within" in out


def test_demo_without_bench() -> None:
    code, out = run("demo", "--no-bench")
    assert code == 0, out
    assert out.count("verify=ok") == 4
