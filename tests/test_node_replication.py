"""Replication batch format (docs/interop.md §4.6) and peer re-verification."""

from __future__ import annotations

import dataclasses
import os

import pytest

from session_core.errors import ReplicationBatchError
from session_core.node import replication
from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
from session_core.bench.loadgen import random_pubkey, store_params
from session_core.node.message import Message
from session_core.node.powcheck import message_hash

NOW = 1_700_000_000_000
MAX_TTL = 96 * 3600 * 1000


def valid_message(d: int = 1, ttl: int = 60_000, ts: int = NOW) -> Message:
    p = store_params(random_pubkey(), os.urandom(30), ttl, ts, d)
    h = message_hash(p["nonce"], ts, ttl, p["pubKey"], p["data"])
    assert h is not None
    return Message(pubkey=p["pubKey"], hash=h, data=p["data"], ttl=ttl, timestamp=ts, nonce=p["nonce"])


def test_upstream_round_trip_and_batching() -> None:
    # SS-2.0.8 unit_test/serialization.cpp inputs (docs/interop.md §4.6)
    pk = "054368520005786b249bcd461d28f75e560ea794014eeb17fcf6003f37d876783e"
    m = Message(pubkey=pk, hash="hash", data="data", ttl=3456000, timestamp=12345678, nonce="nonce")
    (blob,) = replication.serialize_batches([m])
    assert replication.parse_batch(blob) == [m]
    size = len(replication.serialize(m))
    batches = replication.serialize_batches([m] * (500_000 // size + 10))
    assert len(batches) == 2
    assert sum(len(replication.parse_batch(b)) for b in batches) == 500_000 // size + 10


def test_truncated_and_hostile_batches_are_rejected() -> None:
    blob = replication.serialize(valid_message())
    for cut in (1, 65, 70, len(blob) - 1):
        with pytest.raises(ReplicationBatchError):
            replication.parse_batch(blob[:cut])
    huge_len = blob[:66] + (2**63).to_bytes(8, "little") + b"x" * 10
    with pytest.raises(ReplicationBatchError, match="too long"):
        replication.parse_batch(huge_len)
    with pytest.raises(ReplicationBatchError):
        replication.parse_batch(b"\xff" * 66 + blob[66:])


def test_verify_accepts_valid_and_rejects_tampering() -> None:
    tracker = DifficultyTracker(DifficultyPolicy(base=1))
    m = valid_message()
    assert replication.verify(m, NOW, tracker, MAX_TTL)
    bad = [
        dataclasses.replace(m, hash="00" * 64),  # hash not the PoW hash
        dataclasses.replace(m, data=m.data[::-1]),  # payload changed
        dataclasses.replace(m, ttl=5_000),  # TTL out of range
        dataclasses.replace(m, pubkey="05" + "ZZ" * 32),
    ]
    for b in bad:
        assert not replication.verify(b, NOW, tracker, MAX_TTL)
    assert not replication.verify(m, NOW + 60_000, tracker, MAX_TTL)  # expired
    assert not replication.verify(m, NOW - 10_001, tracker, MAX_TTL)  # from the future
