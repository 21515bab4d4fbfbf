"""session_core.testing: the observation log ties lines to the request that caused them, and
the faulty stores wrap a real store the way the misbehaving devnet nodes need."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from session_core.node.message import Message
from session_core.node.store import MemoryStore
from session_core.testing import DroppingStore, Observer, TamperingStore, node_wrappers, read_observations

NOW = 1_700_000_000_000


def message(i: int, data: bytes = b"hello world") -> Message:
    return Message("05" + f"{i:02x}" * 32, f"{i:02x}" * 64, base64.b64encode(data).decode(), 60_000, NOW, "AAAAAAAAAAA=")


def test_batch_lines_share_a_req_and_the_block_ends_it(tmp_path: Path) -> None:
    log = tmp_path / "observe.jsonl"
    obs = Observer("me", log)
    with obs.incoming("node", iter([b"a", b"b"])):
        obs.forwarded("next", b"c")
    obs.forwarded("next", b"d")  # after the block: not tied to that request
    with pytest.raises(RuntimeError), obs.incoming("client:1.2.3.4:5", [b"e"]):
        raise RuntimeError  # the request ends even when its handling fails
    obs.storage(b'{"params": {"pubKey": "05ab"}}')
    obs.close()
    obs.forwarded("next", b"g")  # after close (a node shutting down): nothing, no error
    lines = [(o["event"], o["source"], o["req"]) for o in read_observations(log)]
    assert lines == [
        ("in", "node", 1), ("in", "node", 1), ("forward", "node", 1),
        ("forward", "node", 0), ("in", "client:1.2.3.4:5", 2), ("storage", "node", 0),
    ]
    assert read_observations(log)[-1]["pubkey"] == "05ab"


@pytest.mark.parametrize("relay", [True, False])
def test_dropping_store_acknowledges_and_keeps_nothing(relay: bool) -> None:
    inner = MemoryStore()
    store = DroppingStore(inner, relay=relay)
    assert store.save_each([message(1), message(2)]) == [relay, relay]
    assert store.save_if_new(message(3)) is relay
    assert store.save_many([message(4)]) == (1 if relay else 0)
    assert store.count(NOW) == inner.count(NOW) == 0


def test_tampering_store_corrupts_only_what_retrieve_returns() -> None:
    inner = MemoryStore()
    store = TamperingStore(inner)
    m = message(1, b"abcdef")
    assert store.save_if_new(m)
    (got,) = store.retrieve(m.pubkey, "", 10, NOW)
    assert got.hash == m.hash and base64.b64decode(got.data) == b"abc" + bytes([ord("d") ^ 0x55]) + b"ef"
    assert store.get(m.hash, NOW) == m  # storage tests and replication see the honest copy
    assert list(store.messages(NOW)) == [m]


def test_node_wrappers_refuse_unknown_misbehaviour() -> None:
    with pytest.raises(ValueError, match="unknown misbehaviour"):
        node_wrappers(misbehave="lie")
    wrap = node_wrappers(misbehave="drop").store
    assert wrap is not None
    dropping = wrap(MemoryStore())
    assert isinstance(dropping, DroppingStore) and not dropping.relay
    assert node_wrappers().store is None
