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
    base = ["--timestamp", "1554859211", "--ttl", "345600", "--pubkey", PK, "--data", "eA=="]
    code, out = run("verify", "AAAAAAAAAAA=", *base, "-d", "1000000")
    assert (code, out.strip()) == (1, "invalid")
    code, out = run("verify", "not-a-nonce!", *base)
    assert code == 2 and "nonce" in out
    code, out = run("solve", "--pubkey", "zz", "--data", "eA==")
    assert code == 2 and "pubkey" in out


def test_solve_prints_what_verify_needs() -> None:
    code, out = run("solve", "--pubkey", PK, "--data", "aGk=", "-d", "5", "--threads", "1")
    assert code == 0, out
    fields = dict(line.split(":", 1) for line in out.splitlines()[:3])
    nonce, ts, ttl = (fields[k].strip() for k in ("nonce", "timestamp", "ttl"))
    code, out = run("verify", nonce, "--timestamp", ts, "--ttl", ttl, "--pubkey", PK,
                    "--data", "aGk=", "-d", "5")
    assert (code, out.strip()) == (0, "valid")


def test_verify_help_says_the_timestamp_is_required() -> None:
    code, out = run("verify", "--help")
    assert code == 0 and "default: now" not in out and "--timestamp" in out
    code, out = run("verify", "AAAAAAAAAAA=", "--pubkey", PK, "--data", "aGk=")
    assert code == 2 and "--timestamp" in out


def test_bad_fields_are_refused_with_option_names() -> None:
    code, out = run("solve", "--pubkey", "05abab", "--data", "aGk=")
    assert code == 2 and "Session ID" in out and "66 hex" in out
    code, out = run("solve", "--pubkey", PK, "--data", "not base64!")
    assert code == 2 and "not base64" in out
    code, out = run("solve", "--pubkey", PK, "--data", "aGk=", "--timestamp", "soon")
    assert code == 2 and "--timestamp" in out and "timestamp_ms" not in out
    code, out = run("verify", "AAAAAAAAAAA=", "--timestamp", "1", "--ttl", "-5", "--pubkey", PK,
                    "--data", "aGk=")
    assert code == 2 and "--ttl" in out and "ttl_ms" not in out
    assert "Traceback" not in out


def test_solve_timeout_is_reported() -> None:
    code, out = run("solve", "--pubkey", PK, "--data", "", "-d", str(2**50), "--timeout", "0.2")
    assert code == 2 and "no valid nonce within" in out


def test_demo_without_bench() -> None:
    code, out = run("demo", "--no-bench")
    assert code == 0, out
    assert out.count("verify=ok") == 4


def test_bench_report_shows_ratios_not_goals() -> None:
    from session_core.bench.pow_bench import Report, Row, format_report

    report = Report(rows=[Row("OpenSSL SHA512_Transform (C loop)", 5e6), Row("session_core avx2", 2e6)],
                    ratios={"best_vs_openssl": 0.4, "threads2_vs_1": 1.1}, threads={1: 2e6, 2: 2.2e6},
                    verify_us=3.0, kernel="avx2", cpu="test")
    text = format_report(report)
    assert "TARGET" not in text.upper() and "best kernel / OpenSSL SHA512_Transform loop" in text
    assert "0.40x" in text and "2 threads / 1 thread" in text
