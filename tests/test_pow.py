"""session_core.pow through its public API, on both backends."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time

import pytest

from conftest import load_json
from session_core import _backend, pow
from session_core.errors import (
    InvalidDataError,
    InvalidDifficultyError,
    InvalidNonceError,
    InvalidPubkeyError,
    InvalidTimestampError,
    InvalidTTLError,
    NonceSpaceExhaustedError,
    SessionCoreError,
    SolveCancelledError,
    SolveTimeoutError,
)

V = load_json("pow_vectors.json")
VALID = V["valid"]
PK = "05" + "ab" * 32


def vector_args(**override: object) -> tuple:
    f = {**VALID, **override}
    return (f["nonce"], f["timestamp"], f["ttl"], f["pubkey"], f["data"], f["difficulty"])


def reference_first_nonce(ts: int, ttl: int, pk: str, data: str, d: int, start: int = 0) -> int:
    """Independent oracle: hashlib, straight from docs/interop.md §1."""
    payload = f"{ts}{ttl}{pk}{data}".encode()
    total = len(payload) + 8
    tgt = (2**64 - 1) // (d * (total + ((ttl // 1000) * total) // 65535))
    h1 = hashlib.sha512(payload).digest()
    n = start
    while int.from_bytes(hashlib.sha512(n.to_bytes(8, "big") + h1).digest()[:8], "big") >= tgt:
        n = (n + 1) % 2**64
    return n


# --- docs/interop.md §1.8 upstream vectors -------------------------------------------------------


def test_upstream_vector_valid(backend: str) -> None:
    assert pow.verify(*vector_args())


@pytest.mark.parametrize("variant", V["invalid_variants"], ids=lambda v: v["field"])
def test_upstream_vector_invalid_variants(backend: str, variant: dict) -> None:
    assert not pow.verify(*vector_args(**{variant["field"]: variant["value"]}))


def test_upstream_derived_values(backend: str) -> None:
    d = V["derived"]
    raw = pow.payload(VALID["timestamp"], VALID["ttl"], VALID["pubkey"], VALID["data"])
    assert len(raw) == d["payload_len"]
    assert hashlib.sha512(raw).hexdigest() == d["sha512_payload"]
    assert pow.target(len(raw), int(VALID["ttl"]), VALID["difficulty"]) == d["target"]
    assert pow.decode_nonce(VALID["nonce"]) == d["nonce_value"]
    h = pow.message_hash(VALID["nonce"], VALID["timestamp"], VALID["ttl"], VALID["pubkey"], VALID["data"])
    assert h == d["message_hash"]


def test_upstream_vector_solves_to_the_same_nonce(backend: str) -> None:
    # Desktop's worker searches from 0 step 1: the upstream nonce must be the first valid one
    # unless an earlier one exists; either way our answer must equal the hashlib oracle's.
    ts, ttl = int(VALID["timestamp"]), int(VALID["ttl"])
    expect = reference_first_nonce(ts, ttl, VALID["pubkey"], VALID["data"], VALID["difficulty"])
    got = pow.solve(ts, ttl, VALID["pubkey"], VALID["data"], VALID["difficulty"], threads=1)
    assert pow.decode_nonce(got) == expect
    assert pow.verify(got, ts, ttl, VALID["pubkey"], VALID["data"], VALID["difficulty"])


def test_target_formula_edges() -> None:
    # ttl below 1 s contributes nothing; 65535 (not 65536) is the divisor.
    assert pow.target(0, 999, 1) == (2**64 - 1) // 8
    assert pow.target(65527, 1000, 1) == (2**64 - 1) // (65535 + 1)
    assert pow.target(100, 0, 3) == (2**64 - 1) // (3 * 108)


# --- solve ----------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [0, 12345, 2**64 - 3000])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_solve_is_first_valid_nonce_for_any_thread_count(backend: str, threads: int, start: int) -> None:
    ts, ttl, data, d = 1700000000000, 86_400_000, "aGVsbG8gd29ybGQ=", 3
    expect = reference_first_nonce(ts, ttl, PK, data, d, start)
    got = pow.solve(ts, ttl, PK, data, d, threads=threads, start=start)
    assert pow.decode_nonce(got) == expect
    assert len(got) == 12 and got.endswith("=")


@pytest.mark.parametrize("threads", [1, 2])
def test_solve_past_the_inline_blocks_uses_threads(backend: str, threads: int) -> None:
    ts, ttl, data, d = 1700000000000, 3_600_000, "eA==", 700
    expect = reference_first_nonce(ts, ttl, PK, data, d)
    assert expect > 16 * 1024  # precondition: beyond the inline fast path, so workers ran
    assert pow.decode_nonce(pow.solve(ts, ttl, PK, data, d, threads=threads)) == expect


@pytest.mark.parametrize("threads", [1, 2])
def test_solve_wraps_around_2_pow_64(backend: str, threads: int) -> None:
    ts, ttl, data, d, start = 1700000000000, 86_400_000, "aGk=", 4, 2**64 - 40
    expect = reference_first_nonce(ts, ttl, PK, data, d, start)
    assert expect < start  # precondition: the answer lies past the wrap
    assert pow.decode_nonce(pow.solve(ts, ttl, PK, data, d, threads=threads, start=start)) == expect


@pytest.mark.parametrize("kernel", pow.kernels())
def test_every_supported_kernel_gives_the_same_nonce(kernel: str) -> None:
    ts, ttl, data, d = 1700000000123, 172_800_000, "Zm9vYmFy", 5
    expect = reference_first_nonce(ts, ttl, PK, data, d, 77)
    assert pow.decode_nonce(pow.solve(ts, ttl, PK, data, d, kernel=kernel, start=77)) == expect


def test_unknown_kernel_is_a_clear_error(backend: str) -> None:
    with pytest.raises(SessionCoreError, match="not available"):
        pow.solve(1, 10000, PK, "", 1, kernel="quantum")


def test_span_exhausted(backend: str) -> None:
    # Huge difficulty: essentially no valid nonce among the first 3000.
    with pytest.raises(NonceSpaceExhaustedError):
        pow.solve(1, 10000, PK, "", 2**40, span=3000, threads=2)


def test_timeout(backend: str) -> None:
    began = time.monotonic()
    with pytest.raises(SolveTimeoutError):
        pow.solve(1, 10000, PK, "", 2**50, timeout=0.2, threads=2)
    assert time.monotonic() - began < 5  # generous: proves the search stopped, not its speed


def test_cancel_token_from_another_thread(backend: str) -> None:
    token = pow.CancelToken()
    threading.Timer(0.1, token.cancel).start()
    with pytest.raises(SolveCancelledError) as info:
        pow.solve(1, 10000, PK, "", 2**50, cancel=token, threads=2)
    assert not isinstance(info.value, SolveTimeoutError)


def test_cancel_with_threading_event(backend: str) -> None:
    event = threading.Event()
    threading.Timer(0.1, event.set).start()
    with pytest.raises(SolveCancelledError):
        pow.solve(1, 10000, PK, "", 2**50, cancel=event)


def test_already_cancelled_token_never_searches(backend: str) -> None:
    token = pow.CancelToken()
    token.cancel()
    with pytest.raises(SolveCancelledError):
        pow.solve(1, 10000, PK, "", 1, cancel=token)


def test_progress_reports(backend: str) -> None:
    reports: list[pow.SolveProgress] = []
    with pytest.raises(SolveTimeoutError):
        pow.solve(1, 10000, PK, "", 2**50, timeout=0.35, progress=reports.append,
                  progress_interval=0.05)
    assert reports, "no progress was reported"
    assert all(r.expected > 1e15 for r in reports)
    assert reports[-1].trials > 0 and reports[-1].rate > 0
    assert [r.trials for r in reports] == sorted(r.trials for r in reports)


def test_progress_callback_error_stops_the_search(backend: str) -> None:
    def boom(_: pow.SolveProgress) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        pow.solve(1, 10000, PK, "", 2**50, progress=boom, progress_interval=0.01)


async def test_solve_async(backend: str) -> None:
    nonce = await pow.solve_async(1700000000000, 86_400_000, PK, "aGk=", 2)
    assert pow.verify(nonce, 1700000000000, 86_400_000, PK, "aGk=", 2)


async def test_solve_async_task_cancellation(backend: str) -> None:
    task = asyncio.ensure_future(pow.solve_async(1, 10000, PK, "", 2**50))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nonce",
    ["", "AAAA", "AAAAAAAaFio", "AAAAAAAaFio==", "AAAAAAAaF!o=", "AAAAAAAAAA==", "ÄAAAAAAaFio=",
     b"AAAAAAAaFio=", 1709610, None],
)
def test_bad_nonce(backend: str, nonce: object) -> None:
    with pytest.raises(InvalidNonceError):
        pow.verify(nonce, 1, 10000, PK, "", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):  # the hierarchy also derives from ValueError
        pow.message_hash(nonce, 1, 10000, PK, "")  # type: ignore[arg-type]


@pytest.mark.parametrize("difficulty", [0, -1, 1.5, "1", True, None])
def test_bad_difficulty(backend: str, difficulty: object) -> None:
    with pytest.raises(InvalidDifficultyError):
        pow.verify("AAAAAAAaFio=", 1, 10000, PK, "", difficulty)  # type: ignore[arg-type]
    with pytest.raises(InvalidDifficultyError):
        pow.solve(1, 10000, PK, "", difficulty)  # type: ignore[arg-type]


@pytest.mark.parametrize("ttl", [-1, "-1000", "abc", "", 1.5, "１２", None])
def test_bad_ttl(backend: str, ttl: object) -> None:
    with pytest.raises(InvalidTTLError):
        pow.solve(1, ttl, PK, "", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidTTLError):
        pow.target(10, ttl, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("ts", [-5, "12a", "+12", 3.0, False])
def test_bad_timestamp(backend: str, ts: object) -> None:
    with pytest.raises(InvalidTimestampError):
        pow.verify("AAAAAAAaFio=", ts, 10000, PK, "", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("pk", ["", "05zz", "05" + "é" * 32, b"05ab", None])
def test_bad_pubkey(backend: str, pk: object) -> None:
    with pytest.raises(InvalidPubkeyError):
        pow.solve(1, 10000, pk, "", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("data", ["héllo", b"aGk=", None])
def test_bad_data(backend: str, data: object) -> None:
    with pytest.raises(InvalidDataError):
        pow.verify("AAAAAAAaFio=", 1, 10000, PK, data, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("kw", [{"threads": 0}, {"threads": "2"}, {"start": -1}, {"start": 2**64},
                                {"span": 0}, {"timeout": "1"}])
def test_bad_solve_options(backend: str, kw: dict) -> None:
    with pytest.raises(ValueError):
        pow.solve(1, 10000, PK, "", 1, **kw)


def test_strings_are_used_verbatim() -> None:
    # "0123" is hashed as sent, so it differs from the int 123.
    a = pow.message_hash("AAAAAAAaFio=", "0123", 10000, PK, "")
    b = pow.message_hash("AAAAAAAaFio=", 123, 10000, PK, "")
    assert a != b and len(a) == 128


def test_backends_agree_on_message_hash() -> None:
    args = (VALID["nonce"], VALID["timestamp"], VALID["ttl"], VALID["pubkey"], VALID["data"])
    with _backend.use("python", "pow"):
        py = pow.message_hash(*args)
    assert pow.message_hash(*args) == py
