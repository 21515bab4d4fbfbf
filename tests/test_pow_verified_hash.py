"""``pow.api.verified_message_hash``: verify and hash in one pass, on both backends.

It must answer exactly ``message_hash(...) if verify(...) else None`` for the same arguments
(ints or the strings as sent), raise the same errors, and the C fast path must agree with the
checked path and with the pure-Python twin.  ``node.powcheck.check`` is its one caller.
"""

from __future__ import annotations

import random

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
)
from session_core.node import powcheck
from session_core.pow import _pow_py
from session_core.pow.api import verified_message_hash
from tests.c_required import require_c

V = load_json("pow_vectors.json")
VALID = V["valid"]
PK = "05" + "ab" * 32


def vector(**override: object) -> tuple:
    f = {**VALID, **override}
    return (f["nonce"], f["timestamp"], f["ttl"], f["pubkey"], f["data"], f["difficulty"])


def two_pass(nonce: object, ts: object, ttl: object, pk: object, data: object, d: object) -> str | None:
    return pow.message_hash(nonce, ts, ttl, pk, data) if pow.verify(nonce, ts, ttl, pk, data, d) else None  # type: ignore[arg-type]


def test_upstream_vector(backend: str) -> None:
    h = verified_message_hash(*vector())
    assert h is not None and h == pow.message_hash(*vector()[:5])
    assert len(h) == 128 and h == h.lower()
    for variant in V["invalid_variants"]:
        assert verified_message_hash(*vector(**{variant["field"]: variant["value"]})) is None


def test_the_strings_as_sent_give_the_same_answer_as_ints(backend: str) -> None:
    nonce, ts, ttl, pk, data, d = vector()
    assert verified_message_hash(nonce, str(ts), str(ttl), pk, data, d) == verified_message_hash(*vector())


@pytest.mark.parametrize("ts,ttl", [(1, 10_000), ("0123", "010000"), (2**63, 345_600_000), ("9" * 19, "86400000"),
                                    ("1" * 20, 10_000), (2**64 - 1, 2**64 - 1)])
def test_same_as_verify_then_message_hash(backend: str, ts: object, ttl: object) -> None:
    # Small targets (high difficulty) and large ones, nonces found by solve and random ones;
    # 20-digit strings and 2^64-1 leave the C fast path for the checked one.
    rng = random.Random(f"{ts}/{ttl}")
    data = "aGVsbG8="
    for d in (1, 5):
        feasible = int(ttl) < 10**9  # (a TTL of 2^64-1 ms leaves a target of 0: nothing is valid)
        found = [pow.solve(ts, ttl, PK, data, d, threads=1)] if feasible else []  # type: ignore[arg-type]
        nonces = found + [pow.encode_nonce(rng.getrandbits(64)) for _ in range(40)]
        answers = [verified_message_hash(n, ts, ttl, PK, data, d) for n in nonces]  # type: ignore[arg-type]
        assert answers == [two_pass(n, ts, ttl, PK, data, d) for n in nonces]
        assert answers[0] is not None if feasible else answers == [None] * len(nonces)


BAD = [
    (("AAAAAAAaFio", 1, 10_000, PK, "", 1), InvalidNonceError),
    ((b"AAAAAAAaFio=", 1, 10_000, PK, "", 1), InvalidNonceError),
    (("ÄAAAAAAaFio=", 1, 10_000, PK, "", 1), InvalidNonceError),
    (("AAAAAAAaFio=", "12a", 10_000, PK, "", 1), InvalidTimestampError),
    (("AAAAAAAaFio=", "", 10_000, PK, "", 1), InvalidTimestampError),
    (("AAAAAAAaFio=", -5, 10_000, PK, "", 1), InvalidTimestampError),
    (("AAAAAAAaFio=", False, 10_000, PK, "", 1), InvalidTimestampError),
    (("AAAAAAAaFio=", 1, "-1000", PK, "", 1), InvalidTTLError),
    (("AAAAAAAaFio=", 1, "１２", PK, "", 1), InvalidTTLError),
    (("AAAAAAAaFio=", 1, 1.5, PK, "", 1), InvalidTTLError),
    (("AAAAAAAaFio=", 1, 10_000, "05zz", "", 1), InvalidPubkeyError),
    (("AAAAAAAaFio=", 1, 10_000, "", "", 1), InvalidPubkeyError),
    (("AAAAAAAaFio=", 1, 10_000, PK, "héllo", 1), InvalidDataError),
    (("AAAAAAAaFio=", 1, 10_000, PK, None, 1), InvalidDataError),
    (("AAAAAAAaFio=", 1, 10_000, PK, "", 0), InvalidDifficultyError),
    (("AAAAAAAaFio=", 1, 10_000, PK, "", True), InvalidDifficultyError),
]


@pytest.mark.parametrize("args,error", BAD)
def test_bad_input_is_the_error_verify_gives(backend: str, args: tuple, error: type[Exception]) -> None:
    with pytest.raises(error):
        pow.verify(*args)
    with pytest.raises(error):
        verified_message_hash(*args)


def test_c_fast_path_agrees_with_the_checked_path_and_the_python_twin() -> None:
    from session_core.pow import api

    require_c(api._c, "pow")
    c = api._c
    rng = random.Random(7)
    for _ in range(300):
        ts, ttl = str(rng.getrandbits(40)), str(rng.randrange(10_000, 400_000_000))
        data = "x" * rng.randrange(0, 300)
        nonce = pow.encode_nonce(rng.getrandbits(64))
        d = rng.choice([1, 1, 2, 100])
        fast = c.verified_hash_fast(nonce, ts, ttl, PK, data, d)
        assert fast != -1  # the plain shape really takes the fast path
        raw = (ts + ttl + PK + data).encode()
        for impl in (c, _pow_py):
            h = impl.payload_trial_hash(raw, pow.decode_nonce(nonce))
            checked = h.hex() if int.from_bytes(h[:8], "big") < pow.target(len(raw), int(ttl), d) else None
            assert fast == checked
    with _backend.use("python", "pow"):
        py = verified_message_hash(*vector())
    assert verified_message_hash(*vector()) == py is not None


def test_powcheck_hashes_the_store_strings_once_and_calls_bad_nonces_invalid(backend: str) -> None:
    nonce, ts, ttl, pk, data, d = vector()
    assert powcheck.check(nonce, str(ts), str(ttl), pk, data, d) == pow.message_hash(nonce, ts, ttl, pk, data)
    assert powcheck.check("AAAAAAAaFio", str(ts), str(ttl), pk, data, d) is None  # 432, not 400 (upstream)
    assert powcheck.check(nonce, str(ts), str(ttl), pk, data + "x", d) is None
