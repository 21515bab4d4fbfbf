"""Property tests: hostile bytes never crash the node's parsers or change its store."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from session_core.errors import ReplicationBatchError
from session_core.node import replication
from session_core.node.difficulty import DifficultyTracker
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.storage_rpc import StorageRPC
from session_core.node.store import MemoryStore

ME = SnodeInfo("11" * 32, "22" * 32, "127.0.0.1", 1, 2, 0)
VIEW = NetworkView(1, "00" * 32, (ME,))
NOW = 1_700_000_000_000


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_parse_batch_raises_only_its_error(blob: bytes) -> None:
    try:
        msgs = replication.parse_batch(blob)
    except ReplicationBatchError:
        return
    assert b"".join(replication.serialize(m) for m in msgs) == blob


messages = st.builds(
    Message,
    pubkey=st.text("0123456789abcdef", min_size=66, max_size=66),
    hash=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=130),
    data=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=200),
    ttl=st.integers(0, 2**64 - 1),
    timestamp=st.integers(0, 2**64 - 1),
    nonce=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(messages, max_size=5))
def test_batches_round_trip(msgs: list[Message]) -> None:
    out = [m for b in replication.serialize_batches(msgs, max_bytes=300) for m in replication.parse_batch(b)]
    assert out == msgs


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
params = st.dictionaries(st.sampled_from(["pubKey", "ttl", "nonce", "timestamp", "data", "lastHash", "x"]), json_values)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["store", "retrieve", "get_snodes_for_pubkey", "nope"]), params)
def test_random_requests_are_answered_and_leave_the_store_alone(method: str, p: dict[str, Any]) -> None:
    store = MemoryStore()
    rpc = StorageRPC(store, lambda: VIEW, ME.ed25519, DifficultyTracker(), lambda: NOW)
    out = rpc.handle(json.dumps({"method": method, "params": p}).encode())
    assert out.reply.status in (200, 400, 403, 406, 421, 432)
    assert out.reply.body
    assert list(store.messages(0)) == ([] if out.stored is None else [out.stored])


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_answered(body: bytes) -> None:
    store = MemoryStore()
    out = StorageRPC(store, lambda: VIEW, ME.ed25519, DifficultyTracker(), lambda: NOW).handle(body)
    assert out.reply.status == 400 and out.stored is None and list(store.messages(0)) == []
