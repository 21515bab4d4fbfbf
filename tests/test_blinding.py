"""15-blinding against upstream vectors (tests/data/blinding15_vectors.json: libsession-util and
session-pysogs) and its properties: blinded signatures verify with the blinded key only."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from session_core import blinding
from session_core.errors import BlindingError, InvalidInputError

DATA: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "blinding15_vectors.json").read_text())
LIB = DATA["libsession"]


@pytest.mark.parametrize("seed_hex,expected", DATA["pysogs"]["keys"])
def test_pysogs_blinded_ids(seed_hex: str, expected: str) -> None:
    server_pk = bytes.fromhex(DATA["pysogs"]["server_pk"])
    sk = SigningKey(bytes.fromhex(seed_hex))
    assert blinding.blind15_key_pair(bytes.fromhex(seed_hex), server_pk).blinded_id == expected
    assert blinding.blinded15_id_from_ed(bytes(sk.verify_key), server_pk) == expected
    session_id = blinding.session_id_of(bytes(sk.verify_key))
    assert expected in blinding.blind15_ids(session_id, server_pk)
    assert blinding.blinded_matches_session_id(expected, session_id, server_pk)


@pytest.mark.parametrize("case", LIB["ids"], ids=lambda c: c["session"])
def test_libsession_blinded_ids_from_session_id(case: dict[str, str]) -> None:
    server_pk = bytes.fromhex(case["server_pk"])
    sid = LIB[case["session"]]
    assert blinding.blind15_ids(sid, server_pk)[0] == case["blinded"]
    assert blinding.blind15_ids(bytes.fromhex(sid), server_pk)[0] == case["blinded"]
    assert blinding.blind15_ids(bytes.fromhex(sid[2:]), server_pk)[0] == case["blinded"]


@pytest.mark.parametrize("case", LIB["signatures"], ids=lambda c: c["message"] or "empty")
def test_libsession_blinded_signatures(case: dict[str, Any]) -> None:
    sk = bytes.fromhex(LIB[case["seed"]])
    server_pk = bytes.fromhex(case["server_pk"])
    msg = case["message"].encode()
    sig = blinding.blind15_sign(sk, server_pk, msg)
    assert sig.hex() == case["signature"]
    assert blinding.blind15_sign(sk[:32], server_pk, msg) == sig  # from the seed alone too
    blinded = blinding.blind15_ids(LIB[case["session"]], server_pk)[case["which"]]
    assert blinding.blind15_key_pair(sk, server_pk).blinded_id == blinded
    assert blinding.verify_blinded(blinded, msg, sig)
    VerifyKey(bytes.fromhex(blinded[2:])).verify(msg, sig)


def test_blinded_signature_does_not_verify_with_the_real_key_or_other_server() -> None:
    seed = os.urandom(32)
    sk = SigningKey(seed)
    a, b = os.urandom(32), os.urandom(32)
    kp = blinding.blind15_key_pair(seed, a)
    sig = kp.sign(b"msg")
    with pytest.raises(BadSignatureError):
        sk.verify_key.verify(b"msg", sig)
    assert not blinding.verify_blinded(blinding.blind15_key_pair(seed, b).blinded_id, b"msg", sig)
    assert not blinding.verify_blinded(kp.blinded_id, b"msh", sig)
    assert kp.blinded_id != blinding.blind15_key_pair(seed, b).blinded_id


@pytest.mark.parametrize("bad", ["", "05" + "00" * 32, "15" + "zz" * 32, "15" + "00" * 31, 15, "15" + "ff" * 32])
def test_parse_blinded_id_refuses_garbage(bad: Any) -> None:
    with pytest.raises(BlindingError) as exc:
        blinding.parse_blinded_id(bad)
    assert isinstance(exc.value, InvalidInputError)


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33, "ab"])
def test_bad_key_lengths(bad: Any) -> None:
    with pytest.raises(BlindingError):
        blinding.blind15_factor(bad)
    with pytest.raises(BlindingError):
        blinding.blind15_key_pair(bad, b"\0" * 32)


def test_bad_session_ids() -> None:
    for bad in ("06" + "00" * 32, "05" + "zz" * 32, "05", b"\x06" + b"\0" * 32):
        with pytest.raises(BlindingError):
            blinding.blind15_ids(bad, b"\1" * 32)
